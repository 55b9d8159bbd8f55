import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteLedgerReader } from './reader.js';
import { applySchema, COLUMNS } from './schema.js';
import { fromRow, toRow, type Row } from './row.js';
import type { LedgerEvent } from '../types.js';

// The reader decodes rows fetched as arrays (fromValues) and pads IN lists to
// a few lengths so that prepared statements are reused. What it returns must
// stay what fromRow made of `SELECT *`: same events, same property order (the
// JSON of `trace --json` follows it), each row once, ordered by (ts, id).

function ledger(events: LedgerEvent[]): { file: string; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-reader-'));
  const file = path.join(dir, 'l.sqlite');
  const db = new Database(file);
  applySchema(db);
  const ins = db.prepare(`INSERT INTO events (${COLUMNS.join(',')}) VALUES (${COLUMNS.map((c) => '@' + c).join(',')})`);
  db.transaction(() => { for (const e of events) ins.run(toRow(e)); })();
  db.close();
  return { file, dir };
}

function reference(file: string, where: string, args: unknown[]): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(`SELECT * FROM events ${where} ORDER BY ts, id`).all(...args) as Row[]).map((r) => JSON.stringify(fromRow(r)));
  } finally {
    db.close();
  }
}

test('query, byRefs, bySessions and byMessageIds return what fromRow makes of SELECT *, in (ts, id) order, each row once', async () => {
  const events: LedgerEvent[] = [];
  // 1,300 transactions: IN lists of 500 + 500 + 300 (padded to 500), timestamps not in id order.
  for (let i = 0; i < 1300; i++) {
    const ts = 1_700_000_000_000 + ((i * 7919) % 1300) * 1000;
    events.push({ ts, node: 'n1', source: 'gateway', kind: 'mail.from', session: `s${i % 400}`, ref: `R${i}`, client_ip: '192.0.2.7', mail_from: 'A@Sender.TEST', size: 1234 });
    events.push({
      ts: ts + 1, node: 'n1', source: 'gateway', kind: 'check.result', session: `s${i % 400}`, ref: `R${i}`, rcpt: 'User@Example.TEST',
      check_name: 'spam', verdict: i % 2 ? 'flag' : 'pass', smtp_code: i % 2 ? 550 : null, enhanced_code: i % 2 ? '5.7.1' : null,
      reply: i % 2 ? '550 5.7.1 no\u0007"quoted"' : null, message_id: `m${i}@x`, details: { stage: 'data', evidence: { score: i / 10, list: [1, 'a'] } },
    });
    events.push({ ts: ts + 2, node: 'n2', source: 'pop3', kind: 'pop3.retr', session: `p${i % 9}`, rcpt: 'user@example.test', message_id: `m${i}@x` });
  }
  // A row whose details are not JSON (written by something else): decoded as before.
  const { file, dir } = ledger(events);
  const db = new Database(file);
  db.prepare("UPDATE events SET details = '{broken' WHERE id = 5").run();
  db.close();
  try {
    const r = new SqliteLedgerReader(file, { readonly: true });
    const refs = Array.from({ length: 1300 }, (_, i) => `R${i}`);
    const got = (await r.byRefs([...refs, 'nope'])).map((e) => JSON.stringify(e));
    assert.equal(got.length, 2600);
    assert.deepEqual(got, reference(file, `WHERE ref IN (${refs.map(() => '?').join(',')})`, refs));

    const sessions = ['s1', 's2', 's399', 'p3'];
    assert.deepEqual((await r.bySessions(sessions)).map((e) => JSON.stringify(e)), reference(file, 'WHERE session IN (?,?,?,?)', sessions));
    const mids = Array.from({ length: 650 }, (_, i) => `m${i * 2}@x`);
    const byMid = await r.byMessageIds(mids);
    assert.equal(byMid.length, 1300);
    assert.deepEqual(byMid.map((e) => JSON.stringify(e)), reference(file, `WHERE message_id IN (${mids.map(() => '?').join(',')})`, mids));

    // The same statement shape again (prepared once): still right.
    assert.deepEqual((await r.byRefs(['R3', 'R1'])).map((e) => JSON.stringify(e)), reference(file, 'WHERE ref IN (?, ?)', ['R3', 'R1']));

    const q = await r.query({ rcpt: 'USER@example.test', since: 1_700_000_000_000, limit: 50 });
    assert.deepEqual(q.map((e) => JSON.stringify(e)), reference(file, 'WHERE rcpt = ? AND ts >= ?', ['user@example.test', 1_700_000_000_000]).slice(0, 50));
    // A sender address alone goes through the domain's index (no table scan), with the same answer.
    const byFrom = await r.query({ mail_from: 'A@Sender.TEST', limit: 100000 });
    assert.equal(byFrom.length, 1300);
    assert.deepEqual(byFrom.map((e) => JSON.stringify(e)), reference(file, 'WHERE mail_from = ?', ['A@Sender.TEST']));
    assert.deepEqual(await r.query({ mail_from: 'a@other.test' }), []);
    const raw = new Database(file, { readonly: true });
    const plan = raw.prepare("EXPLAIN QUERY PLAN SELECT * FROM events WHERE mail_from = 'a@b' AND mail_from_domain = 'b' ORDER BY ts, id").all() as { detail: string }[];
    raw.close();
    assert.match(plan.map((p) => p.detail).join(' | '), /USING INDEX events_from_domain/);
    const broken = (await r.byRefs(['R1'])).find((e) => e.id === 5)!;
    assert.deepEqual(broken.details, { unparsable: '{broken' });
    assert.deepEqual(await r.byRefs([]), []);
    await r.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
