// /metrics' count of the ledger: in batches with the event loop running
// between them, and one count at a time however many scrapes arrive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteStoreWriter } from '../ledger/store/sqlite/writer.js';
import type { LedgerEvent } from '../ledger/types.js';
import { LedgerMetrics } from './metrics.js';

const ROWS = 23456;

test('a large first count yields to the event loop between batches, and concurrent scrapes count each row once', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-metrics-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'store.sqlite');
  const db = new SqliteStoreWriter(file);
  const ev = (ts: number, kind: LedgerEvent['kind'], smtp_code: number, i: number): { event: LedgerEvent } =>
    ({ event: { ts, node: 'n1', source: 'gateway', kind, smtp_code, session: `S${i % 5000}` } });
  const ins = { run: (ts: number, kind: LedgerEvent['kind'], code: number) => db.transaction((tx) => tx.add([ev(ts, kind, code, 0)])) };
  // Sessions of several events in several batches: chunks interleave by session, ids by batch.
  for (let b = 0; b < ROWS; b += 5000) {
    await db.transaction((tx) => tx.add(Array.from({ length: Math.min(5000, ROWS - b) }, (_, k) => {
      const i = b + k;
      return ev(1e12 + i, i % 4 === 0 ? 'rcpt.rejected' : 'message.delivered', i % 4 === 0 ? 550 : 250, i);
    })));
  }
  const m = new LedgerMetrics({ store: file }, dir);
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
  await ins.run(2e12, 'message.delivered', 250);
  await db.close();
  assert.match(await m.text(), new RegExp(`mailproof_messages_total\\{outcome="delivered",source="gateway"\\} ${delivered + 1}\\n`));
});
