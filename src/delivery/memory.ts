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
CREATE TABLE IF NOT EXISTS unanswered (
  message_id TEXT NOT NULL,
  body_sha256 TEXT NOT NULL,
  sender TEXT NOT NULL,
  rcpt TEXT NOT NULL,
  ref TEXT NOT NULL,
  file TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (message_id, body_sha256, sender, rcpt)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS unanswered_at ON unanswered (at);
`;

/** A Maildir copy whose sender may never have been told 250 (maildir/recover.ts). */
export interface UnansweredCopy {
  messageId: string;
  /** sha256 of the message after its header block (maildir/recover.ts bodyHashFrom). */
  bodyHash: string;
  sender: string;
  /** The mailbox, "local@domain". */
  rcpt: string;
  ref: string;
  file: string;
}

export const MEMORY_MS = 3 * 24 * 3600 * 1000;

export class DeliveredMemory {
  private readonly db: Database.Database;
  private lastPrune = 0;
  /** Rows in `unanswered`: when 0 (nearly always), a delivery skips the hash and the lookup. */
  private unansweredRows: number;

  constructor(dataDir: string, private readonly now: () => number = Date.now, private readonly keepMs = MEMORY_MS) {
    this.db = openStateDb(dataDir, 'delivered.sqlite', SCHEMA);
    this.db.prepare('DELETE FROM unanswered WHERE at <= ?').run(this.now() - this.keepMs);
    this.unansweredRows = (this.db.prepare('SELECT count(*) AS n FROM unanswered').get() as { n: number }).n;
  }

  /**
   * Maildir copies stored before a crash whose sender may not have had its
   * 250: the retry (same Message-ID, body, sender, mailbox) is not stored again.
   */
  rememberUnanswered(c: UnansweredCopy): void {
    this.db.prepare('INSERT OR REPLACE INTO unanswered (message_id, body_sha256, sender, rcpt, ref, file, at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(c.messageId, c.bodyHash, c.sender.toLowerCase(), c.rcpt.toLowerCase(), c.ref, c.file, this.now());
    this.unansweredRows++;
  }

  get hasUnanswered(): boolean {
    return this.unansweredRows > 0;
  }

  /** The earlier copy of this message in this mailbox, if a crash left one unanswered. */
  unanswered(messageId: string, bodyHash: string, sender: string, rcpt: string): { ref: string; file: string } | null {
    if (!this.unansweredRows) return null;
    const row = this.db.prepare('SELECT ref, file FROM unanswered WHERE message_id = ? AND body_sha256 = ? AND sender = ? AND rcpt = ? AND at > ?')
      .get(messageId, bodyHash, sender.toLowerCase(), rcpt.toLowerCase(), this.now() - this.keepMs) as { ref: string; file: string } | undefined;
    return row ?? null;
  }

  /** The retry was answered 250: the sender stops; the copy is accounted for. */
  forgetUnanswered(messageId: string, bodyHash: string, sender: string, rcpts: string[]): void {
    const del = this.db.prepare('DELETE FROM unanswered WHERE message_id = ? AND body_sha256 = ? AND sender = ? AND rcpt = ?');
    let n = 0;
    this.db.transaction(() => {
      for (const r of rcpts) n += del.run(messageId, bodyHash, sender.toLowerCase(), r.toLowerCase()).changes;
    })();
    this.unansweredRows = Math.max(0, this.unansweredRows - n);
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
