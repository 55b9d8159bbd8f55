// One POP3 session per mailbox (RFC 1939 section 8: the server should
// acquire an exclusive-access lock on the maildrop), across processes: a lock
// file in the Maildir (util/pid-lock.ts).
import fs from 'node:fs';
import path from 'node:path';
import { PidLock } from '../util/pid-lock.js';

export const LOCK_NAME = 'mailproof-pop3.lock';

export class MailboxLock {
  private constructor(readonly file: string, private readonly lock: PidLock) {}

  /**
   * The lock, or null if a live process holds it (or is writing its pid into
   * it). A lock whose pid is gone (kill -9, power loss) is stale and taken
   * over. The same process holding it counts as live: two sessions of one
   * server exclude each other too.
   */
  static acquire(maildir: string): MailboxLock | null {
    fs.mkdirSync(maildir, { recursive: true, mode: 0o700 });
    const file = path.join(maildir, LOCK_NAME);
    const got = PidLock.acquire(file);
    return 'lock' in got ? new MailboxLock(file, got.lock) : null;
  }

  release(): void {
    this.lock.release();
  }
}
