// The clamd client and the MIME part scan against a REAL clamd (Debian
// clamav-daemon) loaded with the signatures the project ships
// (test/fixtures/clamav): EICAR as an attachment, in a zip, in an attached
// message, a macro "Word file", a clean message, clamd killed mid-scan and
// restarted. Loopback only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireTool } from '../../helpers/env.js';
import { startClamd } from '../../helpers/clamd.js';
import { ClamdClient, scanMessage, type MessageScanResult } from '../../../src/scan/clamd.js';

// Built from two halves so this source file is not itself "infected" for a
// virus scanner on a developer's machine.
const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR' + '-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';
const EICAR_SIG = /^Mailproof\.Test\.EICAR(\.UNOFFICIAL)?$/;
const MACRO_SIG = /^Mailproof\.Test\.MacroDropper(\.UNOFFICIAL)?$/;
const STREAM_MAX = 4 * 1024 * 1024;

interface Att {
  filename: string;
  type: string;
  content: Buffer;
}

function b64(buf: Buffer): string {
  return buf.toString('base64').replace(/.{76}/g, '$&\r\n');
}

function message(subject: string, text: string, atts: Att[], extra: string[] = [], boundary = '=_outer'): Buffer {
  const lines = [
    'From: Sender <sender@example.org>', 'To: demo@demo.test', `Subject: ${subject}`,
    'Message-ID: <' + subject.replace(/\W/g, '') + '@example.org>', 'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${boundary}"`, '',
    'This is a multi-part message in MIME format.',
    `--${boundary}`, 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 7bit', '', text,
  ];
  for (const a of atts) {
    lines.push(`--${boundary}`, `Content-Type: ${a.type}; name="${a.filename}"`, `Content-Disposition: attachment; filename="${a.filename}"`,
      'Content-Transfer-Encoding: base64', '', b64(a.content));
  }
  lines.push(...extra, `--${boundary}--`, '');
  return Buffer.from(lines.join('\r\n'));
}

/** Zips files (name -> content) with Debian's zip; returns the archive. */
function zip(tmp: string, name: string, files: Record<string, string | Buffer>): Buffer {
  const dir = fs.mkdtempSync(path.join(tmp, 'zip-'));
  for (const [f, c] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), c);
  }
  const out = path.join(tmp, name);
  execFileSync('zip', ['-q', '-X', '-r', out, ...Object.keys(files)], { cwd: dir });
  return fs.readFileSync(out);
}

/** An OOXML Word document (.docm/.docx layout); with `vba` a word/vbaProject.bin. */
function wordFile(tmp: string, name: string, vba: string | null): Buffer {
  const files: Record<string, string> = {
    '[Content_Types].xml': '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
      + '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
      + '<Default Extension="xml" ContentType="application/xml"/>'
      + (vba ? '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>' : '')
      + '<Override PartName="/word/document.xml" ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/></Types>',
    '_rels/.rels': '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
      + '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
    'word/document.xml': '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
      + '<w:body><w:p><w:r><w:t>Rechnung Nr. 4711</w:t></w:r></w:p></w:body></w:document>',
  };
  if (vba) {
    files['word/_rels/document.xml.rels'] = '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
      + '<Relationship Id="rId9" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/></Relationships>';
    files['word/vbaProject.bin'] = vba;
  }
  return zip(tmp, name, files);
}

/** What the stand-in macro dropper's VBA module says (test/fixtures/clamav/README.md). */
const DROPPER_VBA = [
  'Attribute VB_Name = "ThisDocument"',
  'Sub AutoOpen()',
  '    Dim p As String',
  '    p = Environ("TEMP") & "\\invoice.exe"',
  '    Shell "cmd /c powershell -w hidden -c ""echo MAILPROOF-TEST-DROPPER > " & p & """", vbHide',
  'End Sub',
  '',
].join('\r\n');

function infected(r: MessageScanResult): Extract<MessageScanResult, { kind: 'infected' }> {
  assert.equal(r.kind, 'infected', JSON.stringify(r, null, 1));
  return r as Extract<MessageScanResult, { kind: 'infected' }>;
}

test('real clamd with the shipped signatures', async (t) => {
  if (!requireTool(t, 'clamd') || !requireTool(t, 'zip')) return;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-clamd-e2e-'));
  const t0 = Date.now();
  const clamd = await startClamd({ streamMaxLength: STREAM_MAX });
  t.diagnostic(`clamd up (PONG) in ${Date.now() - t0} ms`);
  t.after(async () => {
    await clamd.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  const tcp = new ClamdClient({ address: clamd.tcp, maxStreamBytes: STREAM_MAX, timeoutMs: 20000 });
  const unix = new ClamdClient({ address: { socket: clamd.socket }, maxStreamBytes: STREAM_MAX, timeoutMs: 20000 });

  await t.test('clamd loaded the shipped signatures', () => {
    assert.match(clamd.log(), /Loaded 2 signatures\./);
  });

  await t.test('PING, VERSION and a bare EICAR stream, over TCP and the unix socket', async () => {
    for (const c of [tcp, unix]) {
      const p = await c.ping();
      assert.equal(p.ok, true, JSON.stringify(p));
      assert.match(String(await c.version()), /^ClamAV \d+\.\d+/);
      const r = await c.scan(Buffer.from(EICAR));
      assert.equal(r.kind, 'infected', JSON.stringify(r));
      assert.match(r.kind === 'infected' ? r.signature : '', EICAR_SIG);
      assert.match(String(r.raw), /^stream: Mailproof\.Test\.EICAR(\.UNOFFICIAL)? FOUND$/);
      const ok = await c.scan(Buffer.from('just text\n'));
      assert.equal(ok.kind, 'clean');
      assert.equal(ok.raw, 'stream: OK');
    }
  });

  // Each finding in both modes: 'whole' (the default) relies on clamd's own
  // mail parser to see the decoded part, and then names the part itself.
  for (const mode of ['whole', 'parts'] as const) {
  await t.test(`${mode}: EICAR as an attachment: named by signature and file name`, async () => {
    const msg = message('eicar plain', 'see the invoice', [{ filename: 'invoice.com', type: 'application/octet-stream', content: Buffer.from(EICAR) }]);
    const r = infected(await scanMessage(tcp, msg, { mode }));
    assert.match(r.signature, EICAR_SIG);
    assert.equal(r.part?.filename, 'invoice.com');
    assert.equal(r.part?.path, '2');
    assert.match(r.summary, /^Mailproof\.Test\.EICAR(\.UNOFFICIAL)? in attachment invoice\.com$/);
    t.diagnostic(`EICAR attachment: ${r.ms} ms for ${r.scans.length} scans (${r.scans.map((s) => `${s.bytes} B ${s.ms} ms`).join(', ')})`);
  });

  await t.test('the whole raw message alone is found too (clamd\'s own MIME parser, the fallback)', async () => {
    const msg = message('eicar whole', 'x', [{ filename: 'a.bin', type: 'application/octet-stream', content: Buffer.from(EICAR) }]);
    const r = await tcp.scan(msg);
    assert.equal(r.kind, 'infected', JSON.stringify(r));
    assert.match(r.kind === 'infected' ? r.signature : '', EICAR_SIG);
  });

  await t.test(`${mode}: EICAR inside a zip attachment`, async () => {
    // EICAR's optional whitespace tail (up to 128 bytes in all) lets zip
    // deflate it: the string is then not in the archive's bytes, so the
    // finding proves that clamd unpacked the zip.
    const archive = zip(tmp, 'invoice.zip', { 'invoice.pdf.exe': EICAR + ' '.repeat(60), 'readme.txt': 'open the exe' });
    assert.ok(!archive.includes(EICAR), 'EICAR deflated in the archive');
    const msg = message('eicar zip', 'zipped', [{ filename: 'invoice.zip', type: 'application/zip', content: archive }]);
    const r = infected(await scanMessage(unix, msg, { mode }));
    assert.match(r.signature, EICAR_SIG);
    assert.equal(r.part?.filename, 'invoice.zip');
    assert.match(r.summary, /^Mailproof\.Test\.EICAR(\.UNOFFICIAL)? in attachment invoice\.zip$/);
  });

  await t.test(`${mode}: EICAR in an attached message (message/rfc822 inside multipart/mixed)`, async () => {
    const inner = message('inner', 'forwarded mail', [{ filename: 'eicar.txt', type: 'text/plain', content: Buffer.from(EICAR) }], [], '=_inner').toString();
    // Once 7bit and inline (mailsplit would nest it itself), once base64 as an .eml attachment.
    for (const [how, headers, body] of [
      ['inline', ['Content-Type: message/rfc822', 'Content-Disposition: inline'], inner],
      ['attached', ['Content-Type: message/rfc822; name="forwarded.eml"', 'Content-Disposition: attachment; filename="forwarded.eml"', 'Content-Transfer-Encoding: base64'], b64(Buffer.from(inner))],
    ] as const) {
      const msg = message(`nested ${how}`, 'FYI', [], ['--=_outer', ...headers, '', body]);
      const r = infected(await scanMessage(tcp, msg, { mode }));
      assert.match(r.signature, EICAR_SIG);
      assert.equal(r.part?.filename, 'eicar.txt', how);
      assert.equal(r.part?.path, '2.2', how);
      assert.deepEqual(r.part?.within, [how === 'inline' ? 'part 2' : 'forwarded.eml']);
      assert.match(r.summary, how === 'inline'
        ? /^Mailproof\.Test\.EICAR(\.UNOFFICIAL)? in attachment eicar\.txt in attached message part 2$/
        : /^Mailproof\.Test\.EICAR(\.UNOFFICIAL)? in attachment eicar\.txt in attached message forwarded\.eml$/);
    }
  });

  await t.test(`${mode}: "I only sent a Word file": a .docm with an AutoOpen/Shell macro`, async () => {
    const docm = wordFile(tmp, 'Rechnung.docm', DROPPER_VBA);
    assert.ok(!docm.includes('MAILPROOF-TEST-DROPPER'), 'the macro is deflated in the .docm');
    const msg = message('word file', 'Rechnung anbei', [{ filename: 'Rechnung.docm', type: 'application/vnd.ms-word.document.macroEnabled.12', content: docm }]);
    const r = infected(await scanMessage(tcp, msg, { mode }));
    assert.match(r.signature, MACRO_SIG);
    assert.equal(r.part?.filename, 'Rechnung.docm');
    assert.match(r.summary, /^Mailproof\.Test\.MacroDropper(\.UNOFFICIAL)? in attachment Rechnung\.docm$/);
  });
  }

  await t.test('a clean message with a zip, a .docx and a harmless macro is clean', async () => {
    const docx = wordFile(tmp, 'Angebot.docx', null);
    // AutoOpen alone (no Shell, no dropper marker) must not match.
    const harmless = wordFile(tmp, 'Vorlage.docm', 'Attribute VB_Name = "ThisDocument"\r\nSub AutoOpen()\r\n  MsgBox "Hallo"\r\nEnd Sub\r\n');
    const archive = zip(tmp, 'photos.zip', { 'a.txt': 'holiday', 'b.csv': '1,2,3\n' });
    const msg = message('clean', 'Hallo, anbei die Unterlagen. EICAR is only mentioned here.', [
      { filename: 'Angebot.docx', type: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', content: docx },
      { filename: 'Vorlage.docm', type: 'application/vnd.ms-word.document.macroEnabled.12', content: harmless },
      { filename: 'photos.zip', type: 'application/zip', content: archive },
    ]);
    const r = await scanMessage(tcp, msg, { mode: 'parts' });
    assert.equal(r.kind, 'clean', JSON.stringify(r, null, 1));
    assert.equal(r.parts, 4);
    assert.deepEqual(r.scans.map((s) => [s.target, s.kind, s.raw]), [
      ['part', 'clean', 'stream: OK'], ['part', 'clean', 'stream: OK'], ['part', 'clean', 'stream: OK'], ['part', 'clean', 'stream: OK'],
      ['message', 'clean', 'stream: OK'],
    ]);
    t.diagnostic(`clean message of ${msg.length} bytes, 4 parts, part by part: ${r.ms} ms in all`);
    // Whole mode: one stream, clamd decodes the parts and the archives itself.
    const once = await scanMessage(tcp, msg, { checkLimits: false });
    assert.equal(once.kind, 'clean', JSON.stringify(once, null, 1));
    assert.deepEqual(once.scans.map((s) => [s.target, s.kind, s.raw]), [['message', 'clean', 'stream: OK']]);
    t.diagnostic(`the same message whole: ${once.ms} ms`);
  });

  await t.test('over clamd\'s StreamMaxLength: clamd refuses; an error, too_large when its answer is read', async () => {
    const lax = new ClamdClient({ address: clamd.tcp, maxStreamBytes: 64 * 1024 * 1024 });
    const r = await lax.scan(Buffer.alloc(STREAM_MAX + 1024 * 1024, 0x61));
    assert.equal(r.kind, 'error', JSON.stringify(r));
    // clamd answers and closes while we still write. Usually its answer is
    // read first; when the reset (EPIPE/ECONNRESET) wins the race the answer
    // is gone with the socket, and the scan is a broken connection: still an
    // error, never clean.
    if (r.kind === 'error' && r.code === 'protocol') {
      assert.match(r.reason, /broke: (EPIPE|ECONNRESET)/, JSON.stringify(r));
    } else {
      assert.equal(r.kind === 'error' && r.code, 'too_large');
      assert.match(String(r.raw), /INSTREAM size limit exceeded/);
    }
    // Our own check refuses it before sending.
    const own = await tcp.scan(Buffer.alloc(STREAM_MAX + 1));
    assert.equal(own.kind === 'error' && own.code, 'too_large');
    // clamd is still fine.
    assert.equal((await tcp.ping()).ok, true);
  });

  await t.test('a larger spooled message: timing', async () => {
    const file = path.join(tmp, 'spooled.eml');
    const big = Buffer.alloc(2 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
    fs.writeFileSync(file, message('big', 'large attachment', [{ filename: 'data.bin', type: 'application/octet-stream', content: big }, { filename: 'x.com', type: 'application/octet-stream', content: Buffer.from(EICAR) }]));
    const r = infected(await scanMessage(tcp, { path: file }));
    assert.equal(r.part?.filename, 'x.com');
    t.diagnostic(`spooled message of ${fs.statSync(file).size} bytes: ${r.ms} ms in all; scans ${r.scans.map((s) => `${s.bytes} B ${s.ms} ms`).join(', ')}`);
  });

  await t.test('clamd killed mid-scan: an error, never clean; then restarted: works again', async () => {
    // A FIFO as the "spooled file": half the stream is sent, then clamd dies.
    const fifo = path.join(tmp, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const writer = fs.createWriteStream(fifo);
    writer.on('error', () => { /* the reader may be gone */ });
    const pending = tcp.scan({ path: fifo });
    await new Promise<void>((r) => writer.write(Buffer.alloc(512 * 1024, 0x62), () => r()));
    await new Promise((r) => setTimeout(r, 200));
    await clamd.kill();
    writer.end(Buffer.alloc(512 * 1024, 0x62));
    const mid = await pending;
    assert.equal(mid.kind, 'error', JSON.stringify(mid));
    t.diagnostic(`killed mid-stream: ${mid.kind === 'error' ? `${mid.code}: ${mid.reason}` : ''}`);

    const msg = message('while down', 'x', [{ filename: 'invoice.com', type: 'application/octet-stream', content: Buffer.from(EICAR) }]);
    const down = await scanMessage(tcp, msg);
    assert.equal(down.kind, 'error', JSON.stringify(down));
    assert.equal(down.kind === 'error' && down.code, 'connect');
    assert.match(down.summary, /^virus scan failed: cannot connect to clamd/);
    const downUnix = await scanMessage(unix, message('clean while down', 'x', []));
    assert.equal(downUnix.kind, 'error', 'a clean message is not clean while clamd is down');
    assert.equal((await tcp.ping()).ok, false);

    const t1 = Date.now();
    await clamd.restart();
    t.diagnostic(`clamd restarted in ${Date.now() - t1} ms`);
    const again = infected(await scanMessage(tcp, msg));
    assert.equal(again.part?.filename, 'invoice.com');
    assert.equal((await scanMessage(unix, message('clean again', 'x', []))).kind, 'clean');
  });
});
