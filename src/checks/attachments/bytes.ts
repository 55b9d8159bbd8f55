// Random access to a file's bytes, in memory or on disk, for the zip and
// OLE readers: they need the end of an archive (the central directory) and
// scattered headers and sectors, never the whole file at once.
//
// The readers are written once, as generators that ask for byte ranges
// (`Reads<T>`: yield { pos, len }, receive the bytes), and run either over
// a Buffer (synchronously) or over a ByteSource (a part's temporary file,
// read through a small window). The same parsing code thus serves a 2 KB
// attachment in memory and a 20 MB one on disk.
import fsp from 'node:fs/promises';
import type { PartBody } from '../../scan/part-body.js';

export interface Range {
  pos: number;
  len: number;
}

/**
 * A reader's steps: each yield asks for a range and gets its bytes, fewer
 * where the file ends (none past the end); the return value is the result.
 */
export type Reads<T> = Generator<Range, T, Buffer>;

export interface ByteSource {
  readonly size: number;
  /** Up to len bytes at pos (fewer at the end of the file). */
  read(pos: number, len: number): Promise<Buffer>;
  /** The bytes from pos to end, in pieces (for inflating an entry without holding it). */
  pieces(pos: number, end: number): AsyncIterable<Buffer>;
  close(): Promise<void>;
}

const EMPTY: Buffer = Buffer.alloc(0);
/** Bytes read from a file at once: small reads near each other (central directory entries, sectors) are served from it. */
const WINDOW = 32 * 1024;
const PIECE = 64 * 1024;

function clip(size: number, r: Range): { start: number; end: number } {
  const start = Math.min(size, Math.max(0, r.pos));
  return { start, end: Math.min(size, start + Math.max(0, r.len)) };
}

/** Runs a reader over bytes in memory. */
export function runOnBuffer<T>(steps: Reads<T>, buf: Buffer): T {
  let r = steps.next(EMPTY);
  while (!r.done) {
    const { start, end } = clip(buf.length, r.value);
    r = steps.next(buf.subarray(start, end));
  }
  return r.value;
}

/** Runs a reader over a ByteSource. */
export async function runOn<T>(steps: Reads<T>, src: ByteSource): Promise<T> {
  let r = steps.next(EMPTY);
  while (!r.done) r = steps.next(await src.read(r.value.pos, r.value.len));
  return r.value;
}

export function bufferSource(buf: Buffer): ByteSource {
  return {
    size: buf.length,
    read: async (pos, len) => {
      const { start, end } = clip(buf.length, { pos, len });
      return buf.subarray(start, end);
    },
    async *pieces(pos, end) {
      for (let p = Math.max(0, pos); p < Math.min(end, buf.length); p += PIECE) yield buf.subarray(p, Math.min(end, buf.length, p + PIECE));
    },
    close: async () => undefined,
  };
}

/** A file, read through one WINDOW-sized buffer. */
export async function fileSource(file: string): Promise<ByteSource> {
  const fh = await fsp.open(file, 'r');
  let size: number;
  try {
    size = (await fh.stat()).size;
  } catch (e) {
    await fh.close();
    throw e;
  }
  let win: Buffer = EMPTY;
  let winPos = 0;
  const readAt = async (pos: number, len: number): Promise<Buffer> => {
    const b = Buffer.allocUnsafe(len);
    const { bytesRead } = await fh.read(b, 0, len, pos);
    return b.subarray(0, bytesRead);
  };
  return {
    size,
    async read(pos, len) {
      const { start, end } = clip(size, { pos, len });
      if (end === start) return EMPTY;
      if (start >= winPos && end <= winPos + win.length) return win.subarray(start - winPos, end - winPos);
      if (end - start > WINDOW) return readAt(start, end - start);
      win = await readAt(start, Math.min(WINDOW, size - start));
      winPos = start;
      return win.subarray(0, end - start);
    },
    async *pieces(pos, end) {
      const stop = Math.min(end, size);
      for (let p = Math.max(0, pos); p < stop; p += PIECE) yield await readAt(p, Math.min(PIECE, stop - p));
    },
    close: () => fh.close(),
  };
}

export function openBody(body: PartBody): Promise<ByteSource> {
  return 'buffer' in body ? Promise.resolve(bufferSource(body.buffer)) : fileSource(body.path);
}
