// Throughput: Postfix's smtp-source against each target at several
// concurrencies, a few runs each, every run checked (smtp-source exit status
// and, where the server keeps something, accepted == sent).
//
//   node throughput.js --build DIR --work DIR --out FILE.json
//        [--runs 3] [--conc 1,20,100] [--seconds 5]
//        [--targets mailproof,mailproof-w1,postfix,bare,bare-delay,smtp-sink]
//        [--messages text4k,pdfdocx100k] [--sanity gtube,eicar]
//
// --messages: instead of smtp-source's generated 4 KiB message, each of these
// (bench/lib/messages.ts, sent as they are with -F), every concurrency for
// each. --sanity: before the warm-up, one message of each kind to every
// target, whose reply must be a refusal (5xx); the replies are in the JSON.
// The whole-filter targets (mp-filter, mp-filter-w1, postfix-stack; see
// bench/filter/run.sh) need their own services and cannot run with the
// checks targets in one invocation (one Knot on port 53).
//
// All targets run at the same time (idle while another is measured) and the
// runs are interleaved: round r of concurrency c runs every target once, in
// an order rotated per round. Noise from other work on the machine then hits
// all targets alike, and the ratios of the medians stay meaningful.
//
// mailproof writes each message's events to its journal before the 250; its
// indexer (a thread of the same serve) builds the store from the journal
// behind. A mailproof run ends when the store has caught up: the time that
// took and the lag when the client finished are recorded per run, the CPU
// of the catch-up is in CPU ms/msg, and the check compares the Maildir with
// the store, not with the journal.
import fs from 'node:fs';
import os from 'node:os';
import { args, median, sleep } from './lib/proc.js';
import { cpuPressure, cpuSeconds, SIZE, smtpSourceRun as sourceRun } from './lib/load.js';
import { startBare, startMailproof, startMailproofPg, startPostfix, startSink, type Env, type RunWindow, type SettleInfo, type Target } from './lib/targets.js';
import { CLIENT, mailproofCheckSettings, postfixCheckParams, startCheckServices, type CheckServices } from './lib/check-services.js';
import { startFilterServices, type FilterServices } from './lib/filter-services.js';
import { filterStarters } from './lib/filter-targets.js';
import { writeMessages, type BenchMessage } from './lib/messages.js';
import { sendOne, type SendResult } from './lib/smtp-send.js';

const a = args(process.argv.slice(2));
const env: Env = {
  build: a.build ?? 'dist',
  work: a.work ?? fs.mkdtempSync('/tmp/mailproof-bench-'),
  smtpSink: a['smtp-sink'] ?? '/usr/sbin/smtp-sink',
  postfix: a.postfix ?? '/usr/sbin/postfix',
};
const smtpSource = a['smtp-source'] ?? '/usr/sbin/smtp-source';
/** The message of the current pass (null: smtp-source's own -l SIZE message). */
let message: BenchMessage | null = null;
const smtpSourceRun = (t: Target, c: number, n: number): ReturnType<typeof sourceRun> => sourceRun(smtpSource, t, c, n, message?.file);
const runs = Number(a.runs ?? 3);
const conc = (a.conc ?? '1,20,100').split(',').map(Number);
const wanted = (a.targets ?? 'mailproof,mailproof-w1,postfix,bare,bare-delay,smtp-sink').split(',');
const out = a.out ?? 'bench/out/throughput.json';
const msgFiles = a.messages ? writeMessages(`${env.work}/messages`) : null;
const messages: (BenchMessage | null)[] = a.messages ? a.messages.split(',').map((m) => {
  const x = msgFiles![m];
  if (!x) throw new Error(`unknown message ${m} (${Object.keys(msgFiles!).join(', ')})`);
  return x;
}) : [null];
const sanityKinds = a.sanity ? a.sanity.split(',') : [];

/**
 * Messages per run: what the target did in a short calibration run at the
 * same concurrency, times --seconds, so every run lasts about as long
 * whatever the target's speed (and the whole suite stays bounded). At least
 * 3 messages per session, so the runs are not all connection ramp-up.
 */
const seconds = Number(a.seconds ?? 5);
function messagesFor(rate: number, c: number): number {
  return Math.min(20000, Math.max(3 * c, 20, Math.round(rate * seconds)));
}

interface RunResult {
  target: string;
  /** The message sent (--messages), or 'l4096': smtp-source's own. */
  message: string;
  c: number;
  round: number;
  messages: number;
  seconds: number;
  rate: number;
  /** CPU seconds of the server's processes during the run (and Postfix's drain), per message, ms. */
  cpuMsPerMsg: number | null;
  /** Of cpuMsPerMsg: the target's PostgreSQL (a cluster store), ms per message. */
  storeCpuMsPerMsg?: number;
  ok: boolean;
  problem?: string;
  /** A calibration run (sets the message count; not in the medians). */
  calibration?: boolean;
  loadBefore: number;
  cpuPressure: number | null;
  /**
   * mailproof: the store's lag behind the journal when smtp-source exited and
   * the time until it had caught up (cpuMsPerMsg includes that catch-up; rate
   * does not, rateCaughtUp does).
   */
  store?: SettleInfo;
  rateCaughtUp?: number;
  /** What the target measured itself over the run (Target.perRun). */
  extra?: Record<string, unknown>;
}

const CHECKS_OFF = ['relay', 'recipient', 'size', 'helo_syntax'].map((c) => `checks.${c}.mode=off`);
const starters: Record<string, () => Promise<Target>> = {
  mailproof: () => startMailproof(env, 'auto', 'mailproof'),
  'mailproof-w1': () => startMailproof(env, 1, 'mailproof-w1'),
  // The same with a cluster store: a PostgreSQL of its own on loopback (fsync on), its CPU counted with the target's.
  'mailproof-pg': () => startMailproofPg(env, 'auto', 'mailproof-pg'),
  'mailproof-w1-pg': () => startMailproofPg(env, 1, 'mailproof-w1-pg'),
  postfix: () => startPostfix(env),
  bare: () => startBare(env, false, 'bare'),
  'bare-delay': () => startBare(env, true, 'bare-delay'),
  'smtp-sink': () => startSink(env),
  // Ablations (bench/profile.sh): what each part of mailproof costs.
  'w1-ledger-tmpfs': () => startMailproof(env, 1, 'w1-ledger-tmpfs', { ledgerOnTmpfs: true, note: 'ledger on tmpfs (no ledger fsync cost)' }),
  'w1-maildir-tmpfs': () => startMailproof(env, 1, 'w1-maildir-tmpfs', { maildirOnTmpfs: true, note: 'Maildir on tmpfs (no Maildir fsync cost)' }),
  'w1-all-tmpfs': () => startMailproof(env, 1, 'w1-all-tmpfs', { ledgerOnTmpfs: true, maildirOnTmpfs: true, note: 'ledger and Maildir on tmpfs (CPU only)' }),
  'w1-checks-off': () => startMailproof(env, 1, 'w1-checks-off', { settings: CHECKS_OFF, note: 'all four checks off (4 fewer ledger events per message)' }),
  'auto-ledger-tmpfs': () => startMailproof(env, 'auto', 'auto-ledger-tmpfs', { ledgerOnTmpfs: true, note: 'ledger on tmpfs' }),
  'bare-tmpfs': () => startBare(env, false, 'bare-tmpfs', true),
  // The checks of issue 3 (bench/RESULTS.md "Checks"): the same load from a
  // client with a forward-confirmed PTR and a sender domain with MX and SPF.
  'mp-nochecks': () => startMailproof(env, 'auto', 'mp-nochecks', { client: CLIENT, note: 'the gateway\'s own checks only (relay, recipient, size, HELO syntax)' }),
  'mp-dnschecks': async () => startMailproof(env, 'auto', 'mp-dnschecks', { client: CLIENT, settings: mailproofCheckSettings(await services(), 'dns'), note: 'DNS checks on: DNSBL, PTR+FCrDNS, HELO, sender domain, SPF' }),
  // Ablations of the checks: which one costs what.
  'mp-dns-norate': async () => startMailproof(env, 'auto', 'mp-dns-norate', { client: CLIENT, settings: [...mailproofCheckSettings(await services(), 'dns'), 'checks.rate.mode=off'], note: 'DNS checks on, rate check off' }),
  'mp-dns-nospf': async () => startMailproof(env, 'auto', 'mp-dns-nospf', { client: CLIENT, settings: [...mailproofCheckSettings(await services(), 'dns'), 'checks.spf.mode=off'], note: 'DNS checks on, SPF off' }),
  'mp-dns-w1': async () => startMailproof(env, 1, 'mp-dns-w1', { client: CLIENT, settings: mailproofCheckSettings(await services(), 'dns'), note: 'DNS checks on, one process' }),
  'mp-allchecks': async () => startMailproof(env, 'auto', 'mp-allchecks', { client: CLIENT, settings: mailproofCheckSettings(await services(), 'all'), note: 'all checks on: DNS checks + DKIM/DMARC, attachments, clamd, rspamd' }),
  'postfix-checks': async () => startPostfix(env, {
    name: 'postfix-checks', label: 'Postfix smtpd with equivalent restrictions (DNSBL, reverse_client, HELO, sender domain, policyd-spf)',
    main: postfixCheckParams(), resolvConf: (await services()).resolvConf, client: CLIENT,
    master: ['policyd-spf unix - n n - 0 spawn user=policyd-spf argv=/usr/bin/policyd-spf ' + policydSpfConf()],
  }),
};

let svc: Promise<CheckServices> | null = null;
/** The DNS server, clamd and rspamd, started once when a checks target is wanted. */
function services(): Promise<CheckServices> {
  svc ??= startCheckServices(env.work, wanted.includes('mp-allchecks'));
  return svc;
}
let filterSvc: Promise<FilterServices> | null = null;
/** The whole-filter benchmark's services (Knot, clamd, two rspamd), started once. */
function filterServices(): Promise<FilterServices> {
  filterSvc ??= startFilterServices(env.work);
  return filterSvc;
}
Object.assign(starters, filterStarters(env, filterServices));
{
  const filter = Object.keys(filterStarters(env, filterServices));
  if (wanted.some((w) => filter.includes(w)) && wanted.some((w) => !filter.includes(w) && /checks|^mp-dns/.test(w))) {
    throw new Error('the whole-filter targets and the checks targets each start a Knot on port 53: run them in separate invocations');
  }
}

/** policyd-spf's config: Debian's default skips 127.0.0.0/8, which is all the benchmark sends from. */
function policydSpfConf(): string {
  const f = `${env.work}/policyd-spf.conf`;
  fs.writeFileSync(f, 'debugLevel = 0\nTestOnly = 1\nHELO_reject = Fail\nMail_From_reject = Fail\nPermError_reject = False\nTempError_Defer = False\nskip_addresses = 192.0.2.255\n', { mode: 0o644 });
  return f;
}

const targets: Target[] = [];
const startProblems: Record<string, string> = {};
const results: RunResult[] = [];
let stopping = false;

async function stopAll(): Promise<void> {
  for (const t of targets) {
    try { await t.stop(); } catch (err) { process.stderr.write(`stopping ${t.name}: ${(err as Error).message}\n`); }
  }
}
const onSignal = (): void => {
  if (stopping) return;
  stopping = true;
  void stopAll().finally(() => process.exit(130));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const reports: Record<string, Record<string, unknown>> = {};
const windows: (RunWindow & { target: string })[] = [];
const sanity: Record<string, Record<string, SendResult & { ok: boolean }>> = {};
let services_: Record<string, unknown> | undefined;

function save(): void {
  fs.writeFileSync(out, JSON.stringify({
    kind: 'throughput', date: new Date().toISOString(), size: SIZE, runs, conc, seconds,
    messages: messages.map((m) => (m ? { name: m.name, label: m.label, bytes: m.bytes } : { name: 'l4096', label: `smtp-source -l ${SIZE}`, bytes: SIZE })),
    targets: targets.map((t) => ({ name: t.name, label: t.label, checks: t.checks })),
    startProblems, results, reports, ...(sanityKinds.length ? { sanity } : {}), ...(services_ ? { services: services_ } : {}),
  }, null, 2));
}

async function measureOne(t: Target, c: number, n: number, round: number, calibration: boolean): Promise<RunResult> {
  const before = await t.accepted();
  const loadBefore = os.loadavg()[0]!;
  const pressure = cpuPressure();
  const finish = calibration ? undefined : await t.perRun?.();
  const x0 = t.extraCpu?.() ?? 0;
  const cpu0 = cpuSeconds(t.pid) + x0;
  const from = Date.now();
  const r = await smtpSourceRun(t, c, n);
  let problem: string | undefined;
  if (r.code !== 0) problem = `smtp-source exited with ${r.code}: ${r.out.trim().split('\n').slice(-3).join(' | ')}`;
  let store: SettleInfo | undefined;
  try {
    store = (await t.settle(before + n)) ?? undefined;
  } catch (err) {
    problem ??= (err as Error).message;
  }
  const x1 = t.extraCpu?.() ?? 0;
  const cpu1 = cpuSeconds(t.pid) + x1;
  const extra = await finish?.(n);
  const msgName = message?.name ?? 'l4096';
  if (!calibration) windows.push({ target: t.name, group: `${msgName} c=${c}`, from, to: Date.now() });
  const after = await t.accepted();
  if (!problem && before >= 0 && after !== -1 && after - before !== n) {
    problem = `server accepted ${after - before} of ${n} messages (${t.checks})`;
  }
  const res: RunResult = {
    target: t.name, message: msgName, c, round, messages: n, seconds: r.seconds, rate: n / r.seconds,
    cpuMsPerMsg: cpu1 >= cpu0 ? ((cpu1 - cpu0) * 1000) / n : null,
    ...(t.extraCpu ? { storeCpuMsPerMsg: ((x1 - x0) * 1000) / n } : {}),
    ok: !problem, ...(problem ? { problem } : {}), ...(calibration ? { calibration } : {}), loadBefore, cpuPressure: pressure,
    ...(store ? { store, rateCaughtUp: n / (r.seconds + store.catch_up_ms / 1000) } : {}),
    ...(extra ? { extra } : {}),
  };
  results.push(res);
  save();
  process.stderr.write(`${message ? `${message.name} ` : ''}c=${String(c).padStart(3)} ${calibration ? 'calibrate' : `round ${round}  `} ${t.name.padEnd(13)} ${String(n).padStart(5)} msgs ${r.seconds.toFixed(2).padStart(7)} s ${res.rate.toFixed(1).padStart(8)} msg/s` +
    ` cpu ${res.cpuMsPerMsg?.toFixed(2) ?? '?'} ms/msg load ${loadBefore.toFixed(1)}` +
    `${store ? ` store lag ${store.lag_events} ev / ${store.lag_ms} ms, caught up in ${store.catch_up_ms} ms` : ''}${problem ? `  FAILED: ${problem}` : ''}\n`);
  await sleep(300);
  return res;
}

try {
  for (const name of wanted) {
    const start = starters[name];
    if (!start) throw new Error(`unknown target ${name}`);
    try {
      const t = await start();
      targets.push(t);
      process.stderr.write(`started ${t.label} on ${t.host}:${t.port} (pid ${t.pid})\n`);
    } catch (err) {
      startProblems[name] = (err as Error).message.slice(0, 2000);
      process.stderr.write(`could not start ${name}: ${(err as Error).message}\n`);
    }
  }
  // (Started from a starter, which the compiler cannot see.)
  const fsvc = filterSvc as Promise<FilterServices> | null;
  if (fsvc) services_ = { rspamd: (await fsvc).rspamdConfig, rspamdWorkers: (await fsvc).rspamdWorkers };
  // Sanity: a spam and a virus message must be refused by every target.
  for (const t of targets) {
    for (const kind of sanityKinds) {
      const f = msgFiles?.[kind] ?? writeMessages(`${env.work}/messages`)[kind];
      if (!f) throw new Error(`unknown sanity message ${kind}`);
      const r = await sendOne(t.host, t.port, { helo: t.client?.helo ?? 'localhost', from: t.client?.from ?? 'sender@example.org', rcpt: 'demo@demo.test', file: f.file });
      sanity[t.name] = { ...sanity[t.name], [kind]: { ...r, ok: r.code >= 500 && r.code < 600 } };
      process.stderr.write(`sanity ${t.name} ${kind}: ${r.final.replace(/\s+/g, ' ').slice(0, 160)}${r.code >= 500 && r.code < 600 ? '' : '  NOT REFUSED'}\n`);
    }
  }
  save();
  // One short warm-up per target (JIT, first files, Postfix processes).
  message = messages[0] ?? null;
  for (const t of targets) {
    const before = await t.accepted();
    const r = await smtpSourceRun(t, 5, 50);
    await t.settle(before + 50).catch(() => undefined);
    if (r.code !== 0) process.stderr.write(`warm-up of ${t.name} failed (${r.code}): ${r.out}\n`);
  }
  for (const m of messages) for (const c of conc) {
    message = m;
    const count = new Map<string, number>();
    for (const t of targets) {
      if (stopping) break;
      // Calibrate on at least half a second: a fast target gets 4x more
      // messages until its run is that long.
      let n = Math.max(2 * c, 20);
      let r = await measureOne(t, c, n, 0, true);
      for (let i = 0; i < 3 && r.ok && r.seconds < 0.5; i++) {
        n *= 4;
        r = await measureOne(t, c, n, 0, true);
      }
      count.set(t.name, messagesFor(r.ok ? r.rate : 10, c));
    }
    for (let round = 1; round <= runs; round++) {
      const order = targets.map((_, i) => targets[(i + round - 1) % targets.length]!);
      for (const t of order) {
        if (stopping) break;
        await measureOne(t, c, count.get(t.name)!, round, false);
      }
    }
    // Medians so far, for the impatient.
    for (const t of targets) {
      const ok = results.filter((x) => x.target === t.name && x.message === (m?.name ?? 'l4096') && x.c === c && x.ok && !x.calibration).map((x) => x.rate);
      process.stderr.write(`  median ${m ? `${m.name} ` : ''}c=${c} ${t.name}: ${ok.length ? median(ok).toFixed(1) : 'n/a'} msg/s (${ok.length}/${runs} runs ok)\n`);
    }
  }
} finally {
  for (const t of targets) {
    if (!t.report) continue;
    try { reports[t.name] = await t.report(windows.filter((w) => w.target === t.name)); } catch (err) { reports[t.name] = { error: (err as Error).message }; }
  }
  save();
  await stopAll();
  if (svc) await (await svc).stop();
  const fsvc = filterSvc as Promise<FilterServices> | null;
  if (fsvc) await (await fsvc).stop();
}
