// The write side of the embedded store: batches of events (from the journal
// through the indexer, or from a log ingest) together with how far their
// source is, in one transaction. One writer at a time holds SQLite's write
// lock; several (the indexer of `serve`, a `trace` catching up, an ingest) can
// take turns safely, since each reads the positions inside its transaction.
import type Database from 'better-sqlite3';
import type { LedgerEvent } from '../../types.js';
import { encodeChunk, normalizeEvent, type ChunkEvent } from '../codec.js';
import { domainOf, termsOf } from '../terms.js';
import { CHUNK_SPAN_MS, openStoreDb } from './schema.js';
import type { StoreInput, StorePosition, StoreWriter } from '../types.js';

export type { StoreInput };

const HOUR = 3600_000;

/** The group an event is kept in: its session, else its transaction, else an hour of its node and source. */
export function sessionKey(e: LedgerEvent): string {
  if (e.session) return e.session;
  if (e.ref) return `~ref:${e.ref}`;
  return `~${e.node}:${e.source}:${Math.floor(e.ts / HOUR)}`;
}

export class SqliteStoreWriter implements StoreWriter {
  readonly db: Database.Database;
  private readonly st: Record<'session' | 'chunk' | 'term' | 'mailbox' | 'position' | 'getMeta' | 'putMeta' | 'getState' | 'putState', Database.Statement>;
  private nextId = 0;
  private inTx = false;

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
      getMeta: this.db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      putMeta: this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      getState: this.db.prepare('SELECT value FROM ingest_state WHERE key = ?').pluck(),
      putState: this.db.prepare('INSERT INTO ingest_state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
    };
  }

  /** Runs fn in one write transaction (BEGIN IMMEDIATE): all of it lands, or none. */
  transaction<T>(fn: () => T): T {
    if (this.inTx) return fn();
    return this.db.transaction(() => {
      this.inTx = true;
      try {
        this.nextId = Number(this.st.getMeta.get('next_id') ?? 1);
        const out = fn();
        this.st.putMeta.run('next_id', String(this.nextId));
        return out;
      } finally {
        this.inTx = false;
      }
    }).immediate();
  }

  positions(): StorePosition[] {
    return this.db.prepare('SELECT node, stream, seq, segment, offset, last_ts, updated FROM positions').all() as StorePosition[];
  }

  setPosition(p: StorePosition): void {
    this.st.position.run(p);
  }

  state<T>(key: string): T | null {
    const v = this.st.getState.get(key) as string | undefined;
    return v === undefined ? null : (JSON.parse(v) as T);
  }

  putState(key: string, value: unknown): void {
    this.st.putState.run(key, JSON.stringify(value));
  }

  /** Adds events; inside transaction() only. Returns how many. */
  add(inputs: StoreInput[]): number {
    if (!this.inTx) throw new Error('SqliteStoreWriter.add outside a transaction');
    const groups = new Map<string, ChunkEvent[]>();
    // A transaction's events without a session (an ingested delivery, a
    // queue line) go with the session that began it when it is in the same
    // batch: one chunk instead of two. They keep their own fields (no
    // session), so research sees them exactly as before.
    const sessionOfRef = new Map<string, string>();
    for (const inp of inputs) if (inp.event.session && inp.event.ref && !sessionOfRef.has(inp.event.ref)) sessionOfRef.set(inp.event.ref, inp.event.session);
    for (const inp of inputs) {
      const ce = normalizeEvent(inp.event, this.nextId++, inp.stream !== undefined && inp.seq !== undefined ? { stream: inp.stream, seq: inp.seq } : undefined);
      const key = (!inp.event.session && inp.event.ref && sessionOfRef.get(inp.event.ref)) || sessionKey(inp.event);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = []));
      g.push(ce);
    }
    for (const [key, events] of groups) {
      // Chunks of at most CHUNK_SPAN_MS (by ts, in the order the events came).
      let start = 0;
      let lo = events[0]!.ts;
      let hi = lo;
      for (let i = 0; i <= events.length; i++) {
        const ts = i < events.length ? events[i]!.ts : NaN;
        if (i === events.length || Math.max(hi, ts) - Math.min(lo, ts) > CHUNK_SPAN_MS) {
          this.writeChunk(key, events.slice(start, i), lo, hi);
          start = i;
          lo = hi = ts;
        } else {
          lo = Math.min(lo, ts);
          hi = Math.max(hi, ts);
        }
      }
    }
    return inputs.length;
  }

  private writeChunk(key: string, events: ChunkEvent[], lo: number, hi: number): void {
    const sid = Number(this.st.session.get(key, lo, hi));
    const { body, codec } = encodeChunk(events);
    this.st.chunk.run(sid, events[0]!.id, events.length, codec, body);
    const first = new Map<string, number>();
    const terms = new Set<string>();
    for (const e of events) {
      terms.clear();
      termsOf(e, terms);
      for (const t of terms) {
        const had = first.get(t);
        if (had === undefined || e.ts < had) first.set(t, e.ts);
      }
      if (e.rcpt && (e.kind === 'rcpt.accepted' || e.kind === 'message.delivered')) {
        const d = domainOf(e.rcpt);
        if (d) this.st.mailbox.run(d, e.rcpt, e.ts, e.ts);
      }
    }
    for (const [t, ts] of first) this.st.term.run(t, ts, sid);
  }

  /**
   * Commits run with synchronous=NORMAL (schema.ts); a checkpoint syncs the
   * WAL first (sqlite.org/pragma.html#pragma_synchronous), so everything
   * committed before it is durable after it.
   */
  makeDurable(): void {
    this.db.pragma('wal_checkpoint(PASSIVE)');
  }

  /** Removes sessions whose newest event is older than the cutoff; returns the number of events removed. */
  prune(olderThanMs: number): number {
    return this.transaction(() => {
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

  close(): void { this.db.close(); }
}
