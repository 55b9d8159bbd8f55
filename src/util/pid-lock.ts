// A lock across processes: a file created with O_EXCL holding the owner's
// pid. A lock whose pid is gone (kill -9, power loss) is stale and taken
// over. Written by hand: the npm lock libraries (proper-lockfile) judge
// staleness by mtime, not by whether the owner still runs.
import fs from 'node:fs';
import { alive } from './process.js';

export type Acquired = { lock: PidLock } | { holder: string };

export class PidLock {
  private released = false;
  private constructor(readonly file: string) {}

  /**
   * The lock, or who holds it ("" while its creator has not written its pid
   * yet). emptyStaleMs: how long an empty lock file counts as being written
   * (its creator may have died between creating and writing it).
   */
  static acquire(file: string, opts: { emptyStaleMs?: number } = {}): Acquired {
    const emptyStaleMs = opts.emptyStaleMs ?? Infinity;
    let holder = '';
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
        try { fs.writeSync(fd, `${process.pid}\n`); } finally { fs.closeSync(fd); }
        return { lock: new PidLock(file) };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      let age: number;
      try {
        holder = fs.readFileSync(file, 'utf8').trim();
        age = Date.now() - fs.statSync(file).mtimeMs;
      } catch {
        continue; // released meanwhile
      }
      // The same process holding it counts as live: two users in one process exclude each other too.
      if (holder === '' ? age < emptyStaleMs : alive(Number(holder))) return { holder };
      // Stale: moved aside first, so that of two processes taking it over only one removes it.
      const aside = `${file}.stale.${process.pid}`;
      try {
        fs.renameSync(file, aside);
        // Another process may have taken it over between our read and the rename: put its lock back.
        if (fs.readFileSync(aside, 'utf8').trim() !== holder) { try { fs.linkSync(aside, file); } catch { /* a newer lock is in place */ } }
        fs.rmSync(aside, { force: true });
      } catch { /* someone else moved it: the next attempt decides */ }
    }
    return { holder };
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    try {
      // Only our own lock: never remove one another process has taken over.
      if (fs.readFileSync(this.file, 'utf8').trim() === String(process.pid)) fs.rmSync(this.file, { force: true });
    } catch { /* gone already */ }
  }
}
