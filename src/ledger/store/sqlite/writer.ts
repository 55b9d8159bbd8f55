// The write side of the embedded store: batches of events (from the journal
// through the indexer, or from a log ingest) together with how far their
// source is, in one transaction. One writer at a time holds SQLite's write
// lock; several (the indexer of `serve`, a `trace` catching up, an ingest) can
// take turns safely, since each reads the positions inside its transaction.
// The interface is asynchronous (a cluster store's client is); better-sqlite3
// is not, so each call does its work at once, and one writer object queues
// its transactions so that two never interleave across an await.
import type Database from 'better-sqlite3';
import { chunksOf } from '../chunker.js';
import { openStoreDb } from './schema.js';
import type { StoreInput, StorePosition, StoreTx, StoreWriter } from '../types.js';

export type { StoreInput };
export { sessionKey } from '../chunker.js';

export class SqliteStoreWriter implements StoreWriter {
  readonly db: Database.Database;
  private readonly st: Record<'session' | 'chunk' | 'term' | 'mailbox' | 'position' | 'positions' | 'getMeta' | 'putMeta' | 'getState' | 'putState', Database.Statement>;
  /** The next event id of the open transaction: read from meta at its start, written back before its commit. */
  private nextId = 0;
  /** Settles when everything asked of this writer so far has ended: the next transaction starts after it. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(path: string) {
    this.db = openStoreDb(path);
    this.st = {
      session: this.db.prepare(`INSERT INTO sessions (key, first_ts, last_ts) VALUES (?, ?, ?)
        ON CONFLICT(key) DO UPDATE SET first_ts = min(first_ts, excluded.first_ts), last_ts = max(last_ts, excluded.last_ts) RETURNING id`).pluck(),
      chunk: this.db.prepare('INSERT INTO chunks (sid, first_id, n, codec, body) VALUES (?, ?, ?, ?, ?)'),
      term: this.db.prepare('INSERT OR IGNORE INTO terms (term, ts, sid) VALUES (?, ?, ?)'),
      mailbox: this.db.prepare(`INSERT INTO mailboxes (domain, rcpt, first_ts, last_ts) VALUES (?, ?, ?, ?)
        ON CONFLICT(domain, rcpt) DO UPDATE SET first_ts = min(first_ts, excluded.first_ts), last_ts = max(last_ts, excluded.last_ts)`),
      position: this.db.prepare(`INSERT INTO positions (node, stream, seq, segment, offset, last_ts, updated) VALUES (@node, @stream, @seq, @segment, @offset, @last_ts, @updated)
        ON CONFLICT(node, stream) DO UPDATE SET seq = excluded.seq, segment = excluded.segment, offset = excluded.offset,
        last_ts = coalesce(excluded.last_ts, last_ts), updated = excluded.updated`),
      positions: this.db.prepare('SELECT node, stream, seq, segment, offset, last_ts, updated FROM positions'),
      getMeta: this.db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      putMeta: this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      getState: this.db.prepare('SELECT value FROM ingest_state WHERE key = ?').pluck(),
      putState: this.db.prepare('INSERT INTO ingest_state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
    };
  }

  /** Runs fn in one write transaction (BEGIN IMMEDIATE): all of it lands, or none; this writer's transactions one after another. */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.serial(() => this.run(fn));
  }

  positions(): Promise<StorePosition[]> {
    return this.serial(() => this.st.positions.all() as StorePosition[]);
  }

  /**
   * Commits run with synchronous=NORMAL (schema.ts); a checkpoint syncs the
   * WAL first (sqlite.org/pragma.html#pragma_synchronous), so everything
   * committed before it is durable after it.
   */
  makeDurable(): Promise<void> {
    return this.serial(() => { this.db.pragma('wal_checkpoint(PASSIVE)'); });
  }

  /** Removes sessions whose newest event is older than the cutoff; returns the number of events removed. */
  prune(olderThanMs: number): Promise<number> {
    return this.transaction(async () => {
      this.db.exec('CREATE TEMP TABLE IF NOT EXISTS pruned (id INTEGER PRIMARY KEY)');
      this.db.exec('DELETE FROM temp.pruned');
      this.db.prepare('INSERT INTO temp.pruned SELECT id FROM sessions WHERE last_ts < ?').run(olderThanMs);
      const n = Number(this.db.prepare('SELECT coalesce(sum(n), 0) FROM chunks WHERE sid IN (SELECT id FROM temp.pruned)').pluck().get());
      this.db.exec('DELETE FROM chunks WHERE sid IN (SELECT id FROM temp.pruned)');
      this.db.exec('DELETE FROM terms WHERE sid IN (SELECT id FROM temp.pruned)');
      this.db.exec('DELETE FROM sessions WHERE id IN (SELECT id FROM temp.pruned)');
      this.db.prepare('DELETE FROM mailboxes WHERE last_ts < ?').run(olderThanMs);
      this.db.exec('DELETE FROM temp.pruned');
      return n;
    });
  }

  /** Closes the connection once the transactions already asked for have ended (a process ending after close() loses none of them). */
  close(): Promise<void> {
    return this.serial(() => { this.db.close(); });
  }

  /** Runs f after everything asked of this writer before it has ended, whether that succeeded or not. */
  private serial<T>(f: () => T | Promise<T>): Promise<T> {
    const out = this.queue.then(f);
    this.queue = out.then(() => undefined, () => undefined);
    return out;
  }

  /**
   * One transaction by hand: better-sqlite3's db.transaction() cannot span an
   * await. serial() keeps every other use of the connection out until it ends.
   * The write lock is held until then, and another connection's BEGIN
   * IMMEDIATE waits for it blocking its thread (busy_timeout): fn should wait
   * for nothing but the store, as the indexer, ingest and conversion do.
   */
  private async run<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    this.db.exec('BEGIN IMMEDIATE');
    let open = true;
    const live = (): void => {
      if (!open) throw new Error('a store transaction was used after it ended: use the StoreTx only inside the function given to transaction()');
    };
    const tx: StoreTx = {
      positions: async () => { live(); return this.st.positions.all() as StorePosition[]; },
      add: async (inputs) => { live(); return this.insert(inputs); },
      setPosition: async (p) => { live(); this.st.position.run(p); },
      state: async <T>(key: string) => {
        live();
        const v = this.st.getState.get(key) as string | undefined;
        return v === undefined ? null : (JSON.parse(v) as T);
      },
      putState: async (key, value) => { live(); this.st.putState.run(key, JSON.stringify(value)); },
    };
    try {
      this.nextId = Number(this.st.getMeta.get('next_id') ?? 1);
      const out = await fn(tx);
      open = false;
      this.st.putMeta.run('next_id', String(this.nextId));
      this.db.exec('COMMIT');
      return out;
    } catch (err) {
      open = false;
      // Some errors (SQLITE_FULL among them) end the transaction themselves
      // (sqlite.org/lang_transaction.html, "Response To Errors Within A Transaction").
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw err;
    }
  }

  /** The events into chunks, terms and mailboxes (../chunker.ts), in the open transaction. Returns how many. */
  private insert(inputs: StoreInput[]): number {
    const base = this.nextId;
    this.nextId += inputs.length;
    const { chunks, mailboxes } = chunksOf(inputs, (i) => base + i);
    for (const ch of chunks) {
      const sid = Number(this.st.session.get(ch.key, ch.lo, ch.hi));
      this.st.chunk.run(sid, ch.events[0]!.id, ch.events.length, ch.codec, ch.body);
      for (const [t, ts] of ch.terms) this.st.term.run(t, ts, sid);
    }
    for (const m of mailboxes) this.st.mailbox.run(m.domain, m.rcpt, m.first, m.last);
    return inputs.length;
  }
}
