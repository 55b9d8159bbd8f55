import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { render } from '../../mail/reply.js';
import { testContext } from '../testing.js';
import type { Verdict } from '../types.js';
import { settings } from './config.js';
import { attachmentsChecks, plainTextOnly } from './index.js';
import { buildOle, buildOoxml, buildZip, mimeMessage, oleDocPlain, oleDocWithMacros, peFile, type Att } from './test-files.js';

const DEFAULTS = settings.parse({});

async function run(msg: Buffer | { path: string }, o: Partial<typeof DEFAULTS> = {}): Promise<Verdict> {
  const [c] = attachmentsChecks({ ...DEFAULTS, ...o });
  assert.ok(c);
  const body = Buffer.isBuffer(msg) ? { buffer: msg } : msg;
  return c.run(testContext('data', { message: { size: 0, header: Buffer.alloc(0), messageId: null, subject: null, body } }));
}

type Refusal = Extract<Verdict, { kind: 'reject' | 'tempfail' }>;

function refused(v: Verdict): Refusal {
  assert.equal(v.kind, 'reject', JSON.stringify(v, null, 1));
  return v as Refusal;
}

const att = (filename: string | null, content: Buffer | string, type = 'application/octet-stream'): Att => ({ filename, type, content });

test('a clean message with a PDF, a .docx, an old .doc and a zip of documents passes, with what was seen as evidence', async () => {
  const v = await run(mimeMessage([
    att('Rechnung.pdf', '%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n', 'application/pdf'),
    att('Angebot.docx', buildOoxml(null), 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'),
    att('Vertrag.doc', oleDocPlain(), 'application/msword'),
    att('unterlagen.zip', buildZip([{ name: 'a.pdf', data: '%PDF-1.4' }, { name: 'b/c.txt', data: 'text' }]), 'application/zip'),
    att('install.sh', '#!/bin/sh\necho hello\n', 'text/x-sh'),
  ]));
  assert.equal(v.kind, 'pass', JSON.stringify(v));
  assert.equal(v.evidence?.parts, 6);
  assert.deepEqual((v.evidence?.attachments as Array<Record<string, unknown>>).map((a) => [a.part, a.filename, a.detected]), [
    ['2', 'Rechnung.pdf', 'pdf'], ['3', 'Angebot.docx', 'ooxml'], ['4', 'Vertrag.doc', 'ole'], ['5', 'unterlagen.zip', 'zip'],
    ['6', 'install.sh', 'shebang'],
  ]);
  assert.equal(v.evidence?.archive_entries, 5);
});

test('Rechnung.pdf.exe: a double extension, named in the reply', async () => {
  const r = refused(await run(mimeMessage([att('Rechnung.pdf.exe', peFile())])));
  assert.deepEqual(r.reply, {
    code: 554, enhanced: '5.7.1',
    text: 'Attachment Rechnung.pdf.exe is a Windows program (.exe) disguised as .pdf; programs and scripts are not accepted by mail. Use another way to share it',
  });
  assert.deepEqual(r.evidence, {
    rule: 'double_extension', part: '2', filename: 'Rechnung.pdf.exe', content_type: 'application/octet-stream', bytes: 1024,
    detected: null, ext: 'exe', decoy: 'pdf',
  });
  assert.match(r.reason, /^double_extension: Attachment Rechnung\.pdf\.exe a Windows program$/);
});

test('spaces before the last dot do not hide the extension; the reply shows them as one', async () => {
  const r = refused(await run(mimeMessage([att('Rechnung.pdf                                   .exe', 'x')])));
  assert.equal(r.reply.text, 'Attachment Rechnung.pdf .exe is a Windows program (.exe) disguised as .pdf; programs and scripts are not accepted by mail. Use another way to share it');
});

test('blocked extensions: scripts, shortcuts, disk images; the list is configurable', async () => {
  const cases: Array<[string, string]> = [
    ['run.js', 'a JScript script (.js)'], ['start.BAT', 'a Windows batch script (.bat)'], ['Fotos.lnk', 'a Windows shortcut (.lnk)'],
    ['Rechnung.iso', 'a disk image (.iso)'], ['x.ps1', 'a PowerShell script (.ps1)'],
  ];
  for (const [name, what] of cases) {
    const r = refused(await run(mimeMessage([att(name, 'x')])));
    assert.equal(r.reply.text, `Attachment ${name} is ${what}; programs and scripts are not accepted by mail. Use another way to share it`);
    assert.equal(r.evidence?.rule, 'extension');
  }
  assert.equal((await run(mimeMessage([att('run.js', 'x')]), { blocked_extensions: ['exe'] })).kind, 'pass');
  const own = refused(await run(mimeMessage([att('data.xyz', 'x')]), { blocked_extensions: ['xyz'] }));
  assert.equal(own.reply.text, 'Attachment data.xyz is a blocked file type (.xyz); programs and scripts are not accepted by mail. Use another way to share it');
});

test('programs by content, whatever the name says', async () => {
  const r = refused(await run(mimeMessage([att('Rechnung.pdf', peFile(), 'application/pdf')])));
  assert.equal(r.reply.text, 'Attachment Rechnung.pdf is a Windows program by its content, whatever its name says; programs and scripts are not accepted by mail. Use another way to share it');
  assert.equal(r.evidence?.rule, 'content');
  assert.equal(r.evidence?.detected, 'pe');
  const elf = refused(await run(mimeMessage([att('notes.txt', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0]), 'text/plain')])));
  assert.match(elf.reply.text, /^Attachment notes\.txt is a Linux program by its content/);
  // An unnamed part is named by its number and type.
  const unnamed = refused(await run(mimeMessage([att(null, peFile())])));
  assert.match(unnamed.reply.text, /^Part 2 \(application\/octet-stream\) is a Windows program by its content/);
  // An installer (OLE with the MSI class) too.
  const msi = refused(await run(mimeMessage([att('scan.pdf', buildOle([{ name: 'x', type: 2 }], { rootClsid: '{000C1084-0000-0000-C000-000000000046}' }))])));
  assert.match(msi.reply.text, /^Attachment scan\.pdf is a Windows installer by its content/);
  assert.equal(msi.evidence?.detected, 'msi');
  // Switched off: passes.
  assert.equal((await run(mimeMessage([att('Rechnung.pdf', peFile())]), { block_executable_content: false })).kind, 'pass');
});

test('Office files with macros: by name, OOXML with a vbaProject.bin, OLE with a VBA project', async () => {
  const MACRO = 'is an Office document with macros; macros are not accepted by mail. Save it without macros (e.g. as .docx, .xlsx or PDF) and send again';
  const byName = refused(await run(mimeMessage([att('Rechnung.docm', buildOoxml(null))])));
  assert.equal(byName.reply.text, `Attachment Rechnung.docm ${MACRO}`);
  assert.equal(byName.evidence?.ext, 'docm');
  const renamed = refused(await run(mimeMessage([att('Rechnung.docx', buildOoxml('Attribute VB_Name = "ThisDocument"'))])));
  assert.equal(renamed.reply.text, `Attachment Rechnung.docx ${MACRO}`);
  assert.equal(renamed.evidence?.detected, 'ooxml-vba');
  const doc = refused(await run(mimeMessage([att('Rechnung.doc', oleDocWithMacros(), 'application/msword')])));
  assert.equal(doc.reply.text, `Attachment Rechnung.doc ${MACRO}`);
  assert.equal(doc.evidence?.detected, 'ole-vba');
  assert.equal(doc.evidence?.rule, 'macro');
  for (const m of [mimeMessage([att('Rechnung.docm', buildOoxml('x'))]), mimeMessage([att('Rechnung.doc', oleDocWithMacros())])]) {
    assert.equal((await run(m, { block_macros: false })).kind, 'pass');
  }
});

test('archives: what is inside counts, also nested and disguised', async () => {
  const r = refused(await run(mimeMessage([att('files.zip', buildZip([{ name: 'readme.txt', data: 'x' }, { name: 'tools/setup.exe', data: peFile() }]))])));
  assert.equal(r.reply.text, 'Attachment files.zip contains tools/setup.exe, a Windows program (.exe); programs and scripts are not accepted by mail, also not in archives. Use another way to share it');
  assert.deepEqual(r.evidence?.entry, ['tools/setup.exe']);
  assert.equal(r.evidence?.rule, 'extension');

  const disguised = refused(await run(mimeMessage([att('photos.zip', buildZip([{ name: 'IMG_0001.jpg', data: peFile() }]))])));
  assert.equal(disguised.reply.text, 'Attachment photos.zip contains IMG_0001.jpg, a Windows program by its content, whatever its name says; programs and scripts are not accepted by mail, also not in archives. Use another way to share it');

  const inner = buildZip([{ name: 'Rechnung.pdf.vbs', data: 'MsgBox 1' }]);
  const nested = refused(await run(mimeMessage([att('outer.zip', buildZip([{ name: 'inner.zip', data: inner, method: 0 }]))])));
  assert.deepEqual(nested.evidence?.entry, ['inner.zip', 'Rechnung.pdf.vbs']);
  assert.equal(nested.evidence?.rule, 'double_extension');
  assert.match(nested.reply.text, /^Attachment outer\.zip contains inner\.zip \/ Rechnung\.pdf\.vbs, a VBScript \(\.vbs\) disguised as \.pdf;/);

  const macroInZip = refused(await run(mimeMessage([att('docs.zip', buildZip([{ name: 'Rechnung.docx', data: buildOoxml('vba') }]))])));
  assert.equal(macroInZip.reply.text, 'Attachment docs.zip contains Rechnung.docx, an Office document with macros; macros are not accepted by mail, also not in archives. Save it without macros (e.g. as .docx, .xlsx or PDF) and send again');
  const oleInZip = refused(await run(mimeMessage([att('docs.zip', buildZip([{ name: 'alt.doc', data: oleDocWithMacros() }]))])));
  assert.equal(oleInZip.evidence?.detected, 'ole-vba');

  // Another name for the same entry (Unicode Path field) counts too.
  const alt = refused(await run(mimeMessage([att('a.zip', buildZip([{ name: 'harmless.txt', unicodeName: 'harmless.exe', data: 'x' }]))])));
  assert.deepEqual(alt.evidence?.entry, ['harmless.txt']);
  assert.equal(alt.evidence?.ext, 'exe');

  // Junk in front of the archive does not hide it.
  const hidden = refused(await run(mimeMessage([att('data.bin', buildZip([{ name: 'x.scr', data: 'x' }], { prefix: Buffer.alloc(100, 0x20) }))])));
  assert.deepEqual(hidden.evidence?.entry, ['x.scr']);
});

test('archive depth: two levels by default, configurable; scan_archives off looks at names only', async () => {
  const level3 = buildZip([{ name: 'l2.zip', data: buildZip([{ name: 'l3.zip', data: buildZip([{ name: 'evil.exe', data: peFile() }]) }]) }]);
  const deep = await run(mimeMessage([att('l1.zip', level3)]));
  assert.equal(deep.kind, 'pass', 'the third level is left to clamd');
  const r = refused(await run(mimeMessage([att('l1.zip', level3)]), { max_archive_depth: 3 }));
  assert.deepEqual(r.evidence?.entry, ['l2.zip', 'l3.zip', 'evil.exe']);
  assert.equal((await run(mimeMessage([att('a.zip', buildZip([{ name: 'x.exe', data: 'x' }]))]), { scan_archives: false })).kind, 'pass');
  // The name of the archive itself still counts, and so do macros in OOXML.
  assert.equal((await run(mimeMessage([att('a.docx', buildOoxml('vba'))]), { scan_archives: false })).kind, 'reject');
});

test('password-protected archives: passed by default (names still checked), refused when configured', async () => {
  const enc = buildZip([{ name: 'invoice.pdf', data: 'x', encrypted: true }]);
  assert.equal((await run(mimeMessage([att('invoice.zip', enc)]))).kind, 'pass');
  const r = refused(await run(mimeMessage([att('invoice.zip', enc)]), { block_encrypted_archives: true }));
  assert.equal(r.reply.text, 'Attachment invoice.zip is a password-protected archive whose content cannot be checked; such archives are not accepted here. Send the files unprotected or use another way to share them');
  const named = refused(await run(mimeMessage([att('invoice.zip', buildZip([{ name: 'invoice.pdf.exe', data: 'x', encrypted: true }]))])));
  assert.equal(named.evidence?.rule, 'double_extension');
});

test('archive limits: too many entries, and a zip bomb, are refused with 552 5.3.4', async () => {
  const many = buildZip(Array.from({ length: 30 }, (_, i) => ({ name: `f${i}.txt`, data: '' })));
  const r = refused(await run(mimeMessage([att('many.zip', many)]), { max_archive_entries: 20 }));
  assert.deepEqual(r.reply, { code: 552, enhanced: '5.3.4', text: 'Attachment many.zip holds more than 20 archive entries in all; it was not accepted. Send fewer files or use another way to share them' });
  assert.equal(r.evidence?.limit, 'archive_entries');
  const bomb = buildZip([{ name: 'inner.zip', data: buildZip([{ name: 'zeros.bin', data: Buffer.alloc(4 * 1024 * 1024) }], {}), method: 0 }, { name: 'big.zip', data: Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(3 * 1024 * 1024)]) }]);
  const b = refused(await run(mimeMessage([att('bomb.zip', bomb)]), { max_decoded_bytes: 2 * 1024 * 1024 }));
  assert.equal(b.reply.code, 552);
  assert.equal(b.evidence?.limit, 'archive_bytes');
  assert.match(b.reply.text, /^Attachment bomb\.zip unpacks to more than 2 MB; it was not accepted\. Use another way to share it$/);
});

test('an attached message is looked into; the reply says where', async () => {
  const inner = mimeMessage([att('tool.exe', 'x')], { boundary: '=_inner' }).toString('latin1');
  const msg = mimeMessage([], {
    extraParts: ['--=_b', 'Content-Type: message/rfc822; name="fw.eml"', 'Content-Disposition: attachment; filename="fw.eml"', '', inner],
  });
  const r = refused(await run(msg));
  assert.match(r.reply.text, /^Attachment tool\.exe in attached message fw\.eml is a Windows program \(\.exe\);/);
  assert.equal(r.evidence?.part, '2.2');
  assert.deepEqual(r.evidence?.within, ['fw.eml']);
});

test('client-sent names reach the reply as bounded printable ASCII only', async () => {
  const name = '=?UTF-8?B?' + Buffer.from('Grüße\r\n\u202e' + 'x'.repeat(300) + '.pdf.exe').toString('base64') + '?=';
  const r = refused(await run(mimeMessage([att(name, 'x')])));
  assert.match(r.reply.text, /^[\x20-\x7e]+$/);
  assert.match(r.reply.text, /^Attachment Gr\?\?e \?x{73}\.\.\. is a Windows program/);
  const line = render(r.reply, 'REF0123456789', 'https://mx.example.net/ref/');
  assert.ok(line.line.length < 500, line.line);
  assert.match(r.evidence?.filename as string, /^Grüße\\x0d\\x0a/);
});

test('MIME limits: a bomb of parts stops at the first limit, before the rest is decoded', async () => {
  // 1500 parts, and after them a part that would be over the decoded-bytes
  // limit: the parts limit must come first (the walk stops there).
  const lines = ['From: a@example.org', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b"', ''];
  for (let i = 0; i < 1500; i++) lines.push('--b', 'Content-Type: text/plain', '', `part ${i}`);
  lines.push('--b', 'Content-Type: application/octet-stream', 'Content-Transfer-Encoding: base64', '', Buffer.alloc(3 * 1024 * 1024).toString('base64'), '--b--', '');
  const r = refused(await run(Buffer.from(lines.join('\r\n')), { max_decoded_bytes: 1024 * 1024 }));
  assert.deepEqual(r.reply, { code: 552, enhanced: '5.3.4', text: 'Message has more than 1000 MIME parts; it was not accepted. Send the content in several simpler messages' });
  assert.deepEqual(r.evidence, { rule: 'mime_limit', limit: 'parts', max: 1000, at: '1000', parts_seen: 999 });
});

test('MIME limits: deep nesting, decoded size, configurable', async () => {
  const depth = 60;
  const lines = ['From: a@example.org', 'MIME-Version: 1.0'];
  for (let i = 0; i < depth; i++) lines.push(`Content-Type: multipart/mixed; boundary="b${i}"`, '', `--b${i}`);
  lines.push('Content-Type: text/plain', '', 'deep');
  for (let i = depth - 1; i >= 0; i--) lines.push(`--b${i}--`);
  const deep = Buffer.from(lines.join('\r\n') + '\r\n');
  const r = refused(await run(deep));
  assert.equal(r.reply.text, 'Message has MIME parts nested more than 20 levels deep; it was not accepted. Send the content in a simpler message');
  assert.equal(r.evidence?.limit, 'depth');
  assert.equal((await run(deep, { max_depth: 100 })).kind, 'pass');

  const big = mimeMessage([att('data.bin', Buffer.alloc(200 * 1024, 0x61))]);
  const d = refused(await run(big, { max_decoded_bytes: 100 * 1024 }));
  assert.deepEqual(d.reply, { code: 552, enhanced: '5.3.4', text: 'Message content is larger than 100 KB once decoded; it was not accepted. Send the files in several messages or use another way to share them' });
});

test('a spooled message file is read the same way', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-att-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'msg.eml');
  fs.writeFileSync(file, mimeMessage([att('a.txt', 'fine'), att('b.pdf.scr', 'x')]));
  const r = refused(await run({ path: file }));
  assert.equal(r.evidence?.part, '3');
});

test('a large spooled message: parts and unpacked entries go to files beside it; the same verdicts, nothing left behind', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-att-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const pdf = att('big.pdf', Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(600 * 1024)]), 'application/pdf');
  // A program two archive levels down, behind 400 KB of stored data in each.
  const inner = buildZip([{ name: 'pad.bin', data: randomBytes(400 * 1024), method: 0 }, { name: 'setup.dat', data: peFile() }]);
  const outer = buildZip([{ name: 'pad.bin', data: randomBytes(400 * 1024), method: 0 }, { name: 'inner.zip', data: inner }]);
  const doc = Buffer.concat([oleDocWithMacros(), randomBytes(300 * 1024)]);
  const cases: Array<[string, Att[]]> = [
    ['program in a nested zip', [pdf, att('archive.zip', outer, 'application/zip')]],
    ['OLE document with macros', [pdf, att('Vertrag.doc', doc, 'application/msword')]],
    ['clean', [pdf, att('archive.zip', buildZip([{ name: 'a.bin', data: randomBytes(300 * 1024), method: 0 }]), 'application/zip')]],
  ];
  for (const [what, atts] of cases) {
    const msg = mimeMessage(atts);
    const file = path.join(dir, 'msg.eml');
    fs.writeFileSync(file, msg);
    const spooled = await run({ path: file });
    assert.deepEqual(spooled, await run(msg), what);
    assert.deepEqual(fs.readdirSync(dir), ['msg.eml'], what);
    if (what === 'program in a nested zip') {
      assert.deepEqual(refused(spooled).evidence, {
        rule: 'content', part: '3', filename: 'archive.zip', content_type: 'application/zip', bytes: outer.length,
        detected: 'pe', ext: null, decoy: null, entry: ['inner.zip', 'setup.dat'],
      });
    } else if (what === 'OLE document with macros') {
      assert.equal(refused(spooled).evidence?.detected, 'ole-vba');
    } else {
      assert.equal(spooled.kind, 'pass');
      assert.equal(spooled.evidence?.unpacked_bytes, 0);
    }
  }
});

test('fast path: only a single unnamed text part without base64 skips the MIME walk', () => {
  const m = (h: string): { buffer: Buffer } => ({ buffer: Buffer.from(`${h}\n\nbody\n`) });
  assert.deepEqual(plainTextOnly(m('Subject: x')), { type: 'text/plain', encoding: '7bit' });
  assert.deepEqual(plainTextOnly(m('Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable')), { type: 'text/html', encoding: 'quoted-printable' });
  assert.equal(plainTextOnly(m('Content-Type: text/plain\nContent-Transfer-Encoding: base64')), null);
  assert.equal(plainTextOnly(m('Content-Type: text/plain; name="Rechnung.pdf.exe"')), null);
  assert.equal(plainTextOnly(m('Content-Type: text/plain\nContent-Disposition: attachment')), null);
  assert.equal(plainTextOnly(m('Content-Type: multipart/mixed; boundary=x')), null);
  assert.equal(plainTextOnly(m('Content-Type: application/octet-stream')), null);
  assert.equal(plainTextOnly(m('Content-Type: message/rfc822')), null);
  // The Content-Type after a long header is still seen.
  assert.equal(plainTextOnly(m(`${'X-Pad: y\n'.repeat(5000)}Content-Type: multipart/mixed; boundary=x`)), null);
  assert.equal(plainTextOnly({ buffer: Buffer.from('Subject: no end of header') }), null);
  assert.equal(plainTextOnly({ path: '/spooled' }), null);
});
