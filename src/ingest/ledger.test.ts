// The ingest's writer into the store: events queued per batch, written with
// the read positions in one transaction. What must hold: every event lands
// once and in order whatever the batch boundaries, nothing of a batch is
// visible or kept before its commit, and a batch that never commits leaves
// neither events nor state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { eventTable, storeEvents } from '../../test/helpers/event-table.js';
import type { LedgerEvent } from '../ledger/types.js';
import { IngestLedger } from './ledger.js';

function tmpLedger(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-ingest-ledger-'));
  return path.join(dir, 'store.sqlite');
}

function ev(i: number): LedgerEvent {
  return {
    ts: 1_700_000_000_000 + i, node: 'mx1', source: 'postfix', kind: i % 3 === 0 ? 'message.delivered' : 'session.connect',
    session: `s${i}`, client_ip: '192.0.2.7', mail_from: i % 2 ? `Sender${i}@Example.ORG` : null,
    rcpt: i % 3 === 0 ? `User${i}@Customer.TEST` : null, size: i % 5 === 0 ? i * 10 : null,
    details: i % 4 === 0 ? { queue_id: `Q${i}`, note: 'ä "quoted" \u0000' } : null,
  };
}

test('events land once, in order and intact, whatever the multi-row statement boundaries', async () => {
  const file = tmpLedger();
  const l = new IngestLedger(file, { bulk: true });
  // Lines emit 1 to 4 events, so the queue passes the 64-row statement size
  // both exactly and by a few rows.
  let n = 0;
  for (let line = 0; line < 150; line++) {
    for (let k = 0; k < (line % 4) + 1; k++) l.add(ev(n++));
    l.flush();
  }
  await l.commit([['file:/x', { offset: 42 }]]);
  l.add(ev(n++)); // a second batch of one event
  await l.commit([['file:/x', { offset: 43 }]]);
  l.finish();
  assert.equal((await l.state<{ offset: number }>('file:/x'))?.offset, 43);
  await l.close();

  const db = eventTable(await storeEvents(file));
  const rows = db.prepare('SELECT ts, kind, session, mail_from, mail_from_domain, rcpt, rcpt_domain, size, details FROM events ORDER BY id').all() as Array<Record<string, unknown>>;
  assert.equal(rows.length, n);
  rows.forEach((r, i) => {
    const e = ev(i);
    assert.equal(r.ts, e.ts, `row ${i}`);
    assert.equal(r.session, e.session);
    assert.equal(r.kind, e.kind);
    assert.equal(r.mail_from, e.mail_from);
    assert.equal(r.mail_from_domain, e.mail_from ? 'example.org' : null);
    assert.equal(r.rcpt, e.rcpt ? e.rcpt.toLowerCase() : null);
    assert.equal(r.rcpt_domain, e.rcpt ? 'customer.test' : null);
    assert.equal(r.size, e.size);
    assert.deepEqual(r.details === null ? null : JSON.parse(r.details as string), e.details);
  });
  db.close();
});

test('rows of a batch are invisible to readers until the commit, and gone when it never comes', async () => {
  const file = tmpLedger();
  const l = new IngestLedger(file, { bulk: true });
  for (let i = 0; i < 10; i++) l.add(ev(i));
  await l.commit([['file:/x', { offset: 1 }]]);
  // 200 rows in bulk mode: three full statements already ran inside the open transaction.
  for (let i = 10; i < 210; i++) { l.add(ev(i)); l.flush(); }
  assert.equal((await storeEvents(file)).length, 10);
  // The process "dies" here: closed without commit.
  await l.close();
  assert.equal((await storeEvents(file)).length, 10);

  const again = new IngestLedger(file);
  assert.equal((await again.state<{ offset: number }>('file:/x'))?.offset, 1, 'the position still points before the lost batch');
  for (let i = 10; i < 12; i++) again.add(ev(i));
  await again.commit([['file:/x', { offset: 2 }]]);
  await again.close();
  const db = eventTable(await storeEvents(file));
  assert.deepEqual(db.prepare('SELECT session FROM events ORDER BY id').pluck().all(), Array.from({ length: 12 }, (_, i) => `s${i}`));
  db.close();
});

test('rollback() drops the queued rows and the open transaction', async () => {
  const file = tmpLedger();
  const l = new IngestLedger(file);
  for (let i = 0; i < 100; i++) { l.add(ev(i)); l.flush(); }
  l.rollback();
  l.add(ev(500));
  await l.commit([]);
  await l.close();
  const db = eventTable(await storeEvents(file));
  assert.deepEqual(db.prepare('SELECT session FROM events').pluck().all(), ['s500']);
  db.close();
});

test('no write lock is held while a batch is parsed, in follow and in bulk mode', async () => {
  const file = tmpLedger();
  const tryLock = (): boolean => {
    const other = new Database(file);
    other.pragma('busy_timeout = 0');
    try {
      other.exec('BEGIN IMMEDIATE');
      other.exec('ROLLBACK');
      return true;
    } catch (err) {
      assert.equal((err as { code?: string }).code, 'SQLITE_BUSY');
      return false;
    } finally {
      other.close();
    }
  };
  const follow = new IngestLedger(file);
  for (let i = 0; i < 200; i++) { follow.add(ev(i)); follow.flush(); }
  assert.equal(tryLock(), true, 'a gateway writer can commit while follow mode parses');
  await follow.commit([]);
  await follow.close();

  const bulk = new IngestLedger(file, { bulk: true });
  for (let i = 200; i < 400; i++) { bulk.add(ev(i)); bulk.flush(); }
  assert.equal(tryLock(), true, 'the batch waits for its commit: the indexer of a running serve can write meanwhile');
  await bulk.commit([]);
  assert.equal(tryLock(), true);
  await bulk.close();
  const db = eventTable(await storeEvents(file));
  assert.equal(db.prepare('SELECT count(*) FROM events').pluck().get(), 400);
  db.close();
});
