// Walks one segment file, synchronously and in large reads, telling valid
// records apart from invalid bytes. Shared by the writer's recovery at open
// and by the reader, so both judge a byte range the same way.
import fs from 'node:fs';
import { HEADER_BYTES, MAGIC, checkRecord, recordSeq } from './record.js';

export const CHUNK_BYTES = 4 * 1024 * 1024;

export type ScanItem =
  /** A valid record; buf[at..at+size) holds it, valid only until the next item is asked for. */
  | { kind: 'record'; offset: number; size: number; seq: number; buf: Buffer; at: number }
  /** Invalid bytes followed by a valid record: damage. */
  | { kind: 'invalid'; offset: number; bytes: number }
  /** Invalid or incomplete bytes up to the end of the file, no valid record after them. */
  | { kind: 'tail'; offset: number; bytes: number };

/** A window of the file in memory, moved along by whole chunks. */
class Window {
  buf: Buffer;
  start = 0;
  len = 0;
  constructor(private readonly fd: number, readonly size: number, chunk: number) {
    this.buf = Buffer.allocUnsafe(chunk);
  }

  /** Makes bytes [pos, pos+n) present as far as the file has them; the index of pos in buf. */
  load(pos: number, n: number): number {
    const end = this.start + this.len;
    if (pos >= this.start && (pos + n <= end || end === this.size)) return pos - this.start;
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(n);
    const want = Math.min(this.buf.length, this.size - pos);
    let got = 0;
    while (got < want) {
      const r = fs.readSync(this.fd, this.buf, got, want - got, pos + got);
      if (r === 0) break; // shrunk meanwhile (a writer cut its torn tail)
      got += r;
    }
    this.start = pos;
    this.len = got;
    return 0;
  }
}

export function* scanSegment(file: string, from = 0, chunkBytes = CHUNK_BYTES): Generator<ScanItem> {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const w = new Window(fd, size, chunkBytes);

    // Size of the valid record at pos (0: none) and its index in w.buf.
    const check = (pos: number): { size: number; at: number } => {
      let at = w.load(pos, HEADER_BYTES);
      let r = checkRecord(w.buf, at, w.len);
      if (r === -1 && at + HEADER_BYTES <= w.len) {
        const need = HEADER_BYTES + w.buf.readUInt32LE(at + 4);
        if (pos + need > size) return { size: 0, at };
        at = w.load(pos, need);
        r = checkRecord(w.buf, at, w.len);
      }
      return { size: Math.max(r, 0), at };
    };

    // The next offset after pos where a valid record starts, or -1.
    const findNext = (pos: number): number => {
      let p = pos;
      while (p + HEADER_BYTES <= size) {
        const at = w.load(p, HEADER_BYTES);
        const idx = w.buf.subarray(0, w.len).indexOf(MAGIC, at);
        if (idx === -1) {
          const end = w.start + w.len;
          if (end >= size) return -1;
          // The magic may straddle the window's end: look again from its last 3 bytes.
          // (load() then moves the window on, since p + HEADER_BYTES > end.)
          p = Math.max(p, end - (MAGIC.length - 1));
          continue;
        }
        const cand = w.start + idx;
        if (check(cand).size > 0) return cand;
        p = cand + 1;
      }
      return -1;
    };

    let pos = from;
    while (pos < size) {
      const c = check(pos);
      if (c.size > 0) {
        yield { kind: 'record', offset: pos, size: c.size, seq: recordSeq(w.buf, c.at), buf: w.buf, at: c.at };
        pos += c.size;
        continue;
      }
      const next = findNext(pos + 1);
      if (next < 0) {
        yield { kind: 'tail', offset: pos, bytes: size - pos };
        return;
      }
      yield { kind: 'invalid', offset: pos, bytes: next - pos };
      pos = next;
    }
  } finally {
    fs.closeSync(fd);
  }
}
