// Which recipients already have a message that the sender was told to send
// again (delivered.sqlite in data_dir). LMTP can store a message for some
// recipients and fail others (RFC 2033 section 4.2); SMTP can only answer
// once for all. We answer 451 so nothing is lost, and remember the ones that
// have it, so the retry skips them instead of storing a second copy.
//
// Key: sha256 of the message body as received (our own Received: header
// differs on every attempt, the sender's bytes do not), envelope sender and
// recipient. Entries live ~3 days: longer than most senders keep retrying
// for a 451 before the queue lifetime (Postfix default 5 days, but retries
// thin out), short enough that an identical message sent on purpose later
// is delivered again.
import type Database from 'better-sqlite3';
import { openStateDb } from '../checks/state.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS delivered (
  body_sha256 TEXT NOT NULL,
  sender TEXT NOT NULL,
  rcpt TEXT NOT NULL,
  ref TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (body_sha256, sender, rcpt)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS delivered_at ON delivered (at);
`;

export const MEMORY_MS = 3 * 24 * 3600 * 1000;

export class DeliveredMemory {
  private readonly db: Database.Database;
  private lastPrune = 0;

  constructor(dataDir: string, private readonly now: () => number = Date.now, private readonly keepMs = MEMORY_MS) {
    this.db = openStateDb(dataDir, 'delivered.sqlite', SCHEMA);
  }

  /** REF of the transaction that stored it, or null. */
  already(hash: string, sender: string, rcpt: string): string | null {
    this.prune();
    const row = this.db.prepare('SELECT ref FROM delivered WHERE body_sha256 = ? AND sender = ? AND rcpt = ? AND at > ?')
      .get(hash, sender.toLowerCase(), rcpt.toLowerCase(), this.now() - this.keepMs) as { ref: string } | undefined;
    return row?.ref ?? null;
  }

  remember(hash: string, sender: string, rcpts: { rcpt: string; ref: string }[]): void {
    const ins = this.db.prepare('INSERT OR IGNORE INTO delivered (body_sha256, sender, rcpt, ref, at) VALUES (?, ?, ?, ?, ?)');
    const t = this.now();
    this.db.transaction(() => {
      for (const r of rcpts) ins.run(hash, sender.toLowerCase(), r.rcpt.toLowerCase(), r.ref, t);
    })();
  }

  /** After a 250 the sender stops retrying: nothing left to remember. */
  forget(hash: string, sender: string): void {
    this.db.prepare('DELETE FROM delivered WHERE body_sha256 = ? AND sender = ?').run(hash, sender.toLowerCase());
  }

  private prune(): void {
    const t = this.now();
    if (t - this.lastPrune < 3600_000) return;
    this.lastPrune = t;
    this.db.prepare('DELETE FROM delivered WHERE at <= ?').run(t - this.keepMs);
  }

  close(): void {
    this.db.close();
  }
}
