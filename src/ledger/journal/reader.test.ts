import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { JournalWriter } from './writer.js';
import { readStream, streamLag } from './reader.js';
import { removeSegments } from './retention.js';
import { listStreams } from './names.js';
import { START, type Position } from './position.js';
import { HEADER_BYTES } from './record.js';
import { journalEvent, range, readAll, segmentFiles, tempJournalDir } from '../../../test/helpers/journal.js';

async function fill(dir: string, n: number, opts = {}): Promise<void> {
  const w = await JournalWriter.open(dir, 'n1', 'gw', opts);
  for (let i = 0; i < n; i++) await w.append([journalEvent(i)]);
  await w.close();
}

test('torn tail: garbage or a partial record at the end is cut at reopen, the sequence goes on, the reader reports nothing', async (t) => {
  for (const tear of ['garbage', 'partial', 'cut']) {
    const dir = tempJournalDir(t);
    await fill(dir, 5);
    const [file] = segmentFiles(dir);
    const size = fs.statSync(file!).size;
    if (tear === 'garbage') fs.appendFileSync(file!, Buffer.from('MPJ1 torn bytes'));
    if (tear === 'partial') fs.appendFileSync(file!, fs.readFileSync(file!).subarray(0, 30));
    if (tear === 'cut') fs.truncateSync(file!, size - 7); // inside the last record
    const before = readAll(dir);
    assert.deepEqual(before.damage, [], tear);
    assert.deepEqual(before.seqs, tear === 'cut' ? range(1, 4) : range(1, 5));
    const w = await JournalWriter.open(dir, 'n1', 'gw');
    const last = tear === 'cut' ? 4 : 5;
    assert.equal(w.recovery.lastSeq, last, tear);
    assert.ok(w.recovery.truncatedBytes > 0, tear);
    await w.append([journalEvent(100)]);
    await w.close();
    const after = readAll(dir);
    assert.deepEqual(after.seqs, range(1, last + 1), tear);
    assert.deepEqual(after.damage, [], tear);
  }
});

test('damage in the middle: reported with segment, offset and missing seq; every other record returned; left alone by the writer', async (t) => {
  const dir = tempJournalDir(t);
  await fill(dir, 10);
  const [file] = segmentFiles(dir);
  const all = readStream(dir, 'n1', 'gw', START).records;
  const victim = all[4]!; // seq 5
  const start = victim.offset - victim.size;
  const buf = fs.readFileSync(file!);
  buf[start + HEADER_BYTES + 5] = buf[start + HEADER_BYTES + 5]! ^ 0x01;
  fs.writeFileSync(file!, buf);
  const r = readStream(dir, 'n1', 'gw', START);
  assert.deepEqual(r.records.map((x) => x.seq), [1, 2, 3, 4, 6, 7, 8, 9, 10]);
  assert.deepEqual(r.damage, [{ node: 'n1', stream: 'gw', segment: 1, offset: start, bytes: victim.size, reason: 'invalid bytes', missingSeqs: { first: 5, last: 5 } }]);
  const w = await JournalWriter.open(dir, 'n1', 'gw');
  assert.deepEqual(w.recovery, { truncatedBytes: 0, lastSeq: 10 });
  await w.close();
  // A consumer past the damage does not hear of it again.
  assert.deepEqual(readStream(dir, 'n1', 'gw', all[6]!).damage, []);
});

test('roll by size; reading across segments from every position gives exactly the rest', async (t) => {
  const dir = tempJournalDir(t);
  const w = await JournalWriter.open(dir, 'n1', 'gw', { segmentBytes: 1000 });
  for (let i = 0; i < 60; i++) await w.append([journalEvent(i)]);
  assert.ok(w.stats.rolls >= 5, `${w.stats.rolls} rolls`);
  await w.close();
  const files = segmentFiles(dir);
  assert.equal(files.length, w.stats.rolls + 1);
  for (const f of files) assert.ok(fs.statSync(f).size <= 1000);
  const all = readStream(dir, 'n1', 'gw', START);
  assert.deepEqual(all.records.map((x) => x.seq), range(1, 60));
  assert.deepEqual(all.end, { seq: 60, segment: all.records[59]!.segment, offset: all.records[59]!.offset });
  for (const at of all.records) {
    const rest = readStream(dir, 'n1', 'gw', at);
    assert.deepEqual(rest.records.map((x) => x.seq), range(at.seq + 1, 60));
    assert.deepEqual(rest.damage, []);
    assert.equal(streamLag(dir, 'n1', 'gw', at).records, 60 - at.seq);
  }
  // Paging with maxRecords and maxBytes walks the same records.
  let pos: Position = START;
  const seen: number[] = [];
  for (let k = 0; k < 100; k++) {
    const page = readStream(dir, 'n1', 'gw', pos, k % 2 ? { maxRecords: 7 } : { maxBytes: 300 });
    if (page.records.length === 0) break;
    seen.push(...page.records.map((x) => x.seq));
    pos = page.end;
  }
  assert.deepEqual(seen, range(1, 60));
  assert.deepEqual(listStreams(dir), [{ node: 'n1', stream: 'gw' }]);
});

test('roll by age of the segment', async (t) => {
  const dir = tempJournalDir(t);
  const w = await JournalWriter.open(dir, 'n1', 'gw', { segmentAgeMs: 30 });
  await w.append([journalEvent(0)]);
  await w.append([journalEvent(1)]);
  await new Promise((r) => setTimeout(r, 50));
  await w.append([journalEvent(2)]);
  await w.close();
  assert.equal(w.stats.rolls, 1);
  assert.deepEqual(segmentFiles(dir).map((f) => f.slice(-24)), ['00000000000000000001.seg', '00000000000000000003.seg']);
  assert.deepEqual(readAll(dir).seqs, [1, 2, 3]);
});

test('retention removes consumed, old segments from the front, never the newest; a position in a removed segment resumes with a gap report', async (t) => {
  const dir = tempJournalDir(t);
  await fill(dir, 40, { segmentBytes: 1000 });
  const files = segmentFiles(dir);
  const all = readStream(dir, 'n1', 'gw', START).records;
  const in2 = all.find((r) => r.segment !== all[0]!.segment)!; // a record in the 2nd segment
  const later = Date.now() + 60_000;
  assert.deepEqual(removeSegments(dir, 'n1', 'gw', { consumedSeq: 40, olderThanMs: 120_000, now: later }), [], 'too young');
  const seg3 = readStream(dir, 'n1', 'gw', START).records.map((r) => r.segment).filter((s, i, a) => a.indexOf(s) === i)[2]!;
  const removed = removeSegments(dir, 'n1', 'gw', { consumedSeq: seg3 - 1, olderThanMs: 1000, now: later });
  assert.deepEqual(removed.map((r) => r.lastSeq), [in2.segment - 1, seg3 - 1]);
  assert.equal(segmentFiles(dir).length, files.length - 2);
  // The consumer stood in the removed 2nd segment: it resumes at the 3rd, the seqs skipped reported.
  const r = readStream(dir, 'n1', 'gw', in2);
  assert.equal(r.records[0]!.seq, seg3);
  assert.deepEqual(r.damage, in2.seq + 1 < seg3 ? [{ node: 'n1', stream: 'gw', segment: seg3, offset: 0, bytes: 0, reason: 'segments removed', missingSeqs: { first: in2.seq + 1, last: seg3 - 1 } }] : []);
  assert.deepEqual(r.records.map((x) => x.seq), range(seg3, 40));
  // Everything consumed and old: all but the newest go.
  removeSegments(dir, 'n1', 'gw', { consumedSeq: 40, olderThanMs: 0, now: later });
  assert.equal(segmentFiles(dir).length, 1);
});

test('invalid bytes at the end of a segment that is not the newest are damage', async (t) => {
  const dir = tempJournalDir(t);
  await fill(dir, 20, { segmentBytes: 1000 });
  const [first] = segmentFiles(dir);
  fs.truncateSync(first!, fs.statSync(first!).size - 3);
  const r = readStream(dir, 'n1', 'gw', START);
  assert.equal(r.damage.length, 1);
  assert.equal(r.damage[0]!.reason, 'invalid end of segment');
  const lost = r.damage[0]!.missingSeqs!;
  assert.equal(lost.first, lost.last);
  assert.deepEqual(r.records.map((x) => x.seq), range(1, 20).filter((s) => s !== lost.first));
});
