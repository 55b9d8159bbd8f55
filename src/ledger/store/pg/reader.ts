// The tables of a cluster's PostgreSQL store, as the reader (chunk-reader.ts)
// needs them. A chunk is found by its session's id and a time: the index
// entry that led to it gives the time, so that PostgreSQL looks into the
// day partitions of that time only, not into every day the store keeps.
import type pg from 'pg';
import type { ChunkRow, ChunkSource, Entry, Loc } from '../chunk-reader.js';
import { ChunkReader } from '../chunk-reader.js';
import { CHUNK_SPAN_MS } from '../chunker.js';
import { term } from '../terms.js';
import type { StorePosition } from '../types.js';
import { openPool, storeError, type PgTarget } from './connect.js';
import { checkSchema } from './migrations.js';
import { pgText } from './rows.js';

/** Sessions per chunk lookup: one statement, one index scan per partition of the window. */
const IN_CHUNK = 500;

type Chunk = { sid: number; first_id: number; codec: number; body: Buffer };
const toRow = (r: Chunk): ChunkRow => ({ sid: Number(r.sid), first: Number(r.first_id), codec: r.codec, body: r.body });

export interface PgSourceOptions {
  pool?: pg.Pool;
  /** Count only this node's chunks in chunksAfter (each node's /metrics counts its own mail). */
  node?: string;
}

export class PgChunkSource implements ChunkSource {
  readonly timeMeans = 'chunk_first' as const;
  /** chunks() reads a session's chunks near each entry's time only (see there). */
  readonly wholeSessions = false;
  readonly pool: pg.Pool;
  private readonly ownPool: boolean;
  private checked: Promise<void> | null = null;
  /** Prepared statement names by their SQL (a handful: one per question shape). */
  private readonly names = new Map<string, string>();

  constructor(private readonly target: PgTarget, private readonly opts: PgSourceOptions = {}) {
    this.ownPool = !opts.pool;
    // Research asks the same few questions over and over: each is prepared
    // once per connection and planned once (a generic plan; the day
    // partitions are pruned when it runs). Planning a question over 30 day
    // partitions anew took longer than answering it. No JIT: a lookup of a
    // few hundred sessions over every day partition looks costly to the
    // planner, and compiling it took longer (50 ms) than running it.
    this.pool = opts.pool ?? openPool(target, { max: 2, application: 'mailproof research', options: '-c plan_cache_mode=force_generic_plan -c jit=off' });
  }

  private async q<R extends pg.QueryResultRow>(sql: string, args: unknown[]): Promise<R[]> {
    try {
      this.checked ??= checkSchema(this.pool).catch((err) => { this.checked = null; throw err; });
      await this.checked;
      let name = this.names.get(sql);
      if (!name) this.names.set(sql, (name = `mp${this.names.size}`));
      return (await this.pool.query<R>({ name, text: sql, values: args })).rows;
    } catch (err) {
      throw storeError(this.target.url, err);
    }
  }

  async termPage(t: string, lo: number, hi: number, after: Entry | null, desc: boolean, limit: number): Promise<Entry[]> {
    const dir = desc ? 'DESC' : 'ASC';
    const cmp = desc ? '<' : '>';
    const rows = await this.q<{ ts: number; sid: number }>(
      `SELECT ts, sid FROM terms WHERE term = $1 AND ts >= $2 AND ts <= $3 ${after ? `AND (ts, sid) ${cmp} ($5, $6)` : ''}
       ORDER BY ts ${dir}, sid ${dir} LIMIT $4`,
      [pgText(t), Math.max(lo, -Number.MAX_SAFE_INTEGER), Math.min(hi, Number.MAX_SAFE_INTEGER), limit, ...(after ?? [])]);
    return rows.map((r) => [Number(r.ts), Number(r.sid)]);
  }

  async timePage(since: number, until: number, after: Entry | null, desc: boolean, limit: number): Promise<Entry[]> {
    const dir = desc ? 'DESC' : 'ASC';
    const cmp = desc ? '<' : '>';
    const rows = await this.q<{ ts: number; sid: number }>(
      `SELECT ts, sid FROM chunks WHERE ts >= $1 AND ts <= $2 ${after ? `AND (ts, sid) ${cmp} ($4, $5)` : ''}
       ORDER BY ts ${dir}, sid ${dir} LIMIT $3`,
      [Math.max(since, -Number.MAX_SAFE_INTEGER), Math.min(until, Number.MAX_SAFE_INTEGER), limit, ...(after ?? [])]);
    return rows.map((r) => [Number(r.ts), Number(r.sid)]);
  }

  /** With `since`, only the day partitions from it on are looked into (a lookup of every day cost most of a search's time). */
  async locate(terms: string[], since?: number): Promise<Loc[]> {
    if (terms.length === 0) return [];
    const rows = await this.q<{ ts: number; sid: number }>('SELECT ts, sid FROM terms WHERE term = ANY($1::text[]) AND ts >= $2',
      [terms.map(pgText), since ?? -Number.MAX_SAFE_INTEGER]);
    return rows.map((r) => ({ sid: Number(r.sid), ts: Number(r.ts) }));
  }

  locateSessions(keys: string[], since?: number): Promise<Loc[]> {
    return this.locate(keys.map(term.session), since);
  }

  /**
   * The chunks each entry points at: an entry's time is that of the first
   * event carrying its term in a chunk, no earlier than the chunk's own time
   * and at most CHUNK_SPAN_MS after it. Joined entry by entry, so that
   * PostgreSQL looks into the one or two day partitions of each entry's
   * window only (run-time pruning), not into every day between the oldest
   * and the newest entry.
   */
  async chunks(locs: Loc[]): Promise<ChunkRow[]> {
    const out: ChunkRow[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < locs.length; i += IN_CHUNK) {
      const part = locs.slice(i, i + IN_CHUNK);
      const rows = await this.q<Chunk>(`SELECT c.sid, c.first_id, c.codec, c.body FROM unnest($1::bigint[], $2::bigint[]) AS l(sid, ts)
        JOIN chunks c ON c.sid = l.sid AND c.ts >= l.ts - ${CHUNK_SPAN_MS} AND c.ts <= l.ts`, [part.map((l) => l.sid), part.map((l) => l.ts)]);
      for (const r of rows) {
        // Two entries of one session may point at the same chunk.
        const k = `${r.sid}:${r.first_id}`;
        if (seen.has(k)) continue;
        seen.add(k);
        out.push(toRow(r));
      }
    }
    return out;
  }

  recipients(domain: string, since: number, until: number): Promise<string[]> {
    return this.q<{ rcpt: string }>('SELECT rcpt FROM mailboxes WHERE domain = $1 AND last_ts >= $2 AND first_ts <= $3 LIMIT 100000', [pgText(domain), since, until])
      .then((rows) => rows.map((r) => r.rcpt));
  }

  async positions(): Promise<StorePosition[]> {
    const rows = await this.q<Record<string, number | string | null>>('SELECT node, stream, seq, segment, "offset", last_ts, updated FROM positions', []);
    return rows.map((r) => ({
      node: r.node as string, stream: r.stream as string, seq: Number(r.seq), segment: Number(r.segment), offset: Number(r.offset),
      last_ts: r.last_ts === null ? null : Number(r.last_ts), updated: Number(r.updated),
    }));
  }

  async chunksAfter(afterId: number, limit: number): Promise<ChunkRow[]> {
    const node = this.opts.node;
    const rows = await this.q<Chunk>(`SELECT sid, first_id, codec, body FROM chunks WHERE first_id > $1 ${node !== undefined ? 'AND node = $3' : ''} ORDER BY first_id LIMIT $2`,
      [afterId, limit, ...(node !== undefined ? [node] : [])]);
    return rows.map(toRow);
  }

  async lastId(): Promise<number> {
    const rows = await this.q<{ v: number | null }>("SELECT CASE WHEN is_called THEN last_value + 1023 ELSE 0 END AS v FROM event_ids", []);
    return Number(rows[0]?.v ?? 0);
  }

  async countEvents(): Promise<number> {
    return Number((await this.q<{ n: number }>('SELECT coalesce(sum(n), 0)::bigint AS n FROM chunks', []))[0]!.n);
  }

  async chunkPage(after: [number, number], limit: number): Promise<ChunkRow[]> {
    return (await this.q<Chunk>('SELECT sid, first_id, codec, body FROM chunks WHERE (sid, first_id) > ($1, $2) ORDER BY sid, first_id LIMIT $3', [after[0], after[1], limit])).map(toRow);
  }

  async close(): Promise<void> {
    if (this.ownPool) await this.pool.end();
  }
}

export function openPgReader(target: PgTarget, opts: PgSourceOptions & { page?: number } = {}): ChunkReader {
  return new ChunkReader(new PgChunkSource(target, opts), opts.page);
}
