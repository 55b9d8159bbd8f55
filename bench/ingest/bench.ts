// Ingest throughput: mailproof ingest (every event written into a fresh
// store, the journal-first ledger's research store: ingest writes there
// directly) against Debian's pflogsumm (a Perl report over the same file), in
// the same run on the same file. Then where mailproof's time goes
// (phases.ts): framing + parsing + correlation, and the store (chunk
// encoding and SQLite), each timed in process.
//
// node bench/ingest/bench.js --cli PATH/main.js --work DIR [--lines N] [--runs R] [--out FILE.json] [--results bench/RESULTS.md]
//   [--stores sqlite|pg|sqlite,pg] (pg: also into a cluster's PostgreSQL store, a server of its own with its
//   defaults, bench/lib/postgres.ts; its CPU measured apart) [--phases 0] (no in-process split)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { generate } from './generate.js';
import { measurePhases, type Phases } from './phases.js';
import { startBenchPostgres, type BenchPostgres } from '../lib/postgres.js';

const { values } = parseArgs({
  options: {
    cli: { type: 'string' }, work: { type: 'string' }, lines: { type: 'string' }, runs: { type: 'string' },
    out: { type: 'string' }, results: { type: 'string' }, stores: { type: 'string' }, phases: { type: 'string' },
  },
});
const stores = (values.stores ?? 'sqlite').split(',');
const withPhases = values.phases !== '0' && stores.includes('sqlite');
const cli = values.cli!;
const work = values.work!;
const target = Number(values.lines ?? 1000000);
const runs = Number(values.runs ?? 3);
const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] ?? NaN;

fs.mkdirSync(work, { recursive: true });
const log = path.join(work, `postfix-${target}.log`);
if (!fs.existsSync(log)) {
  const t0 = Date.now();
  generate(log, target);
  process.stdout.write(`generated ${log} in ${Date.now() - t0} ms\n`);
}
const lines = target;
const bytes = fs.statSync(log).size;
const pflogsummPath = ['/usr/sbin/pflogsumm', '/usr/bin/pflogsumm'].find((p) => fs.existsSync(p));
if (!pflogsummPath) throw new Error('pflogsumm is not installed (apt-get install pflogsumm)');

/** CPU seconds of this process's waited-for children (cutime + cstime of /proc/self/stat). */
const childCpu = (): number => {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / 100;
};
const timed = (cmd: string, args: string[]): { ms: number; stdout: string; cpu_s: number } => {
  const c0 = childCpu();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return { ms, stdout: r.stdout, cpu_s: childCpu() - c0 };
};

// The cluster store: one server for all runs, emptied before each.
let pgServer: BenchPostgres | null = null;
const pgRuns: Array<{ ms: number; cpu_s: number; pg_cpu_s: number; bytes: number; events: number }> = [];
const pgBytes = async (p: BenchPostgres): Promise<number> => {
  const c = new pg.Client({ host: '127.0.0.1', port: p.port, user: 'mailproof', database: 'mailproof', password: fs.readFileSync(p.passwordFile, 'utf8').trim() });
  await c.connect();
  try {
    const r = await c.query<{ b: string }>(`SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) AS b FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'`);
    return Number(r.rows[0]!.b);
  } finally {
    await c.end();
  }
};
if (stores.includes('pg')) pgServer = await startBenchPostgres('ingest');

const pf: number[] = [];
const pfCpu: number[] = [];
const mp: number[] = [];
const mpCpu: number[] = [];
const ph: Phases[] = [];
let summary: { lines: number; events: number; unknown_total: number; unknown: Record<string, number> } | null = null;
let ledgerBytes = 0;
for (let r = 0; r < runs; r++) {
  // Rotate the order so that noise from the other load hits all alike.
  const contenders = ['pflogsumm', ...(stores.includes('sqlite') ? ['mailproof'] : []), ...(pgServer ? ['mailproof-pg'] : [])];
  const order = contenders.map((_, i) => contenders[(i + r) % contenders.length]!);
  for (const which of order) {
    if (which === 'pflogsumm') {
      const t = timed(pflogsummPath, [log]);
      pf.push(t.ms);
      pfCpu.push(t.cpu_s);
    } else if (which === 'mailproof-pg') {
      const p = pgServer!;
      await p.reset();
      const dataDir = path.join(work, `ledger-pg-${r}`);
      fs.rmSync(dataDir, { recursive: true, force: true });
      const c0 = p.cpu();
      const t = timed(process.execPath, [cli, 'ingest', 'postfix', log, '--data-dir', dataDir, '--year', '2026', '--json',
        '-o', `ledger.store=${p.url}`, '-o', `ledger.store_password_file=${p.passwordFile}`]);
      const s = JSON.parse(t.stdout) as { events: number };
      pgRuns.push({ ms: t.ms, cpu_s: t.cpu_s, pg_cpu_s: p.cpu() - c0, bytes: await pgBytes(p), events: s.events });
      fs.rmSync(dataDir, { recursive: true, force: true });
    } else {
      const dataDir = path.join(work, `ledger-${r}`);
      fs.rmSync(dataDir, { recursive: true, force: true });
      const t = timed(process.execPath, [cli, 'ingest', 'postfix', log, '--data-dir', dataDir, '--year', '2026', '--json']);
      mp.push(t.ms);
      mpCpu.push(t.cpu_s);
      summary = JSON.parse(t.stdout) as typeof summary;
      ledgerBytes = 0;
      for (const f of fs.readdirSync(dataDir)) if (f.startsWith('store.sqlite')) ledgerBytes += fs.statSync(path.join(dataDir, f)).size;
      if (ledgerBytes === 0) throw new Error(`mailproof ingest left no store.sqlite in ${dataDir}`);
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }
  const x = withPhases ? await measurePhases(log, work) : null;
  if (x) ph.push(x);
  process.stdout.write(`run ${r + 1}/${runs}: pflogsumm ${pf.at(-1)!.toFixed(0)} ms${mp.length ? `, mailproof ingest ${mp.at(-1)!.toFixed(0)} ms` : ''}` +
    `${pgRuns.length ? `, into PostgreSQL ${pgRuns.at(-1)!.ms.toFixed(0)} ms (its server's CPU ${pgRuns.at(-1)!.pg_cpu_s.toFixed(1)} s)` : ''}` +
    `${x ? `; in process: parse ${x.parse_ms} ms, store ${x.store_ms} ms (encoding ${x.encode_ms}, SQLite ${x.sqlite_ms})` : ''}\n`);
}
await pgServer?.stop();
const pgResult = pgRuns.length ? (() => {
  const ms = median(pgRuns.map((x) => x.ms));
  const mid = pgRuns.find((x) => x.ms === ms)!;
  return {
    ms, lines_per_s: Math.round(lines / (ms / 1000)), ratio_to_pflogsumm: +(median(pf) / ms).toFixed(2),
    cpu_s: +mid.cpu_s.toFixed(2), pg_cpu_s: +mid.pg_cpu_s.toFixed(2), bytes: mid.bytes, events: mid.events, runs: pgRuns,
  };
})() : null;
if (!stores.includes('sqlite')) {
  // The cluster store alone: its figures and pflogsumm's, nothing of the embedded store's.
  const result = { date: new Date().toISOString(), lines, bytes, runs, pflogsumm_ms: median(pf), pflogsumm_cpu_s: median(pfCpu), pflogsumm_lines_per_s: Math.round(lines / (median(pf) / 1000)), pg: pgResult,
    load: fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ') };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  if (values.out) fs.writeFileSync(values.out, JSON.stringify(result, null, 2));
  process.exit(0);
}
if (summary!.lines !== lines) throw new Error(`mailproof ingested ${summary!.lines} lines, the file has ${lines}`);
const rate = (ms: number): number => Math.round(lines / (ms / 1000));
const parseMs = median(ph.map((x) => x.parse_ms));
const storeMs = median(ph.map((x) => x.store_ms));
const encodeMs = median(ph.map((x) => x.encode_ms));
const sqliteMs = median(ph.map((x) => x.sqlite_ms));
if (ph.length && ph[0]!.events !== summary!.events) throw new Error(`the in-process parse made ${ph[0]!.events} events, mailproof ingest ${summary!.events}`);
const result = {
  date: new Date().toISOString(), lines, bytes, runs,
  pflogsumm_ms: median(pf), mailproof_ms: median(mp), parse_only_ms: parseMs, store_ms: storeMs, encode_ms: encodeMs, sqlite_ms: sqliteMs,
  parse_share: +(parseMs / (parseMs + storeMs)).toFixed(3), store_share: +(storeMs / (parseMs + storeMs)).toFixed(3),
  pflogsumm_lines_per_s: rate(median(pf)), mailproof_lines_per_s: rate(median(mp)), parse_only_lines_per_s: rate(parseMs),
  in_process_lines_per_s: rate(parseMs + storeMs), phases: ph,
  ratio: +(median(pf) / median(mp)).toFixed(2),
  pflogsumm_cpu_s: median(pfCpu), mailproof_cpu_s: median(mpCpu), pg: pgResult,
  events: summary!.events, unknown_lines: summary!.unknown_total, unknown: summary!.unknown, ledger_bytes: ledgerBytes,
  load: fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
if (values.out) fs.writeFileSync(values.out, JSON.stringify(result, null, 2));

if (values.results) {
  const mb = (n: number): string => (n / 1048576).toFixed(1);
  const section = `<!-- BEGIN GENERATED by bench/ingest/bench.ts -->
Run of ${result.date.slice(0, 16).replace('T', ' ')} UTC, load average at the end ${result.load}; median of ${runs} runs.
File: ${lines.toLocaleString('en')} generated Postfix lines (${mb(bytes)} MiB, \`bench/ingest/generate.ts\`).

| | wall time | lines/s |
|---|---:|---:|
| pflogsumm (Debian, Perl; report only, writes nothing) | ${(result.pflogsumm_ms / 1000).toFixed(2)} s | ${result.pflogsumm_lines_per_s.toLocaleString('en')} |
| mailproof ingest (\`mailproof ingest postfix\`, fresh store, every event kept, one commit per 100,000 lines) | ${(result.mailproof_ms / 1000).toFixed(2)} s | ${result.mailproof_lines_per_s.toLocaleString('en')} |
| in process (phases.ts): parsing + correlation | ${(result.parse_only_ms / 1000).toFixed(2)} s (${(100 * result.parse_share).toFixed(0)}%) | ${result.parse_only_lines_per_s.toLocaleString('en')} |
| in process: storing (SqliteStoreWriter, same batches) | ${(result.store_ms / 1000).toFixed(2)} s (${(100 * result.store_share).toFixed(0)}%) | |
| &nbsp;&nbsp;of which chunk encoding and terms (normalize, JSON, deflate; timed apart) | ${(result.encode_ms / 1000).toFixed(2)} s | |
| &nbsp;&nbsp;of which SQLite (the rest: sessions, chunks, terms, commit) | ${(result.sqlite_ms / 1000).toFixed(2)} s | |

Ratio mailproof / pflogsumm (lines/s): **${result.ratio}x** (goal: >= 2x). Events written: ${result.events.toLocaleString('en')};
lines not understood: ${result.unknown_lines}; store size after the run: ${mb(result.ledger_bytes)} MiB (WAL included).
Parse vs store: ${(100 * result.parse_share).toFixed(0)}% / ${(100 * result.store_share).toFixed(0)}% of the in-process time (${((result.parse_only_ms + result.store_ms) / 1000).toFixed(2)} s);
the CLI's ${(result.mailproof_ms / 1000).toFixed(2)} s also has process start and the state it saves per commit.
<!-- END GENERATED by bench/ingest/bench.ts -->`;
  const file = values.results;
  let text = fs.readFileSync(file, 'utf8');
  const re = /<!-- BEGIN GENERATED by bench\/ingest\/bench\.ts -->[\s\S]*<!-- END GENERATED by bench\/ingest\/bench\.ts -->/;
  if (re.test(text)) text = text.replace(re, section);
  else text += `\n## Ingest throughput (issue 4): mailproof ingest vs. pflogsumm\n\n\`bash bench/ingest/run.sh\` (also a step of bench/run.sh; BENCH_SKIP_INGEST=1 skips it).\n\n${section}\n`;
  fs.writeFileSync(file, text);
}
