// One POP3 session per mailbox (RFC 1939 section 8: the server should
// acquire an exclusive-access lock on the maildrop), across processes: a lock
// file in the Maildir, created with O_EXCL, holding the owner's pid.
import fs from 'node:fs';
import path from 'node:path';
import { alive } from '../util/process.js';

export const LOCK_NAME = 'mailproof-pop3.lock';

export class MailboxLock {
  private constructor(readonly file: string, private released = false) {}

  /**
   * The lock, or null if a live process holds it. A lock whose pid is gone
   * (kill -9, power loss) is stale and taken over. The same process holding
   * it counts as live: two sessions of one server exclude each other too.
   */
  static acquire(maildir: string): MailboxLock | null {
    fs.mkdirSync(maildir, { recursive: true, mode: 0o700 });
    const file = path.join(maildir, LOCK_NAME);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
        try { fs.writeSync(fd, `${process.pid}\n`); } finally { fs.closeSync(fd); }
        return new MailboxLock(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      let text = '';
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch {
        continue; // released meanwhile: try again
      }
      // An empty file may be one being written right now by its creator.
      if (text === '') return null;
      if (alive(Number(text.trim()))) return null;
      // Stale. Rename first, so of two processes taking it over at once only one removes it.
      const aside = `${file}.stale.${process.pid}`;
      try {
        fs.renameSync(file, aside);
        // Between our read and the rename another process may have taken the
        // stale lock over and written its own: if we moved a live lock, put it back.
        const moved = fs.readFileSync(aside, 'utf8').trim();
        if (moved !== '' && alive(Number(moved))) {
          try { fs.linkSync(aside, file); } catch { /* a newer lock is in place */ }
        }
        fs.rmSync(aside, { force: true });
      } catch { /* someone else took it over: next attempt decides */ }
    }
    return null;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    try {
      // Only our own lock: never remove one another process has taken over.
      if (fs.readFileSync(this.file, 'utf8').trim() === String(process.pid)) fs.rmSync(this.file, { force: true });
    } catch { /* already gone */ }
  }
}
