// The research benchmark's traffic (bench/research/generate.ts: the same
// events as the SQLite store and the mail.log) loaded into a cluster's
// PostgreSQL store, as the shippers of three nodes would: each event goes to
// one of mx1..mx3 by a hash of its session (a session's events all on one
// node, as an SMTP session is on the node that took it), and each node's
// events go through its own PgStoreWriter (writer name = node; COPY at
// commit) in transactions of `batch` events with the journal position,
// the three nodes' transactions side by side.
//
// What is measured: wall time, the Node process's CPU apart for generating
// the events (the model and its copies, which a real shipper does not do)
// and for the writers (chunk encoding, terms, COPY), and the CPU of every
// PostgreSQL process (the postmaster's tree: backends, WAL writer,
// checkpointer, autovacuum). The load is recorded in a table of its own
// (bench_load) in the same database, so a cached store carries its load
// figures and a half-loaded one is never taken for complete.
//
// node load.js --url postgres://USER@127.0.0.1:PORT/DB [--password-file F] [--events N] [--batch 50000]
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { openPool, poolConfig, type PgTarget } from '../../src/ledger/store/pg/connect.js';
import { migrate } from '../../src/ledger/store/pg/migrations.js';
import { PgStoreWriter } from '../../src/ledger/store/pg/writer.js';
import type { StoreInput } from '../../src/ledger/store/types.js';
import type { LedgerEvent } from '../../src/ledger/types.js';
import { cpuSeconds } from '../lib/proc.js';
import { decodeChunk } from '../../src/ledger/store/codec.js';
import { cacheName, DEFAULTS, eventStream, traffic, type GenParams } from '../research/generate.js';
import type { SessionSampler } from '../research/questions.js';

export const NODES = ['mx1', 'mx2', 'mx3'] as const;
/** Events per shipping transaction of one node (the SQLite store's generation uses the same). */
export const PG_BATCH = 50_000;
/** The journal stream the events are said to come from (serve's with smtp.workers=1). */
const STREAM = 'smtp';

export interface PgLoadMeta {
  params: GenParams;
  cache: string;
  nodes: number;
  batch: number;
  written: number;
  per_node: Record<string, number>;
  transactions: number;
  sessions: number;
  messages: number;
  heavy: string[];
  light_sample: string[];
  /** The model (template) before any event was written, s. */
  model_s: number;
  /** From the first event written to the last commit, s. */
  load_s: number;
  /** Wall time the Node thread spent making events (copies) during the load, s: the writers could not run meanwhile. */
  generate_s: number;
  /** CPU of the Node process during the load, s: all of it, and without the generation. */
  node_cpu_s: number;
  writer_cpu_s: number;
  /** CPU of every PostgreSQL process during the load, s. */
  pg_cpu_s: number;
  /** VACUUM ANALYZE after the load (as autovacuum would do on a live store), s. */
  vacuum_s: number;
  pg_cpu_vacuum_s: number;
  events_per_s: number;
  events_per_s_writer: number;
  load_avg: number[];
  date: string;
}

/** FNV-1a: a cheap, stable string hash for the node of a session. */
function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * The node that took the event: a session's events on one node; events
 * without a session (Dovecot's) by their transaction or Message-ID.
 */
export function nodeOf(e: LedgerEvent, nodes: number = NODES.length): string {
  const key = e.session ?? e.ref ?? e.message_id ?? `${e.node}:${e.source}`;
  return `mx${1 + (fnv(key) % nodes)}`;
}

export function pgCacheName(p: GenParams, nodes: number = NODES.length, batch = PG_BATCH): string {
  return `${cacheName(p)}-n${nodes}${batch === PG_BATCH ? '' : `-b${batch}`}`;
}

/** The postmaster's PID, from a backend's parent (the server may be someone else's: its PID is only read). */
export async function postmasterPid(pool: pg.Pool): Promise<number | null> {
  const pid = Number((await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null; // not on this machine, or not visible
  }
}

async function ensureMetaTable(pool: pg.Pool): Promise<void> {
  await pool.query('CREATE TABLE IF NOT EXISTS bench_load (cache text PRIMARY KEY, meta jsonb NOT NULL)');
}

/** The load figures of a complete load of this cache name, or null. */
export async function loaded(pool: pg.Pool, cache: string): Promise<PgLoadMeta | null> {
  await ensureMetaTable(pool);
  const r = await pool.query<{ meta: PgLoadMeta }>('SELECT meta FROM bench_load WHERE cache = $1', [cache]);
  return r.rows[0]?.meta ?? null;
}

/**
 * The database holds the benchmark's store only: what an earlier, unfinished
 * load left (every table of every migration) goes before a new load.
 */
async function emptyStore(pool: pg.Pool): Promise<void> {
  const r = await pool.query<{ n: string }>("SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'bench_load'");
  if (Number(r.rows[0]!.n) === 0) return;
  await pool.query('DROP SCHEMA public CASCADE');
  await pool.query('CREATE SCHEMA public');
  await ensureMetaTable(pool);
}

/**
 * Loads the traffic of `p` unless this database already holds it (complete);
 * returns the load's figures (those recorded at the time when cached).
 */
export async function ensurePgStore(target: PgTarget, p: GenParams, progress: (s: string) => void, opts: { batch?: number; nodes?: number } = {}): Promise<{ meta: PgLoadMeta; cached: boolean }> {
  const batch = opts.batch ?? PG_BATCH;
  const nodes = opts.nodes ?? NODES.length;
  const cache = pgCacheName(p, nodes, batch);
  const admin = openPool(target, { max: 1, application: 'mailproof bench load' });
  try {
    const had = await loaded(admin, cache);
    if (had) {
      // A store loaded by an older mailproof gets the later migrations, as `serve` would give it.
      await migrate(admin);
      return { meta: had, cached: true };
    }
    await emptyStore(admin);
    await admin.query('DELETE FROM bench_load');
    await migrate(admin);
    const pm = await postmasterPid(admin);

    const t = traffic(p, progress, { log: false });
    const model_s = (t.tTpl - t.t0) / 1000;
    const names = Array.from({ length: nodes }, (_, i) => `mx${i + 1}`);
    // The writers' pools wait longer for a connection than the product's (10 s):
    // the generator runs in stretches on the same thread, and with a large
    // template (100M events) a full garbage collection alone can take seconds.
    const pools = new Map(names.map((n) => [n, new pg.Pool({ ...poolConfig(target, { max: 3, application: `mailproof bench writer ${n}` }), connectionTimeoutMillis: 300_000 })]));
    const writers = new Map(names.map((n) => [n, new PgStoreWriter(target, { writer: n, pool: pools.get(n)! })]));
    const pending = new Map<string, StoreInput[]>(names.map((n) => [n, []]));
    const inflight = new Map<string, Promise<void>>();
    const seq = new Map<string, number>(names.map((n) => [n, 0]));
    const perNode: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
    let transactions = 0;
    let written = 0;

    // A node's batch becomes one transaction, as its shipper commits a batch
    // of its journal with the position reached; one transaction per node at a
    // time, the nodes' side by side.
    const ship = (n: string): Promise<void> => {
      const inputs = pending.get(n)!;
      pending.set(n, []);
      const last = inputs[inputs.length - 1]!;
      const w = writers.get(n)!;
      return w.transaction(async (tx) => {
        await tx.add(inputs);
        await tx.setPosition({ node: n, stream: STREAM, seq: last.seq!, segment: 0, offset: 0, last_ts: last.event.ts, updated: Date.now() });
      }).then(() => { transactions++; written += inputs.length; perNode[n] = (perNode[n] ?? 0) + inputs.length; });
    };

    const cpu0 = process.cpuUsage();
    const pg0 = pm ? cpuSeconds(pm) : 0;
    const t0 = process.hrtime.bigint();
    let genNs = 0n;
    let genCpuUs = 0;
    let lastShown = Date.now();
    // Generation runs in stretches between awaits; their wall and CPU time are summed apart.
    let seg = process.hrtime.bigint();
    let segCpu = process.cpuUsage();
    const endSegment = (): void => {
      genNs += process.hrtime.bigint() - seg;
      const c = process.cpuUsage(segCpu);
      genCpuUs += c.user + c.system;
    };
    const startSegment = (): void => { seg = process.hrtime.bigint(); segCpu = process.cpuUsage(); };
    for (const e of eventStream(t)) {
      const n = nodeOf(e, nodes);
      e.node = n;
      const s = seq.get(n)! + 1;
      seq.set(n, s);
      const list = pending.get(n)!;
      list.push({ event: e, stream: STREAM, seq: s });
      if (list.length < batch) continue;
      endSegment();
      await inflight.get(n);
      inflight.set(n, ship(n));
      if (Date.now() - lastShown > 10_000) {
        lastShown = Date.now();
        const sec = Number(process.hrtime.bigint() - t0) / 1e9;
        progress(`${written.toLocaleString('en')} events in the store, ${Math.round(written / sec).toLocaleString('en')} events/s`);
      }
      startSegment();
    }
    endSegment();
    for (const n of names) {
      await inflight.get(n);
      if (pending.get(n)!.length) await ship(n);
    }
    const loadNs = process.hrtime.bigint() - t0;
    const cpu = process.cpuUsage(cpu0);
    const pgCpu = pm ? cpuSeconds(pm) - pg0 : NaN;
    for (const w of writers.values()) await w.close();
    for (const p of pools.values()) await p.end();

    progress(`loaded ${written.toLocaleString('en')} events in ${(Number(loadNs) / 1e9).toFixed(0)} s; VACUUM ANALYZE`);
    const v0 = process.hrtime.bigint();
    const pgv0 = pm ? cpuSeconds(pm) : 0;
    await admin.query('VACUUM ANALYZE chunks, terms, mailboxes');
    const vacuum_s = Number(process.hrtime.bigint() - v0) / 1e9;
    const pgCpuVacuum = pm ? cpuSeconds(pm) - pgv0 : NaN;

    const stored = Number((await admin.query<{ n: string }>('SELECT coalesce(sum(n), 0) AS n FROM chunks')).rows[0]!.n);
    if (stored !== written) throw new Error(`load: ${written} events written, ${stored} in the store's chunks`);

    const load_s = Number(loadNs) / 1e9;
    const generate_s = Number(genNs) / 1e9;
    const nodeCpu = (cpu.user + cpu.system) / 1e6;
    const meta: PgLoadMeta = {
      params: p, cache, nodes, batch, written, per_node: perNode, transactions, sessions: t.sessions, messages: t.messages,
      heavy: t.heavy, light_sample: t.light,
      model_s: +model_s.toFixed(1), load_s: +load_s.toFixed(1), generate_s: +generate_s.toFixed(1),
      node_cpu_s: +nodeCpu.toFixed(1), writer_cpu_s: +(nodeCpu - genCpuUs / 1e6).toFixed(1), pg_cpu_s: +pgCpu.toFixed(1),
      vacuum_s: +vacuum_s.toFixed(1), pg_cpu_vacuum_s: +pgCpuVacuum.toFixed(1),
      events_per_s: Math.round(written / load_s), events_per_s_writer: Math.round(written / (load_s - generate_s)),
      load_avg: (await import('node:os')).loadavg().map((x) => +x.toFixed(2)), date: new Date().toISOString(),
    };
    await admin.query('INSERT INTO bench_load (cache, meta) VALUES ($1, $2)', [cache, JSON.stringify(meta)]);
    return { meta, cached: false };
  } finally {
    await admin.end();
  }
}

/**
 * Sessions of the PostgreSQL store for the questions when there is no
 * SQLite store to take them from: the first chunk that began within ten
 * minutes after a point of the window (the BRIN index on ts finds it).
 */
export function pgSampler(pool: pg.Pool, since: number, end: number): SessionSampler {
  return async (x) => {
    const t = Math.floor(since + x * (end - since));
    const r = await pool.query<{ codec: number; body: Buffer }>('SELECT codec, body FROM chunks WHERE ts >= $1 AND ts < $2 ORDER BY ts, sid LIMIT 1', [t, t + 600_000]);
    const row = r.rows[0];
    return row ? decodeChunk(row.body, row.codec) : undefined;
  };
}

/** Bytes of a (partitioned) table: heap, TOAST and indexes, summed over its partitions. */
export async function tableBytes(pool: pg.Pool, table: string): Promise<{ heap: number; toast: number; indexes: number; total: number; partitions: number }> {
  const r = await pool.query<{ heap: string; toast: string; indexes: string; total: string; partitions: string }>(`
    SELECT coalesce(sum(pg_relation_size(relid)), 0) AS heap,
           coalesce(sum(pg_table_size(relid) - pg_relation_size(relid)), 0) AS toast,
           coalesce(sum(pg_indexes_size(relid)), 0) AS indexes,
           coalesce(sum(pg_total_relation_size(relid)), 0) AS total,
           count(*) FILTER (WHERE level > 0) AS partitions
      FROM (SELECT relid, level FROM pg_partition_tree($1::regclass) WHERE isleaf
            -- a table that is not partitioned has no tree: itself
            UNION ALL SELECT $1::regclass, 0 WHERE NOT EXISTS (SELECT 1 FROM pg_partition_tree($1::regclass))) t`, [table]);
  const x = r.rows[0]!;
  return { heap: Number(x.heap), toast: Number(x.toast), indexes: Number(x.indexes), total: Number(x.total), partitions: Number(x.partitions) };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/.*\//, '/'))) {
  const { values } = parseArgs({
    options: { url: { type: 'string' }, 'password-file': { type: 'string' }, events: { type: 'string' }, batch: { type: 'string' }, nodes: { type: 'string' } },
  });
  if (!values.url) throw new Error('usage: node load.js --url postgres://USER@127.0.0.1:PORT/DB [--password-file F] [--events N] [--batch N] [--nodes 3]');
  const p: GenParams = { ...DEFAULTS, ...(values.events ? { events: Number(values.events) } : {}) };
  const target: PgTarget = { url: values.url, passwordFile: values['password-file'] ?? null };
  const say = (s: string): void => { process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`); };
  const r = await ensurePgStore(target, p, say, { batch: values.batch ? Number(values.batch) : undefined, nodes: values.nodes ? Number(values.nodes) : undefined });
  const { heavy: _h, light_sample: _l, ...shown } = r.meta;
  say(`${r.cached ? 'cached' : 'loaded'}: ${JSON.stringify(shown)}`);
  const pool = openPool(target, { max: 1 });
  for (const t of ['chunks', 'terms', 'mailboxes']) {
    const b = await tableBytes(pool, t);
    say(`  ${t.padEnd(10)} ${(b.total / 1048576).toFixed(1).padStart(9)} MiB = ${(b.total / r.meta.written).toFixed(1)} bytes/event (heap ${(b.heap / r.meta.written).toFixed(1)}, TOAST ${(b.toast / r.meta.written).toFixed(1)}, indexes ${(b.indexes / r.meta.written).toFixed(1)})`);
  }
  await pool.end();
}
