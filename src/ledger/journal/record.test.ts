import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { HEADER_BYTES, MAX_PAYLOAD_BYTES, checkRecord, decodePayload, encodePayload, encodeRecord, recordSeq } from './record.js';
import { scanSegment, type ScanItem } from './scan.js';
import { validateName, streamDir } from './names.js';
import { journalEvent, tempJournalDir } from '../../../test/helpers/journal.js';

test('a record round-trips; null and undefined top-level fields are left out, nested nulls kept', () => {
  const ev = journalEvent(7, { client_ip: null, rcpt: undefined, details: { a: null, n: 1 } });
  const rec = encodeRecord(42, encodePayload(ev));
  assert.equal(rec.subarray(0, 4).toString('ascii'), 'MPJ1');
  assert.equal(checkRecord(rec, 0, rec.length), rec.length);
  assert.equal(recordSeq(rec), 42);
  const back = decodePayload(rec, 0, rec.length);
  assert.equal('client_ip' in back, false);
  assert.equal('rcpt' in back, false);
  assert.deepEqual(back.details, { a: null, n: 1 });
  assert.equal(back.ref, 'R7');
});

test('checkRecord: a flipped bit is invalid, a cut record needs more bytes', () => {
  const rec = encodeRecord(1, encodePayload(journalEvent(1)));
  assert.equal(checkRecord(rec, 0, rec.length - 1), -1);
  assert.equal(checkRecord(rec, 0, 10), -1);
  for (const at of [0, 5, 9, 13, HEADER_BYTES + 3]) {
    const bad = Buffer.from(rec);
    bad[at] = bad[at]! ^ 0x10;
    assert.equal(checkRecord(bad, 0, bad.length), at === 5 ? -1 : 0, `byte ${at}`);
  }
});

test('an event larger than the bound is refused with a clear error', () => {
  const big = journalEvent(1, { details: { blob: 'x'.repeat(MAX_PAYLOAD_BYTES) } });
  assert.throws(() => encodePayload(big), /event too large .* at most 1048576/);
});

test('names are validated, naming the bad value', () => {
  for (const bad of ['', '.', '..', 'a/b', 'x'.repeat(65), 'sp ace']) {
    assert.throws(() => validateName('stream', bad), (err: Error) => err.message.includes(`invalid stream name ${JSON.stringify(bad)}`));
  }
  assert.throws(() => streamDir('/j', '../etc', 's'), /invalid node name "..\/etc"/);
  validateName('node', 'mx-1.example_2');
});

test('the scanner finds records again after garbage, also when the magic straddles a chunk boundary', (t) => {
  const dir = tempJournalDir(t);
  const recs = [1, 2, 3, 4].map((s) => encodeRecord(s, encodePayload(journalEvent(s))));
  const file = path.join(dir, 'x.seg');
  for (const junk of [1, 37, 61, 64, 65, 200]) {
    fs.writeFileSync(file, Buffer.concat([recs[0]!, recs[1]!, Buffer.alloc(junk, 0x4d), recs[2]!, recs[3]!, Buffer.from('MPJ1\x05')]));
    for (const chunk of [64, 100, 4096]) {
      const items = [...scanSegment(file, 0, chunk)].map((i: ScanItem) => i.kind === 'record' ? `r${i.seq}@${i.offset}` : `${i.kind}@${i.offset}+${i.bytes}`);
      const o2 = recs[0]!.length + recs[1]!.length;
      const o3 = o2 + junk;
      const o4 = o3 + recs[2]!.length;
      assert.deepEqual(items, [`r1@0`, `r2@${recs[0]!.length}`, `invalid@${o2}+${junk}`, `r3@${o3}`, `r4@${o4}`, `tail@${o4 + recs[3]!.length}+5`], `junk ${junk} chunk ${chunk}`);
    }
  }
});
