// A small zip reader: lists an archive's entries from its central directory
// and reads single entries (stored or deflated) with a size bound.
//
// Hand-written: Node has zlib (deflate) but no zip container reader, and no
// zip package is installed (node_modules has tar-stream only). The policy
// needs only the listing (names, flags, sizes) and the first bytes of an
// entry, never a full unpack (only an archive inside an archive is
// inflated, to look into it); that is the central directory
// (APPNOTE.TXT 4.3.12, 4.3.16, ZIP64 4.3.14/4.3.15) plus one local header
// per entry read. Every count and offset comes from the sender, so each is
// checked against the file's size before use, and the entry count is bounded.
//
// The readers ask for byte ranges (bytes.ts), so a large archive is read
// from its temporary file a piece at a time: the end record, then the
// directory entry by entry, then one local header per entry; an entry is
// inflated as a stream, never held whole.
import zlib from 'node:zlib';
import { runOn, runOnBuffer, bufferSource, type ByteSource, type Reads } from './bytes.js';

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

/** The end of central directory record's position in `buf` (the end of the file), or -1. */
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
 * file holds no readable zip. Archives with leading bytes (self-extractors,
 * a zip appended to another file) are read too: the central directory is
 * found from the end, as Windows and unzip do.
 */
export function listZip(buf: Buffer, maxEntries: number): ZipListing | null {
  return runOnBuffer(zipListing(buf.length, maxEntries), buf);
}

/** listZip's steps, for a file of `size` bytes. */
export function* zipListing(size: number, maxEntries: number): Reads<ZipListing | null> {
  // The record is 22 bytes plus a comment of up to 65535 bytes, at the end.
  const tailStart = Math.max(0, size - EOCD_MIN - 0xffff);
  const tail = yield { pos: tailStart, len: size - tailStart };
  const at = findEocd(tail);
  if (at < 0) return (yield* startsWithLocal(size)) ? yield* scanLocal(size, maxEntries) : null;
  const eocd = tailStart + at;
  let declared = tail.readUInt16LE(at + 10);
  let cdSize = tail.readUInt32LE(at + 12);
  let cdOffset = tail.readUInt32LE(at + 16);
  let cdEnd = eocd;
  if (declared === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    const l = loc >= 0 ? yield { pos: loc, len: 20 } : Buffer.alloc(0);
    if (l.length === 20 && l.readUInt32LE(0) === SIG_LOC64) {
      const rec = Number(l.readBigUInt64LE(8));
      const r = rec >= 0 && rec + 56 <= size ? yield { pos: rec, len: 56 } : Buffer.alloc(0);
      if (r.length === 56 && r.readUInt32LE(0) === SIG_EOCD64) {
        declared = Number(r.readBigUInt64LE(32));
        cdSize = Number(r.readBigUInt64LE(40));
        cdOffset = Number(r.readBigUInt64LE(48));
        cdEnd = rec;
      }
    }
  }
  // Leading bytes shift every offset by the same amount: where the
  // directory really starts tells by how much.
  const cdStart = cdEnd - cdSize;
  if (cdStart < 0) return (yield* startsWithLocal(size)) ? yield* scanLocal(size, maxEntries) : null;
  const bias = cdStart - cdOffset;

  const entries: ZipEntry[] = [];
  let p = cdStart;
  let complete = true;
  while (p + 46 <= cdEnd) {
    if (entries.length >= maxEntries) {
      complete = false;
      break;
    }
    const h = yield { pos: p, len: 46 };
    if (h.length < 46 || h.readUInt32LE(0) !== SIG_CENTRAL) {
      complete = false;
      break;
    }
    const flags = h.readUInt16LE(8);
    const method = h.readUInt16LE(10);
    let compressedSize = h.readUInt32LE(20);
    let size32 = h.readUInt32LE(24);
    const nameLen = h.readUInt16LE(28);
    const extraLen = h.readUInt16LE(30);
    const commentLen = h.readUInt16LE(32);
    let localOffset = h.readUInt32LE(42);
    const nameEnd = p + 46 + nameLen;
    if (nameEnd + extraLen > size) {
      complete = false;
      break;
    }
    const ne = yield { pos: p + 46, len: nameLen + extraLen };
    const name = decodeName(ne.subarray(0, nameLen), (flags & 0x800) !== 0);
    const extra = parseExtra(ne.subarray(nameLen), {
      size: size32 === 0xffffffff, compressedSize: compressedSize === 0xffffffff, localOffset: localOffset === 0xffffffff,
    });
    if (extra.size !== undefined) size32 = extra.size;
    if (extra.compressedSize !== undefined) compressedSize = extra.compressedSize;
    if (extra.localOffset !== undefined) localOffset = extra.localOffset;
    const altNames = extra.unicodeName && extra.unicodeName !== name ? [extra.unicodeName] : [];
    entries.push({
      name, altNames, isDir: name.endsWith('/') || name.endsWith('\\'), method, encrypted: (flags & 1) !== 0,
      compressedSize, size: size32, localOffset: localOffset + bias,
    });
    p = nameEnd + extraLen + commentLen;
  }
  if (entries.length < declared) complete = false;
  return { entries, source: 'central', complete, declared };
}

function* startsWithLocal(size: number): Reads<boolean> {
  if (size < 4) return false;
  const b = yield { pos: 0, len: 4 };
  return b.length === 4 && b.readUInt32LE(0) === SIG_LOCAL;
}

/**
 * A zip without a usable central directory (cut off, or damaged on purpose:
 * some unpackers still open it): the local headers in order. Entries whose
 * size is only in a trailing data descriptor (flag bit 3) end the walk.
 */
function* scanLocal(size: number, maxEntries: number): Reads<ZipListing> {
  const entries: ZipEntry[] = [];
  let p = 0;
  let complete = true;
  while (p + 30 <= size) {
    const h = yield { pos: p, len: 30 };
    if (h.length < 30 || h.readUInt32LE(0) !== SIG_LOCAL) break;
    if (entries.length >= maxEntries) {
      complete = false;
      break;
    }
    const flags = h.readUInt16LE(6);
    const method = h.readUInt16LE(8);
    const compressedSize = h.readUInt32LE(18);
    const size32 = h.readUInt32LE(22);
    const nameLen = h.readUInt16LE(26);
    const extraLen = h.readUInt16LE(28);
    const data = p + 30 + nameLen + extraLen;
    if (data > size) {
      complete = false;
      break;
    }
    const name = decodeName(yield { pos: p + 30, len: nameLen }, (flags & 0x800) !== 0);
    entries.push({ name, altNames: [], isDir: name.endsWith('/'), method, encrypted: (flags & 1) !== 0, compressedSize, size: size32, localOffset: p });
    if ((flags & 8) !== 0 && compressedSize === 0) {
      complete = false;
      break;
    }
    p = data + compressedSize;
  }
  return { entries, source: 'local', complete, declared: entries.length };
}

/** Where an entry's stored (compressed) bytes are, and the local header's own name. */
export interface EntryLocal {
  start: number;
  /** Cut at the end of the file for a cut-off archive: what is there. */
  end: number;
  localName: string;
}

/** An entry's local header; null when out of bounds. */
export function* entryLocal(size: number, e: ZipEntry): Reads<EntryLocal | null> {
  const p = e.localOffset;
  if (p < 0 || p + 30 > size) return null;
  const h = yield { pos: p, len: 30 };
  if (h.length < 30 || h.readUInt32LE(0) !== SIG_LOCAL) return null;
  const flags = h.readUInt16LE(6);
  const nameLen = h.readUInt16LE(26);
  const extraLen = h.readUInt16LE(28);
  const start = p + 30 + nameLen + extraLen;
  if (start > size) return null;
  const localName = decodeName(yield { pos: p + 30, len: nameLen }, (flags & 0x800) !== 0);
  return { start, end: Math.min(size, start + e.compressedSize), localName };
}

/**
 * The first bytes of an entry (up to about `n`), without inflating the rest:
 * at most 512 compressed bytes are inflated, which yields at most ~0.5 MB.
 * null for encrypted entries, unknown methods and broken data.
 */
export function entryPrefix(buf: Buffer, e: ZipEntry, n: number): Buffer | null {
  return runOnBuffer(entryHead(buf.length, e, n), buf);
}

/** entryPrefix's steps, for a file of `size` bytes. */
export function* entryHead(size: number, e: ZipEntry, n: number): Reads<Buffer | null> {
  if (e.encrypted) return null;
  const loc = yield* entryLocal(size, e);
  if (!loc) return null;
  if (e.method === 0) return yield { pos: loc.start, len: Math.min(n, loc.end - loc.start) };
  if (e.method !== 8) return null;
  const d = yield { pos: loc.start, len: Math.min(512, loc.end - loc.start) };
  try {
    const out = zlib.inflateRawSync(d, { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: 1 << 20 });
    return out.subarray(0, n);
  } catch {
    return null;
  }
}

/**
 * A whole entry, at most maxBytes: more is 'too_large' (a zip bomb's
 * 1000:1 entry stops there). null when it cannot be read (encrypted,
 * unknown method, broken data). For a file in memory; copyEntry streams.
 */
export async function readEntry(buf: Buffer, e: ZipEntry, maxBytes: number): Promise<Buffer | 'too_large' | null> {
  const out: Buffer[] = [];
  const r = await copyEntry(bufferSource(buf), e, maxBytes, (c) => { out.push(c); });
  return r === 'ok' ? Buffer.concat(out) : r;
}

/**
 * Streams an entry's content (inflated off the main thread, piece by
 * piece) to `out`, at most maxBytes: more is 'too_large', and what was
 * handed to `out` so far is to be dropped; so is it on null (cannot be
 * read: encrypted, unknown method, broken data). Errors reading `src` are
 * thrown: our own file failing is no property of the archive.
 */
export async function copyEntry(
  src: ByteSource, e: ZipEntry, maxBytes: number, out: (chunk: Buffer) => void | Promise<void>,
): Promise<'ok' | 'too_large' | null> {
  if (e.encrypted) return null;
  const loc = await runOn(entryLocal(src.size, e), src);
  if (!loc) return null;
  if (e.method === 0) {
    if (loc.end - loc.start > maxBytes) return 'too_large';
    for await (const piece of src.pieces(loc.start, loc.end)) await out(piece);
    return 'ok';
  }
  if (e.method !== 8) return null;
  // Z_SYNC_FLUSH at the end: a cut-off entry gives what it has instead of an error.
  const inflate = zlib.createInflateRaw({ finishFlush: zlib.constants.Z_SYNC_FLUSH });
  let readError: unknown = null;
  const feed = (async () => {
    try {
      for await (const piece of src.pieces(loc.start, loc.end)) {
        if (inflate.destroyed) return;
        if (!inflate.write(piece)) await new Promise((r) => { inflate.once('drain', r); inflate.once('close', r); });
      }
      inflate.end();
    } catch (err) {
      readError = err;
      inflate.destroy();
    }
  })();
  let n = 0;
  let result: 'ok' | 'too_large' | null = 'ok';
  try {
    for await (const chunk of inflate as AsyncIterable<Buffer>) {
      n += chunk.length;
      if (n > Math.max(1, maxBytes)) {
        result = 'too_large';
        break;
      }
      await out(chunk);
    }
  } catch {
    result = null;
  } finally {
    inflate.destroy();
    await feed;
  }
  if (readError) throw readError;
  return result;
}
