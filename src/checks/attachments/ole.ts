// The directory of an OLE2 compound file ([MS-CFB]): the container of the
// old Office formats (.doc, .xls, .ppt) and of Windows installers (.msi).
// Only the directory is read (entry names, types, the root's CLSID), never a
// stream's content: that is enough to see a VBA project (macros) and an
// installer. Hand-written for the same reason as zip.ts: no package for it
// is installed, and the part needed is small. Every sector number comes from
// the sender: chains are followed with a visited set and bounds.

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
  if (buf.length < 512 || !isOle(buf)) return null;
  const shift = buf.readUInt16LE(0x1e);
  if (shift !== 9 && shift !== 12) return null;
  const size = 1 << shift;
  const sectors = Math.ceil((buf.length - size) / size);
  const at = (s: number): number => (s + 1) * size;
  // The last sector may be cut short: readers check each field's bounds.
  const readable = (s: number): boolean => s < sectors && at(s) < buf.length;

  // The FAT: its sector numbers are in the header (the first 109) and in the DIFAT chain.
  const fatCount = buf.readUInt32LE(0x2c);
  const fatSectors: number[] = [];
  for (let i = 0; i < 109 && fatSectors.length < fatCount; i++) {
    const s = buf.readUInt32LE(0x4c + i * 4);
    if (s <= MAX_REGULAR) fatSectors.push(s);
  }
  let difat = buf.readUInt32LE(0x44);
  const seenDifat = new Set<number>();
  const perDifat = size / 4 - 1;
  while (difat <= MAX_REGULAR && readable(difat) && !seenDifat.has(difat) && fatSectors.length < fatCount) {
    seenDifat.add(difat);
    const base = at(difat);
    for (let i = 0; i < perDifat && fatSectors.length < fatCount && base + i * 4 + 4 <= buf.length; i++) {
      const s = buf.readUInt32LE(base + i * 4);
      if (s <= MAX_REGULAR) fatSectors.push(s);
    }
    difat = base + size <= buf.length ? buf.readUInt32LE(base + size - 4) : ENDOFCHAIN;
  }
  const next = (s: number): number => {
    const perFat = size / 4;
    const fs = fatSectors[Math.floor(s / perFat)];
    if (fs === undefined || !readable(fs)) return ENDOFCHAIN;
    const off = at(fs) + (s % perFat) * 4;
    return off + 4 <= buf.length ? buf.readUInt32LE(off) : ENDOFCHAIN;
  };

  const entries: OleEntry[] = [];
  let rootClsid: string | null = null;
  let complete = true;
  const seen = new Set<number>();
  let s = buf.readUInt32LE(0x30);
  while (s !== ENDOFCHAIN) {
    if (s > MAX_REGULAR || !readable(s) || seen.has(s)) {
      complete = false;
      break;
    }
    seen.add(s);
    const base = at(s);
    for (let i = 0; i < size / 128; i++) {
      const e = base + i * 128;
      if (e + 128 > buf.length) {
        complete = false;
        break;
      }
      const type = buf[e + 0x42]!;
      if (type === 0) continue; // unused slot
      if (entries.length >= maxEntries) return { entries, rootClsid, complete: false };
      const nameLen = Math.min(64, buf.readUInt16LE(e + 0x40));
      const name = buf.subarray(e, e + Math.max(0, nameLen - 2)).toString('utf16le');
      entries.push({ name, type });
      if (type === 5 && rootClsid === null) rootClsid = clsid(buf.subarray(e + 0x50, e + 0x60));
    }
    s = next(s);
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
