// The cluster store's figures beside the embedded store's, from the raw
// results of bench/cluster/run.sh: shipping under sustained load
// (sustained-cluster-*.json), ingest vs pflogsumm (ingest-pg.json) and
// durable acceptance (throughput-pg.json); the research figures have their
// own generated part (bench/research-pg/bench.ts). Writes its part of
// bench/RESULTS.md's section "Cluster store (PostgreSQL)".
//
//   node report.js --dir bench/out --results bench/RESULTS.md
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { median } from '../lib/proc.js';

const { values } = parseArgs({ options: { dir: { type: 'string' }, results: { type: 'string' } } });
const dir = values.dir ?? 'bench/out';
const read = <T>(f: string): T | null => {
  const p = path.join(dir, f);
  return fs.existsSync(p) ? (JSON.parse(fs.readFileSync(p, 'utf8')) as T) : null;
};

interface Sustained {
  date: string; label: string; conc: number; seconds: number; messages: number; rate: number; cpu_ms_per_msg: number; store_cpu_ms_per_msg?: number;
  lag_events_max: number; lag_events_p95: number; lag_ms_max: number; lag_ms_p95: number; lag_ms_max_first_third: number; lag_ms_max_last_third: number;
  lag_at_end: { events: number; ms: number; catch_up_ms: number }; ok: boolean; problem?: string; load_before: number; load_after: number;
  events: number; events_per_s: number;
}
interface IngestPg { ms: number; lines_per_s: number; ratio_to_pflogsumm: number; cpu_s: number; pg_cpu_s: number; bytes: number; events: number }
interface Ingest {
  date: string; lines: number; runs: number; pflogsumm_ms: number; pflogsumm_lines_per_s: number; pflogsumm_cpu_s: number;
  mailproof_ms: number; mailproof_lines_per_s: number; mailproof_cpu_s: number; ratio: number; ledger_bytes: number; events: number; pg: IngestPg | null; load: string;
}
interface TRun { target: string; c: number; rate: number; cpuMsPerMsg: number | null; storeCpuMsPerMsg?: number; ok: boolean; calibration?: boolean; loadBefore: number; store?: { lag_events: number; lag_ms: number; catch_up_ms: number }; rateCaughtUp?: number }
interface Throughput { date: string; runs: number; conc: number[]; targets: Array<{ name: string; label: string }>; results: TRun[]; startProblems: Record<string, string> }

const sqliteSus = read<Sustained>('sustained-cluster-sqlite.json');
const pgSus = read<Sustained>('sustained-cluster-pg.json');
const ingest = read<Ingest>('ingest-pg.json');
const tp = read<Throughput>('throughput-pg.json');
const f = (x: number | null | undefined, d = 1): string => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d));
const parts: string[] = [];

if (sqliteSus || pgSus) {
  const row = (name: string, s: Sustained | null): string => !s ? `| ${name} | not run | | | | | |`
    : `| ${name} | ${f(s.rate, 0)} | ${f(s.cpu_ms_per_msg, 2)}${s.store_cpu_ms_per_msg !== undefined ? ` (PostgreSQL ${f(s.store_cpu_ms_per_msg, 2)})` : ''} | ${s.lag_events_max} / ${s.lag_events_p95} | ` +
      `**${s.lag_ms_max}** / ${s.lag_ms_p95} | ${s.lag_ms_max_first_third} / ${s.lag_ms_max_last_third} | ${s.lag_at_end.events} / ${s.lag_at_end.ms} / ${f(s.lag_at_end.catch_up_ms, 0)}${s.ok ? '' : ` FAILED: ${s.problem}`} |`;
  const s = pgSus ?? sqliteSus!;
  parts.push(`### Shipping under sustained load (bench/sustained.ts, run of ${s.date.slice(0, 16).replace('T', ' ')} UTC)

One node (${s.label.replace(/, cluster store.*$/, '')}) takes mail from smtp-source at c=${s.conc} for ${Math.round(s.seconds)} s, once with the embedded
store and once shipping into a PostgreSQL of its own (fsync on, loopback), one after the other; every second the lag of the
store behind the node's journal (records not in the store yet, age of the oldest). Bounded: the lag in the last third is of the
order of the first third's, and the store catches up within about a shipping interval once the load stops. CPU ms/msg: the
node's processes, with the PostgreSQL server's share (in brackets) counted in.

| store | msg/s | CPU ms/msg | lag events max / p95 | lag ms max / p95 | lag ms max, first / last third | at the end: events / ms / catch-up ms |
|---|---:|---:|---:|---:|---:|---:|
${row('embedded (SQLite)', sqliteSus)}
${row('cluster (PostgreSQL)', pgSus)}

${pgSus?.events_per_s ? `Shipped into PostgreSQL: ${pgSus.events.toLocaleString('en')} journal records in the run, **${pgSus.events_per_s.toLocaleString('en')} events/s sustained** (what the node's journal took in; the lag says the shipper kept up with it).` : ''}
Load average ${f(s.load_before, 1)} before, ${f(s.load_after, 1)} after.`);
}

if (ingest?.pg) {
  const p = ingest.pg;
  const mb = (n: number): string => (n / 1048576).toFixed(1);
  parts.push(`### Ingest into the cluster store (bench/ingest/bench.ts --stores sqlite,pg, run of ${ingest.date.slice(0, 16).replace('T', ' ')} UTC)

${ingest.lines.toLocaleString('en')} generated Postfix lines (the ingest benchmark's file), median of ${ingest.runs} runs, the three in a rotating order;
\`mailproof ingest postfix\` into a fresh store each run (the PostgreSQL one emptied and migrated again). Goal: >= 3x pflogsumm's lines/s.
Load average at the end ${ingest.load}.

| | wall time | lines/s | / pflogsumm | CPU s (client) | CPU s (PostgreSQL) | store size |
|---|---:|---:|---:|---:|---:|---:|
| pflogsumm (report only, writes nothing) | ${f(ingest.pflogsumm_ms / 1000, 2)} s | ${ingest.pflogsumm_lines_per_s.toLocaleString('en')} | 1 | ${f(ingest.pflogsumm_cpu_s)} | | |
| mailproof ingest, embedded store | ${f(ingest.mailproof_ms / 1000, 2)} s | ${ingest.mailproof_lines_per_s.toLocaleString('en')} | ${f(ingest.pflogsumm_ms / ingest.mailproof_ms, 2)}x | ${f(ingest.mailproof_cpu_s)} | | ${mb(ingest.ledger_bytes)} MiB |
| **mailproof ingest, PostgreSQL store** | ${f(p.ms / 1000, 2)} s | ${p.lines_per_s.toLocaleString('en')} | **${f(p.ratio_to_pflogsumm, 2)}x** | ${f(p.cpu_s)} | ${f(p.pg_cpu_s)} | ${mb(p.bytes)} MiB |

Events written: ${p.events.toLocaleString('en')} (embedded: ${ingest.events.toLocaleString('en')}); PostgreSQL / embedded wall time ${f(p.ms / ingest.mailproof_ms, 2)}x.`);
}

if (tp) {
  const names = tp.targets.map((t) => t.name);
  const runsOf = (n: string, c: number): TRun[] => tp.results.filter((r) => r.target === n && r.c === c && !r.calibration && r.ok);
  const med = (n: string, c: number, k: (r: TRun) => number | null | undefined): number => {
    const xs = runsOf(n, c).map(k).filter((x): x is number => typeof x === 'number');
    return xs.length ? median(xs) : NaN;
  };
  const conc = tp.conc;
  const label = new Map(tp.targets.map((t) => [t.name, t.label]));
  const head = `| target | ${conc.map((c) => `c=${c} msg/s | c=${c} CPU ms/msg (PostgreSQL) | c=${c} catch-up ms`).join(' | ')} |`;
  const sep = `|---|${conc.map(() => '---:|---:|---:').join('|')}|`;
  const rows = names.map((n) => `| **${n}**: ${label.get(n)} | ${conc.map((c) => {
    const pgc = med(n, c, (r) => r.storeCpuMsPerMsg);
    return `${f(med(n, c, (r) => r.rate), 0)} | ${f(med(n, c, (r) => r.cpuMsPerMsg), 2)}${Number.isFinite(pgc) ? ` (${f(pgc, 2)})` : ''} | ${f(med(n, c, (r) => r.store?.catch_up_ms), 0)}`;
  }).join(' | ')} |`);
  const pairs: Array<[string, string]> = [['mailproof-pg', 'mailproof'], ['mailproof-w1-pg', 'mailproof-w1']];
  const ratioRows = pairs.filter(([a, b]) => names.includes(a) && names.includes(b)).map(([a, b]) =>
    `| ${a} / ${b} | ${conc.map((c) => f(med(a, c, (r) => r.rate) / med(b, c, (r) => r.rate), 2)).join(' | ')} | ${conc.map((c) => f(med(a, c, (r) => r.rateCaughtUp) / med(b, c, (r) => r.rateCaughtUp), 2)).join(' | ')} |`);
  const loads = tp.results.map((r) => r.loadBefore);
  const failed = tp.results.filter((r) => !r.ok && !r.calibration).length;
  parts.push(`### Durable acceptance with a cluster store (bench/throughput.ts, run of ${tp.date.slice(0, 16).replace('T', ' ')} UTC, median of ${tp.runs})

The throughput benchmark's load (smtp-source, one connection per 4 KiB message) against mailproof with the embedded store and
with a PostgreSQL store (its own server, fsync on, loopback), all started at once and measured in turns. The 250 waits for the
journal in both; a run ends when the store has every journal record (the catch-up: the shipper's COPY into PostgreSQL, or the
indexer's SQLite transaction). CPU ms/msg counts the node's processes and, for the PostgreSQL targets, every server process
(in brackets: that share). ${failed ? `**${failed} runs failed their check** (bench/out/throughput-pg.json).` : 'Every run passed its check (Maildir new/ == message.delivered events in the store).'}
${Object.keys(tp.startProblems ?? {}).length ? `Not started: ${Object.entries(tp.startProblems).map(([k, v]) => `${k} (${v.slice(0, 200)})`).join('; ')}.` : ''}

${head}
${sep}
${rows.join('\n')}

| ratio (PostgreSQL store / embedded) | ${conc.map((c) => `msg/s c=${c}`).join(' | ')} | ${conc.map((c) => `caught up c=${c}`).join(' | ')} |
|---|${conc.map(() => '---:').join('|')}|${conc.map(() => '---:').join('|')}|
${ratioRows.join('\n')}

Load during the runs: 1-minute load average ${f(Math.min(...loads))}-${f(Math.max(...loads))} (median ${f(median(loads))}) on 2 cores.`);
}

const section = `<!-- BEGIN GENERATED by bench/cluster/report.ts -->
${parts.join('\n\n')}
<!-- END GENERATED by bench/cluster/report.ts -->`;
process.stdout.write(`${section}\n`);
if (values.results) {
  let text = fs.readFileSync(values.results, 'utf8');
  const re = /<!-- BEGIN GENERATED by bench\/cluster\/report\.ts -->[\s\S]*?<!-- END GENERATED by bench\/cluster\/report\.ts -->/;
  if (re.test(text)) text = text.replace(re, () => section);
  else if (text.includes('\n## Cluster store (PostgreSQL)\n')) {
    // After the section's research part, before the next section.
    const at = text.indexOf('\n## Cluster store (PostgreSQL)\n');
    const next = text.indexOf('\n## ', at + 5);
    text = next < 0 ? `${text}\n${section}\n` : `${text.slice(0, next)}\n${section}\n${text.slice(next)}`;
  } else text += `\n## Cluster store (PostgreSQL)\n\n\`bash bench/cluster/run.sh\` (also a step of bench/run.sh; BENCH_SKIP_CLUSTER=1 skips it).\n\n${section}\n`;
  fs.writeFileSync(values.results, text);
}
