// Research speed (issue 5): `trace` (src/research/journeys.ts, the CLI's
// query layer) over SqliteLedgerReader on a generated ledger of 10 million
// events (generate.ts, cached in /var/tmp/mailproof-bench). Goal: a trace for
// one recipient over 7 days in under 50 ms at p95.
//
// Secondary figures: --domain, --ref and --ip traces. The peer, in the same
// run: what users have without mailproof, `grep -F ADDRESS mail.log` (LC_ALL=C)
// over the same traffic written as a Postfix/Dovecot-style log.
//
// node bench.js [--dir /var/tmp/mailproof-bench] [--events N] [--mailboxes N] [--domains N] [--seed N]
//   [--n 300] [--runs 2] [--grep 5] [--out FILE.json] [--results bench/RESULTS.md]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { DEFAULTS, ensureLedger, ledgerBytes, type GenParams } from './generate.js';
import { SqliteLedgerReader } from '../../src/ledger/sqlite/reader.js';
import { trace, type TraceFilter } from '../../src/research/journeys.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' }, events: { type: 'string' }, mailboxes: { type: 'string' }, domains: { type: 'string' },
    seed: { type: 'string' }, n: { type: 'string' }, runs: { type: 'string' }, grep: { type: 'string' },
    out: { type: 'string' }, results: { type: 'string' },
  },
});
const params: GenParams = {
  ...DEFAULTS,
  ...(values.events ? { events: Number(values.events) } : {}),
  ...(values.mailboxes ? { mailboxes: Number(values.mailboxes) } : {}),
  ...(values.domains ? { domains: Number(values.domains) } : {}),
  ...(values.seed ? { seed: Number(values.seed) } : {}),
};
const N = Number(values.n ?? 300);
const RUNS = Number(values.runs ?? 2);
const GREP_N = Number(values.grep ?? 5);
const say = (s: string): void => { process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`); };

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = rng(4242);
const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;

const { file, log, meta, cached } = ensureLedger(values.dir ?? '/var/tmp/mailproof-bench', params, say);
const bytes = ledgerBytes(file);
const logBytes = fs.statSync(log).size;
say(`${cached ? 'cached' : 'generated'} ledger ${file}: ${meta.written.toLocaleString('en')} events, ${(bytes / 1048576).toFixed(0)} MiB on disk; log ${(logBytes / 1048576).toFixed(0)} MiB`);

const WEEK = 7 * 86400e3;
const end = meta.end;
const since = end - WEEK;

// The recipients: 30% from the 200 busiest mailboxes, 60% from the rest, 10%
// addresses nobody wrote to (a support desk looks up whoever calls).
type Cls = 'heavy' | 'light' | 'unknown';
const rcpts: Array<{ rcpt: string; cls: Cls }> = [];
for (let i = 0; i < N; i++) {
  const x = rand();
  if (x < 0.3) rcpts.push({ rcpt: pick(meta.heavy), cls: 'heavy' });
  else if (x < 0.9) rcpts.push({ rcpt: pick(meta.light_sample), cls: 'light' });
  else rcpts.push({ rcpt: `nobody${Math.floor(rand() * 1e6)}@${pick(meta.light_sample).split('@')[1]}`, cls: 'unknown' });
}

// Refs and client addresses as a user would have them: from events of the
// last 7 days, picked at random rows (so an address is picked as often as it
// sends: busy senders included).
const raw = new Database(file, { readonly: true, fileMustExist: true });
const range = raw.prepare('SELECT min(id) AS lo, max(id) AS hi FROM events WHERE ts >= ?').get(since) as { lo: number; hi: number };
const rowAt = raw.prepare("SELECT ref, client_ip, rcpt_domain FROM events WHERE id >= ? AND kind = 'rcpt.accepted' AND source = 'gateway' LIMIT 1");
const sampleRows = (n: number): Array<{ ref: string; client_ip: string; rcpt_domain: string }> =>
  Array.from({ length: n }, () => rowAt.get(range.lo + Math.floor(rand() * (range.hi - range.lo))) as { ref: string; client_ip: string; rcpt_domain: string } | undefined)
    .filter((r): r is { ref: string; client_ip: string; rcpt_domain: string } => !!r);
const refs = sampleRows(100).map((r) => r.ref);
const ips = sampleRows(50).map((r) => r.client_ip);
const domains = sampleRows(30).map((r) => r.rcpt_domain);
raw.close();

const reader = new SqliteLedgerReader(file, { readonly: true });
// Wall time is the figure asked for; CPU time (user + system of this process)
// is given next to it because on a shared, overloaded machine the wall time
// of a 10 ms trace is mostly time spent waiting for a core.
interface Sample { ms: number; cpu: number; journeys: number }
const timeTrace = (f: TraceFilter): Sample => {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const j = trace(reader, f);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const c = process.cpuUsage(c0);
  return { ms, cpu: (c.user + c.system) / 1000, journeys: j.length };
};
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
};
interface Stats { n: number; p50: number; p95: number; p99: number; max: number; cpu_p50: number; cpu_p95: number; journeys_total: number; journeys_max: number }
const stats = (ss: Sample[]): Stats => ({
  n: ss.length,
  p50: +pct(ss.map((s) => s.ms), 50).toFixed(2), p95: +pct(ss.map((s) => s.ms), 95).toFixed(2),
  p99: +pct(ss.map((s) => s.ms), 99).toFixed(2), max: +Math.max(...ss.map((s) => s.ms)).toFixed(2),
  cpu_p50: +pct(ss.map((s) => s.cpu), 50).toFixed(2), cpu_p95: +pct(ss.map((s) => s.cpu), 95).toFixed(2),
  journeys_total: ss.reduce((a, s) => a + s.journeys, 0), journeys_max: Math.max(...ss.map((s) => s.journeys)),
});

// Warm-up: the page cache and SQLite's own cache, as on a server that answers traces all day.
say('warm-up (30 traces)');
for (let i = 0; i < 30; i++) timeTrace({ rcpt: rcpts[i % rcpts.length]!.rcpt, since, now: end });

interface Run {
  rcpt: Stats; rcpt_heavy: Stats; rcpt_light: Stats; rcpt_unknown: Stats;
  domain: Stats; ref: Stats; ip: Stats;
  grep: Array<{ rcpt: string; cls: Cls; ms: number; lines: number }>; grep_median_ms: number; ratio_grep_to_trace_p95: number;
}
const runs: Run[] = [];
for (let r = 0; r < RUNS; r++) {
  const byCls: Record<Cls, Sample[]> = { heavy: [], light: [], unknown: [] };
  const all: Sample[] = [];
  for (const x of rcpts) {
    const s = timeTrace({ rcpt: x.rcpt, since, now: end });
    all.push(s);
    byCls[x.cls].push(s);
  }
  const rcptStats = stats(all);
  say(`run ${r + 1}: --rcpt over 7 days: p50 ${rcptStats.p50} ms, p95 ${rcptStats.p95} ms, p99 ${rcptStats.p99} ms, max ${rcptStats.max} ms; CPU p95 ${rcptStats.cpu_p95} ms (${rcptStats.journeys_total} journeys)`);
  const dom = stats(domains.map((d) => timeTrace({ domain: d, since, now: end })));
  const ref = stats(refs.map((x) => timeTrace({ ref: x, now: end })));
  const ip = stats(ips.map((x) => timeTrace({ ip: x, since, now: end })));
  say(`run ${r + 1}: --domain p95 ${dom.p95} ms, --ref p95 ${ref.p95} ms, --ip p95 ${ip.p95} ms`);

  // The peer: grep over the whole log (a mail.log has no index by date either).
  const grep: Run['grep'] = [];
  const heavyOnes = rcpts.filter((x) => x.cls === 'heavy');
  const lightOnes = rcpts.filter((x) => x.cls === 'light');
  const grepSet = [...heavyOnes.slice(0, Math.ceil(GREP_N / 2)), ...lightOnes.slice(0, Math.floor(GREP_N / 2))];
  for (const x of grepSet) {
    const t0 = process.hrtime.bigint();
    const g = spawnSync('grep', ['-F', '--', x.rcpt, log], { env: { ...process.env, LC_ALL: 'C' }, maxBuffer: 512 * 1024 * 1024 });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (g.status !== 0 && g.status !== 1) throw new Error(`grep failed (${g.status}): ${g.stderr.toString()}`);
    let lines = 0;
    for (const b of g.stdout) if (b === 10) lines++;
    grep.push({ rcpt: x.rcpt, cls: x.cls, ms: +ms.toFixed(1), lines });
  }
  const grepMedian = pct(grep.map((g) => g.ms), 50);
  runs.push({
    rcpt: rcptStats, rcpt_heavy: stats(byCls.heavy), rcpt_light: stats(byCls.light), rcpt_unknown: stats(byCls.unknown),
    domain: dom, ref, ip, grep, grep_median_ms: grepMedian, ratio_grep_to_trace_p95: +(grepMedian / rcptStats.p95).toFixed(1),
  });
  say(`run ${r + 1}: grep -F over the log: median ${grepMedian.toFixed(0)} ms; ratio grep / trace p95 = ${runs.at(-1)!.ratio_grep_to_trace_p95}x`);
}
reader.close();

const result = {
  date: new Date().toISOString(),
  machine: { cpu: os.cpus()[0]?.model ?? '?', nproc: os.cpus().length, memory_gib: +(os.totalmem() / 2 ** 30).toFixed(1), node: process.version, load: os.loadavg().map((x) => +x.toFixed(2)) },
  ledger: { file, events: meta.written, sessions: meta.sessions, messages: meta.messages, bytes, generation_s: +(meta.generation_ms / 1000).toFixed(0), index_s: +(meta.index_ms / 1000).toFixed(0), cached },
  log: { file: log, lines: meta.log_lines, bytes: logBytes },
  params, window_days: 7, samples: { rcpt: rcpts.length, domain: domains.length, ref: refs.length, ip: ips.length },
  goal_ms: 50, runs,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
if (values.out) fs.writeFileSync(values.out, JSON.stringify(result, null, 2));

const mib = (n: number): string => (n / 1048576).toFixed(0);
process.stdout.write(`\nledger: ${meta.written.toLocaleString('en')} events, ${mib(bytes)} MiB on disk; trace --rcpt over 7 days, ${rcpts.length} recipients:\n`);
for (const [i, r] of runs.entries()) {
  process.stdout.write(`  run ${i + 1}: p50 ${r.rcpt.p50} ms  p95 ${r.rcpt.p95} ms  p99 ${r.rcpt.p99} ms  max ${r.rcpt.max} ms  (goal p95 < 50 ms: ${r.rcpt.p95 < 50 ? 'met' : 'NOT met'});` +
    ` grep ${r.grep_median_ms.toFixed(0)} ms = ${r.ratio_grep_to_trace_p95}x the trace p95\n`);
}

if (values.results) {
  const row = (name: string, s: Stats): string => `| ${name} | ${s.n} | ${s.p50} | ${s.p95} | ${s.p99} | ${s.max} | ${s.cpu_p50} / ${s.cpu_p95} | ${s.journeys_total.toLocaleString('en')} (max ${s.journeys_max.toLocaleString('en')}) |`;
  const runTables = runs.map((r, i) => `Run ${i + 1} of ${runs.length}:

| query (window 7 days; --ref unbounded) | traces | p50 ms | p95 ms | p99 ms | max ms | CPU ms p50 / p95 | journeys found |
|---|---:|---:|---:|---:|---:|---:|---:|
${row('--rcpt, all', r.rcpt)}
${row('--rcpt, 200 busiest mailboxes', r.rcpt_heavy)}
${row('--rcpt, other mailboxes', r.rcpt_light)}
${row('--rcpt, address with no mail', r.rcpt_unknown)}
${row('--domain', r.domain)}
${row('--ref', r.ref)}
${row('--ip', r.ip)}

Peer: \`LC_ALL=C grep -F ADDRESS mail.log\` over the same traffic as a ${mib(logBytes)} MiB Postfix/Dovecot-style log
(${meta.log_lines.toLocaleString('en')} lines, in the page cache): ${r.grep.map((g) => `${g.ms.toFixed(0)} ms (${g.cls}, ${g.lines} lines)`).join(', ')};
median ${r.grep_median_ms.toFixed(0)} ms = **${r.ratio_grep_to_trace_p95}x** the trace's p95 (grep prints lines; trace correlates
transactions, sessions and mailbox access into journeys).`).join('\n\n');
  const m = result.machine;
  const section = `<!-- BEGIN GENERATED by bench/research/bench.ts -->
Run of ${result.date.slice(0, 16).replace('T', ' ')} UTC on ${m.nproc} cores (${m.cpu}), ${m.memory_gib} GiB RAM, node ${m.node};
load average at the end ${m.load.join(' ')} (other helpers' builds and tests ran at the same time).

Ledger: **${meta.written.toLocaleString('en')} events** (${meta.sessions.toLocaleString('en')} gateway SMTP sessions, ${meta.messages.toLocaleString('en')} messages; POP3, ingested
Postfix and Dovecot events included), ${params.days} days, ${params.mailboxes.toLocaleString('en')} mailboxes on ${params.domains} domains, Zipf (s=0.8) recipients, seed ${params.seed}
(\`bench/research/generate.ts\`). **Size on disk: ${mib(bytes)} MiB** (database + WAL, 8 indexes included).
Generation: ${(meta.generation_ms / 1000).toFixed(0)} s, of which ${(meta.index_ms / 1000).toFixed(0)} s building the indexes${cached ? ' (generated by an earlier run, reused from the cache)' : ''}.

Goal: \`trace\` for one recipient over 7 days in under 50 ms at p95 (\`trace()\` of src/research/journeys.ts over
\`SqliteLedgerReader\` read-only, the code behind \`mailproof trace\`; process start excluded; warm cache).

${runTables}
<!-- END GENERATED by bench/research/bench.ts -->`;
  let text = fs.readFileSync(values.results, 'utf8');
  const re = /<!-- BEGIN GENERATED by bench\/research\/bench\.ts -->[\s\S]*<!-- END GENERATED by bench\/research\/bench\.ts -->/;
  if (re.test(text)) text = text.replace(re, section);
  else text += `\n## Research: trace over a 10M-event ledger\n\n\`bash bench/research/run.sh\` (also a step of bench/run.sh; BENCH_SKIP_RESEARCH=1 skips it).\n\n${section}\n`;
  fs.writeFileSync(values.results, text);
}
