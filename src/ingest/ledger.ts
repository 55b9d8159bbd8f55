// The ingest's own ledger writer. The gateway's writer (ledger/sqlite/writer.ts)
// is built for latency: a thread, a commit per few events. Ingest wants the
// opposite: big transactions. Same schema; and the read positions and the
// parsers' open state live in the same file, written in the same transaction as
// the events they led to, so a crash between batches repeats nothing and loses
// nothing.
import fs from 'node:fs';
import nodePath from 'node:path';
import Database from 'better-sqlite3';
import { applySchema, COLUMNS, openPragmas } from '../ledger/sqlite/schema.js';
import type { LedgerEvent } from '../ledger/types.js';

function domainOf(addr: string | null | undefined): string | null {
  if (!addr) return null;
  const at = addr.lastIndexOf('@');
  return at >= 0 ? addr.slice(at + 1).toLowerCase() : null;
}

/**
 * Appends the columns of ledger/sqlite/row.ts toRow to a flat parameter list:
 * no array or object per row, the multi-row INSERT below takes them as they are.
 */
function pushRow(out: unknown[], e: LedgerEvent): void {
  out.push(
    e.ts, e.node, e.source, e.kind, e.session ?? null, e.ref ?? null, e.client_ip ?? null, e.client_ptr ?? null,
    e.helo ?? null, e.mail_from ?? null, domainOf(e.mail_from), e.rcpt ? e.rcpt.toLowerCase() : null, domainOf(e.rcpt),
    e.message_id ?? null, e.size ?? null, e.check_name ?? null, e.verdict ?? null, e.smtp_code ?? null,
    e.enhanced_code ?? null, e.reply ?? null, e.details ? JSON.stringify(e.details) : null,
  );
}

/**
 * Rows per INSERT statement. One statement call per row costs a native call
 * and a VDBE reset each; 64 rows (1,344 parameters, far under SQLite's limit
 * of 32,766, sqlite.org/limits.html item 9) cost one. Measured on 200,000
 * Postfix lines: see bench/RESULTS.md "Ingest".
 */
const ROWS_PER_INSERT = 64;

export class IngestLedger {
  private db: Database.Database;
  private insertOne: Database.Statement;
  private insertMany: Database.Statement;
  private putState: Database.Statement;
  private getState: Database.Statement;
  /** Parameters of rows added but not yet inserted, COLUMNS.length per row. */
  private pending: unknown[] = [];
  private inTx = false;
  /** Bulk: rows go to SQLite as they come (flush()); follow: all at commit(). */
  private readonly streaming: boolean;

  /** Indexes dropped for a bulk load into an empty ledger, recreated by finish(). */
  private deferredIndexes = false;

  /**
   * bulk: a one-shot ingest (not follow mode). When the events table is still
   * empty, its indexes are dropped and built once at the end (finish()):
   * SQLite builds an index from sorted keys far faster than it maintains eight
   * B-trees with random keys (ref, session, rcpt ...) row by row. A crash
   * before finish() leaves the events and positions committed and the indexes
   * missing; every open of the ledger (this class, the gateway's writer, the
   * read-write reader) runs applySchema, whose CREATE INDEX IF NOT EXISTS puts
   * them back, so no query is left without its index for longer than that.
   */
  constructor(path: string, opts: { bulk?: boolean } = {}) {
    fs.mkdirSync(nodePath.dirname(path), { recursive: true });
    if (!fs.existsSync(path)) {
      // A new ledger appears under its name with its tables already in it: a
      // reader (trace, a test polling the file) that opens it at once must not
      // find a file without the events table.
      const tmp = `${path}.new-${process.pid}`;
      const init = new Database(tmp);
      openPragmas(init);
      applySchema(init);
      init.close(); // checkpoints and removes the WAL: the one file holds it all
      try { fs.linkSync(tmp, path); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; }
      fs.rmSync(tmp, { force: true });
    }
    this.streaming = opts.bulk === true;
    this.db = new Database(path);
    openPragmas(this.db);
    applySchema(this.db);
    // Eight indexes with random keys (ref, session, rcpt ...): with SQLite's
    // default 2 MB page cache nearly every insert misses. 256 MB keeps the hot
    // index pages in memory for a big ingest; it is only an upper bound.
    this.db.pragma('cache_size = -262144');
    this.db.exec('CREATE TABLE IF NOT EXISTS ingest_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    if (opts.bulk) {
      this.db.transaction(() => {
        if (this.db.prepare('SELECT 1 FROM events LIMIT 1').get() !== undefined) return;
        const names = this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL").pluck().all() as string[];
        for (const n of names) this.db.exec(`DROP INDEX IF EXISTS "${n.replace(/"/g, '""')}"`);
        this.deferredIndexes = names.length > 0;
      }).immediate();
    }
    const one = `(${COLUMNS.map(() => '?').join(',')})`;
    const head = `INSERT INTO events (${COLUMNS.join(',')}) VALUES `;
    this.insertOne = this.db.prepare(head + one);
    this.insertMany = this.db.prepare(head + Array(ROWS_PER_INSERT).fill(one).join(','));
    this.putState = this.db.prepare('INSERT INTO ingest_state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
    this.getState = this.db.prepare('SELECT value FROM ingest_state WHERE key = ?');
  }

  state<T>(key: string): T | null {
    const r = this.getState.get(key) as { value: string } | undefined;
    return r ? (JSON.parse(r.value) as T) : null;
  }

  /**
   * Queues one event; never touches the database, so it cannot throw a
   * database error into a parser (whose errors count as lines not
   * understood). flush() writes what is queued.
   */
  add(e: LedgerEvent): void {
    pushRow(this.pending, e);
  }

  /**
   * Bulk mode: inserts the queued rows in whole multi-row statements, inside
   * the batch's transaction (opened here on first use). Rows stream into
   * SQLite while the batch is parsed instead of being held until commit():
   * less memory, and the garbage collector no longer copies a batch's rows
   * into the old generation. The transaction, and so SQLite's write lock,
   * stays open until commit(), while the batch is parsed. Follow mode keeps
   * the rows until commit() instead: a gateway writing to the same ledger
   * then waits only for the inserts and the commit, not for the parsing.
   */
  flush(): void {
    if (this.streaming && this.pending.length >= ROWS_PER_INSERT * COLUMNS.length) this.insertQueued(false);
  }

  /**
   * Writes the rest of the batch and the positions/parser state, and commits:
   * events and the state they lead to land together or not at all.
   * synchronous=FULL (openPragmas) makes it durable when this returns.
   */
  commit(state: Array<[string, unknown]>): void {
    try {
      this.insertQueued(true);
      this.begin();
      for (const [k, v] of state) this.putState.run(k, JSON.stringify(v));
      this.db.exec('COMMIT');
      this.inTx = false;
    } catch (err) {
      this.rollback();
      throw err;
    }
  }

  /** Inserts whole statements of queued rows; with `all`, the rest one row at a time too. */
  private insertQueued(all: boolean): void {
    const width = COLUMNS.length;
    const full = ROWS_PER_INSERT * width;
    if (this.pending.length === 0) return;
    this.begin();
    if (this.pending.length === full) {
      this.insertMany.run(this.pending);
      this.pending.length = 0;
      return;
    }
    let i = 0;
    for (; i + full <= this.pending.length; i += full) this.insertMany.run(this.pending.slice(i, i + full));
    if (all) {
      for (; i < this.pending.length; i += width) this.insertOne.run(this.pending.slice(i, i + width));
      this.pending.length = 0;
    } else {
      this.pending = this.pending.slice(i);
    }
  }

  private begin(): void {
    if (this.inTx) return;
    // IMMEDIATE: take the write lock now (waiting up to busy_timeout for a
    // gateway writer), not at the first insert, so a batch never fails
    // halfway on SQLITE_BUSY (sqlite.org/lang_transaction.html).
    this.db.exec('BEGIN IMMEDIATE');
    this.inTx = true;
  }

  /** Drops the open batch (rows and transaction); the saved positions still point before it. */
  rollback(): void {
    this.pending.length = 0;
    if (!this.inTx) return;
    this.inTx = false;
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
  }

  /** After the last commit of a bulk load: build the indexes dropped in the constructor. */
  finish(): void {
    if (!this.deferredIndexes) return;
    applySchema(this.db);
    this.deferredIndexes = false;
  }

  close(): void {
    this.rollback();
    this.db.close();
  }
}
