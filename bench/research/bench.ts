// Research speed: search() (src/research/search.ts, the CLI's query layer)
// over SqliteStoreReader on a generated store of 10 million events
// (generate.ts, cached in /var/tmp/mailproof-bench), and GET /api/trace of
// the web server over HTTP on loopback. Goals of the journal-first ledger: a
// trace for one recipient over 7 days in under 10 ms at p95; --domain, --ip
// and the busiest mailboxes under 50 ms at p95; the store on disk at most 200
// bytes per event (file and WAL after a checkpoint, per table from dbstat).
//
// Secondary figures: --ref, the web API. The peer, in the same
// run: what users have without mailproof, `grep -F ADDRESS mail.log` (LC_ALL=C)
// over the same traffic written as a Postfix/Dovecot-style log.
//
// node bench.js [--dir /var/tmp/mailproof-bench] [--events N] [--mailboxes N] [--domains N] [--seed N]
//   [--n 300] [--heavy 20] [--runs 2] [--grep 5] [--batch 50000] [--out FILE.json] [--results bench/RESULTS.md]
import { TRACE_FIRST_PAGE } from '../../src/cli/trace.js';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULTS, ensureLedger, ledgerBytes, STORE_BATCH, storeBreakdown, type GenParams } from './generate.js';
import { questions, sqliteSampler, WEEK } from './questions.js';
import { pct, stats, type Stats } from './stats.js';
import { SqliteStoreReader } from '../../src/ledger/store/sqlite/reader.js';
import { search, type SearchFilter } from '../../src/research/search.js';
import { loadConfig } from '../../src/config/load.js';
import { ResearchPool } from '../../src/web/research-pool.js';
import { buildWebApp } from '../../src/web/server.js';
import { UserStore } from '../../src/web/users.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' }, events: { type: 'string' }, mailboxes: { type: 'string' }, domains: { type: 'string' },
    seed: { type: 'string' }, n: { type: 'string' }, heavy: { type: 'string' }, runs: { type: 'string' }, grep: { type: 'string' },
    batch: { type: 'string' }, out: { type: 'string' }, results: { type: 'string' },
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
const HEAVY_N = Number(values.heavy ?? 20);
const say = (s: string): void => { process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`); };

const { file, log, meta, cached } = await ensureLedger(values.dir ?? '/var/tmp/mailproof-bench', params, say, Number(values.batch ?? STORE_BATCH));
// The generator checkpointed and truncated the WAL; a store that was read
// since may have a WAL again (SQLite makes it on open): it counts.
const bytes = ledgerBytes(file);
const perEvent = bytes / meta.written;
const breakdown = storeBreakdown(file).map((t) => ({ ...t, per_event: +(t.bytes / meta.written).toFixed(1) }));
const logBytes = fs.statSync(log).size;
say(`${cached ? 'cached' : 'generated'} store ${file}: ${meta.written.toLocaleString('en')} events, ${(bytes / 1048576).toFixed(0)} MiB on disk = ${perEvent.toFixed(1)} bytes/event (goal <= 200); log ${(logBytes / 1048576).toFixed(0)} MiB`);
say(`  by table: ${breakdown.filter((t) => t.per_event >= 0.1).map((t) => `${t.name} ${t.per_event}`).join(', ')} (bytes/event)`);

const sampler = sqliteSampler(file, meta.end - WEEK);
const { since, end, randomRcpts, heavyRcpts, heavyShare, refs, ips, domains } = await questions(sampler.sample, meta, params, N, HEAVY_N);
sampler.close();

const reader = new SqliteStoreReader(file);
// Timed: search() of src/research/search.ts, what `mailproof trace` runs
// after parsing its flags (journeys, diagnosis, explanations, near misses;
// the first page of 100 journeys, as trace shows it). Wall time is the figure asked for;
// CPU time (user + system of this process) is given next to it because on
// a shared machine the wall time of a 10 ms trace can be time spent waiting
// for a core or for the disk.
interface Sample { ms: number; cpu: number; journeys: number }
// The first page, as `mailproof trace` and the web UI show it (the newest
// 100 journeys); the API's default page of 1000 is timed too, apart.
const FIRST_PAGE = TRACE_FIRST_PAGE;
const timeSearch = async (f: SearchFilter): Promise<Sample> => {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const r = await search(reader, { limit: FIRST_PAGE, ...f, now: end }, { lang: 'en' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const c = process.cpuUsage(c0);
  return { ms, cpu: (c.user + c.system) / 1000, journeys: r.journeys.length };
};
/** One search after the other (timed apart, as a person asks them). */
const timeEach = async <T>(xs: T[], f: (x: T) => SearchFilter): Promise<Sample[]> => {
  const out: Sample[] = [];
  for (const x of xs) out.push(await timeSearch(f(x)));
  return out;
};

// The web API: the same search behind GET /api/trace (src/web/server.ts),
// served by fastify on loopback with a staff bearer token, asked over HTTP
// keep-alive; the time is the whole request, JSON encoding and transfer
// included.
const webDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-bench-web-'));
const cfg = loadConfig({ dataDir: webDir });
const users = new UserStore(path.join(webDir, 'web-users.json'));
await users.add('bench', 'staff', [], 'bench-password-not-secret');
const token = users.newToken('bench')!;
// As `mailproof serve` runs it: the search in a research thread (src/web/research-pool.ts), so the time includes the hand-off.
const research = new ResearchPool({ ledger: { store: file, journal: path.join(webDir, 'journal') }, waitMs: 0, mailboxes: {}, threads: cfg.web.research_threads, maxQueue: cfg.web.research_queue, timeoutMs: cfg.web.research_timeout_s * 1000 });
const app = await buildWebApp({ cfg, research, users });
await app.listen({ host: '127.0.0.1', port: 0 });
const addr = app.server.address();
if (!addr || typeof addr === 'string') throw new Error('web: no address');
// One keep-alive connection per batch of requests: between the batches the
// server closes an idle connection (fastify's keepAliveTimeout).
let agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const sinceIso = new Date(since).toISOString();
const untilIso = new Date(end).toISOString();
const timeWeb = (rcpt: string): Promise<{ ms: number; journeys: number }> => new Promise((resolve, reject) => {
  const t0 = process.hrtime.bigint();
  const q = new URLSearchParams({ rcpt, since: sinceIso, until: untilIso }).toString();
  const req = http.get({ host: '127.0.0.1', port: addr.port, path: `/api/trace?${q}`, agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (res.statusCode !== 200) { reject(new Error(`web: ${res.statusCode} ${Buffer.concat(chunks).toString().slice(0, 200)}`)); return; }
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { journeys: unknown[] };
      resolve({ ms, journeys: body.journeys.length });
    });
  });
  req.on('error', reject);
});

// Warm-up: SQLite's cache and the page cache, as on a server that answers traces all day.
say('warm-up (30 searches)');
for (let i = 0; i < 30; i++) await timeSearch({ rcpt: randomRcpts[i % randomRcpts.length]!, since });

interface Run {
  rcpt_first: Stats; rcpt: Stats; rcpt_known: Stats; rcpt_unknown: Stats; rcpt_heavy: Stats; web: Stats; web_heavy: Stats;
  domain: Stats; ref: Stats; ip: Stats;
  /** The same at the API's page of 1000 journeys. */
  domain_1000: Stats; ip_1000: Stats; rcpt_heavy_1000: Stats;
  grep: Array<{ rcpt: string; ms: number; lines: number }>; grep_median_ms: number; ratio_grep_to_trace_p95: number;
}
const runs: Run[] = [];
for (let r = 0; r < RUNS; r++) {
  // First touch: these recipients' pages may not be in any cache yet (the
  // previous run's heavy searches and grep have swept the page cache).
  const first = stats(await timeEach(randomRcpts, (rcpt) => ({ rcpt, since })));
  say(`run ${r + 1}: --rcpt (random mailbox), first touch: p50 ${first.p50} ms, p95 ${first.p95} ms, p99 ${first.p99} ms`);
  // The same searches again, as a server that answers them all day has them: warm.
  const all: Sample[] = [];
  const known: Sample[] = [];
  const unknown: Sample[] = [];
  for (const rcpt of randomRcpts) {
    const s = await timeSearch({ rcpt, since });
    all.push(s);
    (rcpt.startsWith('nobody') ? unknown : known).push(s);
  }
  const rcptStats = stats(all);
  say(`run ${r + 1}: --rcpt (random mailbox) over 7 days, warm: p50 ${rcptStats.p50} ms, p95 ${rcptStats.p95} ms, p99 ${rcptStats.p99} ms, max ${rcptStats.max} ms; CPU p95 ${rcptStats.cpu_p95} ms`);
  agent.destroy();
  agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const web: Array<{ ms: number; journeys: number }> = [];
  for (const rcpt of randomRcpts) web.push(await timeWeb(rcpt));
  const webStats = stats(web);
  say(`run ${r + 1}: GET /api/trace (random mailbox) p50 ${webStats.p50} ms, p95 ${webStats.p95} ms`);
  const heavy = stats(await timeEach(heavyRcpts, (rcpt) => ({ rcpt, since })));
  say(`run ${r + 1}: --rcpt (200 busiest) p50 ${heavy.p50} ms, p95 ${heavy.p95} ms`);
  const webHeavy: Array<{ ms: number; journeys: number }> = [];
  for (const rcpt of heavyRcpts) webHeavy.push(await timeWeb(rcpt));
  say(`run ${r + 1}: GET /api/trace (200 busiest) p95 ${stats(webHeavy).p95} ms`);
  const dom = stats(await timeEach(domains, (d) => ({ domain: d, since })));
  const ref = stats(await timeEach(refs, (x) => ({ ref: x })));
  const ip = stats(await timeEach(ips, (x) => ({ ip: x, since })));
  say(`run ${r + 1}: --domain p95 ${dom.p95} ms, --ref p95 ${ref.p95} ms, --ip p95 ${ip.p95} ms`);
  const dom1000 = stats(await timeEach(domains, (d) => ({ domain: d, since, limit: 1000 })));
  const ip1000 = stats(await timeEach(ips, (x) => ({ ip: x, since, limit: 1000 })));
  const heavy1000 = stats(await timeEach(heavyRcpts, (rcpt) => ({ rcpt, since, limit: 1000 })));
  say(`run ${r + 1}: pages of 1000: --domain p95 ${dom1000.p95} ms, --ip p95 ${ip1000.p95} ms, busiest p95 ${heavy1000.p95} ms`);

  // The peer: grep over the whole log (a mail.log has no index by date
  // either), for mailboxes of the random sample that got mail.
  const grep: Run['grep'] = [];
  for (const rcpt of randomRcpts.filter((x) => !x.startsWith('nobody')).slice(0, GREP_N)) {
    const t0 = process.hrtime.bigint();
    const g = spawnSync('grep', ['-F', '--', rcpt, log], { env: { ...process.env, LC_ALL: 'C' }, maxBuffer: 512 * 1024 * 1024 });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (g.status !== 0 && g.status !== 1) throw new Error(`grep failed (${g.status}): ${g.stderr.toString()}`);
    let lines = 0;
    for (const b of g.stdout) if (b === 10) lines++;
    grep.push({ rcpt, ms: +ms.toFixed(1), lines });
  }
  const grepMedian = pct(grep.map((g) => g.ms), 50);
  runs.push({
    rcpt_first: first, rcpt: rcptStats, rcpt_known: stats(known), rcpt_unknown: stats(unknown), rcpt_heavy: heavy, web: webStats, web_heavy: stats(webHeavy),
    domain: dom, ref, ip, domain_1000: dom1000, ip_1000: ip1000, rcpt_heavy_1000: heavy1000, grep, grep_median_ms: grepMedian, ratio_grep_to_trace_p95: +(grepMedian / rcptStats.p95).toFixed(1),
  });
  say(`run ${r + 1}: grep -F over the log: median ${grepMedian.toFixed(0)} ms; ratio grep / trace p95 = ${runs.at(-1)!.ratio_grep_to_trace_p95}x`);
}
await app.close();
await research.close();
agent.destroy();
await reader.close();
fs.rmSync(webDir, { recursive: true, force: true });

const result = {
  date: new Date().toISOString(),
  machine: { cpu: os.cpus()[0]?.model ?? '?', nproc: os.cpus().length, memory_gib: +(os.totalmem() / 2 ** 30).toFixed(1), node: process.version, load: os.loadavg().map((x) => +x.toFixed(2)) },
  store: { file, events: meta.written, sessions: meta.sessions, messages: meta.messages, bytes, bytes_per_event: +perEvent.toFixed(1), breakdown,
    batch: meta.batch, generation_s: +(meta.generation_ms / 1000).toFixed(0), store_s: +(meta.store_ms / 1000).toFixed(0), cached },
  log: { file: log, lines: meta.log_lines, bytes: logBytes },
  params, window_days: 7, samples: { rcpt: randomRcpts.length, heavy: heavyRcpts.length, domain: domains.length, ref: refs.length, ip: ips.length },
  goal_ms: { rcpt_7d: 10, domain_ip_busiest: 50 }, goal_bytes_per_event: 200, runs,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
if (values.out) fs.writeFileSync(values.out, JSON.stringify(result, null, 2));

const mib = (n: number): string => (n / 1048576).toFixed(0);
const met = (p95: number, goal: number): string => (p95 < goal ? 'met' : 'NOT met');
// The goals, per run: one recipient < 10 ms; --domain, --ip and the busiest mailboxes < 50 ms (p95, query layer, warm).
const goals = (r: Run): string => `--rcpt p95 ${r.rcpt.p95} ms (< 10: ${met(r.rcpt.p95, 10)}), --domain ${r.domain.p95} ms (< 50: ${met(r.domain.p95, 50)}),` +
  ` --ip ${r.ip.p95} ms (< 50: ${met(r.ip.p95, 50)}), busiest mailboxes ${r.rcpt_heavy.p95} ms (< 50: ${met(r.rcpt_heavy.p95, 50)})`;
const sizeGoal = `${perEvent.toFixed(1)} bytes/event (<= 200: ${perEvent <= 200 ? 'met' : 'NOT met'})`;
process.stdout.write(`\nstore: ${meta.written.toLocaleString('en')} events, ${mib(bytes)} MiB on disk, ${sizeGoal}; ${randomRcpts.length} random recipients per run:\n`);
for (const [i, r] of runs.entries()) {
  process.stdout.write(`  run ${i + 1}: ${goals(r)}; first touch --rcpt p95 ${r.rcpt_first.p95} ms; web API p95 ${r.web.p95} ms; --ref p95 ${r.ref.p95} ms;` +
    ` grep ${r.grep_median_ms.toFixed(0)} ms = ${r.ratio_grep_to_trace_p95}x the trace p95\n`);
}

if (values.results) {
  const row = (name: string, s: Stats): string => `| ${name} | ${s.n} | ${s.p50} | **${s.p95}** | ${s.p99} | ${s.max} | ${s.cpu_p50 === null ? '-' : `${s.cpu_p50} / ${s.cpu_p95}`} | ${s.journeys_total.toLocaleString('en')} (max ${s.journeys_max.toLocaleString('en')}) |`;
  const runTables = runs.map((r, i) => `Run ${i + 1} of ${runs.length}: ${goals(r)}.

| what (window 7 days; --ref unbounded; the first page of 100 journeys unless a page of 1000 is named) | searches | p50 ms | p95 ms | p99 ms | max ms | CPU ms p50 / p95 | journeys found |
|---|---:|---:|---:|---:|---:|---:|---:|
${row('--rcpt, random mailbox, first touch (query layer)', r.rcpt_first)}
${row('**--rcpt, random mailbox** (query layer, warm; goal < 10 ms)', r.rcpt)}
${row('&nbsp;&nbsp;of which mailboxes with mail', r.rcpt_known)}
${row('&nbsp;&nbsp;of which addresses with no mail', r.rcpt_unknown)}
${row('GET /api/trace?rcpt=, random mailbox (HTTP, warm)', r.web)}
${row('**--rcpt, 200 busiest mailboxes** (query layer; goal < 50 ms)', r.rcpt_heavy)}
${row('GET /api/trace?rcpt=, 200 busiest mailboxes', r.web_heavy)}
${row('**--domain** (goal < 50 ms)', r.domain)}
${row('--ref', r.ref)}
${row('**--ip** (goal < 50 ms)', r.ip)}
${row('--domain, a page of 1000 journeys (the API default)', r.domain_1000)}
${row('--ip, a page of 1000', r.ip_1000)}
${row('200 busiest mailboxes, a page of 1000', r.rcpt_heavy_1000)}

Peer: \`LC_ALL=C grep -F ADDRESS mail.log\` over the same traffic as a ${mib(logBytes)} MiB Postfix/Dovecot-style log
(${meta.log_lines.toLocaleString('en')} lines): ${r.grep.map((g) => `${g.ms.toFixed(0)} ms (${g.lines} lines)`).join(', ')};
median ${r.grep_median_ms.toFixed(0)} ms = **${r.ratio_grep_to_trace_p95}x** the query layer's p95 (grep prints lines; search correlates
transactions, sessions and mailbox access into explained journeys).`).join('\n\n');
  const m = result.machine;
  const section = `<!-- BEGIN GENERATED by bench/research/bench.ts -->
Run of ${result.date.slice(0, 16).replace('T', ' ')} UTC on ${m.nproc} cores (${m.cpu}), ${m.memory_gib} GiB RAM, node ${m.node};
load average at the end ${m.load.join(' ')}.

Store (journal-first ledger, \`ledger.store\`): **${meta.written.toLocaleString('en')} events** (${meta.sessions.toLocaleString('en')} gateway SMTP sessions, ${meta.messages.toLocaleString('en')} messages; POP3, ingested
Postfix and Dovecot events included), ${params.days} days, ${params.mailboxes.toLocaleString('en')} mailboxes on ${params.domains} domains, Zipf (s=0.8) recipients, seed ${params.seed}
(\`bench/research/generate.ts\`), written through \`SqliteStoreWriter\` in time order, ${meta.batch.toLocaleString('en')} events per transaction.
**Size on disk: ${mib(bytes)} MiB = ${sizeGoal}** (file + WAL after a checkpoint). By table (SQLite's dbstat, bytes per event):
${breakdown.filter((t) => t.per_event >= 0.1).map((t) => `${t.name} ${t.per_event}`).join(', ')}.
Generation: ${(meta.generation_ms / 1000).toFixed(0)} s, of which ${(meta.store_ms / 1000).toFixed(0)} s in the store writer${cached ? ' (generated by an earlier run, reused from the cache)' : ''}.

Goals: one recipient over 7 days in under 10 ms at p95; \`--domain\`, \`--ip\` and the busiest mailboxes in under 50 ms at p95;
all from the query layer (\`search()\` of src/research/search.ts over \`SqliteStoreReader\`: what \`mailproof trace\` runs after
parsing its flags; process start excluded). The web API (\`GET /api/trace\` with a bearer token, HTTP keep-alive on loopback,
JSON and the hand-off to a research thread included) is shown next to it.
"Random mailbox": uniform over all ${params.mailboxes.toLocaleString('en')} mailboxes (one of the 200 busiest with its share, ${(100 * heavyShare).toFixed(1)}%),
plus 10% addresses nobody wrote to; ${randomRcpts.length} of them per run, searched twice: "first touch" (after the previous
run's busiest-mailbox, domain and IP searches and grep have swept the page cache) and again "warm" (the goal's figure:
a server that answers searches all day keeps its store's pages cached), then the same through the web API.

${runTables}
<!-- END GENERATED by bench/research/bench.ts -->`;
  let text = fs.readFileSync(values.results, 'utf8');
  const re = /<!-- BEGIN GENERATED by bench\/research\/bench\.ts -->[\s\S]*<!-- END GENERATED by bench\/research\/bench\.ts -->/;
  if (re.test(text)) text = text.replace(re, section);
  else text += `\n## Research: trace over a 10M-event store\n\n\`bash bench/research/run.sh\` (also a step of bench/run.sh; BENCH_SKIP_RESEARCH=1 skips it).\n\n${section}\n`;
  fs.writeFileSync(values.results, text);
}
