import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasVbaProject, isInstaller, readOleDirectory } from './ole.js';
import { buildOle, oleDocPlain, oleDocWithMacros } from './test-files.js';

test('a Word 97-2003 document with a VBA project (Macros/VBA, directory spread over the file)', () => {
  const d = readOleDirectory(oleDocWithMacros())!;
  assert.ok(d);
  assert.equal(d.complete, true);
  assert.deepEqual(d.entries.map((e) => e.name), [
    'Root Entry', 'WordDocument', '1Table', 'Macros', 'VBA', '_VBA_PROJECT', 'dir', 'ThisDocument', 'PROJECT',
  ]);
  assert.equal(hasVbaProject(d), true);
  assert.equal(isInstaller(d), false);
});

test('an Excel workbook with _VBA_PROJECT_CUR; a document without macros', () => {
  const xls = readOleDirectory(buildOle([{ name: 'Workbook', type: 2 }, { name: '_VBA_PROJECT_CUR', type: 1 }]))!;
  assert.equal(hasVbaProject(xls), true);
  const plain = readOleDirectory(oleDocPlain())!;
  assert.equal(hasVbaProject(plain), false);
  // A stream merely named VBA is not the storage.
  assert.equal(hasVbaProject(readOleDirectory(buildOle([{ name: 'VBA', type: 2 }]))!), false);
});

test('a Windows installer by its root CLSID', () => {
  const msi = readOleDirectory(buildOle([{ name: '\u4840\u3f3f', type: 2 }], { rootClsid: '{000C1084-0000-0000-C000-000000000046}' }))!;
  assert.equal(msi.rootClsid, '{000C1084-0000-0000-C000-000000000046}');
  assert.equal(isInstaller(msi), true);
  assert.equal(isInstaller(readOleDirectory(oleDocPlain())!), false);
});

test('not OLE, truncated, and looping chains end without a crash', () => {
  assert.equal(readOleDirectory(Buffer.from('not an ole file at all')), null);
  assert.equal(readOleDirectory(Buffer.alloc(600)), null);
  const doc = oleDocWithMacros();
  // Cut in the middle of the directory.
  const cut = readOleDirectory(doc.subarray(0, 512 + 512 * 3 + 100));
  assert.ok(cut === null || cut.complete === false || cut.entries.length < 9);
  // A FAT that points a directory sector at itself.
  const loop = Buffer.from(oleDocPlain());
  const dirStart = loop.readUInt32LE(0x30);
  loop.writeUInt32LE(dirStart, 512 + dirStart * 4);
  const l = readOleDirectory(loop)!;
  assert.equal(l.complete, false);
  assert.equal(l.entries.length, 4);
  // Header fields with absurd values.
  const bad = Buffer.from(oleDocPlain());
  bad.writeUInt32LE(0xfffffff0, 0x30);
  bad.writeUInt32LE(0xffffffff, 0x2c);
  assert.doesNotThrow(() => readOleDirectory(bad));
  const badShift = Buffer.from(oleDocPlain());
  badShift.writeUInt16LE(30, 0x1e);
  assert.equal(readOleDirectory(badShift), null);
});
