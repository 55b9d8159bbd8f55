// A ledger of the first format (one SQLite table, one row per event) into the
// store: killed with SIGKILL mid-way and restarted, the conversion resumes
// where its last committed batch ended, converts nothing twice, and renames
// the old file when done. And `serve` does it at its start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import Database from 'better-sqlite3';
import { applySchema, COLUMNS } from '../../../src/ledger/legacy/schema.js';
import { toRow } from '../../../src/ledger/legacy/row.js';
import type { LedgerEvent } from '../../../src/ledger/types.js';
import { difference, legacyDigest, storeDigest } from '../../helpers/ledger-digest.js';
import { startServer, type Instance } from '../../helpers/server.js';
import { runChild } from './crash-child.js';

/** Writes a ledger of the first format holding `events`. */
function legacyLedger(file: string, events: Iterable<LedgerEvent>): void {
  const db = new Database(file);
  applySchema(db);
  const ins = db.prepare(`INSERT INTO events (${COLUMNS.join(',')}) VALUES (${COLUMNS.map((c) => '@' + c).join(',')})`);
  db.transaction(() => { for (const e of events) ins.run(toRow(e)); })();
  db.close();
}

function* history(n: number, t0: number): Generator<LedgerEvent> {
  for (let i = 0; i < n; i++) {
    const s = Math.floor(i / 4);
    const ref = `C${String(s).padStart(11, '0')}`;
    const base = { ts: t0 + i, node: 'old-mx', source: 'gateway', session: `OS${s}`, ref, client_ip: '198.51.100.7' } as const;
    switch (i % 4) {
      case 0: yield { ...base, kind: 'mail.from', mail_from: `s${s}@old.test` }; break;
      case 1: yield { ...base, kind: 'rcpt.accepted', rcpt: `u${s % 100}@demo.test`, smtp_code: 250 }; break;
      case 2: yield { ...base, kind: 'check.result', check_name: 'spf', verdict: 'pass', details: { i, note: 'ünïcode ✓' } }; break;
      default: yield { ...base, kind: 'message.delivered', rcpt: `u${s % 100}@demo.test`, smtp_code: 250, reply: `250 2.0.0 accepted (ref ${ref})` };
    }
  }
}

test('conversion killed with SIGKILL mid-way and restarted: every old row once in the store, the old file renamed', { timeout: 600_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-convert-crash-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const legacy = path.join(dir, 'ledger.sqlite');
  const store = path.join(dir, 'store.sqlite');
  const ROWS = 100_000;
  legacyLedger(legacy, history(ROWS, Date.now() - 10 * 86400e3));
  const want = legacyDigest(legacy);
  assert.equal(want.count, ROWS);

  let kills = 0;
  const runs: string[] = [];
  for (let i = 0; i < 4; i++) {
    const after = randomInt(1, 8);
    const jitter = randomInt(0, 30);
    const r = await runChild('convert-child.js', [legacy, store, '2000'], after, jitter);
    runs.push(`kill after ${after} batches + ${jitter} ms: ${r.killed ? 'killed' : `exit ${r.code}`}`);
    if (!r.killed) { assert.equal(r.code, 0, r.stderr); break; }
    kills++;
    assert.ok(fs.existsSync(legacy), 'the old file stays until the conversion is complete');
  }
  t.diagnostic(runs.join('; '));
  assert.ok(kills >= 2, `at least 2 kills landed while converting (${kills})`);
  const last = await runChild('convert-child.js', [legacy, store, '2000'], null);
  assert.equal(last.code, 0, last.stderr);
  assert.match(last.lines.at(-1) ?? '', /^done \d+$/);

  assert.ok(!fs.existsSync(legacy), 'the old file is gone from its name');
  assert.ok(fs.existsSync(`${legacy}.converted`), 'and kept as .converted');
  const got = await storeDigest(store);
  assert.equal(got.count, ROWS, `store ${got.count} events, old ledger ${ROWS}: ${difference(got, want)}`);
  assert.equal(got.sha256, want.sha256, difference(got, want));
  // Once converted, nothing more happens.
  assert.equal((await runChild('convert-child.js', [legacy, store, '2000'], null)).lines.at(-1), 'nothing');
  assert.equal((await storeDigest(store)).count, ROWS);
});

test('serve converts an old ledger.sqlite at start, and trace finds an old message', { timeout: 120_000 }, async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-convert-serve-'));
  let mp: Instance | null = null;
  t.after(async () => { await mp?.stop(); fs.rmSync(dataDir, { recursive: true, force: true }); });
  const ts = Date.now() - 2 * 3600e3;
  const ref = 'OLDREF000001';
  const base = { node: 'old-mx', source: 'gateway', session: 'OLDSESSION1', ref, client_ip: '198.51.100.9', mail_from: 'old@sender.test' } as const;
  legacyLedger(path.join(dataDir, 'ledger.sqlite'), [
    { ...base, ts, kind: 'mail.from' },
    { ...base, ts: ts + 1, kind: 'rcpt.accepted', rcpt: 'demo@demo.test', smtp_code: 250, enhanced_code: '2.1.5' },
    { ...base, ts: ts + 2, kind: 'data.received', message_id: 'old-1@sender.test', size: 321 },
    { ...base, ts: ts + 3, kind: 'message.delivered', rcpt: 'demo@demo.test', message_id: 'old-1@sender.test', smtp_code: 250, enhanced_code: '2.0.0', reply: `250 2.0.0 Message accepted and stored (ref ${ref})` },
  ]);
  mp = await startServer({ dataDir });
  assert.ok(!fs.existsSync(path.join(dataDir, 'ledger.sqlite')), 'the old ledger was converted at start');
  assert.ok(fs.existsSync(path.join(dataDir, 'ledger.sqlite.converted')));
  const { journeys } = await mp.trace(['--rcpt', 'demo@demo.test']);
  const j = journeys.find((x) => x.ref === ref);
  assert.ok(j, `the old message's journey: ${JSON.stringify(journeys.map((x) => x.ref))}`);
  assert.equal(j.outcome, 'delivered');
  assert.deepEqual(j.events.map((e) => e.kind), ['mail.from', 'rcpt.accepted', 'data.received', 'message.delivered']);
});
