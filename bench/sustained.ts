// Sustained load (journal-first ledger): smtp-source at one concurrency
// against one mailproof for a fixed time (default 60 s), the store's lag
// behind the journal sampled every second. The throughput runs last a few
// seconds and end with a caught-up store; this shows whether the indexer
// keeps up over a minute of full load, or whether the lag grows without
// bound (it would then grow over the run, not stay flat).
//
//   node sustained.js --build DIR --work DIR [--out FILE.json] [--seconds 60] [--conc 20]
//        [--workers auto] [--sample-ms 1000] [--store pg]
//
// The load is a sequence of smtp-source batches back to back (smtp-source
// needs a message count; each batch is sized from the rate so far to last
// about 5 s, the last one to end near --seconds). Every batch must exit 0;
// at the end, once the store caught up, the files in Maildir new/ and the
// message.delivered events in the store must both equal the messages sent.
import fs from 'node:fs';
import os from 'node:os';
import { args, sleep } from './lib/proc.js';
import { cpuPressure, cpuSeconds, SIZE, smtpSourceRun } from './lib/load.js';
import { StoreWatch, type LagSample } from './lib/store-lag.js';
import { startMailproof, startMailproofPg, type Env, type Target } from './lib/targets.js';

const a = args(process.argv.slice(2));
const env: Env = {
  build: a.build ?? 'dist',
  work: a.work ?? fs.mkdtempSync('/tmp/mailproof-bench-'),
  smtpSink: '/usr/sbin/smtp-sink',
  postfix: '/usr/sbin/postfix',
};
const smtpSource = a['smtp-source'] ?? '/usr/sbin/smtp-source';
const seconds = Number(a.seconds ?? 60);
const c = Number(a.conc ?? 20);
const workers: number | 'auto' = a.workers === undefined || a.workers === 'auto' ? 'auto' : Number(a.workers);
const sampleMs = Number(a['sample-ms'] ?? 1000);
const out = a.out ?? 'bench/out/sustained.json';
const BATCH_S = 5;

interface Sample extends LagSample { t: number; sent: number; cpu: number }

const pct = (xs: number[], p: number): number => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

let target: Target | null = null;
let stopping = false;
const onSignal = (): void => {
  if (stopping) return;
  stopping = true;
  void (target?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const say = (s: string): void => { process.stderr.write(`${s}\n`); };
let result: Record<string, unknown> = {};
try {
  // --store pg: the indexer ships into a PostgreSQL of its own instead of the embedded store.
  const t = a.store === 'pg' ? await startMailproofPg(env, workers, 'sustained-pg') : await startMailproof(env, workers, 'sustained');
  target = t;
  say(`started ${t.label} on ${t.host}:${t.port} (pid ${t.pid}); ${seconds} s at c=${c}`);
  const watch = new StoreWatch(t.storeSpec ?? t.store!, t.journal!);
  // Warm-up (JIT, first files), then a short calibration run for the batch size.
  const w = await smtpSourceRun(smtpSource, t, 5, 50);
  if (w.code !== 0) throw new Error(`warm-up failed (${w.code}): ${w.out}`);
  const cal = await smtpSourceRun(smtpSource, t, c, Math.max(4 * c, 100));
  if (cal.code !== 0) throw new Error(`calibration failed (${cal.code}): ${cal.out}`);
  await t.settle(0);
  let rate = Math.max(4 * c, 100) / cal.seconds;
  const before = await t.accepted();
  if (before < 0) throw new Error('before the run: Maildir and store disagree');

  const samples: Sample[] = [];
  const records0 = await watch.journalRecords();
  // A cluster store's PostgreSQL works for the target: its CPU counts (and is shown apart).
  const cpuNow = (): number => cpuSeconds(t.pid) + (t.extraCpu?.() ?? 0);
  const x0 = t.extraCpu?.() ?? 0;
  const cpu0 = cpuNow();
  const load0 = os.loadavg()[0]!;
  const pressure0 = cpuPressure();
  const t0 = Date.now();
  let sent = 0;
  const sample = async (): Promise<void> => {
    try {
      samples.push({ t: Date.now() - t0, sent, cpu: cpuNow() - cpu0, ...await watch.lag() });
    } catch (err) {
      say(`lag sample failed: ${(err as Error).message}`);
    }
  };
  const timer = setInterval(() => void sample(), sampleMs);
  const batches: Array<{ n: number; seconds: number; code: number | null }> = [];
  let problem: string | undefined;
  while (!stopping) {
    const left = seconds - (Date.now() - t0) / 1000;
    if (left <= 0.5) break;
    const n = Math.max(3 * c, Math.round(rate * Math.min(BATCH_S, left)));
    const r = await smtpSourceRun(smtpSource, t, c, n);
    batches.push({ n, seconds: r.seconds, code: r.code });
    sent += n;
    if (r.code !== 0) { problem = `smtp-source exited with ${r.code}: ${r.out.trim().split('\n').slice(-3).join(' | ')}`; break; }
    rate = sent / ((Date.now() - t0) / 1000);
    const last = samples.at(-1);
    say(`${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s: ${sent} sent, ${rate.toFixed(0)} msg/s` +
      `${last ? `; store lag ${last.events} events, ${last.ms} ms` : ''}`);
  }
  const loadS = (Date.now() - t0) / 1000;
  clearInterval(timer);
  const end = await watch.lag();
  let catchUpMs = NaN;
  try {
    catchUpMs = await watch.caughtUp(300_000);
  } catch (err) {
    problem ??= (err as Error).message;
  }
  const cpu = cpuNow() - cpu0;
  const records = (await watch.journalRecords()) - records0;
  const storeCpu = (t.extraCpu?.() ?? 0) - x0;
  const after = await t.accepted();
  if (!problem && after - before !== sent) problem = `server accepted ${after - before} of ${sent} messages (${t.checks})`;
  const report = await t.report?.();

  const ev = samples.map((s) => s.events);
  const ms = samples.map((s) => s.ms);
  // Bounded: the lag in the last third of the run is no larger than in the first third.
  const third = Math.max(1, Math.floor(samples.length / 3));
  const head = samples.slice(0, third);
  const tail = samples.slice(-third);
  result = {
    kind: 'sustained', date: new Date().toISOString(), target: t.name, label: t.label, conc: c, size: SIZE, seconds_asked: seconds,
    seconds: +loadS.toFixed(2), messages: sent, rate: +(sent / loadS).toFixed(1), cpu_ms_per_msg: +((cpu * 1000) / sent).toFixed(3),
    events: records, events_per_s: Math.round(records / loadS),
    ...(t.extraCpu ? { store_cpu_ms_per_msg: +((storeCpu * 1000) / sent).toFixed(3) } : {}),
    lag_events_max: Math.max(...ev), lag_events_p95: pct(ev, 95), lag_events_p50: pct(ev, 50),
    lag_ms_max: Math.max(...ms), lag_ms_p95: pct(ms, 95), lag_ms_p50: pct(ms, 50),
    lag_ms_max_first_third: Math.max(...head.map((s) => s.ms)), lag_ms_max_last_third: Math.max(...tail.map((s) => s.ms)),
    lag_at_end: { events: end.events, ms: end.ms, catch_up_ms: catchUpMs },
    ok: !problem, ...(problem ? { problem } : {}),
    load_before: load0, cpu_pressure_before: pressure0, load_after: os.loadavg()[0],
    batches, samples, report,
  };
  await t.stop();
  target = null;
} finally {
  if (target) await target.stop();
}
fs.writeFileSync(out, JSON.stringify(result, null, 2));
const r = result as { rate: number; cpu_ms_per_msg: number; lag_events_max: number; lag_events_p95: number; lag_ms_max: number; lag_ms_p95: number;
  lag_ms_max_first_third: number; lag_ms_max_last_third: number; lag_at_end: { events: number; ms: number; catch_up_ms: number }; ok: boolean; problem?: string; messages: number; seconds: number };
say(`sustained c=${c}: ${r.messages} messages in ${r.seconds} s = ${r.rate} msg/s, CPU ${r.cpu_ms_per_msg} ms/msg;` +
  ` store lag max ${r.lag_events_max} events / ${r.lag_ms_max} ms, p95 ${r.lag_events_p95} events / ${r.lag_ms_p95} ms` +
  ` (max in the first third ${r.lag_ms_max_first_third} ms, last third ${r.lag_ms_max_last_third} ms);` +
  ` at the end ${r.lag_at_end.events} events / ${r.lag_at_end.ms} ms, caught up in ${r.lag_at_end.catch_up_ms} ms` +
  `${r.ok ? '' : `; FAILED: ${r.problem}`}`);
await sleep(10);
process.exit(r.ok ? 0 : 1);
