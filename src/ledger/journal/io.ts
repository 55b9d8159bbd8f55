// The file operations the writer makes, behind one interface so that tests
// can make a write fail (ENOSPC, EIO) or stop the process at a chosen step.
// Callback fs with plain fds: they run on libuv's thread pool, and avoid a
// FileHandle object and its promise machinery per call.
import fs from 'node:fs';

export interface JournalIo {
  /** Opens (creating if needed, emptied) a new segment for writing. */
  create(file: string): Promise<number>;
  /** Opens an existing segment for writing at explicit positions. */
  openExisting(file: string): Promise<number>;
  writev(fd: number, bufs: Buffer[], position: number): Promise<number>;
  fdatasync(fd: number): Promise<void>;
  ftruncate(fd: number, len: number): Promise<void>;
  close(fd: number): Promise<void>;
  /** Makes a created or removed directory entry durable. */
  fsyncDir(dir: string): Promise<void>;
}

function done<T>(resolve: (v: T) => void, reject: (e: Error) => void) {
  return (err: NodeJS.ErrnoException | null, v: T) => { if (err) reject(err); else resolve(v); };
}

const { O_RDWR, O_CREAT, O_TRUNC } = fs.constants;

export const fsIo: JournalIo = {
  create: (file) => new Promise((res, rej) => fs.open(file, O_RDWR | O_CREAT | O_TRUNC, 0o640, done(res, rej))),
  openExisting: (file) => new Promise((res, rej) => fs.open(file, O_RDWR, done(res, rej))),
  writev: (fd, bufs, position) => new Promise((res, rej) => fs.writev(fd, bufs, position, (err, n) => { if (err) rej(err); else res(n); })),
  fdatasync: (fd) => new Promise((res, rej) => fs.fdatasync(fd, (err) => { if (err) rej(err); else res(); })),
  ftruncate: (fd, len) => new Promise((res, rej) => fs.ftruncate(fd, len, (err) => { if (err) rej(err); else res(); })),
  close: (fd) => new Promise((res, rej) => fs.close(fd, (err) => { if (err) rej(err); else res(); })),
  fsyncDir: (dir) => new Promise((res, rej) => {
    fs.open(dir, 'r', (err, fd) => {
      if (err) { rej(err); return; }
      fs.fsync(fd, (e) => fs.close(fd, () => { if (e) rej(e); else res(); }));
    });
  }),
};

/** Writes all of bufs at position, going on after short writes (a full disk can give one). */
export async function writeAll(io: JournalIo, fd: number, bufs: Buffer[], position: number): Promise<void> {
  let rest = bufs;
  let pos = position;
  let left = bufs.reduce((n, b) => n + b.length, 0);
  while (left > 0) {
    const n = await io.writev(fd, rest, pos);
    if (n <= 0) throw Object.assign(new Error('write returned no progress'), { code: 'EIO' });
    pos += n;
    left -= n;
    if (left === 0) break;
    let skip = n;
    let i = 0;
    while (skip >= (rest[i]?.length ?? Infinity)) skip -= rest[i++]!.length;
    rest = rest.slice(i);
    if (skip > 0 && rest[0]) rest[0] = rest[0].subarray(skip);
  }
}
