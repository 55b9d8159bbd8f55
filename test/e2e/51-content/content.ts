// Messages and files for the content end-to-end tests (51-content): built
// with Debian's zip like a sender's computer would, with the test
// signatures' stand-ins (test/fixtures/clamav/README.md).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

// Built from two halves so this source file is not itself "infected" for a
// virus scanner on a developer's machine.
export const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR' + '-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';
export const EICAR_SIG = 'Mailproof\\.Test\\.EICAR(?:\\.UNOFFICIAL)?';
export const MACRO_SIG = 'Mailproof\\.Test\\.MacroDropper(?:\\.UNOFFICIAL)?';
export const REF = '[0-9A-HJKMNP-TV-Z]{12}';

/** What the stand-in macro dropper's VBA module says. */
export const DROPPER_VBA = [
  'Attribute VB_Name = "ThisDocument"',
  'Sub AutoOpen()',
  '    Dim p As String',
  '    p = Environ("TEMP") & "\\invoice.exe"',
  '    Shell "cmd /c powershell -w hidden -c ""echo MAILPROOF-TEST-DROPPER > " & p & """", vbHide',
  'End Sub',
  '',
].join('\r\n');

export interface Att {
  filename: string;
  type: string;
  content: Buffer;
}

function b64(buf: Buffer): string {
  return buf.toString('base64').replace(/.{76}/g, '$&\r\n');
}

export function message(o: { subject: string; messageId: string; text: string; atts?: Att[]; extra?: string[]; boundary?: string; to?: string }): string {
  const boundary = o.boundary ?? '=_outer';
  const lines = [
    'From: Sender <sender@example.org>', `To: ${o.to ?? 'demo@demo.test'}`, `Subject: ${o.subject}`,
    `Message-ID: ${o.messageId}`, `Date: ${new Date().toUTCString()}`, 'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${boundary}"`, '',
    'This is a multi-part message in MIME format.',
    `--${boundary}`, 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 7bit', '', o.text,
  ];
  for (const a of o.atts ?? []) {
    lines.push(`--${boundary}`, `Content-Type: ${a.type}; name="${a.filename}"`, `Content-Disposition: attachment; filename="${a.filename}"`,
      'Content-Transfer-Encoding: base64', '', b64(a.content));
  }
  lines.push(...(o.extra ?? []), `--${boundary}--`, '');
  return lines.join('\r\n');
}

/** Zips files (name -> content) with Debian's zip; returns the archive. */
export function zip(tmp: string, name: string, files: Record<string, string | Buffer>): Buffer {
  const dir = fs.mkdtempSync(path.join(tmp, 'zip-'));
  for (const [f, c] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), c);
  }
  const out = path.join(tmp, name);
  execFileSync('zip', ['-q', '-X', '-r', out, ...Object.keys(files)], { cwd: dir });
  return fs.readFileSync(out);
}

/** The "Word file": an OOXML .docm with the dropper macro in word/vbaProject.bin. */
export function wordFile(tmp: string, name: string): Buffer {
  return zip(tmp, name, {
    '[Content_Types].xml': '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
      + '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
      + '<Default Extension="xml" ContentType="application/xml"/>'
      + '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
      + '<Override PartName="/word/document.xml" ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/></Types>',
    '_rels/.rels': '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
      + '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
    'word/document.xml': '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
      + '<w:body><w:p><w:r><w:t>Rechnung Nr. 4711</w:t></w:r></w:p></w:body></w:document>',
    'word/_rels/document.xml.rels': '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
      + '<Relationship Id="rId9" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/></Relationships>',
    'word/vbaProject.bin': DROPPER_VBA,
  });
}

/** A tiny but well-formed PDF. */
export const PDF = Buffer.from([
  '%PDF-1.4', '1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj', '2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj',
  '3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >> endobj', 'trailer << /Root 1 0 R >>', '%%EOF', '',
].join('\n'));

/** The start of a Windows program: MZ header pointing at a PE signature. */
export function peFile(): Buffer {
  const b = Buffer.alloc(1024);
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(0x80, 0x3c);
  b.write('PE\0\0', 0x80, 'latin1');
  return b;
}
