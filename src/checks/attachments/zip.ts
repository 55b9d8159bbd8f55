// A small zip reader: lists an archive's entries from its central directory
// and reads single entries (stored or deflated) with a size bound.
//
// Hand-written: Node has zlib (deflate) but no zip container reader, and no
// zip package is installed (node_modules has tar-stream only). The policy
// needs only the listing (names, flags, sizes) and the first bytes of an
// entry, never a full unpack to disk; that is the central directory
// (APPNOTE.TXT 4.3.12, 4.3.16, ZIP64 4.3.14/4.3.15) plus one local header
// per entry read. Every count and offset comes from the sender, so each is
// checked against the buffer before use, and the entry count is bounded.
import { promisify } from 'node:util';
import zlib from 'node:zlib';

export interface ZipEntry {
  /** Name as stored (UTF-8 when flagged, else read as Latin-1), at most MAX_NAME characters. */
  name: string;
  /** Other names the same entry goes by: the Info-ZIP Unicode Path field, the local header's name. */
  altNames: string[];
  isDir: boolean;
  /** 0 stored, 8 deflated; others (bzip2, LZMA, AES 99 ...) cannot be read here. */
  method: number;
  encrypted: boolean;
  compressedSize: number;
  size: number;
  localOffset: number;
}

export interface ZipListing {
  entries: ZipEntry[];
  /** How the listing was found: the central directory, or (broken archive) a scan for local headers. */
  source: 'central' | 'local';
  /** false when the directory was cut short (damage, or maxEntries reached). */
  complete: boolean;
  /** Entries the archive claims to have (central directory), or found. */
  declared: number;
}

const MAX_NAME = 1024;
const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_LOC64 = 0x07064b50;
const EOCD_MIN = 22;

function decodeName(b: Buffer, utf8: boolean): string {
  const s = b.subarray(0, Math.min(b.length, MAX_NAME * 4)).toString(utf8 ? 'utf8' : 'latin1');
  return s.length > MAX_NAME ? s.slice(0, MAX_NAME) : s;
}

/** The end of central directory record's position, or -1. */
function findEocd(buf: Buffer): number {
  // The record is 22 bytes plus a comment of up to 65535 bytes, at the end.
  const floor = Math.max(0, buf.length - EOCD_MIN - 0xffff);
  for (let i = buf.length - EOCD_MIN; i >= floor; i--) {
    // The comment must fit in what follows: "PK\5\6" inside a comment is not the record.
    if (buf[i] === 0x50 && buf[i + 1] === 0x4b && buf[i + 2] === 5 && buf[i + 3] === 6 && i + EOCD_MIN + buf.readUInt16LE(i + 20) <= buf.length) {
      return i;
    }
  }
  return -1;
}

interface Extra { size?: number; compressedSize?: number; localOffset?: number; unicodeName?: string }

/** ZIP64 extended information (0x0001) and Info-ZIP Unicode Path (0x7075). */
function parseExtra(b: Buffer, need: { size: boolean; compressedSize: boolean; localOffset: boolean }): Extra {
  const out: Extra = {};
  let p = 0;
  while (p + 4 <= b.length) {
    const id = b.readUInt16LE(p);
    const len = b.readUInt16LE(p + 2);
    const data = b.subarray(p + 4, Math.min(b.length, p + 4 + len));
    if (id === 0x0001) {
      let q = 0;
      const next = (): number | undefined => {
        if (q + 8 > data.length) return undefined;
        const v = Number(data.readBigUInt64LE(q));
        q += 8;
        return v;
      };
      if (need.size) out.size = next();
      if (need.compressedSize) out.compressedSize = next();
      if (need.localOffset) out.localOffset = next();
    } else if (id === 0x7075 && data.length > 5 && data[0] === 1) {
      out.unicodeName = decodeName(data.subarray(5), true);
    }
    p += 4 + len;
  }
  return out;
}

/**
 * Lists a zip archive's entries (at most maxEntries). Returns null when the
 * buffer holds no readable zip. Archives with leading bytes (self-extractors,
 * a zip appended to another file) are read too: the central directory is
 * found from the end, as Windows and unzip do.
 */
export function listZip(buf: Buffer, maxEntries: number): ZipListing | null {
  const eocd = findEocd(buf);
  if (eocd < 0) return buf.length >= 4 && buf.readUInt32LE(0) === SIG_LOCAL ? scanLocal(buf, maxEntries) : null;
  let declared = buf.readUInt16LE(eocd + 10);
  let cdSize = buf.readUInt32LE(eocd + 12);
  let cdOffset = buf.readUInt32LE(eocd + 16);
  let cdEnd = eocd;
  if (declared === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc >= 0 && buf.readUInt32LE(loc) === SIG_LOC64) {
      const rec = Number(buf.readBigUInt64LE(loc + 8));
      if (rec >= 0 && rec + 56 <= buf.length && buf.readUInt32LE(rec) === SIG_EOCD64) {
        declared = Number(buf.readBigUInt64LE(rec + 32));
        cdSize = Number(buf.readBigUInt64LE(rec + 40));
        cdOffset = Number(buf.readBigUInt64LE(rec + 48));
        cdEnd = rec;
      }
    }
  }
  // Leading bytes shift every offset by the same amount: where the
  // directory really starts tells by how much.
  const cdStart = cdEnd - cdSize;
  if (cdStart < 0) return buf.readUInt32LE(0) === SIG_LOCAL ? scanLocal(buf, maxEntries) : null;
  const bias = cdStart - cdOffset;

  const entries: ZipEntry[] = [];
  let p = cdStart;
  let complete = true;
  while (p + 46 <= cdEnd) {
    if (entries.length >= maxEntries) {
      complete = false;
      break;
    }
    if (buf.readUInt32LE(p) !== SIG_CENTRAL) {
      complete = false;
      break;
    }
    const flags = buf.readUInt16LE(p + 8);
    const method = buf.readUInt16LE(p + 10);
    let compressedSize = buf.readUInt32LE(p + 20);
    let size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    let localOffset = buf.readUInt32LE(p + 42);
    const nameEnd = p + 46 + nameLen;
    if (nameEnd + extraLen > buf.length) {
      complete = false;
      break;
    }
    const name = decodeName(buf.subarray(p + 46, nameEnd), (flags & 0x800) !== 0);
    const extra = parseExtra(buf.subarray(nameEnd, nameEnd + extraLen), {
      size: size === 0xffffffff, compressedSize: compressedSize === 0xffffffff, localOffset: localOffset === 0xffffffff,
    });
    if (extra.size !== undefined) size = extra.size;
    if (extra.compressedSize !== undefined) compressedSize = extra.compressedSize;
    if (extra.localOffset !== undefined) localOffset = extra.localOffset;
    const altNames = extra.unicodeName && extra.unicodeName !== name ? [extra.unicodeName] : [];
    entries.push({
      name, altNames, isDir: name.endsWith('/') || name.endsWith('\\'), method, encrypted: (flags & 1) !== 0,
      compressedSize, size, localOffset: localOffset + bias,
    });
    p = nameEnd + extraLen + commentLen;
  }
  if (entries.length < declared) complete = false;
  return { entries, source: 'central', complete, declared };
}

/**
 * A zip without a usable central directory (cut off, or damaged on purpose:
 * some unpackers still open it): the local headers in order. Entries whose
 * size is only in a trailing data descriptor (flag bit 3) end the walk.
 */
function scanLocal(buf: Buffer, maxEntries: number): ZipListing {
  const entries: ZipEntry[] = [];
  let p = 0;
  let complete = true;
  while (p + 30 <= buf.length && buf.readUInt32LE(p) === SIG_LOCAL) {
    if (entries.length >= maxEntries) {
      complete = false;
      break;
    }
    const flags = buf.readUInt16LE(p + 6);
    const method = buf.readUInt16LE(p + 8);
    const compressedSize = buf.readUInt32LE(p + 18);
    const size = buf.readUInt32LE(p + 22);
    const nameLen = buf.readUInt16LE(p + 26);
    const extraLen = buf.readUInt16LE(p + 28);
    const data = p + 30 + nameLen + extraLen;
    if (data > buf.length) {
      complete = false;
      break;
    }
    const name = decodeName(buf.subarray(p + 30, p + 30 + nameLen), (flags & 0x800) !== 0);
    entries.push({ name, altNames: [], isDir: name.endsWith('/'), method, encrypted: (flags & 1) !== 0, compressedSize, size, localOffset: p });
    if ((flags & 8) !== 0 && compressedSize === 0) {
      complete = false;
      break;
    }
    p = data + compressedSize;
  }
  return { entries, source: 'local', complete, declared: entries.length };
}

/** The entry's stored bytes (compressed, as in the archive), and the local header's own name; null when out of bounds. */
export function entryData(buf: Buffer, e: ZipEntry): { data: Buffer; localName: string } | null {
  const p = e.localOffset;
  if (p < 0 || p + 30 > buf.length || buf.readUInt32LE(p) !== SIG_LOCAL) return null;
  const flags = buf.readUInt16LE(p + 6);
  const nameLen = buf.readUInt16LE(p + 26);
  const extraLen = buf.readUInt16LE(p + 28);
  const start = p + 30 + nameLen + extraLen;
  if (start > buf.length) return null;
  const localName = decodeName(buf.subarray(p + 30, p + 30 + nameLen), (flags & 0x800) !== 0);
  // A cut-off archive: what is there.
  return { data: buf.subarray(start, Math.min(buf.length, start + e.compressedSize)), localName };
}

/**
 * The first bytes of an entry (up to about `n`), without inflating the rest:
 * at most 512 compressed bytes are inflated, which yields at most ~0.5 MB.
 * null for encrypted entries, unknown methods and broken data.
 */
export function entryPrefix(buf: Buffer, e: ZipEntry, n: number): Buffer | null {
  if (e.encrypted) return null;
  const d = entryData(buf, e);
  if (!d) return null;
  if (e.method === 0) return d.data.subarray(0, n);
  if (e.method !== 8) return null;
  try {
    const out = zlib.inflateRawSync(d.data.subarray(0, 512), { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: 1 << 20 });
    return out.subarray(0, n);
  } catch {
    return null;
  }
}

const inflateRaw = promisify(zlib.inflateRaw) as (b: Buffer, o: zlib.ZlibOptions) => Promise<Buffer>;

/**
 * A whole entry, inflated off the main thread, at most maxBytes: more is
 * 'too_large' (a zip bomb's 1000:1 entry stops there). null when it cannot
 * be read (encrypted, unknown method, broken data).
 */
export async function readEntry(buf: Buffer, e: ZipEntry, maxBytes: number): Promise<Buffer | 'too_large' | null> {
  if (e.encrypted) return null;
  const d = entryData(buf, e);
  if (!d) return null;
  if (e.method === 0) return d.data.length > maxBytes ? 'too_large' : d.data;
  if (e.method !== 8) return null;
  try {
    return await inflateRaw(d.data, { maxOutputLength: Math.max(1, maxBytes), finishFlush: zlib.constants.Z_SYNC_FLUSH });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) return 'too_large';
    return null;
  }
}
