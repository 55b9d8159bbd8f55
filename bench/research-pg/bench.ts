// Research over a cluster's PostgreSQL store, beside the embedded SQLite
// store, in the same run: search() of src/research/search.ts (what `mailproof
// trace` runs after parsing its flags) over openPgReader (a ChunkReader on
// the PostgreSQL tables) and over SqliteStoreReader, each question asked of
// both stores one after the other (which one first alternates), so that
// noise from other work on the machine hits both alike.
//
// The stores hold the same traffic (bench/research/generate.ts): the SQLite
// one is the research benchmark's cached store; the PostgreSQL one is loaded
// by load.ts through PgStoreWriter as three nodes' shippers would (COPY,
// 50,000 events per transaction and node). The questions are those of
// bench/research (questions.ts: same seed, same N). Every answer is compared:
// both stores must give the same journeys.
//
// Goals (cluster mode): one recipient over 7 days < 20 ms at p95; --domain
// and --ip < 100 ms at p95. Where the time goes: every SQL statement the
// reader sends is timed (round trip, rows); per question type the share of
// SQL in the search's time; EXPLAIN (ANALYZE, BUFFERS) of the slowest
// statement shapes.
//
// node bench.js --url postgres://USER@127.0.0.1:PORT/DB [--password-file F] [--dir /var/tmp/mailproof-bench]
//   [--events N] [--n 300] [--heavy 20] [--runs 2] [--batch 50000] [--out FILE.json] [--results bench/RESULTS.md]
//   [--pg-info FILE.json] (what run.sh knows about the server it started: version, data dir, settings)
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import { TRACE_FIRST_PAGE } from '../../src/cli/trace.js';
import { loadConfig } from '../../src/config/load.js';
import { catchUpStore, openStoreWriter, type LedgerPaths } from '../../src/ledger/open.js';
import type { StoreWriter } from '../../src/ledger/store/types.js';
import { openPool, type PgTarget } from '../../src/ledger/store/pg/connect.js';
import { openPgReader, type PgChunkSource } from '../../src/ledger/store/pg/reader.js';
import { SqliteStoreReader } from '../../src/ledger/store/sqlite/reader.js';
import type { LedgerReader } from '../../src/ledger/types.js';
import { search, type SearchFilter, type SearchResult } from '../../src/research/search.js';
import { ResearchPool } from '../../src/web/research-pool.js';
import { buildWebApp } from '../../src/web/server.js';
import { UserStore } from '../../src/web/users.js';
import { cpuSeconds } from '../lib/proc.js';
import { DEFAULTS, ensureLedger, ledgerBytes, type GenParams } from '../research/generate.js';
import { questions, sqliteSampler, WEEK } from '../research/questions.js';
import { pct, stats, type Stats } from '../research/stats.js';
import { ensurePgStore, PG_BATCH, pgSampler, postmasterPid, tableBytes, type PgLoadMeta } from './load.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string' }, 'password-file': { type: 'string' }, dir: { type: 'string' }, events: { type: 'string' },
    n: { type: 'string' }, heavy: { type: 'string' }, runs: { type: 'string' }, batch: { type: 'string' },
    out: { type: 'string' }, results: { type: 'string' }, 'pg-info': { type: 'string' }, sqlite: { type: 'string' },
  },
});
if (!values.url) throw new Error('bench: --url postgres://USER@127.0.0.1:PORT/DB is required');
const target: PgTarget = { url: values.url, passwordFile: values['password-file'] ?? null };
const params: GenParams = { ...DEFAULTS, ...(values.events ? { events: Number(values.events) } : {}) };
const N = Number(values.n ?? 300);
const RUNS = Number(values.runs ?? 2);
const HEAVY_N = Number(values.heavy ?? 20);
const BATCH = Number(values.batch ?? PG_BATCH);
const GOAL = { rcpt: 20, domain_ip: 100, web: 50 };
const say = (s: string): void => { process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`); };
const pgInfo = values['pg-info'] ? JSON.parse(fs.readFileSync(values['pg-info'], 'utf8')) as Record<string, unknown> : null;

// The SQLite store of the same traffic (the research benchmark's cache;
// generated when missing, which takes long). Above 20M events it is left
// out unless asked for (--sqlite 1): its generation and the log beside it
// take hours and tens of GB.
const withSqlite = values.sqlite === '1' || (values.sqlite !== '0' && params.events <= 20_000_000);
const sqlite = withSqlite ? await ensureLedger(values.dir ?? '/var/tmp/mailproof-bench', params, say) : null;
if (sqlite) say(`${sqlite.cached ? 'cached' : 'generated'} SQLite store ${sqlite.file}: ${sqlite.meta.written.toLocaleString('en')} events`);

// The PostgreSQL store: loaded once per database, the load's figures kept in it.
const { meta: load, cached: loadCached } = await ensurePgStore(target, params, say, { batch: BATCH });
if (sqlite && load.written !== sqlite.meta.written) throw new Error(`the stores differ: SQLite ${sqlite.meta.written} events, PostgreSQL ${load.written}`);
const lr = (load.load_s - load.generate_s);
say(`${loadCached ? 'cached' : 'loaded'} PostgreSQL store: ${load.written.toLocaleString('en')} events over ${load.nodes} nodes in ${load.transactions} transactions;` +
  ` ${load.events_per_s_writer.toLocaleString('en')} events/s (writers' time ${lr.toFixed(0)} s); CPU per event: node ${(1e6 * load.writer_cpu_s / load.written).toFixed(1)} µs, PostgreSQL ${(1e6 * load.pg_cpu_s / load.written).toFixed(1)} µs`);

// Every statement the PostgreSQL reader sends, timed: text (the shape), values, round trip, rows.
interface SqlCall { text: string; values: unknown[]; ms: number; rows: number }
let calls: SqlCall[] = [];
// The reader with its own pool, as research opens it (its session settings
// and prepared statements included); the benchmark's other questions (sizes,
// samples, settings) go through a pool of their own.
const pgReader = openPgReader(target);
const pool = (pgReader.source as PgChunkSource).pool;
const admin = openPool(target, { max: 1, application: 'mailproof bench' });
{
  const orig = pool.query.bind(pool) as (...a: unknown[]) => Promise<pg.QueryResult>;
  (pool as unknown as { query: (...a: unknown[]) => Promise<pg.QueryResult> }).query = async (...a: unknown[]) => {
    const cfg = a[0] as string | pg.QueryConfig;
    const text = typeof cfg === 'string' ? cfg : cfg.text;
    const vals = (typeof cfg === 'string' ? a[1] : cfg.values) as unknown[] | undefined;
    const t0 = process.hrtime.bigint();
    const r = await orig(...a);
    calls.push({ text, values: vals ?? [], ms: Number(process.hrtime.bigint() - t0) / 1e6, rows: r.rowCount ?? r.rows.length });
    return r;
  };
}
const pm = await postmasterPid(admin);
const sizes = Object.fromEntries(await Promise.all(['chunks', 'terms', 'mailboxes'].map(async (t) => [t, await tableBytes(admin, t)] as const)));
const pgBytes = Object.values(sizes).reduce((a, b) => a + b.total, 0);
const sqliteBytes = sqlite ? ledgerBytes(sqlite.file) : NaN;
say(`PostgreSQL store: ${(pgBytes / 1048576).toFixed(0)} MiB = ${(pgBytes / load.written).toFixed(1)} bytes/event (` +
  `${Object.entries(sizes).map(([t, b]) => `${t} ${(b.total / load.written).toFixed(1)}`).join(', ')})${sqlite ? `; SQLite ${(sqliteBytes / load.written).toFixed(1)} bytes/event` : ''}`);

// The questions of bench/research, from the SQLite store when there is one (the very same questions), else from this store.
const sampler = sqlite ? sqliteSampler(sqlite.file, params.end - WEEK) : { sample: pgSampler(admin, params.end - WEEK, params.end), close: () => undefined };
const q = await questions(sampler.sample, { end: params.end, heavy: load.heavy, light_sample: load.light_sample }, params, N, HEAVY_N);
sampler.close();
const since = q.since;
type Store = 'sqlite' | 'pg';
const readers: Partial<Record<Store, LedgerReader>> = { ...(sqlite ? { sqlite: new SqliteStoreReader(sqlite.file) } : {}), pg: pgReader };

interface Sample { ms: number; cpu: number; journeys: number; sql_ms?: number; sql_calls?: number }
const timeSearch = async (store: Store, f: SearchFilter): Promise<{ s: Sample; r: SearchResult }> => {
  const before = calls.length;
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const r = await search(readers[store]!, { limit: TRACE_FIRST_PAGE, ...f, now: q.end }, { lang: 'en' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const c = process.cpuUsage(c0);
  const s: Sample = { ms, cpu: (c.user + c.system) / 1000, journeys: r.journeys.length };
  if (store === 'pg') {
    const mine = calls.slice(before);
    s.sql_ms = mine.reduce((a, x) => a + x.ms, 0);
    s.sql_calls = mine.length;
  }
  return { s, r };
};
/** What must be the same in both stores' answers (the node differs: the PostgreSQL store's events are spread over three). */
const digest = (r: SearchResult): string => r.journeys.map((j) => `${j.ref}|${j.rcpt}|${j.outcome}|${j.diagnosis.join(',')}|${j.events.length}|${j.access.length}`).sort().join('\n') + `|${r.truncated}`;

interface Kind { name: string; label: string; goal?: number; filters: SearchFilter[] }
const kinds: Kind[] = [
  { name: 'rcpt', label: '**--rcpt, random mailbox**', goal: GOAL.rcpt, filters: q.randomRcpts.map((rcpt) => ({ rcpt, since })) },
  { name: 'rcpt_heavy', label: '--rcpt, 200 busiest mailboxes', filters: q.heavyRcpts.map((rcpt) => ({ rcpt, since })) },
  { name: 'domain', label: '**--domain**', goal: GOAL.domain_ip, filters: q.domains.map((domain) => ({ domain, since })) },
  { name: 'ref', label: '--ref', filters: q.refs.map((ref) => ({ ref })) },
  { name: 'ip', label: '**--ip**', goal: GOAL.domain_ip, filters: q.ips.map((ip) => ({ ip, since })) },
  { name: 'domain_1000', label: '--domain, a page of 1000', filters: q.domains.map((domain) => ({ domain, since, limit: 1000 })) },
  { name: 'ip_1000', label: '--ip, a page of 1000', filters: q.ips.map((ip) => ({ ip, since, limit: 1000 })) },
  { name: 'rcpt_heavy_1000', label: '200 busiest mailboxes, a page of 1000', filters: q.heavyRcpts.map((rcpt) => ({ rcpt, since, limit: 1000 })) },
];

// Warm-up, and the check that both stores answer alike: every question once on each.
say(`warm-up and answer check (${kinds.reduce((a, k) => a + k.filters.length, 0)} questions on each store)`);
const mismatches: Array<{ kind: string; filter: SearchFilter; sqlite: number; pg: number }> = [];
for (const k of kinds) {
  for (const f of k.filters) {
    const b = await timeSearch('pg', f);
    if (!sqlite) continue;
    const a = await timeSearch('sqlite', f);
    if (digest(a.r) !== digest(b.r)) mismatches.push({ kind: k.name, filter: f, sqlite: a.r.journeys.length, pg: b.r.journeys.length });
  }
}
if (sqlite) say(mismatches.length ? `ANSWERS DIFFER for ${mismatches.length} questions, e.g. ${JSON.stringify(mismatches.slice(0, 3))}` : 'both stores gave the same journeys for every question');

interface KindResult {
  sqlite: Stats | null; pg: Stats;
  /** PostgreSQL: SQL round trips per search and their share of its time. */
  pg_sql_ms_p50: number; pg_sql_ms_mean: number; pg_calls_mean: number; pg_sql_share: number;
  /** CPU of the PostgreSQL server per search (all its processes, over the block), ms. */
  pg_server_cpu_ms: number | null;
}
interface Run { kinds: Record<string, KindResult>; load: number[] }
const runs: Run[] = [];
for (let r = 0; r < RUNS; r++) {
  calls = [];
  const out: Record<string, KindResult> = {};
  for (const k of kinds) {
    const ss: Sample[] = [];
    const sp: Sample[] = [];
    const pg0 = pm ? cpuSeconds(pm) : NaN;
    for (const [i, f] of k.filters.entries()) {
      // Which store goes first alternates: neither gets the other's leftovers (CPU caches, a core freed) every time.
      if (!sqlite) sp.push((await timeSearch('pg', f)).s);
      else if (i % 2 === 0) { ss.push((await timeSearch('sqlite', f)).s); sp.push((await timeSearch('pg', f)).s); }
      else { sp.push((await timeSearch('pg', f)).s); ss.push((await timeSearch('sqlite', f)).s); }
    }
    const pgCpu = pm ? cpuSeconds(pm) - pg0 : NaN;
    const sqlMs = sp.map((s) => s.sql_ms!);
    const totalMs = sp.reduce((a, s) => a + s.ms, 0);
    out[k.name] = {
      sqlite: sqlite ? stats(ss) : null, pg: stats(sp),
      pg_sql_ms_p50: +pct(sqlMs, 50).toFixed(2), pg_sql_ms_mean: +(sqlMs.reduce((a, b) => a + b, 0) / sp.length).toFixed(2),
      pg_calls_mean: +(sp.reduce((a, s) => a + s.sql_calls!, 0) / sp.length).toFixed(1),
      pg_sql_share: +(sqlMs.reduce((a, b) => a + b, 0) / totalMs).toFixed(2),
      pg_server_cpu_ms: Number.isFinite(pgCpu) ? +((pgCpu * 1000) / sp.length).toFixed(2) : null,
    };
    const x = out[k.name]!;
    say(`run ${r + 1}: ${k.name.padEnd(16)} p50/p95 ms: ${x.sqlite ? `SQLite ${x.sqlite.p50} / ${x.sqlite.p95}, ` : ''}PostgreSQL ${x.pg.p50} / ${x.pg.p95}` +
      ` (SQL ${Math.round(100 * x.pg_sql_share)}% of it, ${x.pg_calls_mean} statements; server CPU ${x.pg_server_cpu_ms} ms/search)${k.goal ? ` goal < ${k.goal}: ${x.pg.p95 < k.goal ? 'met' : 'NOT met'}` : ''}`);
  }
  runs.push({ kinds: out, load: os.loadavg().map((v) => +v.toFixed(2)) });
}

// The web API: GET /api/trace as `mailproof serve` answers it (fastify on
// loopback, a staff bearer token, HTTP keep-alive; the search in a research
// thread, src/web/research-pool.ts, which first lets the store take in what
// this node's journal holds: catchUpStore). The same questions, both stores,
// one after the other. The time is the whole request.
say('web API: GET /api/trace over both stores');
const webDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-bench-web-pg-'));
fs.mkdirSync(path.join(webDir, 'journal'));
const cfg = loadConfig({ dataDir: webDir });
const users = new UserStore(path.join(webDir, 'web-users.json'));
await users.add('bench', 'staff', [], 'bench-password-not-secret');
const token = users.newToken('bench')!;
const ledgerOf: Record<Store, LedgerPaths> = {
  sqlite: { store: sqlite?.file ?? '', journal: path.join(webDir, 'journal') },
  pg: { store: target.url, storePasswordFile: target.passwordFile, journal: path.join(webDir, 'journal'), node: 'bench' },
};
const webStores: Store[] = sqlite ? ['sqlite', 'pg'] : ['pg'];
const apps = new Map<Store, { app: Awaited<ReturnType<typeof buildWebApp>>; pool: ResearchPool; port: number; agent: http.Agent }>();
for (const st of webStores) {
  const rp = new ResearchPool({ ledger: ledgerOf[st], waitMs: 0, mailboxes: {}, threads: cfg.web.research_threads, maxQueue: cfg.web.research_queue, timeoutMs: cfg.web.research_timeout_s * 1000 });
  const app = await buildWebApp({ cfg, research: rp, users });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('web: no address');
  apps.set(st, { app, pool: rp, port: addr.port, agent: new http.Agent({ keepAlive: true, maxSockets: 1 }) });
}
const sinceIso = new Date(since).toISOString();
const untilIso = new Date(q.end).toISOString();
const timeWeb = (st: Store, params: Record<string, string>): Promise<{ ms: number; journeys: number }> => new Promise((resolve, reject) => {
  const w = apps.get(st)!;
  const t0 = process.hrtime.bigint();
  const req = http.get({ host: '127.0.0.1', port: w.port, path: `/api/trace?${new URLSearchParams(params).toString()}`, agent: w.agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (res.statusCode !== 200) { reject(new Error(`web (${st}): ${res.statusCode} ${Buffer.concat(chunks).toString().slice(0, 300)}`)); return; }
      resolve({ ms, journeys: (JSON.parse(Buffer.concat(chunks).toString()) as { journeys: unknown[] }).journeys.length });
    });
  });
  req.on('error', reject);
});
// What the API is asked: as the query layer above; --rcpt with the API's own page (as bench/research asks it), the others the first page of 100.
const webKinds: Array<{ name: string; label: string; params: Array<Record<string, string>> }> = [
  { name: 'rcpt', label: '**GET /api/trace?rcpt=**, random mailbox', params: q.randomRcpts.map((rcpt) => ({ rcpt, since: sinceIso, until: untilIso })) },
  { name: 'domain', label: 'GET /api/trace?domain=&limit=100', params: q.domains.map((domain) => ({ domain, since: sinceIso, until: untilIso, limit: '100' })) },
  { name: 'ip', label: 'GET /api/trace?ip=&limit=100', params: q.ips.map((ip) => ({ ip, since: sinceIso, until: untilIso, limit: '100' })) },
  { name: 'ref', label: 'GET /api/trace?ref=', params: q.refs.map((ref) => ({ ref })) },
];
for (const k of webKinds) for (const p of k.params.slice(0, 10)) for (const st of webStores) await timeWeb(st, p); // warm-up: threads started, JIT
interface WebResult { sqlite: Stats | null; pg: Stats }
const web: Record<string, WebResult> = {};
for (const k of webKinds) {
  const ss: Array<{ ms: number; journeys: number }> = [];
  const sp: Array<{ ms: number; journeys: number }> = [];
  for (const [i, p] of k.params.entries()) {
    if (!sqlite) sp.push(await timeWeb('pg', p));
    else if (i % 2 === 0) { ss.push(await timeWeb('sqlite', p)); sp.push(await timeWeb('pg', p)); }
    else { sp.push(await timeWeb('pg', p)); ss.push(await timeWeb('sqlite', p)); }
  }
  web[k.name] = { sqlite: sqlite ? stats(ss) : null, pg: stats(sp) };
  const x = web[k.name]!;
  say(`web ${k.name.padEnd(8)} p50/p95 ms: ${x.sqlite ? `SQLite ${x.sqlite.p50} / ${x.sqlite.p95}, ` : ''}PostgreSQL ${x.pg.p50} / ${x.pg.p95}${k.name === 'rcpt' ? ` (goal < ${GOAL.web}: ${x.pg.p95 < GOAL.web ? 'met' : 'NOT met'})` : ''}`);
}
for (const w of apps.values()) { await w.app.close(); await w.pool.close(); w.agent.destroy(); }
// Where a web question's time goes before the search: the research thread's
// catch-up (catchUpStore: the positions compared with this node's journal,
// the cluster's lag read), alone: with the writer a research thread keeps,
// and with a writer opened and closed for it (a new connection each time).
const timeCatchUp = async (writer: StoreWriter | undefined): Promise<{ p50: number; p95: number }> => {
  const ms: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t0 = process.hrtime.bigint();
    await catchUpStore(ledgerOf.pg, 0, writer ? { writer } : {});
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return { p50: +pct(ms, 50).toFixed(2), p95: +pct(ms, 95).toFixed(2) };
};
const keptWriter = openStoreWriter(ledgerOf.pg);
await catchUpStore(ledgerOf.pg, 0, { writer: keptWriter }); // its connection and schema check, once
const catchUp = { kept: await timeCatchUp(keptWriter), fresh: await timeCatchUp(undefined) };
await keptWriter.close();
say(`catchUpStore alone (PostgreSQL, 30 times): with a kept writer p50 ${catchUp.kept.p50} ms, p95 ${catchUp.kept.p95} ms;` +
  ` with a new writer each time p50 ${catchUp.fresh.p50} ms, p95 ${catchUp.fresh.p95} ms`);
fs.rmSync(webDir, { recursive: true, force: true });

// Statement shapes of the last run, slowest first by their time in all, and
// the plans of the two that took the most.
const norm = (t: string): string => t.replace(/\s+/g, ' ').trim();
const work = (c: SqlCall): number => c.values.reduce<number>((n, v) => n + (Array.isArray(v) ? v.length : 0), 0);
const shapes = new Map<string, SqlCall[]>();
for (const c of calls) {
  const k = norm(c.text);
  let l = shapes.get(k);
  if (!l) shapes.set(k, (l = []));
  l.push(c);
}
const shapeRows = [...shapes.entries()].map(([text, l]) => ({
  text, calls: l.length, total_ms: +l.reduce((a, c) => a + c.ms, 0).toFixed(1), p50_ms: +pct(l.map((c) => c.ms), 50).toFixed(2),
  p95_ms: +pct(l.map((c) => c.ms), 95).toFixed(2), max_ms: +Math.max(...l.map((c) => c.ms)).toFixed(2),
  rows_mean: +(l.reduce((a, c) => a + c.rows, 0) / l.length).toFixed(1),
  // The plan shown is that of the call with the most work asked (the longest
  // lists of terms or sessions; the slowest among equals): the slowest call
  // alone is often one that waited for a core on a busy machine.
  largest: l.reduce((a, c) => (work(c) > work(a) || (work(c) === work(a) && c.ms > a.ms) ? c : a)),
})).sort((a, b) => b.total_ms - a.total_ms);
// The plans as research gets them: on a connection of the reader's own pool
// (its session settings), the statement prepared and executed with the
// values of its call with the longest lists.
const plans: Array<{ text: string; values: unknown[]; ms: number; plan: string }> = [];
const rc = await pool.connect();
const literal = (v: unknown): string => {
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return rc.escapeLiteral(`{${v.map((x) => (typeof x === 'number' ? String(x) : `"${String(x).replace(/[\\"]/g, (c) => `\\${c}`)}"`)).join(',')}}`);
  return rc.escapeLiteral(String(v));
};
let settings: Array<{ name: string; setting: string; unit: string | null }>;
try {
  for (const s of shapeRows.slice(0, 2)) {
    const c = s.largest;
    await rc.query(`PREPARE bench_explain AS ${c.text}`);
    try {
      // Once first: research's connections plan a statement once and keep the plan; the plan shown is the kept one.
      const args = c.values.map(literal).join(', ');
      await rc.query(`EXECUTE bench_explain(${args})`);
      const r = await rc.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_explain(${args})`);
      plans.push({ text: norm(c.text), values: c.values, ms: +c.ms.toFixed(2), plan: r.rows.map((x) => x['QUERY PLAN']).join('\n') });
    } finally {
      await rc.query('DEALLOCATE bench_explain');
    }
  }
  settings = (await rc.query<{ name: string; setting: string; unit: string | null }>(
    "SELECT name, setting, unit FROM pg_settings WHERE name IN ('shared_buffers', 'effective_cache_size', 'work_mem', 'fsync', 'synchronous_commit', 'max_wal_size', 'random_page_cost', 'jit', 'plan_cache_mode') ORDER BY name")).rows;
} finally {
  rc.release();
}
const version = (await admin.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v;
for (const r of Object.values(readers)) await r!.close();
await admin.end();

const shown = (v: unknown): string => (Array.isArray(v) && v.length > 6 ? `[${v.slice(0, 6).map((x) => JSON.stringify(x)).join(', ')}, ... ${v.length} in all]` : JSON.stringify(v));
for (const p of plans) say(`EXPLAIN (ANALYZE, BUFFERS) of ${p.text}\n  values ${p.values.map(shown).join(', ')} (took ${p.ms} ms in the run)\n${p.plan}`);

const { heavy: _h, light_sample: _l, ...loadShown } = load;
const result = {
  date: new Date().toISOString(),
  machine: { cpu: os.cpus()[0]?.model ?? '?', nproc: os.cpus().length, memory_gib: +(os.totalmem() / 2 ** 30).toFixed(1), node: process.version, load: os.loadavg().map((x) => +x.toFixed(2)) },
  postgres: { version, settings: Object.fromEntries(settings.map((s) => [s.name, `${s.setting}${s.unit ? ` ${s.unit}` : ''}`])), ...(pgInfo ?? {}) },
  params, window_days: 7, goal_ms: GOAL, samples: Object.fromEntries(kinds.map((k) => [k.name, k.filters.length])),
  load: { ...loadShown, cached: loadCached } as Omit<PgLoadMeta, 'heavy' | 'light_sample'> & { cached: boolean },
  size: { pg_bytes: pgBytes, pg_bytes_per_event: +(pgBytes / load.written).toFixed(1), tables: sizes, ...(sqlite ? { sqlite_bytes: sqliteBytes, sqlite_bytes_per_event: +(sqliteBytes / load.written).toFixed(1) } : {}) },
  mismatches, runs, web, catch_up_ms: catchUp, shapes: shapeRows.map(({ largest: _s, ...x }) => x), plans,
};
process.stdout.write(`${JSON.stringify({ ...result, plans: undefined })}\n`);
if (values.out) fs.writeFileSync(values.out, JSON.stringify(result, null, 2));

if (values.results) {
  const f1 = (x: number): string => x.toFixed(1);
  const perEv = (s: number): string => f1((1e6 * s) / load.written);
  const row = (k: Kind, r: KindResult): string => `| ${k.label}${k.goal ? ` (goal < ${k.goal} ms)` : ''} | ${r.pg.n} | ${r.sqlite ? `${r.sqlite.p50} / ${r.sqlite.p95}` : '-'} | ${r.pg.p50} / **${r.pg.p95}** | ` +
    `${r.sqlite ? `${(r.pg.p95 / r.sqlite.p95).toFixed(1)}x` : '-'} | ${r.pg_calls_mean} | ${r.pg_sql_ms_p50} (${Math.round(100 * r.pg_sql_share)}%) | ${r.sqlite?.cpu_p50 ?? '-'} / ${r.pg.cpu_p50} | ${r.pg_server_cpu_ms ?? '-'} | ${r.pg.journeys_total.toLocaleString('en')} |`;
  // A plan over every day partition repeats the same scan for each: the first ones and the totals are what tell.
  const condensed = (plan: string): string => {
    const lines = plan.split('\n').map((l) => (l.length > 200 ? `${l.slice(0, 200)}...` : l));
    if (lines.length <= 30) return lines.join('\n');
    const tail = lines.findIndex((l) => /^(Planning|Execution|JIT)/.test(l));
    const end = tail < 0 ? lines.length - 3 : tail;
    return [...lines.slice(0, 14), `  ... (${end - 14} more lines: the same on the other partitions)`, ...lines.slice(end)].join('\n');
  };
  const runTables = runs.map((run, i) => `Run ${i + 1} of ${runs.length} (load average after it: ${run.load.join(' ')}):

| question (window 7 days; --ref unbounded; first page of 100 journeys unless a page of 1000 is named) | searches | SQLite p50 / p95 ms | PostgreSQL p50 / p95 ms | PG / SQLite p95 | PG statements per search | PG SQL ms p50 (share of the time) | client CPU ms p50, SQLite / PG | PG server CPU ms per search | journeys found |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
${kinds.map((k) => row(k, run.kinds[k.name]!)).join('\n')}`).join('\n\n');
  const last = runs[runs.length - 1]!.kinds;
  const goalLine = ['rcpt', 'domain', 'ip'].map((n) => { const k = kinds.find((x) => x.name === n)!; const p = last[n]!.pg.p95; return `${k.label.replace(/\*/g, '')} p95 ${p} ms (< ${k.goal}: ${p < k.goal! ? 'met' : 'NOT met'})`; }).join('; ');
  const m = result.machine;
  // The default size and a large variant each have their section.
  const marker = `bench/research-pg/bench.ts${params.events === DEFAULTS.events ? '' : ` --events ${params.events}`}`;
  const section = `<!-- BEGIN GENERATED by ${marker} -->
Run of ${result.date.slice(0, 16).replace('T', ' ')} UTC on ${m.nproc} cores (${m.cpu}), ${m.memory_gib} GiB RAM, node ${m.node}, PostgreSQL ${version}
(the research connections' settings: ${settings.map((s) => `${s.name} ${s.setting}${s.unit ? ` ${s.unit}` : ''}`).join(', ')}); load average at the end ${m.load.join(' ')}.
Goals (last run): ${goalLine}.

**Load** (\`bench/research-pg/load.ts\`${loadCached ? `, run of ${load.date.slice(0, 16).replace('T', ' ')} UTC, load average then ${load.load_avg.join(' ')}; the store is cached since` : ''}):
${load.written.toLocaleString('en')} events of the research benchmark's traffic (the same as the SQLite store's), spread over ${load.nodes} nodes by session,
each node's events through its own \`PgStoreWriter\` (COPY at commit, ${load.batch.toLocaleString('en')} events and the journal position per
transaction, the nodes' transactions side by side): ${load.transactions} transactions in ${f1(load.load_s)} s, of which ${f1(load.generate_s)} s
making the events (the generator, in the same thread: the writers could not run meanwhile). **${load.events_per_s_writer.toLocaleString('en')} events/s**
over the writers' time (${load.events_per_s.toLocaleString('en')} over the whole load). CPU per event: **node ${perEv(load.writer_cpu_s)} µs** (chunk encoding,
terms, COPY text; without the generator's ${perEv(load.node_cpu_s - load.writer_cpu_s)} µs), **PostgreSQL ${perEv(load.pg_cpu_s)} µs** (every server process:
backends, WAL writer, checkpointer, autovacuum). VACUUM ANALYZE afterwards (what autovacuum does to a live store): ${f1(load.vacuum_s)} s,
${perEv(load.pg_cpu_vacuum_s)} µs of server CPU per event.

**Size**: ${(pgBytes / 1048576).toFixed(0)} MiB = **${(pgBytes / load.written).toFixed(1)} bytes/event** (pg_total_relation_size summed over the day partitions${sqlite ? `;
SQLite store of the same events: ${(sqliteBytes / load.written).toFixed(1)}` : ''}). By table, bytes/event (heap / TOAST / indexes):
${Object.entries(sizes).map(([t, b]) => `${t} ${f1(b.total / load.written)} (${f1(b.heap / load.written)} / ${f1(b.toast / load.written)} / ${f1(b.indexes / load.written)}${b.partitions ? `, ${b.partitions} partitions` : ''})`).join(', ')}.
The PostgreSQL store's chunks carry each event's journal stream and sequence number (the shipper's, for checks against the journals); the generated SQLite store's have none.

**Answers**: ${!sqlite ? 'not compared (no SQLite store in this run; its questions came from this store)' : mismatches.length === 0 ? 'both stores gave the same journeys for every question' : `**${mismatches.length} questions got different answers** (bench/out/research-pg.json: mismatches)`}.

${runTables}

**Web API** (same run, after the query layer): \`GET /api/trace\` as \`mailproof serve\` answers it (fastify on loopback, a staff
bearer token, HTTP keep-alive; the search in a research thread, which first lets the store take in what this node's journal holds).
Goal: p95 < ${GOAL.web} ms.

| question (window 7 days) | requests | SQLite p50 / p95 ms | PostgreSQL p50 / p95 ms | PG / SQLite p95 |
|---|---:|---:|---:|---:|
${webKinds.map((k) => { const w = web[k.name]!; return `| ${k.label} | ${w.pg.n} | ${w.sqlite ? `${w.sqlite.p50} / ${w.sqlite.p95}` : '-'} | ${w.pg.p50} / **${w.pg.p95}** | ${w.sqlite ? `${(w.pg.p95 / w.sqlite.p95).toFixed(1)}x` : '-'} |`; }).join('\n')}

Of a PostgreSQL question's time, the research thread's catch-up before the search (\`catchUpStore\`: the positions compared
with this node's journal, the cluster's lag read) took p50 ${catchUp.kept.p50} ms, p95 ${catchUp.kept.p95} ms when timed alone with
the writer a research thread keeps (with a writer opened for each question, a new connection and schema check each time:
p50 ${catchUp.fresh.p50} ms, p95 ${catchUp.fresh.p95} ms).

"PG SQL ms": the round trips of the reader's statements in one search (node-postgres, loopback), the rest of the search's time is
JavaScript (decoding chunks, building journeys), the same work as over SQLite. Statement shapes of the last run, by total time:

| statement | calls | total ms | p50 / p95 / max ms | rows (mean) |
|---|---:|---:|---:|---:|
${shapeRows.slice(0, 6).map((s) => `| \`${s.text.length > 160 ? `${s.text.slice(0, 160)}...` : s.text}\` | ${s.calls} | ${s.total_ms} | ${s.p50_ms} / ${s.p95_ms} / ${s.max_ms} | ${s.rows_mean} |`).join('\n')}

${plans.map((p) => `EXPLAIN (ANALYZE, BUFFERS) EXECUTE of \`${p.text.length > 120 ? `${p.text.slice(0, 120)}...` : p.text}\`, prepared as research prepares it and executed once before, with the values of its call with the longest lists (${p.ms} ms in the run; values ${p.values.map(shown).join(', ')}):

\`\`\`
${condensed(p.plan)}
\`\`\``).join('\n\n')}
<!-- END GENERATED by ${marker} -->`;
  let text = fs.readFileSync(values.results, 'utf8');
  const m0 = marker.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  const re = new RegExp(`<!-- BEGIN GENERATED by ${m0} -->[\\s\\S]*?<!-- END GENERATED by ${m0} -->`);
  if (re.test(text)) text = text.replace(re, () => section);
  else if (text.includes('\n## Cluster store (PostgreSQL)\n')) text += `\n${section}\n`;
  else text += `\n## Cluster store (PostgreSQL)\n\n\`bash bench/cluster/run.sh\` (also a step of bench/run.sh; BENCH_SKIP_CLUSTER=1 skips it); the research part alone: \`bash bench/research-pg/run.sh\`.\n\n${section}\n`;
  fs.writeFileSync(values.results, text);
}
