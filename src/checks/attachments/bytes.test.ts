import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MemoryBudget, PartSink } from '../../scan/part-body.js';
import { fileSource, runOn } from './bytes.js';
import { oleDirectory, readOleDirectory } from './ole.js';
import { buildOle, buildZip, oleDocWithMacros, type ZipFileSpec } from './test-files.js';
import { copyEntry, entryHead, entryPrefix, listZip, zipListing } from './zip.js';

function tmpDir(t: { after(f: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-bytes-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('the zip reader gives the same over a file as over the bytes in memory, and streams an entry', async (t) => {
  const dir = tmpDir(t);
  const big = randomBytes(300 * 1024);
  const files: ZipFileSpec[] = [
    ...Array.from({ length: 40 }, (_, i) => ({ name: `dir/file-${i}.txt`, data: `file ${i}`.repeat(i) })),
    { name: 'big.bin', data: big, method: 0 },
    { name: 'deflated.txt', data: 'hello '.repeat(50000) },
    { name: 'x.exe', data: 'MZ...', unicodeName: 'x.exe', localName: 'y.scr' },
  ];
  const variants = [
    ['prefixed.zip', buildZip(files, { prefix: Buffer.alloc(70000, 0x41), comment: 'PK\x05\x06 not a record' })],
    ['zip64.zip', buildZip(files, { zip64: true })],
    ['cut.zip', buildZip(files).subarray(0, 200000)],
  ] as const;
  for (const [name, z] of variants) {
    const file = path.join(dir, name);
    fs.writeFileSync(file, z);
    const src = await fileSource(file);
    try {
      const fromFile = await runOn(zipListing(src.size, 1000), src);
      assert.deepEqual(fromFile, listZip(z, 1000), name);
      assert.ok(fromFile && fromFile.entries.length > 2, name);
      for (const e of fromFile.entries) assert.deepEqual(await runOn(entryHead(src.size, e, 4096), src), entryPrefix(z, e, 4096), `${name} ${e.name}`);
      if (name === 'cut.zip') continue;
      const chunks: Buffer[] = [];
      const bigEntry = fromFile.entries.find((e) => e.name === 'big.bin')!;
      assert.equal(await copyEntry(src, bigEntry, 1 << 20, (c) => { chunks.push(c); }), 'ok');
      assert.ok(chunks.length > 1, 'in pieces');
      assert.deepEqual(Buffer.concat(chunks), big);
      const deflated = fromFile.entries.find((e) => e.name === 'deflated.txt')!;
      chunks.length = 0;
      assert.equal(await copyEntry(src, deflated, 1 << 20, (c) => { chunks.push(c); }), 'ok');
      assert.equal(Buffer.concat(chunks).toString(), 'hello '.repeat(50000));
      assert.equal(await copyEntry(src, deflated, 1000, () => undefined), 'too_large');
    } finally {
      await src.close();
    }
  }
});

test('the OLE reader gives the same over a file as over the bytes in memory', async (t) => {
  const dir = tmpDir(t);
  // Directory sectors scattered over the file, read through the file's window.
  const doc = oleDocWithMacros();
  const padded = buildOle([{ name: 'WordDocument', type: 2 }, { name: 'Macros', type: 1 }, { name: 'VBA', type: 1 }], { scatter: true });
  for (const [name, buf] of [['macros.doc', doc], ['padded.doc', padded]] as const) {
    const file = path.join(dir, name);
    fs.writeFileSync(file, buf);
    const src = await fileSource(file);
    try {
      assert.deepEqual(await runOn(oleDirectory(src.size), src), readOleDirectory(buf), name);
    } finally {
      await src.close();
    }
  }
});

test('a part sink: memory up to its cap, then a file; the budget is shared and given back', async (t) => {
  const dir = tmpDir(t);
  const budget = new MemoryBudget(100);
  const small = new PartSink({ maxHeldPartBytes: 64, spillDir: dir, budget });
  small.write(Buffer.from('a'.repeat(60)));
  const other = new PartSink({ maxHeldPartBytes: 64, spillDir: dir, budget });
  other.write(Buffer.from('b'.repeat(50)));
  other.write(Buffer.from('c'.repeat(20)));
  assert.equal(budget.inUse, 60, 'the second sink did not fit the budget: it went to a file');
  assert.deepEqual(await small.finish(), { buffer: Buffer.from('a'.repeat(60)) });
  const body = await other.finish();
  assert.ok('path' in body);
  assert.equal(fs.readFileSync(body.path, 'latin1'), 'b'.repeat(50) + 'c'.repeat(20));
  await small.dispose();
  await other.dispose();
  assert.equal(budget.inUse, 0);
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('a part sink that cannot write its file says so, and leaves nothing behind', async (t) => {
  const dir = tmpDir(t);
  const sink = new PartSink({ maxHeldPartBytes: 4, spillDir: path.join(dir, 'missing'), budget: new MemoryBudget(1000) });
  sink.write(Buffer.from('more than four bytes'));
  await assert.rejects(sink.finish(), /ENOENT/);
  await sink.dispose();
  assert.deepEqual(fs.readdirSync(dir), []);
});
