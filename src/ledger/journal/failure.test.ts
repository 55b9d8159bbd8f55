import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { JournalWriter } from './writer.js';
import { fsIo, type JournalIo } from './io.js';
import { journalEvent, range, readAll, segmentFiles, tempJournalDir } from '../../../test/helpers/journal.js';

function enospc(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
}

test('a failing write (ENOSPC after a partial write): its waiters are rejected, the file cut back, later appends go on with the right seqs', async (t) => {
  const dir = tempJournalDir(t);
  let failNext = false;
  let meanwhile: Promise<void> | null = null;
  const sizeAtWrite: number[] = [];
  const io: Partial<JournalIo> = {
    writev: async (fd, bufs, pos) => {
      sizeAtWrite.push(fs.fstatSync(fd).size);
      if (!failNext) return fsIo.writev(fd, bufs, pos);
      failNext = false;
      // Appended while the failing commit is in flight: its seq moves down to 3.
      meanwhile = w.append([journalEvent(3)]);
      // Some bytes reach the file before the disk is full: a torn record.
      await fsIo.writev(fd, [bufs[0]!.subarray(0, 25)], pos);
      throw enospc();
    },
  };
  const w = await JournalWriter.open(dir, 'n1', 'gw', { io });
  await w.append([journalEvent(0), journalEvent(1)]);
  const [file] = segmentFiles(dir);
  const good = fs.statSync(file!).size;
  failNext = true;
  const failing = w.append([journalEvent(2)]);
  await assert.rejects(failing, /journal n1\/gw: could not write 1 event\(s\) to segment 1: ENOSPC: no space left on device/);
  assert.ok(meanwhile);
  await meanwhile;
  assert.deepEqual(sizeAtWrite, [0, good, good], 'the next write found the file cut back to the last good end');
  await w.append([journalEvent(4)], { durable: false });
  assert.equal(w.stats.failures, 1);
  await w.close();
  const r = readAll(dir);
  assert.deepEqual(r.seqs, range(1, 4));
  assert.deepEqual(r.ids, [0, 1, 3, 4]);
  assert.deepEqual(r.damage, []);
});

test('a failing fdatasync rejects the batch and cuts it off; notes of the batch too', async (t) => {
  const dir = tempJournalDir(t);
  let fail = false;
  const w = await JournalWriter.open(dir, 'n1', 'gw', {
    noteHoldMs: 60_000,
    io: { fdatasync: (fd) => (fail ? Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })) : fsIo.fdatasync(fd)) },
  });
  await w.append([journalEvent(0)]);
  fail = true;
  const note = w.append([journalEvent(1)], { durable: false });
  await note; // a note alone is only written
  const a = w.append([journalEvent(2)], { durable: false });
  const b = w.append([journalEvent(3)]);
  await assert.rejects(b, /could not write 2 event\(s\).*EIO/);
  await assert.rejects(a, /EIO/);
  fail = false;
  await w.append([journalEvent(4)]);
  await w.close();
  assert.deepEqual(readAll(dir).ids, [0, 1, 4]);
  assert.deepEqual(readAll(dir).seqs, [1, 2, 3]);
});

test('a roll that fails to create the new segment is retried by the next commit', async (t) => {
  const dir = tempJournalDir(t);
  let failCreate = 0;
  const w = await JournalWriter.open(dir, 'n1', 'gw', {
    segmentBytes: 300,
    io: { create: (file) => (failCreate-- > 0 ? Promise.reject(enospc()) : fsIo.create(file)) },
  });
  failCreate = 1;
  const results: string[] = [];
  for (let i = 0; i < 6; i++) {
    await w.append([journalEvent(i)]).then(() => results.push(`ok${i}`), () => results.push(`fail${i}`));
  }
  await w.close();
  assert.equal(results.filter((x) => x.startsWith('fail')).length, 1, results.join(' '));
  const r = readAll(dir);
  assert.deepEqual(r.seqs, range(1, 5));
  assert.deepEqual(r.damage, []);
  assert.ok(segmentFiles(dir).length >= 2);
});
