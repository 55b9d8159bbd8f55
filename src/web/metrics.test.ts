// /metrics' count of the ledger: in batches with the event loop running
// between them, and one count at a time however many scrapes arrive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { applySchema, openPragmas } from '../ledger/sqlite/schema.js';
import { LedgerMetrics } from './metrics.js';

const ROWS = 23456;

test('a large first count yields to the event loop between batches, and concurrent scrapes count each row once', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-metrics-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'ledger.sqlite');
  const db = new Database(file);
  openPragmas(db);
  applySchema(db);
  const ins = db.prepare("INSERT INTO events (ts, node, source, kind, smtp_code) VALUES (?, 'n1', 'gateway', ?, ?)");
  db.transaction(() => {
    for (let i = 0; i < ROWS; i++) ins.run(1e12 + i, i % 4 === 0 ? 'rcpt.rejected' : 'message.delivered', i % 4 === 0 ? 550 : 250);
  })();
  const m = new LedgerMetrics(file, dir);
  t.after(() => m.close());
  let ticks = 0;
  const timer = setInterval(() => { ticks++; }, 0);
  const [a, b] = await Promise.all([m.text(), m.text()]);
  clearInterval(timer);
  assert.ok(ticks > 0, 'timers ran while the ledger was counted');
  const delivered = ROWS - Math.ceil(ROWS / 4);
  for (const text of [a, b]) {
    assert.match(text, new RegExp(`mailproof_messages_total\\{outcome="delivered",source="gateway"\\} ${delivered}\\n`));
    assert.match(text, new RegExp(`mailproof_messages_total\\{outcome="rejected",source="gateway"\\} ${Math.ceil(ROWS / 4)}\\n`));
  }
  // New rows only on the next scrape.
  ins.run(2e12, 'message.delivered', 250);
  db.close();
  assert.match(await m.text(), new RegExp(`mailproof_messages_total\\{outcome="delivered",source="gateway"\\} ${delivered + 1}\\n`));
});
