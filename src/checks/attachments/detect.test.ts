import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeExtension, executableWhat, isMacroExtension, nameParts, sniff } from './detect.js';

test('nameParts: the extension Windows acts on, and a decoy before it', () => {
  assert.deepEqual(nameParts('Rechnung.pdf'), { ext: 'pdf', decoy: null });
  assert.deepEqual(nameParts('Rechnung.PDF.EXE'), { ext: 'exe', decoy: 'pdf' });
  assert.deepEqual(nameParts('Rechnung.pdf.exe'), { ext: 'exe', decoy: 'pdf' });
  // Spaces (and invisible characters) push the real extension out of sight.
  assert.deepEqual(nameParts('Rechnung.pdf                         .exe'), { ext: 'exe', decoy: 'pdf' });
  assert.deepEqual(nameParts('Rechnung.pdf\u00a0\u200b.scr'), { ext: 'scr', decoy: 'pdf' });
  // Windows drops trailing dots and spaces: "x.exe. " runs as x.exe.
  assert.deepEqual(nameParts('setup.exe. . '), { ext: 'exe', decoy: null });
  // Control bytes are dropped, a path is cut to its last component.
  assert.deepEqual(nameParts('a.ex\u0000e'), { ext: 'exe', decoy: null });
  assert.deepEqual(nameParts('C:\\Users\\x\\invoice.pdf.js'), { ext: 'js', decoy: 'pdf' });
  assert.deepEqual(nameParts('dir.pdf/run.bat'), { ext: 'bat', decoy: null });
  // A version number is no decoy.
  assert.deepEqual(nameParts('tool.v2.exe'), { ext: 'exe', decoy: null });
  assert.deepEqual(nameParts('.exe'), { ext: 'exe', decoy: null });
  assert.deepEqual(nameParts('README'), { ext: null, decoy: null });
  assert.deepEqual(nameParts('name.'), { ext: null, decoy: null });
  assert.deepEqual(nameParts(''), { ext: null, decoy: null });
});

test('extensions in words, and the macro-enabled Office types', () => {
  assert.equal(describeExtension('exe'), 'a Windows program');
  assert.equal(describeExtension('js'), 'a JScript script');
  assert.equal(describeExtension('iso'), 'a disk image');
  assert.equal(describeExtension('xyz'), 'a blocked file type');
  for (const e of ['docm', 'dotm', 'xlsm', 'xltm', 'xlam', 'pptm', 'ppsm']) assert.ok(isMacroExtension(e), e);
  for (const e of ['docx', 'xlsx', 'pptx', 'doc', 'pdf']) assert.ok(!isMacroExtension(e), e);
});

function peFile(): Buffer {
  const b = Buffer.alloc(512);
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(0x80, 0x3c);
  b.write('PE\0\0', 0x80, 'latin1');
  return b;
}

test('sniff: programs by their first bytes, whatever the name', () => {
  assert.equal(sniff(peFile()), 'pe');
  const dos = Buffer.alloc(64);
  dos.write('MZ', 0, 'latin1');
  dos.writeUInt16LE(0x90, 2);
  assert.equal(sniff(dos), 'mz');
  // A text that starts with "MZ" is no program.
  assert.equal(sniff(Buffer.from('MZ is the abbreviation we use in the minutes of the meeting, see page two.')), null);
  assert.equal(sniff(Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0])), 'elf');
  assert.equal(sniff(Buffer.from([0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1])), 'macho');
  assert.equal(sniff(Buffer.from('4c0000000114020000000000c00000000000004600', 'hex')), 'lnk');
  assert.equal(sniff(Buffer.from('d0cf11e0a1b11ae100', 'hex')), 'ole');
  assert.equal(sniff(Buffer.from('PK\x03\x04rest', 'latin1')), 'zip');
  assert.equal(sniff(Buffer.from('%PDF-1.7\n')), 'pdf');
  assert.equal(sniff(Buffer.from('#!/bin/sh\necho hi\n')), 'shebang');
  assert.equal(sniff(Buffer.from('Hello')), null);
  assert.equal(sniff(Buffer.alloc(0)), null);
  // A PE pointer past the end is no crash.
  const bad = Buffer.alloc(64);
  bad.write('MZ', 0, 'latin1');
  bad.writeUInt32LE(0xfffffff0, 0x3c);
  assert.equal(sniff(bad), 'mz');
  assert.equal(executableWhat('pe'), 'a Windows program');
  assert.equal(executableWhat('elf'), 'a Linux program');
  assert.equal(executableWhat('pdf'), null);
  assert.equal(executableWhat('shebang'), null);
});
