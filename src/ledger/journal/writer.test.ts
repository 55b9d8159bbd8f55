import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { JournalWriter } from './writer.js';
import { fsIo, type JournalIo } from './io.js';
import { journalEvent, range, readAll, tempJournalDir } from '../../../test/helpers/journal.js';

/** fsIo with fdatasync counted. */
function countingIo(): { io: Partial<JournalIo>; syncs: () => number } {
  let n = 0;
  return { io: { fdatasync: (fd) => { n++; return fsIo.fdatasync(fd); } }, syncs: () => n };
}

test('round trip: events come back in append order with seqs 1..n', async (t) => {
  const dir = tempJournalDir(t);
  const w = await JournalWriter.open(dir, 'n1', 'gw');
  assert.deepEqual(w.recovery, { truncatedBytes: 0, lastSeq: 0 });
  await w.append([journalEvent(0), journalEvent(1)]);
  await w.append([journalEvent(2)], { durable: false });
  await w.append([journalEvent(3)]);
  assert.equal(w.nextSequence, 5);
  await w.close();
  const r = readAll(dir);
  assert.deepEqual(r.seqs, [1, 2, 3, 4]);
  assert.deepEqual(r.ids, [0, 1, 2, 3]);
  assert.deepEqual(r.damage, []);
  // Reopened, the sequence goes on.
  const w2 = await JournalWriter.open(dir, 'n1', 'gw');
  assert.deepEqual(w2.recovery, { truncatedBytes: 0, lastSeq: 4 });
  await w2.append([journalEvent(4)]);
  await w2.close();
  assert.deepEqual(readAll(dir).seqs, range(1, 5));
});

test('group commit: many concurrent durable appends share far fewer fdatasyncs, order kept', async (t) => {
  const dir = tempJournalDir(t);
  const c = countingIo();
  const w = await JournalWriter.open(dir, 'n1', 'gw', { io: c.io });
  await Promise.all(range(0, 999).map((i) => w.append([journalEvent(i)])));
  assert.equal(w.stats.appends, 1000);
  assert.ok(c.syncs() <= 10, `${c.syncs()} fdatasyncs for 1000 appends`);
  assert.equal(w.stats.syncs, c.syncs());
  await w.close();
  const r = readAll(dir);
  assert.deepEqual(r.seqs, range(1, 1000));
  assert.deepEqual(r.ids, range(0, 999));
});

test('notes resolve after their write, unsynced; the next durable append syncs them', async (t) => {
  const dir = tempJournalDir(t);
  const c = countingIo();
  const w = await JournalWriter.open(dir, 'n1', 'gw', { io: c.io, noteHoldMs: 60_000 });
  await w.append([journalEvent(0)], { durable: false });
  await w.append([journalEvent(1)], { durable: false });
  assert.equal(c.syncs(), 0);
  // Written already: a reader sees them before any sync.
  assert.deepEqual(readAll(dir).ids, [0, 1]);
  await w.append([journalEvent(2)]);
  assert.equal(c.syncs(), 1);
  await w.close();
  assert.equal(c.syncs(), 1, 'nothing left to sync at close');
});

test('notes without a durable append are synced by the hold timer', async (t) => {
  const dir = tempJournalDir(t);
  const c = countingIo();
  const w = await JournalWriter.open(dir, 'n1', 'gw', { io: c.io, noteHoldMs: 20 });
  await w.append([journalEvent(0)], { durable: false });
  assert.equal(c.syncs(), 0);
  for (let k = 0; k < 100 && c.syncs() === 0; k++) await sleep(10);
  assert.equal(c.syncs(), 1);
  await w.close();
});

test('sync: false never calls fdatasync', async (t) => {
  const dir = tempJournalDir(t);
  const c = countingIo();
  const w = await JournalWriter.open(dir, 'n1', 'gw', { io: c.io, sync: false, noteHoldMs: 1 });
  await w.append([journalEvent(0)]);
  await w.append([journalEvent(1)], { durable: false });
  await sleep(20);
  await w.close();
  assert.equal(c.syncs(), 0);
  assert.deepEqual(readAll(dir).ids, [0, 1]);
});

test('an oversized event is rejected and takes no seq; append after close rejects; close is idempotent', async (t) => {
  const dir = tempJournalDir(t);
  const w = await JournalWriter.open(dir, 'n1', 'gw');
  await assert.rejects(w.append([journalEvent(0), journalEvent(1, { details: { blob: 'x'.repeat(2 << 20) } })]), /event too large/);
  await w.append([journalEvent(2)]);
  const pending = w.append([journalEvent(3)], { durable: false });
  const closing = w.close();
  await assert.rejects(w.append([journalEvent(4)]), /journal n1\/gw is closed/);
  await pending;
  await closing;
  await w.close();
  assert.deepEqual(readAll(dir), { seqs: [1, 2], ids: [2, 3], damage: [] });
});

test('bad node or stream names are refused before anything is created', async (t) => {
  const dir = tempJournalDir(t);
  await assert.rejects(JournalWriter.open(dir, 'n1', '..'), /invalid stream name "\.\."/);
  await assert.rejects(JournalWriter.open(dir, 'a/b', 'gw'), /invalid node name "a\/b"/);
});
