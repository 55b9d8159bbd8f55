// Test scaffolding only (never used by the product): byte-wise builders for
// the files the attachment policy looks at, so the unit tests control every
// field (encryption flags, Unicode path fields, leading bytes, ZIP64, OLE
// directory chains) and need no outside tool. The end-to-end tests use
// Debian's zip instead.
import zlib from 'node:zlib';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(b: Buffer): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export interface ZipFileSpec {
  name: string;
  data?: Buffer | string;
  /** 0 stored, 8 deflated (default). */
  method?: 0 | 8;
  /** Sets the encryption flag (the data is not really encrypted: the reader never decrypts). */
  encrypted?: boolean;
  /** An Info-ZIP Unicode Path extra field (0x7075) with this name. */
  unicodeName?: string;
  /** A different name in the local header than in the central directory. */
  localName?: string;
}

/** A zip archive; `prefix` bytes go in front (offsets not adjusted, as with `cat sfx.exe a.zip`). */
export function buildZip(files: ZipFileSpec[], opts: { prefix?: Buffer; zip64?: boolean; comment?: string } = {}): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const f of files) {
    const raw = Buffer.isBuffer(f.data) ? f.data : Buffer.from(f.data ?? '');
    const method = f.method ?? 8;
    const data = method === 8 ? zlib.deflateRawSync(raw) : raw;
    const name = Buffer.from(f.name, 'utf8');
    const localName = Buffer.from(f.localName ?? f.name, 'utf8');
    const flags = (f.encrypted ? 1 : 0) | 0x800;
    const crc = crc32(raw);
    let cExtra = Buffer.alloc(0);
    if (f.unicodeName) {
      const u = Buffer.from(f.unicodeName, 'utf8');
      const x = Buffer.alloc(4 + 5);
      x.writeUInt16LE(0x7075, 0);
      x.writeUInt16LE(5 + u.length, 2);
      x[4] = 1;
      x.writeUInt32LE(crc32(name), 5);
      cExtra = Buffer.concat([cExtra, x, u]);
    }
    if (opts.zip64) {
      const x = Buffer.alloc(4 + 24);
      x.writeUInt16LE(0x0001, 0);
      x.writeUInt16LE(24, 2);
      x.writeBigUInt64LE(BigInt(raw.length), 4);
      x.writeBigUInt64LE(BigInt(data.length), 12);
      x.writeBigUInt64LE(BigInt(offset), 20);
      cExtra = Buffer.concat([cExtra, x]);
    }
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(flags, 6);
    lh.writeUInt16LE(method, 8);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(data.length, 18);
    lh.writeUInt32LE(raw.length, 22);
    lh.writeUInt16LE(localName.length, 26);
    lh.writeUInt16LE(0, 28);
    const local = Buffer.concat([lh, localName, data]);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(0x031e, 4);
    ch.writeUInt16LE(opts.zip64 ? 45 : 20, 6);
    ch.writeUInt16LE(flags, 8);
    ch.writeUInt16LE(method, 10);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(opts.zip64 ? 0xffffffff : data.length, 20);
    ch.writeUInt32LE(opts.zip64 ? 0xffffffff : raw.length, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt16LE(cExtra.length, 30);
    ch.writeUInt32LE(opts.zip64 ? 0xffffffff : offset, 42);
    centrals.push(Buffer.concat([ch, name, cExtra]));
    locals.push(local);
    offset += local.length;
  }
  const cd = Buffer.concat(centrals);
  const comment = Buffer.from(opts.comment ?? '', 'latin1');
  const tail: Buffer[] = [];
  if (opts.zip64) {
    const e64 = Buffer.alloc(56);
    e64.writeUInt32LE(0x06064b50, 0);
    e64.writeBigUInt64LE(44n, 4);
    e64.writeUInt16LE(45, 12);
    e64.writeUInt16LE(45, 14);
    e64.writeBigUInt64LE(BigInt(files.length), 24);
    e64.writeBigUInt64LE(BigInt(files.length), 32);
    e64.writeBigUInt64LE(BigInt(cd.length), 40);
    e64.writeBigUInt64LE(BigInt(offset), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(offset + cd.length), 8);
    loc.writeUInt32LE(1, 16);
    tail.push(e64, loc);
  }
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(opts.zip64 ? 0xffff : files.length, 8);
  eocd.writeUInt16LE(opts.zip64 ? 0xffff : files.length, 10);
  eocd.writeUInt32LE(opts.zip64 ? 0xffffffff : cd.length, 12);
  eocd.writeUInt32LE(opts.zip64 ? 0xffffffff : offset, 16);
  eocd.writeUInt16LE(comment.length, 20);
  return Buffer.concat([opts.prefix ?? Buffer.alloc(0), ...locals, cd, ...tail, eocd, comment]);
}

/** An OOXML package (.docx layout); with `vba` a word/vbaProject.bin. */
export function buildOoxml(vba: Buffer | string | null, extra: ZipFileSpec[] = []): Buffer {
  const files: ZipFileSpec[] = [
    { name: '[Content_Types].xml', data: '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>' },
    { name: '_rels/.rels', data: '<?xml version="1.0"?><Relationships/>' },
    { name: 'word/document.xml', data: '<?xml version="1.0"?><w:document/>' },
  ];
  if (vba !== null) files.push({ name: 'word/vbaProject.bin', data: vba });
  return buildZip([...files, ...extra]);
}

export interface OleEntrySpec {
  name: string;
  /** 1 storage, 2 stream. */
  type: 1 | 2;
}

function clsidBytes(s: string): Buffer {
  const m = /^\{([0-9A-F]{8})-([0-9A-F]{4})-([0-9A-F]{4})-([0-9A-F]{4})-([0-9A-F]{12})\}$/i.exec(s);
  if (!m) throw new Error(`bad CLSID ${s}`);
  const le = (h: string): Buffer => Buffer.from(h, 'hex').reverse();
  return Buffer.concat([le(m[1]!), le(m[2]!), le(m[3]!), Buffer.from(m[4]! + m[5]!, 'hex')]);
}

/**
 * An OLE2 compound file (version 3, 512-byte sectors) with the given
 * directory entries under a root entry. Streams are empty: the reader only
 * looks at the directory. With `scatter` the directory sectors are placed
 * out of order, so reading it means following the FAT chain.
 */
export function buildOle(entries: OleEntrySpec[], opts: { rootClsid?: string; scatter?: boolean } = {}): Buffer {
  const SS = 512;
  const all = [{ name: 'Root Entry', type: 5 }, ...entries];
  const nDir = Math.ceil(all.length / 4);
  // Sector 0 is the FAT; directory sectors after it (reversed with a gap when scattered).
  const dirPos = Array.from({ length: nDir }, (_, i) => (opts.scatter ? 2 * (nDir - i) : i + 1));
  const nSectors = Math.max(...dirPos) + 1;
  const fat = Buffer.alloc(SS, 0xff);
  fat.writeUInt32LE(0xfffffffd, 0);
  dirPos.forEach((s, i) => fat.writeUInt32LE(i + 1 < dirPos.length ? dirPos[i + 1]! : 0xfffffffe, s * 4));
  const sectors: Buffer[] = Array.from({ length: nSectors }, () => Buffer.alloc(SS));
  sectors[0] = fat;
  all.forEach((e, i) => {
    const sec = sectors[dirPos[Math.floor(i / 4)]!]!;
    const off = (i % 4) * 128;
    const name = Buffer.from(e.name + '\0', 'utf16le');
    name.copy(sec, off, 0, Math.min(64, name.length));
    sec.writeUInt16LE(Math.min(64, name.length), off + 0x40);
    sec[off + 0x42] = e.type;
    sec[off + 0x43] = 1;
    sec.writeUInt32LE(0xffffffff, off + 0x44);
    sec.writeUInt32LE(0xffffffff, off + 0x48);
    sec.writeUInt32LE(0xffffffff, off + 0x4c);
    if (e.type === 5 && opts.rootClsid) clsidBytes(opts.rootClsid).copy(sec, off + 0x50);
    sec.writeUInt32LE(0xfffffffe, off + 0x74);
  });
  const h = Buffer.alloc(SS);
  Buffer.from('d0cf11e0a1b11ae1', 'hex').copy(h, 0);
  h.writeUInt16LE(0x3e, 0x18);
  h.writeUInt16LE(3, 0x1a);
  h.writeUInt16LE(0xfffe, 0x1c);
  h.writeUInt16LE(9, 0x1e);
  h.writeUInt16LE(6, 0x20);
  h.writeUInt32LE(1, 0x2c);
  h.writeUInt32LE(dirPos[0]!, 0x30);
  h.writeUInt32LE(4096, 0x38);
  h.writeUInt32LE(0xfffffffe, 0x3c);
  h.writeUInt32LE(0xfffffffe, 0x44);
  h.fill(0xff, 0x4c);
  h.writeUInt32LE(0, 0x4c);
  return Buffer.concat([h, ...sectors]);
}

/** A Word 97-2003 document's directory with a VBA project (Macros/VBA). */
export function oleDocWithMacros(): Buffer {
  return buildOle([
    { name: 'WordDocument', type: 2 }, { name: '1Table', type: 2 }, { name: 'Macros', type: 1 }, { name: 'VBA', type: 1 },
    { name: '_VBA_PROJECT', type: 2 }, { name: 'dir', type: 2 }, { name: 'ThisDocument', type: 2 }, { name: 'PROJECT', type: 2 },
  ], { scatter: true });
}

export function oleDocPlain(): Buffer {
  return buildOle([{ name: 'WordDocument', type: 2 }, { name: '1Table', type: 2 }, { name: '\u0005SummaryInformation', type: 2 }]);
}

/** A minimal Windows program header (MZ + PE signature). */
export function peFile(size = 1024): Buffer {
  const b = Buffer.alloc(size);
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(0x80, 0x3c);
  b.write('PE\0\0', 0x80, 'latin1');
  return b;
}

export interface Att {
  filename: string | null;
  type: string;
  content: Buffer | string;
}

/** A multipart/mixed message with a text part and the attachments (base64). */
export function mimeMessage(atts: Att[], o: { boundary?: string; extraParts?: string[] } = {}): Buffer {
  const boundary = o.boundary ?? '=_b';
  const lines = [
    'From: a@example.org', 'To: demo@demo.test', 'Subject: test', 'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${boundary}"`, '',
    `--${boundary}`, 'Content-Type: text/plain', '', 'Hello, see attached.',
  ];
  for (const a of atts) {
    const content = Buffer.isBuffer(a.content) ? a.content : Buffer.from(a.content);
    lines.push(`--${boundary}`, `Content-Type: ${a.type}${a.filename !== null ? `; name="${a.filename}"` : ''}`);
    if (a.filename !== null) lines.push(`Content-Disposition: attachment; filename="${a.filename}"`);
    lines.push('Content-Transfer-Encoding: base64', '', content.toString('base64').replace(/.{76}/g, '$&\r\n'));
  }
  lines.push(...(o.extraParts ?? []), `--${boundary}--`, '');
  return Buffer.from(lines.join('\r\n'));
}
