import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Replaces a file atomically: a temp file beside it, fsynced, renamed over
 * the old one (atomic on POSIX), then the directory fsynced. A reader never
 * sees half a file, and a failed write leaves the old one as it was. Used for
 * the POP3 passwords, the web accounts and written reports.
 */
export function writeFileAtomic(file: string, body: string | Buffer, opts: { mode?: number; makeDir?: boolean } = {}): void {
  const dir = path.dirname(path.resolve(file));
  if (opts.makeDir ?? true) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = fs.openSync(tmp, 'wx', opts.mode ?? 0o600);
  try {
    fs.writeFileSync(fd, body); // loops until all is written
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  try {
    const dfd = fs.openSync(dir, 'r');
    try { fs.fsyncSync(dfd); } finally { fs.closeSync(dfd); }
  } catch { /* a directory fsync is best effort on file systems without it */ }
}
