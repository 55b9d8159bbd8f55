// The write side of a cluster's PostgreSQL store: what the shipper of each
// node's `serve` (the indexer, with this store) and log ingest use. A
// transaction holds an advisory lock named for its writer (the node whose
// journal it ships, or the ingest), so a `trace` catching up on the same
// node and its shipper take turns, while the nodes ship side by side. Rows
// are gathered in memory and written at commit with COPY, after the days
// they fall on have partitions: the journal positions commit in the same
// transaction as the rows, which makes shipping exactly-once.
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { chunksOf, type Chunk, type Mailbox } from '../chunker.js';
import { term } from '../terms.js';
import type { StoreInput, StorePosition, StoreTx, StoreWriter } from '../types.js';
import { openPool, storeError, type PgTarget } from './connect.js';
import { checkSchema, migrate } from './migrations.js';
import { dayOf, dropDaysBefore, ensureDays, existingDays } from './partitions.js';
import { copyRow, pgText, sessionId } from './rows.js';

/** Ids per nextval of the event_ids sequence (its INCREMENT, migration 1). */
const ID_BLOCK = 1024;
/** Rows per write() into a COPY stream. */
const COPY_BATCH = 2000;

export interface JournalHead { node: string; stream: string; seq: number; ts: number | null }

type Row = (string | number | Buffer | null)[];

async function copyRows(c: pg.PoolClient, sql: string, rows: Row[]): Promise<void> {
  if (rows.length === 0) return;
  async function* lines(): AsyncGenerator<string> {
    for (let i = 0; i < rows.length; i += COPY_BATCH) {
      let s = '';
      for (const r of rows.slice(i, i + COPY_BATCH)) s += copyRow(r);
      yield s;
    }
  }
  await pipeline(Readable.from(lines()), c.query(copyFrom(sql)));
}

const positionOf = (r: Record<string, number | string | null>): StorePosition => ({
  node: r.node as string, stream: r.stream as string, seq: Number(r.seq), segment: Number(r.segment), offset: Number(r.offset),
  last_ts: r.last_ts === null ? null : Number(r.last_ts), updated: Number(r.updated),
});

const POSITIONS_SQL = 'SELECT node, stream, seq, segment, "offset", last_ts, updated FROM positions';

/** One transaction's work: rows gathered, written at its end. */
class PgTx implements StoreTx {
  readonly chunks: Chunk[] = [];
  readonly mailboxes: Mailbox[] = [];
  readonly positionsSet = new Map<string, StorePosition>();

  constructor(private readonly c: pg.PoolClient) {}

  async positions(): Promise<StorePosition[]> {
    return (await this.c.query(POSITIONS_SQL)).rows.map(positionOf);
  }

  async add(inputs: StoreInput[]): Promise<number> {
    if (inputs.length === 0) return 0;
    const blocks = (await this.c.query<{ b: number }>('SELECT nextval(\'event_ids\') AS b FROM generate_series(1, $1)', [Math.ceil(inputs.length / ID_BLOCK)])).rows.map((r) => Number(r.b));
    const { chunks, mailboxes } = chunksOf(inputs, (i) => blocks[Math.floor(i / ID_BLOCK)]! + (i % ID_BLOCK));
    for (const ch of chunks) this.chunks.push(ch);
    for (const m of mailboxes) this.mailboxes.push(m);
    return inputs.length;
  }

  async setPosition(p: StorePosition): Promise<void> {
    this.positionsSet.set(`${p.node}\u0000${p.stream}`, p);
  }

  async state<T>(key: string): Promise<T | null> {
    const r = await this.c.query<{ value: string }>('SELECT value FROM ingest_state WHERE key = $1', [key]);
    return r.rows.length ? (JSON.parse(r.rows[0]!.value) as T) : null;
  }

  async putState(key: string, value: unknown): Promise<void> {
    await this.c.query('INSERT INTO ingest_state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, JSON.stringify(value)]);
  }

  /** The days the gathered rows fall on (chunks by their first event, terms by theirs). */
  days(): Set<number> {
    const out = new Set<number>();
    for (const ch of this.chunks) {
      out.add(dayOf(ch.lo));
      for (const ts of ch.terms.values()) out.add(dayOf(ts));
    }
    return out;
  }

  async write(): Promise<void> {
    const chunkRows: Row[] = [];
    const termRows: Row[] = [];
    for (const ch of this.chunks) {
      const sid = sessionId(ch.key);
      chunkRows.push([ch.lo, sid, ch.events[0]!.id, ch.events.length, ch.node, ch.codec, ch.body]);
      for (const [t, ts] of ch.terms) termRows.push([t, ts, sid]);
      termRows.push([term.session(ch.key), ch.lo, sid]);
    }
    await copyRows(this.c, 'COPY chunks (ts, sid, first_id, n, node, codec, body) FROM STDIN', chunkRows);
    await copyRows(this.c, 'COPY terms (term, ts, sid) FROM STDIN', termRows);
    if (this.mailboxes.length) {
      await this.c.query('CREATE TEMP TABLE IF NOT EXISTS mailboxes_in (domain text, rcpt text, first_ts bigint, last_ts bigint) ON COMMIT DELETE ROWS');
      await copyRows(this.c, 'COPY mailboxes_in FROM STDIN', this.mailboxes.map((m) => [m.domain, m.rcpt, m.first, m.last]));
      // In key order: two nodes updating the same mailboxes lock them in the same order, never crosswise.
      await this.c.query(`INSERT INTO mailboxes (domain, rcpt, first_ts, last_ts)
        SELECT domain, rcpt, min(first_ts), max(last_ts) FROM mailboxes_in GROUP BY domain, rcpt ORDER BY domain, rcpt
        ON CONFLICT (domain, rcpt) DO UPDATE SET first_ts = least(mailboxes.first_ts, excluded.first_ts), last_ts = greatest(mailboxes.last_ts, excluded.last_ts)`);
    }
    for (const p of this.positionsSet.values()) {
      await this.c.query(`INSERT INTO positions (node, stream, seq, segment, "offset", last_ts, updated) VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (node, stream) DO UPDATE SET seq = excluded.seq, segment = excluded.segment, "offset" = excluded."offset",
        last_ts = coalesce(excluded.last_ts, positions.last_ts), updated = excluded.updated`,
      [p.node, p.stream, p.seq, p.segment, p.offset, p.last_ts, p.updated]);
    }
  }
}

export interface PgWriterOptions {
  /** Whose writes these are: transactions of writers with the same name take turns (the node's name for its journals). */
  writer: string;
  pool?: pg.Pool;
  /** Bring the schema up to date at the first contact (the indexer of `serve`), instead of only checking it. */
  migrate?: boolean;
}

export class PgStoreWriter implements StoreWriter {
  readonly pool: pg.Pool;
  private readonly ownPool: boolean;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly days = new Set<number>();
  private checked = false;

  constructor(private readonly target: PgTarget, private readonly opts: PgWriterOptions) {
    this.ownPool = !opts.pool;
    this.pool = opts.pool ?? openPool(target, { max: 3, application: `mailproof writer ${opts.writer}` });
  }

  private async ready(): Promise<void> {
    if (this.checked) return;
    if (this.opts.migrate) await migrate(this.pool);
    else await checkSchema(this.pool);
    for (const d of await existingDays(this.pool)) this.days.add(d);
    this.checked = true;
  }

  /** Runs fn as one transaction (see the file's head); transactions of this object run one after another. */
  transaction<T>(fn: (tx: PgTx) => Promise<T>): Promise<T> {
    const run = this.queue.then(() => this.run(fn));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run<T>(fn: (tx: PgTx) => Promise<T>): Promise<T> {
    let c: pg.PoolClient;
    try {
      await this.ready();
      c = await this.pool.connect();
    } catch (err) {
      throw storeError(this.target.url, err);
    }
    let ok = false;
    try {
      await c.query('BEGIN');
      await c.query("SELECT pg_advisory_xact_lock(hashtextextended('mailproof writer ' || $1, 0))", [this.opts.writer]);
      const tx = new PgTx(c);
      const out = await fn(tx);
      // Partitions first, in a transaction of their own (partitions.ts says why).
      await ensureDays(this.pool, tx.days(), this.days);
      await tx.write();
      await c.query('COMMIT');
      ok = true;
      return out;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw storeError(this.target.url, err);
    } finally {
      // A client whose transaction broke off is not handed out again.
      c.release(ok ? undefined : true);
    }
  }

  async positions(): Promise<StorePosition[]> {
    try {
      await this.ready();
      return (await this.pool.query(POSITIONS_SQL)).rows.map(positionOf);
    } catch (err) {
      throw storeError(this.target.url, err);
    }
  }

  /** What this node's journals hold now: research on every node compares it with the positions. */
  async reportHeads(heads: JournalHead[], opts: { stopped?: boolean; now?: number } = {}): Promise<void> {
    if (heads.length === 0) return;
    const now = opts.now ?? Date.now();
    try {
      await this.ready();
      await this.pool.query(`INSERT INTO journal_heads (node, stream, seq, ts, reported, stopped)
        SELECT h.*, $6::boolean FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[]) AS h
        ON CONFLICT (node, stream) DO UPDATE SET seq = excluded.seq, ts = excluded.ts,
          reported = excluded.reported, stopped = excluded.stopped`,
      [heads.map((h) => pgText(h.node)), heads.map((h) => pgText(h.stream)), heads.map((h) => h.seq), heads.map((h) => h.ts), heads.map(() => now), opts.stopped === true]);
    } catch (err) {
      throw storeError(this.target.url, err);
    }
  }

  /** PostgreSQL's commits are durable when they return (synchronous_commit, its default). */
  async makeDurable(): Promise<void> {}

  /** Drops the days that ended before the cutoff (partitions.ts); returns the events they held. */
  async prune(olderThanMs: number): Promise<number> {
    try {
      return (await dropDaysBefore(this.pool, olderThanMs)).events;
    } catch (err) {
      throw storeError(this.target.url, err);
    }
  }

  async close(): Promise<void> {
    await this.queue;
    if (this.ownPool) await this.pool.end();
  }
}

export type { PgTx };
