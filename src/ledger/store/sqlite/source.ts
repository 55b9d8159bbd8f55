// The tables of the embedded SQLite store (schema.ts), as the reader
// (chunk-reader.ts) needs them. better-sqlite3 answers synchronously; the
// reader is shared with the cluster's PostgreSQL store and so asynchronous.
import type Database from 'better-sqlite3';
import type { ChunkRow, ChunkSource, Entry, Loc } from '../chunk-reader.js';
import type { StorePosition } from '../types.js';
import { openStoreDb } from './schema.js';

const IN_CHUNK = 500;
/** IN lists are padded to one of these lengths, so that a few prepared statements serve every list. */
const LIST_LENGTHS = [1, 4, 16, 64, 256, IN_CHUNK];

/** `values` padded to the next list length (repeating its last value, which IN ignores), with the placeholders. */
function padded<T>(values: T[]): { args: T[]; marks: string } {
  const n = LIST_LENGTHS.find((l) => l >= values.length) ?? values.length;
  const args = values.slice();
  while (args.length < n) args.push(values[values.length - 1]!);
  return { args, marks: args.map(() => '?').join(',') };
}

export class SqliteChunkSource implements ChunkSource {
  /** Rows by time without a term are sessions by their newest event (sessions.last_ts is indexed). */
  readonly timeMeans = 'session_last' as const;
  /** chunks() reads every chunk of a session (by its id), whatever the entry's time. */
  readonly wholeSessions = true;
  readonly db: Database.Database;
  private stmts = new Map<string, Database.Statement>();

  constructor(readonly path: string) {
    this.db = openStoreDb(path, { readonly: true });
  }

  private stmt(sql: string): Database.Statement {
    let s = this.stmts.get(sql);
    if (!s) this.stmts.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  /** Each value list in IN-sized pieces, the rows of all pieces. */
  private inLists<V, R>(values: V[], sql: (marks: string) => string, pluck: boolean): R[] {
    const out: R[] = [];
    for (let i = 0; i < values.length; i += IN_CHUNK) {
      const { args, marks } = padded(values.slice(i, i + IN_CHUNK));
      const s = this.stmt(sql(marks));
      for (const r of (pluck ? s.pluck() : s.raw(true)).all(...args) as R[]) out.push(r);
    }
    return out;
  }

  async termPage(t: string, lo: number, hi: number, after: Entry | null, desc: boolean, limit: number): Promise<Entry[]> {
    const cmp = after ? (desc ? 'AND (ts, sid) < (?, ?)' : 'AND (ts, sid) > (?, ?)') : '';
    const dir = desc ? 'DESC' : 'ASC';
    return this.stmt(`SELECT ts, sid FROM terms WHERE term = ? AND ts >= ? AND ts <= ? ${cmp} ORDER BY ts ${dir}, sid ${dir} LIMIT ${limit}`)
      .raw(true).all(t, lo, hi, ...(after ?? [])) as Entry[];
  }

  async timePage(since: number, until: number, after: Entry | null, desc: boolean, limit: number): Promise<Entry[]> {
    const cmp = after ? (desc ? 'AND (last_ts, id) < (?, ?)' : 'AND (last_ts, id) > (?, ?)') : '';
    const dir = desc ? 'DESC' : 'ASC';
    return this.stmt(`SELECT last_ts, id FROM sessions WHERE last_ts >= ? AND first_ts <= ? ${cmp} ORDER BY last_ts ${dir}, id ${dir} LIMIT ${limit}`)
      .raw(true).all(since, until, ...(after ?? [])) as Entry[];
  }

  async locate(terms: string[]): Promise<Loc[]> {
    return this.inLists<string, number>(terms, (m) => `SELECT DISTINCT sid FROM terms WHERE term IN (${m})`, true).map((sid) => ({ sid, ts: 0 }));
  }

  async locateSessions(keys: string[]): Promise<Loc[]> {
    return this.inLists<string, number>(keys, (m) => `SELECT id FROM sessions WHERE key IN (${m})`, true).map((sid) => ({ sid, ts: 0 }));
  }

  /** Every chunk of the sessions (a session's chunks sit together under its id: the time is not needed). */
  async chunks(locs: Loc[]): Promise<ChunkRow[]> {
    const sids = [...new Set(locs.map((l) => l.sid))];
    return this.inLists<number, [number, number, number, Buffer]>(sids, (m) => `SELECT sid, first_id, codec, body FROM chunks WHERE sid IN (${m})`, false)
      .map(([sid, first, codec, body]) => ({ sid, first, codec, body }));
  }

  async recipients(domain: string, since: number, until: number): Promise<string[]> {
    return this.stmt('SELECT rcpt FROM mailboxes WHERE domain = ? AND last_ts >= ? AND first_ts <= ? LIMIT 100000').pluck().all(domain, since, until) as string[];
  }

  async positions(): Promise<StorePosition[]> {
    return this.stmt('SELECT node, stream, seq, segment, offset, last_ts, updated FROM positions').all() as StorePosition[];
  }

  async chunksAfter(afterId: number, limit: number): Promise<ChunkRow[]> {
    return (this.stmt('SELECT sid, first_id, codec, body FROM chunks WHERE first_id > ? ORDER BY first_id LIMIT ?').raw(true).all(afterId, limit) as [number, number, number, Buffer][])
      .map(([sid, first, codec, body]) => ({ sid, first, codec, body }));
  }

  async lastId(): Promise<number> {
    return Number(this.stmt("SELECT value FROM meta WHERE key = 'next_id'").pluck().get() ?? 1) - 1;
  }

  async countEvents(): Promise<number> {
    return Number(this.stmt('SELECT coalesce(sum(n), 0) FROM chunks').pluck().get());
  }

  async chunkPage(after: [number, number], limit: number): Promise<ChunkRow[]> {
    return (this.stmt('SELECT sid, first_id, codec, body FROM chunks WHERE (sid, first_id) > (?, ?) ORDER BY sid, first_id LIMIT ?').raw(true).all(after[0], after[1], limit) as [number, number, number, Buffer][])
      .map(([sid, first, codec, body]) => ({ sid, first, codec, body }));
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
