// The directory of an OLE2 compound file ([MS-CFB]): the container of the
// old Office formats (.doc, .xls, .ppt) and of Windows installers (.msi).
// Only the directory is read (entry names, types, the root's CLSID), never a
// stream's content: that is enough to see a VBA project (macros) and an
// installer. Hand-written for the same reason as zip.ts: no package for it
// is installed, and the part needed is small. Every sector number comes from
// the sender: chains are followed with a visited set and bounds. The reader
// asks for sectors (bytes.ts), so a large document is read from its
// temporary file sector by sector, not loaded whole.
import { runOnBuffer, type Reads } from './bytes.js';

const MAGIC = Buffer.from('d0cf11e0a1b11ae1', 'hex');
const ENDOFCHAIN = 0xfffffffe;
const MAX_REGULAR = 0xfffffffa;

export interface OleEntry {
  name: string;
  /** 1 storage, 2 stream, 5 root storage. */
  type: number;
}

export interface OleDirectory {
  entries: OleEntry[];
  /** The root storage's CLSID, "{000C1084-0000-0000-C000-000000000046}" for an MSI. */
  rootClsid: string | null;
  /** false when the chain was cut short (damage, or the entry bound). */
  complete: boolean;
}

export function isOle(b: Buffer): boolean {
  return b.length >= 8 && b.subarray(0, 8).equals(MAGIC);
}

function clsid(b: Buffer): string {
  const h = (x: Buffer): string => x.toString('hex').toUpperCase();
  const le = (x: Buffer): string => h(Buffer.from(x).reverse());
  return `{${le(b.subarray(0, 4))}-${le(b.subarray(4, 6))}-${le(b.subarray(6, 8))}-${h(b.subarray(8, 10))}-${h(b.subarray(10, 16))}}`;
}

/** Reads the directory; null when `buf` is no OLE2 file or its header is broken. */
export function readOleDirectory(buf: Buffer, maxEntries = 10000): OleDirectory | null {
  return runOnBuffer(oleDirectory(buf.length, maxEntries), buf);
}

/**
 * readOleDirectory's steps, for a file of `size` bytes: the header, the
 * DIFAT and FAT sectors the directory chain needs, the directory sectors.
 */
export function* oleDirectory(size: number, maxEntries = 10000): Reads<OleDirectory | null> {
  if (size < 512) return null;
  const h = yield { pos: 0, len: 512 };
  if (!isOle(h)) return null;
  const shift = h.readUInt16LE(0x1e);
  if (shift !== 9 && shift !== 12) return null;
  const ss = 1 << shift;
  const sectors = Math.ceil((size - ss) / ss);
  const at = (s: number): number => (s + 1) * ss;
  // The last sector may be cut short: readers check each field's bounds.
  const readable = (s: number): boolean => s < sectors && at(s) < size;
  const sector = function* (s: number): Reads<Buffer> {
    return yield { pos: at(s), len: ss };
  };
  // The FAT: its sector numbers are in the header (the first 109) and in the DIFAT chain.
  const fatCount = h.readUInt32LE(0x2c);
  const fatSectors: number[] = [];
  for (let i = 0; i < 109 && fatSectors.length < fatCount; i++) {
    const s = h.readUInt32LE(0x4c + i * 4);
    if (s <= MAX_REGULAR) fatSectors.push(s);
  }
  let difat = h.readUInt32LE(0x44);
  const seenDifat = new Set<number>();
  const perDifat = ss / 4 - 1;
  while (difat <= MAX_REGULAR && readable(difat) && !seenDifat.has(difat) && fatSectors.length < fatCount) {
    seenDifat.add(difat);
    const b = yield* sector(difat);
    for (let i = 0; i < perDifat && fatSectors.length < fatCount && i * 4 + 4 <= b.length; i++) {
      const s = b.readUInt32LE(i * 4);
      if (s <= MAX_REGULAR) fatSectors.push(s);
    }
    difat = b.length === ss ? b.readUInt32LE(ss - 4) : ENDOFCHAIN;
  }
  // FAT sectors read so far: at most the file's size / 128 bytes.
  const fat = new Map<number, Buffer>();
  const next = function* (s: number): Reads<number> {
    const perFat = ss / 4;
    const fs = fatSectors[Math.floor(s / perFat)];
    if (fs === undefined || !readable(fs)) return ENDOFCHAIN;
    let b = fat.get(fs);
    if (!b) {
      b = Buffer.from(yield* sector(fs));
      fat.set(fs, b);
    }
    const off = (s % perFat) * 4;
    return off + 4 <= b.length ? b.readUInt32LE(off) : ENDOFCHAIN;
  };

  const entries: OleEntry[] = [];
  let rootClsid: string | null = null;
  let complete = true;
  const seen = new Set<number>();
  let s = h.readUInt32LE(0x30);
  while (s !== ENDOFCHAIN) {
    if (s > MAX_REGULAR || !readable(s) || seen.has(s)) {
      complete = false;
      break;
    }
    seen.add(s);
    const b = yield* sector(s);
    for (let i = 0; i < ss / 128; i++) {
      const e = i * 128;
      if (e + 128 > b.length) {
        complete = false;
        break;
      }
      const type = b[e + 0x42]!;
      if (type === 0) continue; // unused slot
      if (entries.length >= maxEntries) return { entries, rootClsid, complete: false };
      const nameLen = Math.min(64, b.readUInt16LE(e + 0x40));
      const name = b.subarray(e, e + Math.max(0, nameLen - 2)).toString('utf16le');
      entries.push({ name, type });
      if (type === 5 && rootClsid === null) rootClsid = clsid(b.subarray(e + 0x50, e + 0x60));
    }
    s = yield* next(s);
  }
  return { entries, rootClsid, complete };
}

/**
 * A VBA project: Word keeps it in Macros/VBA, Excel in _VBA_PROJECT_CUR/VBA,
 * a vbaProject.bin (inside OOXML) at the top; each has a "VBA" storage with
 * a "_VBA_PROJECT" stream. (PowerPoint 97-2003 hides its project inside a
 * compressed record of the document stream: not seen here; clamd's OLE2
 * parser looks there.)
 */
export function hasVbaProject(d: OleDirectory): boolean {
  return d.entries.some((e) => {
    const n = e.name.toUpperCase();
    return (n === '_VBA_PROJECT' && e.type === 2) || (n === '_VBA_PROJECT_CUR' && e.type === 1) || (n === 'VBA' && e.type === 1);
  });
}

// Windows Installer package, patch, transform ([MS-MSI] root storage CLSIDs).
const INSTALLER_CLSIDS = new Set([
  '{000C1084-0000-0000-C000-000000000046}',
  '{000C1086-0000-0000-C000-000000000046}',
  '{000C1082-0000-0000-C000-000000000046}',
]);

export function isInstaller(d: OleDirectory): boolean {
  return d.rootClsid !== null && INSTALLER_CLSIDS.has(d.rootClsid);
}
