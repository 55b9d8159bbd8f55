// Reading a log file in chunks of whole lines, and following it across
// rotation. Written by hand: no installed library follows a file across
// rename and copytruncate rotation with a byte position that can be stored.
//
// A position is only ever a byte offset just after a newline, so a restart
// resumes on a line boundary. Rotation:
//  - rename (logrotate's default, Postfix's postfix logrotate): the path now
//    names a new inode. The old file is read to its end first (the writer may
//    have appended after our last read), then the new one from byte 0.
//  - copytruncate: same inode, size below our offset: start again at 0.
//  - while we were not running: the saved inode is looked for under PATH.1 and
//    PATH.0 and read to its end before PATH itself.
// A fingerprint of the file's first bytes tells a truncated-and-refilled file
// (same inode, size past our offset) from the one we read.
import fs from 'node:fs';

export interface FilePosition {
  ino: number;
  dev: number;
  offset: number;
  /** Hex of up to the first 64 bytes of the file. */
  head: string;
  /** The year inference's last line time (classic syslog stamps have no year). */
  lastTs: number | null;
  /** A rotated-away file still being finished (follow mode reads it a while after rotation). */
  prev?: { ino: number; dev: number; offset: number } | null;
}

export const MAX_LINE = 64 * 1024;
const CHUNK = 1024 * 1024;
const HEAD = 64;

export interface Chunk {
  lines: string[];
  /** Lines over MAX_LINE bytes, skipped. */
  oversized: number;
}

function readHead(fd: number, size: number): string {
  const b = Buffer.alloc(Math.min(HEAD, size));
  if (b.length === 0) return '';
  fs.readSync(fd, b, 0, b.length, 0);
  return b.toString('hex');
}

interface Source { fd: number; ino: number; dev: number; offset: number; readPos: number; carry: Buffer | null; skipping: boolean }

function source(fd: number, offset = 0): Source {
  const st = fs.fstatSync(fd);
  return { fd, ino: st.ino, dev: st.dev, offset, readPos: offset, carry: null, skipping: false };
}

export class LogFile {
  head = '';
  private cur: Source | null = null;
  /** A file that was rotated away: read until it has been quiet for graceMs (the writer may not have reopened yet). */
  private old: Source | null = null;
  private oldUntil = 0;
  private buf = Buffer.allocUnsafe(CHUNK);
  /** What happened on open / rotation, for the operator. */
  readonly notes: string[] = [];

  /** graceMs: how long a rotated-away file is still read after its last growth (0 in batch mode). */
  constructor(readonly path: string, private readonly graceMs = 0) {}

  get offset(): number { return this.cur?.offset ?? 0; }

  private findRotated(ino: number, dev: number, offset: number): Source | null {
    for (const cand of [`${this.path}.1`, `${this.path}.0`]) {
      try {
        const fd = fs.openSync(cand, 'r');
        const st = fs.fstatSync(fd);
        if (st.ino === ino && st.dev === dev && st.size >= offset) {
          this.notes.push(`${this.path} was rotated since the last run: finishing ${cand} first`);
          return source(fd, offset);
        }
        fs.closeSync(fd);
      } catch { /* not there */ }
    }
    return null;
  }

  /** Opens the file and finds where to start from a saved position. Throws a clear error if it cannot be read. */
  open(saved: FilePosition | null): void {
    let fd: number;
    try {
      fd = fs.openSync(this.path, 'r');
    } catch (err) {
      throw new Error(`cannot read ${this.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const st = fs.fstatSync(fd);
    if (!st.isFile()) { fs.closeSync(fd); throw new Error(`${this.path} is not a regular file`); }
    this.cur = source(fd);
    this.head = readHead(fd, st.size);
    if (!saved) return;
    if (saved.ino === st.ino && saved.dev === st.dev) {
      const n = Math.min(this.head.length, saved.head.length);
      if (st.size >= saved.offset && this.head.slice(0, n) === saved.head.slice(0, n)) {
        this.cur.offset = this.cur.readPos = saved.offset;
      } else {
        this.notes.push(`${this.path} was truncated since the last run: reading it from the start`);
      }
      if (saved.prev) this.old = this.findRotated(saved.prev.ino, saved.prev.dev, saved.prev.offset);
      return;
    }
    // Rotated while we were away: finish the old file first.
    this.old = this.findRotated(saved.ino, saved.dev, saved.offset);
    if (!this.old) this.notes.push(`${this.path} is a new file since the last run (the old one was not found as .1/.0): reading it from the start`);
  }

  /** Where to resume: this file, and a rotated one still being finished. */
  position(lastTs: number | null): FilePosition {
    const c = this.cur!;
    return {
      ino: c.ino, dev: c.dev, offset: c.offset, head: this.head, lastTs,
      prev: this.old ? { ino: this.old.ino, dev: this.old.dev, offset: this.old.offset } : null,
    };
  }

  /** The next whole lines, or null at end of file. */
  read(): Chunk | null {
    if (this.old) {
      const c = this.readFrom(this.old);
      if (c) { this.oldUntil = Date.now() + this.graceMs; return c; }
      if (this.graceMs === 0 || Date.now() > this.oldUntil) {
        fs.closeSync(this.old.fd);
        this.old = null;
      }
    }
    if (!this.cur) return null;
    if (this.head.length < HEAD * 2) {
      const size = fs.fstatSync(this.cur.fd).size;
      if (size > this.head.length / 2) this.head = readHead(this.cur.fd, size);
    }
    return this.readFrom(this.cur);
  }

  private readFrom(src: Source): Chunk | null {
    const n = fs.readSync(src.fd, this.buf, 0, CHUNK, src.readPos);
    if (n === 0) return null;
    src.readPos += n;
    let data = src.carry ? Buffer.concat([src.carry, this.buf.subarray(0, n)]) : this.buf.subarray(0, n);
    src.carry = null;
    const out: Chunk = { lines: [], oversized: 0 };
    if (src.skipping) {
      // Inside a line longer than MAX_LINE: drop bytes up to its end. The
      // stored position stays at the line's start until then.
      const i = data.indexOf(10);
      if (i < 0) return out;
      src.offset = src.readPos - data.length + i + 1;
      src.skipping = false;
      data = data.subarray(i + 1);
    }
    const nl = data.lastIndexOf(10);
    if (nl < 0) {
      if (data.length > MAX_LINE) { out.oversized++; src.skipping = true; } else src.carry = Buffer.from(data);
      return out;
    }
    if (nl + 1 < data.length) {
      if (data.length - nl - 1 > MAX_LINE) { out.oversized++; src.skipping = true; } else src.carry = Buffer.from(data.subarray(nl + 1));
    }
    const lines = data.toString('utf8', 0, nl).split('\n');
    for (const line of lines) {
      if (line.length > MAX_LINE) out.oversized++;
      else out.lines.push(line);
    }
    src.offset += nl + 1;
    return out;
  }

  /**
   * Follow mode, at end of file: has the file been rotated or truncated?
   * Returns true when reading should go on from a new file or offset.
   */
  checkRotation(): boolean {
    if (!this.cur) return false;
    let st: fs.Stats;
    try {
      st = fs.statSync(this.path);
    } catch {
      return false; // renamed away, the new one not created yet: keep waiting
    }
    if (st.ino !== this.cur.ino || st.dev !== this.cur.dev) {
      // Renamed: the writer may still append to the old file until it reopens.
      if (this.old) fs.closeSync(this.old.fd);
      this.old = this.cur;
      this.oldUntil = Date.now() + this.graceMs;
      const fd = fs.openSync(this.path, 'r');
      this.cur = source(fd);
      this.head = readHead(fd, st.size);
      this.notes.push(`${this.path} rotated (renamed): continuing with the new file`);
      return true;
    }
    // Truncated (copytruncate), or truncated and written again past our offset: the first bytes changed.
    const head = readHead(this.cur.fd, st.size);
    const n = Math.min(head.length, this.head.length);
    if (st.size < this.cur.readPos || head.slice(0, n) !== this.head.slice(0, n)) {
      this.cur = source(this.cur.fd);
      this.head = head;
      this.notes.push(`${this.path} truncated: reading it again from the start`);
      return true;
    }
    return false;
  }

  close(): void {
    if (this.old) { fs.closeSync(this.old.fd); this.old = null; }
    if (this.cur) { fs.closeSync(this.cur.fd); this.cur = null; }
  }
}
