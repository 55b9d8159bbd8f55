import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireTool } from '../../../test/helpers/env.js';
import { buildZip } from './test-files.js';
import { entryPrefix, listZip, readEntry } from './zip.js';

const names = (b: Buffer): string[] => listZip(b, 1000)!.entries.map((e) => e.name);

test('lists an archive made by Debian\'s zip, and reads its entries', async (t) => {
  if (!requireTool(t, 'zip')) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-zip-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.writeFileSync(path.join(dir, 'a.txt'), 'hello '.repeat(1000));
  fs.writeFileSync(path.join(dir, 'sub', 'Rechnung.pdf.exe'), Buffer.concat([Buffer.from('MZ'), Buffer.alloc(100)]));
  execFileSync('zip', ['-q', '-X', '-r', 'out.zip', 'a.txt', 'sub'], { cwd: dir });
  const buf = fs.readFileSync(path.join(dir, 'out.zip'));
  const l = listZip(buf, 100)!;
  assert.equal(l.source, 'central');
  assert.equal(l.complete, true);
  assert.deepEqual(l.entries.map((e) => [e.name, e.isDir, e.encrypted]), [
    ['a.txt', false, false], ['sub/', true, false], ['sub/Rechnung.pdf.exe', false, false],
  ]);
  const a = l.entries[0]!;
  assert.equal(a.method, 8, 'deflated');
  assert.equal(a.size, 6000);
  assert.equal(entryPrefix(buf, a, 12)!.toString(), 'hello hello ');
  assert.equal((await readEntry(buf, a, 10000) as Buffer).toString(), 'hello '.repeat(1000));
  assert.equal(await readEntry(buf, a, 5999), 'too_large', 'the size bound holds');
  assert.equal(entryPrefix(buf, l.entries[2]!, 2)!.toString(), 'MZ');

  // Password protected: the names are still there, the content is not readable.
  execFileSync('zip', ['-q', '-X', '-P', 'secret', 'enc.zip', 'a.txt'], { cwd: dir });
  const enc = listZip(fs.readFileSync(path.join(dir, 'enc.zip')), 100)!;
  assert.deepEqual(enc.entries.map((e) => [e.name, e.encrypted]), [['a.txt', true]]);
  assert.equal(entryPrefix(fs.readFileSync(path.join(dir, 'enc.zip')), enc.entries[0]!, 4), null);
});

test('stored and deflated entries, UTF-8 names, the Unicode Path field and the local header name', () => {
  const z = buildZip([
    { name: 'stored.bin', data: 'ABCDEFGH', method: 0 },
    { name: 'Grüße.txt', data: 'x' },
    { name: 'harmless.txt', unicodeName: 'harmless.exe', localName: 'other.scr', data: 'y' },
  ]);
  const l = listZip(z, 10)!;
  assert.deepEqual(l.entries.map((e) => e.name), ['stored.bin', 'Grüße.txt', 'harmless.txt']);
  assert.deepEqual(l.entries[2]!.altNames, ['harmless.exe']);
  assert.equal(entryPrefix(z, l.entries[0]!, 4)!.toString(), 'ABCD');
});

test('leading bytes (a self-extractor, or junk to hide the archive) do not hide the entries', async () => {
  const z = buildZip([{ name: 'x.js', data: 'WScript.Echo(1)' }], { prefix: Buffer.alloc(3000, 0x41) });
  const l = listZip(z, 10)!;
  assert.deepEqual(l.entries.map((e) => e.name), ['x.js']);
  assert.equal((await readEntry(z, l.entries[0]!, 100) as Buffer).toString(), 'WScript.Echo(1)');
});

test('ZIP64 directories are read', async () => {
  const z = buildZip([{ name: 'big.exe', data: 'MZ...' }, { name: 'b.txt', data: 'b' }], { zip64: true });
  const l = listZip(z, 10)!;
  assert.deepEqual(l.entries.map((e) => [e.name, e.size]), [['big.exe', 5], ['b.txt', 1]]);
  assert.equal((await readEntry(z, l.entries[0]!, 100) as Buffer).toString(), 'MZ...');
});

test('a comment holding the end-record signature does not confuse the reader', () => {
  const z = buildZip([{ name: 'a.txt', data: 'a' }], { comment: 'PK\x05\x06 not a record' });
  assert.deepEqual(names(z), ['a.txt']);
});

test('bounded: maxEntries cuts the listing, and says so', () => {
  const z = buildZip(Array.from({ length: 50 }, (_, i) => ({ name: `f${i}.txt`, data: '' })));
  const l = listZip(z, 10)!;
  assert.equal(l.entries.length, 10);
  assert.equal(l.complete, false);
  assert.equal(l.declared, 50);
});

test('a cut-off archive (no central directory) is listed from its local headers', () => {
  const z = buildZip([{ name: 'one.txt', data: 'one' }, { name: 'two.vbs', data: 'two' }]);
  const cut = z.subarray(0, z.indexOf(Buffer.from([0x50, 0x4b, 1, 2])));
  const l = listZip(cut, 10)!;
  assert.equal(l.source, 'local');
  assert.deepEqual(l.entries.map((e) => e.name), ['one.txt', 'two.vbs']);
});

test('garbage is no zip, and hostile offsets are no crash', async () => {
  assert.equal(listZip(Buffer.from('just some text'), 10), null);
  assert.equal(listZip(Buffer.alloc(0), 10), null);
  const z = buildZip([{ name: 'a.txt', data: 'aaaa' }]);
  // Point the directory entry's local header offset far outside the buffer.
  const cd = z.indexOf(Buffer.from([0x50, 0x4b, 1, 2]));
  const bad = Buffer.from(z);
  bad.writeUInt32LE(0x7fffffff, cd + 42);
  const l = listZip(bad, 10)!;
  assert.equal(l.entries.length, 1);
  assert.equal(entryPrefix(bad, l.entries[0]!, 4), null);
  assert.equal(await readEntry(bad, l.entries[0]!, 100), null);
  // A name length running past the end.
  const bad2 = Buffer.from(z);
  bad2.writeUInt16LE(0xffff, cd + 28);
  assert.doesNotThrow(() => listZip(bad2, 10));
  // Random bytes after "PK\3\4".
  for (let i = 0; i < 50; i++) {
    const r = Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.from(Array.from({ length: 200 }, () => Math.floor(Math.random() * 256)))]);
    assert.doesNotThrow(() => listZip(r, 10));
  }
});

test('a zip bomb entry stops at the bound instead of filling memory', async () => {
  const z = buildZip([{ name: 'bomb.bin', data: Buffer.alloc(20 * 1024 * 1024) }]);
  assert.ok(z.length < 100 * 1024);
  const l = listZip(z, 10)!;
  assert.equal(await readEntry(z, l.entries[0]!, 1024 * 1024), 'too_large');
  // The first bytes are still cheap.
  assert.equal(entryPrefix(z, l.entries[0]!, 8)!.length, 8);
});
