// The messages of the whole-filter benchmark (bench/filter), written as files
// for smtp-source -F (header and body as they are; smtp-source ends each line
// with CRLF and dot-stuffs). Clean and deterministic: a seeded generator
// writes the words, so every run sends the same bytes and both sides of the
// comparison scan the same thing.
//
// - text4k: a plain text message of about 4 KiB;
// - pdfdocx100k: about 100 KiB, a text part and two attachments, a PDF with a
//   compressed text stream and a Word .docx (OOXML zip, deflated XML), both
//   base64; clamd unpacks both, rspamd's antivirus module sends both to it;
// - gtube, eicar: the sanity messages, which both sides must refuse (GTUBE in
//   the text; EICAR as an attachment, where rspamd's antivirus module looks:
//   by default it scans attachments only).
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { buildZip } from '../../src/checks/attachments/test-files.js';
import { rng } from '../../test/helpers/rng.js';

export interface BenchMessage {
  name: string;
  label: string;
  file: string;
  /** Size on the wire (CRLF line ends), bytes. */
  bytes: number;
}

export const MESSAGE_NAMES = ['text4k', 'pdfdocx100k'] as const;

const WORDS = ('the of and to in is that for it as was with be by on not he this are or his from at which but have an they ' +
  'you were her she there been one all we their has would when if so no what up out said about into than them can only ' +
  'other new some could time these two may first then do any like my now over such our man me even most made after also ' +
  'did many before must through back years where much your way well down should because each just those people how too ' +
  'little state good very make world still own see men work long get here between both life being under never day same ' +
  'another know while last might us great old year off come since against go came right used take three report meeting ' +
  'quarter budget schedule project customer invoice delivery review draft figures summary attached please thanks regards').split(' ');

/** Sentences of words, wrapped at 72 columns, until `bytes` are written. */
function prose(r: () => number, bytes: number): string[] {
  const lines: string[] = [];
  let line = '';
  let n = 0;
  let sentence = 0;
  while (n < bytes) {
    let w = WORDS[Math.floor(r() * WORDS.length)]!;
    if (sentence === 0) w = w[0]!.toUpperCase() + w.slice(1);
    sentence++;
    if (sentence > 6 && r() < 0.15) { w += '.'; sentence = 0; }
    if (line.length + w.length + 1 > 72) {
      lines.push(line);
      n += line.length + 2;
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines;
}

function headers(subject: string, extra: string[] = []): string[] {
  return [
    'From: Bench Sender <sender@bench.test>',
    'To: Demo <demo@demo.test>',
    `Subject: ${subject}`,
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    'Message-ID: <bench-filter-message@bench.test>',
    'MIME-Version: 1.0',
    ...extra,
  ];
}

/** A one-page PDF whose content stream (FlateDecode) holds `textBytes` of prose. */
export function pdf(r: () => number, textBytes: number): Buffer {
  const text = prose(r, textBytes).map((l) => `(${l.replace(/[()\\]/g, '')}) Tj T*`).join('\n');
  const stream = zlib.deflateSync(Buffer.from(`BT /F1 10 Tf 50 770 Td 12 TL\n${text}\nET\n`, 'latin1'));
  const objs: Buffer[] = [
    Buffer.from('<< /Type /Catalog /Pages 2 0 R >>'),
    Buffer.from('<< /Type /Pages /Kids [3 0 R] /Count 1 >>'),
    Buffer.from('<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>'),
    Buffer.concat([Buffer.from(`<< /Length ${stream.length} /Filter /FlateDecode >>\nstream\n`), stream, Buffer.from('\nendstream')]),
    Buffer.from('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>'),
  ];
  const parts: Buffer[] = [Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
  let offset = parts[0]!.length;
  const offsets: number[] = [];
  objs.forEach((o, i) => {
    offsets.push(offset);
    const b = Buffer.concat([Buffer.from(`${i + 1} 0 obj\n`), o, Buffer.from('\nendobj\n')]);
    parts.push(b);
    offset += b.length;
  });
  const xref = ['xref', `0 ${objs.length + 1}`, '0000000000 65535 f ', ...offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n `)].join('\n');
  parts.push(Buffer.from(`${xref}\ntrailer\n<< /Size ${objs.length + 1} /Root 1 0 R >>\nstartxref\n${offset}\n%%EOF\n`));
  return Buffer.concat(parts);
}

/** A Word document (.docx): the parts Word itself needs, paragraphs of prose in word/document.xml. */
export function docx(r: () => number, textBytes: number): Buffer {
  const paras = prose(r, textBytes).map((l) => `<w:p><w:r><w:t xml:space="preserve">${l}</w:t></w:r></w:p>`).join('');
  const xml = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n';
  return buildZip([
    { name: '[Content_Types].xml', data: `${xml}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>` },
    { name: '_rels/.rels', data: `${xml}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>` },
    { name: 'docProps/core.xml', data: `${xml}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Quarterly report</dc:title><dc:creator>Bench Sender</dc:creator></cp:coreProperties>` },
    { name: 'word/document.xml', data: `${xml}<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>${paras}<w:sectPr/></w:body></w:document>` },
  ]);
}

const b64 = (b: Buffer): string[] => b.toString('base64').match(/.{1,76}/g) ?? [];

function multipart(subject: string, text: string[], atts: { name: string; type: string; data: Buffer }[]): string[] {
  const boundary = '=_bench_filter_boundary';
  const lines = [...headers(subject, [`Content-Type: multipart/mixed; boundary="${boundary}"`]), '',
    'This is a multi-part message in MIME format.', '', `--${boundary}`, 'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 7bit', '', ...text];
  for (const a of atts) {
    lines.push(`--${boundary}`, `Content-Type: ${a.type}; name="${a.name}"`, `Content-Disposition: attachment; filename="${a.name}"`,
      'Content-Transfer-Encoding: base64', '', ...b64(a.data));
  }
  lines.push(`--${boundary}--`, '');
  return lines;
}

const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';
/** The GTUBE and EICAR strings, each in two halves so that this file is neither spam nor a virus itself. */
const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*' + 'GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';
const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-' + 'ANTIVIRUS-TEST-FILE!$H+H*';

/** Writes the messages into dir; returns them by name. */
export function writeMessages(dir: string): Record<string, BenchMessage> {
  fs.mkdirSync(dir, { recursive: true });
  const r = rng(20261206);
  const bodies: Record<string, { label: string; lines: string[] }> = {
    text4k: {
      label: '4 KiB plain text',
      lines: [...headers('Notes from the meeting', ['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 7bit']), '', ...prose(r, 3760)],
    },
    pdfdocx100k: {
      label: '100 KiB: text, a PDF and a Word .docx attachment (base64)',
      lines: multipart('Quarterly report', prose(r, 1500), [
        { name: 'report.pdf', type: 'application/pdf', data: pdf(r, 107_000) },
        { name: 'notes.docx', type: DOCX, data: docx(r, 90_000) },
      ]),
    },
    gtube: { label: 'GTUBE (sanity: must be refused)', lines: [...headers('Test spam', ['Content-Type: text/plain']), '', 'This is the GTUBE test.', GTUBE, ''] },
    eicar: {
      label: 'EICAR attachment (sanity: must be refused)',
      lines: multipart('Test virus', ['The EICAR test file is attached.'], [{ name: 'eicar.com', type: 'application/octet-stream', data: Buffer.from(EICAR) }]),
    },
  };
  const out: Record<string, BenchMessage> = {};
  for (const [name, b] of Object.entries(bodies)) {
    const file = path.join(dir, `${name}.eml`);
    fs.writeFileSync(file, `${b.lines.join('\n')}\n`, { mode: 0o644 });
    out[name] = { name, label: b.label, file, bytes: b.lines.reduce((n, l) => n + Buffer.byteLength(l, 'latin1') + 2, 0) };
  }
  return out;
}
