// Turns the JSON written by throughput.js and idle-connections.js into the
// generated part of bench/RESULTS.md (between the BEGIN/END GENERATED
// markers; the hand-written analysis around it is kept) and prints the
// summary table.
//
//   node report.js --dir bench/out --results bench/RESULTS.md --machine bench/out/machine.json
import fs from 'node:fs';
import path from 'node:path';
import { args, median } from './lib/proc.js';
import { writeGenerated } from './lib/results-file.js';

interface RunResult {
  target: string; c: number; round: number; messages: number; seconds: number; rate: number;
  cpuMsPerMsg: number | null; ok: boolean; problem?: string; calibration?: boolean; loadBefore: number; cpuPressure: number | null;
  store?: { lag_events: number; lag_ms: number; catch_up_ms: number }; rateCaughtUp?: number;
}
interface Throughput {
  date: string; size: number; runs: number; conc: number[]; seconds: number;
  targets: { name: string; label: string; checks: string }[];
  startProblems: Record<string, string>;
  results: RunResult[];
  reports?: Record<string, { transactions?: number; checks_ms_p50?: number | null; checks_ms_p99?: number | null; scanners_ms?: Record<string, { p50: number | null; p99: number | null; n: number }>; error?: string }>;
}
interface Idle {
  target: string; label: string; count: number; client: { greeted: number; failed: number; refused: number; seconds: number; sources: string[]; errors: Record<string, number> } | null;
  rssBeforeKiB: number; rssAfterKiB: number; samples: number[]; perConnKiB: number | null; processes: number; dropped: number; problem?: string; nofile: string;
}

const a = args(process.argv.slice(2));
const dir = a.dir ?? 'bench/out';
const resultsFile = a.results ?? 'bench/RESULTS.md';
const readJson = <T>(f: string): T | null => {
  try {
    return JSON.parse(fs.readFileSync(f, 'utf8')) as T;
  } catch {
    return null;
  }
};
const tp = readJson<Throughput>(path.join(dir, 'throughput.json'));
const idle = ['mailproof', 'bare'].map((t) => readJson<Idle>(path.join(dir, `idle-${t}.json`))).filter((x): x is Idle => x !== null);
const machine = readJson<Record<string, string>>(a.machine ?? path.join(dir, 'machine.json')) ?? {};

const f1 = (x: number): string => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x.toFixed(1)) : 'n/a');
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');

const lines: string[] = [];
const summary: string[] = [];
const push = (s = ''): void => { lines.push(s); };

push(`Run of ${machine.date ?? tp?.date ?? '?'}.`);
push();
push('| machine | |');
push('|---|---|');
for (const [k, v] of Object.entries(machine)) if (k !== 'date') push(`| ${k} | ${String(v).replace(/\|/g, '/').replace(/\n/g, '<br>')} |`);
push();

const stat = (target: string, c: number): { med: number; min: number; max: number; cpu: number; n: number; ok: number; msgs: number; load: number } => {
  const rs = tp?.results.filter((r) => r.target === target && r.c === c && !r.calibration) ?? [];
  const ok = rs.filter((r) => r.ok);
  const rates = ok.map((r) => r.rate);
  return {
    med: median(rates), min: Math.min(...rates), max: Math.max(...rates),
    cpu: median(ok.map((r) => r.cpuMsPerMsg ?? NaN).filter((x) => Number.isFinite(x))),
    n: rs.length, ok: ok.length, msgs: ok[0]?.messages ?? rs[0]?.messages ?? 0,
    load: median(rs.map((r) => r.loadBefore)),
  };
};

if (tp) {
  const names = tp.targets.map((t) => t.name);
  push(`### Throughput (messages/s, median of ${tp.runs} runs; ${tp.size}-byte messages, one connection per message)`);
  push();
  push(`Client: \`smtp-source -s C -m N -l ${tp.size} -f sender@example.org -t demo@demo.test 127.0.0.1:PORT\`; N is set per target and concurrency by a calibration run so that each run lasts about ${tp.seconds} s. Every run checked: smtp-source exit status 0, and where the server keeps the mail, accepted == sent.`);
  push();
  push(`| target | ${tp.conc.map((c) => `c=${c} msg/s (min-max) | c=${c} CPU ms/msg`).join(' | ')} |`);
  push(`|---|${tp.conc.map(() => '---:|---:').join('|')}|`);
  for (const n of names) {
    const label = tp.targets.find((t) => t.name === n)!.label;
    push(`| **${n}**: ${label} | ${tp.conc.map((c) => {
      const s = stat(n, c);
      const bad = s.ok < s.n ? ` (${s.n - s.ok} failed)` : '';
      return `${f1(s.med)} (${f1(s.min)}-${f1(s.max)})${bad} | ${f2(s.cpu)}`;
    }).join(' | ')} |`);
  }
  push();
  push('CPU ms/msg: CPU time of all the server\'s processes and threads during the run (from /proc/*/task/*/schedstat; for Postfix including the queue manager and the discard delivery), divided by the messages. It is less sensitive to other load on the machine than msg/s.');
  push();
  for (const [k, v] of Object.entries(tp.startProblems)) push(`- could not start **${k}**: \`${v.split('\n')[0]}\``);

  // The store's lag: mailproof's runs count as done once its indexer (in the
  // same serve) has put every journal record of the run into the store.
  const withStore = names.filter((n) => tp.results.some((r) => r.target === n && r.store));
  if (withStore.length) {
    push('Store lag at the end of each mailproof run (median over the runs; the indexer runs in the same `serve`): journal records not yet in the store when smtp-source exited, the age of the oldest of them, and the time until the store had them all. msg/s caught up = messages / (client time + catch-up time); CPU ms/msg above includes the catch-up.');
    push();
    push(`| target | ${tp.conc.map((c) => `c=${c} lag events | c=${c} lag ms | c=${c} catch-up ms (max) | c=${c} msg/s caught up`).join(' | ')} |`);
    push(`|---|${tp.conc.map(() => '---:|---:|---:|---:').join('|')}|`);
    for (const n of withStore) {
      push(`| **${n}** | ${tp.conc.map((c) => {
        const rs = tp.results.filter((r) => r.target === n && r.c === c && !r.calibration && r.ok && r.store);
        if (!rs.length) return 'n/a | n/a | n/a | n/a';
        const up = rs.map((r) => r.store!.catch_up_ms);
        return `${f1(median(rs.map((r) => r.store!.lag_events)))} | ${f1(median(rs.map((r) => r.store!.lag_ms)))} | ${f1(median(up))} (${f1(Math.max(...up))}) | ${f1(median(rs.map((r) => r.rateCaughtUp ?? NaN)))}`;
      }).join(' | ')} |`);
    }
    push();
  }

  const ratio = (x: string, y: string, c: number): number => stat(x, c).med / stat(y, c).med;
  const ratios: [string, string, string, string?][] = [
    ['mailproof', 'postfix', 'mailproof / Postfix', '>= 1 at c=1'],
    ['mailproof', 'bare', 'mailproof / bare smtp-server (fsync, no delay)', '>= 0.8 at c=20 and c=100'],
    ['mailproof-w1', 'bare', 'mailproof (workers=1) / bare smtp-server (both one process)', ''],
    ['mailproof', 'smtp-sink', 'mailproof / smtp-sink', ''],
    ['mailproof', 'mailproof-w1', 'mailproof workers=auto / workers=1', ''],
    ['mailproof-w1', 'postfix', 'mailproof (workers=1) / Postfix', ''],
    ['bare-delay', 'bare', 'bare with stock 100 ms greeting delay / without', ''],
  ];
  push('### Ratios of the medians (same run)');
  push();
  push(`| ratio | ${tp.conc.map((c) => `c=${c}`).join(' | ')} | goal |`);
  push(`|---|${tp.conc.map(() => '---:').join('|')}|---|`);
  for (const [x, y, label, goal] of ratios) {
    if (!names.includes(x) || !names.includes(y)) continue;
    const cells = tp.conc.map((c) => {
      const r = ratio(x, y, c);
      let mark = '';
      // The goals of the journal-first ledger (RESULTS.md "Journal-first ledger").
      if (x === 'mailproof' && y === 'postfix' && c === 1) mark = r >= 1 ? ' ✅' : ' ❌';
      if (x === 'mailproof' && y === 'bare' && c >= 20) mark = r >= 0.8 ? ' ✅' : ' ❌';
      return `${f2(r)}${mark}`;
    });
    push(`| ${label} | ${cells.join(' | ')} | ${goal ?? ''} |`);
  }
  push();
  const failed = tp.results.filter((r) => !r.ok);
  if (failed.length) {
    push('Failed runs (left out of the medians):');
    push();
    for (const r of failed) push(`- ${r.target} c=${r.c} ${r.calibration ? 'calibration' : `round ${r.round}`}: ${r.problem}`);
    push();
  } else {
    push('All runs passed their checks.');
    push();
  }
  const loads = tp.results.map((r) => r.loadBefore);
  const press = tp.results.map((r) => r.cpuPressure).filter((x): x is number => x !== null);
  push(`Load during the runs: 1-minute load average ${f1(Math.min(...loads))}-${f1(Math.max(...loads))} (median ${f1(median(loads))}) on ${machine.nproc ?? '?'} cores` +
    (press.length ? `; CPU pressure (PSI "some avg10") ${f1(Math.min(...press))}-${f1(Math.max(...press))}%` : '') + '.');
  push();

  // Console summary.
  summary.push(`throughput, msg/s (median of ${tp.runs}; CPU ms per message in brackets):`);
  summary.push(`  ${'target'.padEnd(14)}${tp.conc.map((c) => `c=${c}`.padStart(18)).join('')}`);
  for (const n of names) summary.push(`  ${n.padEnd(14)}${tp.conc.map((c) => { const s = stat(n, c); return `${f1(s.med)} [${f2(s.cpu)}]`.padStart(18); }).join('')}`);
  summary.push('ratios:');
  for (const [x, y, label, goal] of ratios) {
    if (!names.includes(x) || !names.includes(y)) continue;
    summary.push(`  ${label.padEnd(62)}${tp.conc.map((c) => f2(ratio(x, y, c)).padStart(8)).join('')}${goal ? `   goal ${goal}` : ''}`);
  }
  if (failed.length) summary.push(`${failed.length} run(s) FAILED their checks: see RESULTS.md`);
}

const abl = readJson<Throughput>(path.join(dir, 'ablation.json'));
if (abl) {
  const c = abl.conc[0]!;
  const st = (t: string): { med: number; cpu: number; ok: number; n: number } => {
    const rs = abl.results.filter((r) => r.target === t && r.c === c && !r.calibration);
    const ok = rs.filter((r) => r.ok);
    return { med: median(ok.map((r) => r.rate)), cpu: median(ok.map((r) => r.cpuMsPerMsg ?? NaN).filter(Number.isFinite)), ok: ok.length, n: rs.length };
  };
  const ref = st('mailproof-w1');
  push(`### Ablation: what the parts of mailproof cost (bench/profile.sh, run of ${abl.date.slice(0, 16).replace('T', ' ')} UTC, c=${c}, median of ${abl.runs})`);
  push();
  push('tmpfs: the file system is in memory, so fsync returns at once, while the CPU work (SQLite, file writes, renames) stays. A separate run from the table above: compare within this table only.');
  push();
  push('| variant | msg/s | CPU ms/msg | vs mailproof workers=1 |');
  push('|---|---:|---:|---:|');
  for (const t of abl.targets) {
    const s2 = st(t.name);
    push(`| **${t.name}**: ${t.label}${s2.ok < s2.n ? ` (${s2.n - s2.ok} failed)` : ''} | ${f1(s2.med)} | ${f2(s2.cpu)} | ${f2(s2.med / ref.med)} |`);
  }
  push();
}

interface Sustained {
  date: string; label: string; conc: number; seconds: number; messages: number; rate: number; cpu_ms_per_msg: number;
  lag_events_max: number; lag_events_p95: number; lag_ms_max: number; lag_ms_p95: number;
  lag_ms_max_first_third: number; lag_ms_max_last_third: number;
  lag_at_end: { events: number; ms: number; catch_up_ms: number }; ok: boolean; problem?: string; load_before: number;
}
const sus = readJson<Sustained>(path.join(dir, 'sustained.json'));
if (sus?.date) {
  push(`### Sustained load: the store's lag over ${Math.round(sus.seconds)} s (bench/sustained.ts, run of ${sus.date.slice(0, 16).replace('T', ' ')} UTC)`);
  push();
  push(`${sus.label}, smtp-source at c=${sus.conc} back to back for ${sus.seconds} s; every second the store's lag behind the journal: records not yet in the store, and the age of the oldest of them. ${sus.ok ? 'Checked: every batch exited 0; Maildir new/ and message.delivered events in the store both equal the messages sent.' : `**FAILED**: ${sus.problem}`}`);
  push();
  push('| msg/s | CPU ms/msg | lag events max / p95 | lag ms max / p95 | lag ms max, first third / last third | at the end: events / ms / catch-up ms |');
  push('|---:|---:|---:|---:|---:|---:|');
  push(`| ${f1(sus.rate)} | ${f2(sus.cpu_ms_per_msg)} | ${sus.lag_events_max} / ${sus.lag_events_p95} | ${sus.lag_ms_max} / ${sus.lag_ms_p95} | ${sus.lag_ms_max_first_third} / ${sus.lag_ms_max_last_third} | ${sus.lag_at_end.events} / ${sus.lag_at_end.ms} / ${sus.lag_at_end.catch_up_ms} |`);
  push();
  summary.push(`sustained c=${sus.conc}, ${Math.round(sus.seconds)} s: ${f1(sus.rate)} msg/s, CPU ${f2(sus.cpu_ms_per_msg)} ms/msg, store lag max ${sus.lag_ms_max} ms (p95 ${sus.lag_ms_p95} ms), caught up ${sus.lag_at_end.catch_up_ms} ms after the end${sus.ok ? '' : ' (FAILED)'}`);
}

const ck = readJson<Throughput>(path.join(dir, 'checks.json'));
if (ck) {
  const st = (t: string, c: number): { med: number; min: number; max: number; cpu: number; ok: number; n: number } => {
    const rs = ck.results.filter((r) => r.target === t && r.c === c && !r.calibration);
    const ok = rs.filter((r) => r.ok);
    const rates = ok.map((r) => r.rate);
    return { med: median(rates), min: Math.min(...rates), max: Math.max(...rates), cpu: median(ok.map((r) => r.cpuMsPerMsg ?? NaN).filter(Number.isFinite)), ok: ok.length, n: rs.length };
  };
  push(`### Checks (issue 3): throughput with the checks on (run of ${ck.date.slice(0, 16).replace('T', ' ')} UTC, median of ${ck.runs})`);
  push();
  push('A separate run from the tables above (`bash bench/run.sh` runs it after them; `BENCH_SKIP_CHECKS=1` skips it). The load comes from a client with a forward-confirmed PTR (mail.bench.test) and a sender domain with MX, SPF and DMARC records, all served by a real Knot DNS on 127.0.0.153:53 (or `BENCH_DNS_HOST`); the client is not on the block list, so every message is accepted and every check runs to the end. mailproof caches DNS answers by their TTL; Postfix asks Knot for each lookup (it relies on a local caching resolver, which the machine does not have). Postfix does no content scanning here (that would need milters); compare it with **mp-dnschecks**, which does what its restrictions do.');
  push();
  push(`| target | ${ck.conc.map((c) => `c=${c} msg/s (min-max) | c=${c} CPU ms/msg`).join(' | ')} |`);
  push(`|---|${ck.conc.map(() => '---:|---:').join('|')}|`);
  for (const t of ck.targets) {
    push(`| **${t.name}**: ${t.label} | ${ck.conc.map((c) => {
      const x = st(t.name, c);
      return `${f1(x.med)} (${f1(x.min)}-${f1(x.max)})${x.ok < x.n ? ` (${x.n - x.ok} failed)` : ''} | ${f2(x.cpu)}`;
    }).join(' | ')} |`);
  }
  push();
  for (const [k, v] of Object.entries(ck.startProblems)) push(`- could not start **${k}**: \`${v.split('\n')[0]}\``);
  const names = ck.targets.map((t) => t.name);
  const pairs: [string, string, string][] = [
    ['mp-dnschecks', 'postfix-checks', 'mailproof with DNS checks / Postfix with equivalent restrictions'],
    ['mp-dnschecks', 'mp-nochecks', 'mailproof DNS checks on / off'],
    ['mp-allchecks', 'mp-nochecks', 'mailproof all checks (incl. clamd, rspamd) / off'],
    ['mp-allchecks', 'postfix-checks', 'mailproof all checks / Postfix restrictions only'],
  ];
  push(`| ratio | ${ck.conc.map((c) => `c=${c}`).join(' | ')} |`);
  push(`|---|${ck.conc.map(() => '---:').join('|')}|`);
  for (const [x, y, label] of pairs) {
    if (!names.includes(x) || !names.includes(y)) continue;
    push(`| ${label} | ${ck.conc.map((c) => f2(st(x, c).med / st(y, c).med)).join(' | ')} |`);
  }
  push();
  const failedCk = ck.results.filter((r) => !r.ok);
  for (const r of failedCk) push(`- failed: ${r.target} c=${r.c} ${r.calibration ? 'calibration' : `round ${r.round}`}: ${r.problem}`);
  if (failedCk.length) push();
  push('Time the checks add to a message, from the ledger of each mailproof target after the run (every check records its time): per transaction, the slowest check of each stage (a stage\'s checks run side by side), summed over connect, HELO, MAIL, RCPT and DATA; the virus and spam checks are left out of that sum (the scanners\' own time) and shown on their own.');
  push();
  push('| target | transactions | checks p50 ms | checks p99 ms | clamd (virus check) p50 / p99 ms | rspamd (spam check) p50 / p99 ms |');
  push('|---|---:|---:|---:|---:|---:|');
  for (const [name, r] of Object.entries(ck.reports ?? {})) {
    if (r.error) { push(`| ${name} | ${r.error} | | | | |`); continue; }
    const sc = (k: string): string => { const v = r.scanners_ms?.[k]; return v ? `${v.p50} / ${v.p99}` : '-'; };
    push(`| ${name} | ${r.transactions ?? 0} | ${r.checks_ms_p50 ?? '-'} | ${r.checks_ms_p99 ?? '-'} | ${sc('virus')} | ${sc('spam')} |`);
  }
  push();
  const loadsCk = ck.results.map((r) => r.loadBefore);
  push(`Load during the runs: 1-minute load average ${f1(Math.min(...loadsCk))}-${f1(Math.max(...loadsCk))} (median ${f1(median(loadsCk))}).`);
  push();
  summary.push('checks (msg/s):');
  for (const t of ck.targets) summary.push(`  ${t.name.padEnd(16)}${ck.conc.map((c) => `c=${c} ${f1(st(t.name, c).med)}`.padStart(16)).join('')}`);
  for (const [name, r] of Object.entries(ck.reports ?? {})) summary.push(`  ${name}: checks p50 ${r.checks_ms_p50 ?? '-'} ms, p99 ${r.checks_ms_p99 ?? '-'} ms`);
}

if (idle.length) {
  push('### Idle connections');
  push();
  push('Connections opened by a separate client process (source addresses 127.0.0.2-127.0.0.11), each held open after its 220 greeting. RSS = sum of VmRSS over the server\'s processes; per connection = (RSS with - RSS before) / connections greeted. Goal: under 15 KiB per connection.');
  push();
  push('| server | connections greeted | open time | RSS before | RSS with | KiB per connection | |');
  push('|---|---:|---:|---:|---:|---:|---|');
  for (const i of idle) {
    const ok = i.perConnKiB !== null && i.perConnKiB < 15;
    push(`| ${i.label} | ${i.client?.greeted ?? 0} of ${i.count} | ${i.client ? `${f1(i.client.seconds)} s` : '?'} | ${f1(i.rssBeforeKiB / 1024)} MiB | ${f1(i.rssAfterKiB / 1024)} MiB | ${i.perConnKiB === null ? 'n/a' : f2(i.perConnKiB)} | ${i.target === 'mailproof' ? (ok ? '✅ < 15' : '❌ >= 15') : ''} |`);
  }
  push();
  for (const i of idle) if (i.problem) push(`- ${i.target}: ${i.problem}`);
  push(`File descriptor limit of the servers (soft/hard): ${idle.map((i) => `${i.target} ${i.nofile}`).join(', ')}. RSS samples after all greetings (KiB): ${idle.map((i) => `${i.target} ${i.samples.join(', ')}`).join('; ')}.`);
  push();
  summary.push('idle connections:');
  for (const i of idle) summary.push(`  ${i.target.padEnd(10)} ${i.client?.greeted ?? 0}/${i.count} greeted; RSS ${f1(i.rssBeforeKiB / 1024)} -> ${f1(i.rssAfterKiB / 1024)} MiB; ${i.perConnKiB === null ? 'n/a' : f2(i.perConnKiB)} KiB per connection${i.problem ? `  PROBLEM: ${i.problem}` : ''}`);
}

const BEGIN = '<!-- BEGIN GENERATED by bench/report.ts: do not edit between these markers -->';
const END = '<!-- END GENERATED -->';
writeGenerated(resultsFile, BEGIN, END, lines, (doc, block) => `# mailproof benchmark results\n\nMade by \`bash bench/run.sh\`.\n\n${block}\n${doc}`);
process.stdout.write(`\n${summary.join('\n')}\n\nwritten: ${resultsFile}\n`);
