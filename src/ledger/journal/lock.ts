// One writer per stream, across processes: <stream>/LOCK created with
// O_EXCL, holding the owner's pid. Two writers would hand out the same seqs
// and write over each other's records.
import fs from 'node:fs';
import path from 'node:path';
import { alive } from '../../util/process.js';

// A lock file still empty after this long was left by a creator that died
// between creating and writing it.
const EMPTY_STALE_MS = 5000;

export class StreamLock {
  private released = false;
  private constructor(readonly file: string) {}

  /** Takes the lock or throws, naming the stream and the live holder. A dead holder's lock is taken over. */
  static acquire(sdir: string, stream: string): StreamLock {
    const file = path.join(sdir, 'LOCK');
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
        try { fs.writeSync(fd, `${process.pid}\n`); } finally { fs.closeSync(fd); }
        return new StreamLock(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      let text: string;
      let age: number;
      try {
        text = fs.readFileSync(file, 'utf8').trim();
        age = Date.now() - fs.statSync(file).mtimeMs;
      } catch {
        continue; // released meanwhile
      }
      const pid = Number(text);
      if (text === '' ? age < EMPTY_STALE_MS : Number.isInteger(pid) && pid > 0 && alive(pid)) {
        throw new Error(`journal stream ${stream} is locked by process ${text || '(starting)'} (${file})`);
      }
      // Stale: moved aside first, so that of two processes taking it over only one removes it.
      const aside = `${file}.stale.${process.pid}`;
      try {
        fs.renameSync(file, aside);
        const moved = fs.readFileSync(aside, 'utf8').trim();
        // Another process may have taken it over between our read and the rename: put its lock back.
        if (moved !== text) { try { fs.linkSync(aside, file); } catch { /* a newer lock is in place */ } }
        fs.rmSync(aside, { force: true });
      } catch { /* someone else moved it: the next attempt decides */ }
    }
    throw new Error(`journal stream ${stream}: could not take the lock ${file}`);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    try {
      if (fs.readFileSync(this.file, 'utf8').trim() === String(process.pid)) fs.rmSync(this.file, { force: true });
    } catch { /* gone already */ }
  }
}
