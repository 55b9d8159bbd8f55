// The servers the benchmark measures. Each one starts on a free loopback
// port, can say how many messages it has accepted for good so far (so every
// run is checked: accepted == sent), and stops with everything it started.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { canConnect, freePort, register, run, sleep, startServer } from './proc.js';
import { startBenchPostgres, type BenchPostgres } from './postgres.js';
import { StoreWatch } from './store-lag.js';
import type { StoreSpec } from '../../src/ledger/open.js';
import type { StoredEvent } from '../../src/ledger/types.js';

export interface Target {
  name: string;
  label: string;
  host: string;
  port: number;
  /** Root pid of the server (its process tree is the server). */
  pid: number;
  /** Messages accepted for good so far (what the check compares). */
  accepted(): Promise<number>;
  /**
   * Waits until background work for accepted messages is done (Postfix: queue
   * drained; mailproof: the store has caught up with the journal) and may say
   * what that took, for the report.
   */
  settle(expected: number, timeoutMs?: number): Promise<SettleInfo | void>;
  /** What accepted() counts, for the report. */
  checks: string;
  /** Envelope sender and HELO name smtp-source uses (default sender@example.org and smtp-source's own). */
  client?: { from: string; helo: string };
  /** mailproof: its journal directory and store file (the sustained run samples the lag). */
  journal?: string;
  store?: string;
  /** A cluster store: its URL and password file (store is the URL). */
  storeSpec?: StoreSpec;
  /** CPU seconds so far of what serves the target outside its process tree (its PostgreSQL), counted with its own. */
  extraCpu?(): number;
  /**
   * Figures the target can give about the run before it stops (mailproof:
   * check latencies from its ledger). With windows, also per group of runs:
   * the transactions whose events fall in the windows of one group.
   */
  report?(windows?: RunWindow[]): Promise<Record<string, unknown>>;
  /**
   * Called before each measured run: starts the target's own per-run
   * accounting (CPU per component, scanner counters) and returns what ends
   * it, given the messages sent, after the run has settled.
   */
  perRun?(): Promise<(messages: number) => Promise<Record<string, unknown>>>;
  stop(): Promise<void>;
}

/** The wall-clock span of one measured run, and the group it belongs to (e.g. "text4k c=20"). */
export interface RunWindow {
  group: string;
  from: number;
  to: number;
}

/** mailproof: how far the store was behind the journal when the client finished, and how long it took to catch up. */
export interface SettleInfo {
  /** Journal records not yet in the store when smtp-source exited. */
  lag_events: number;
  /** Age of the oldest of them then, ms. */
  lag_ms: number;
  /** From smtp-source's exit until the store had every record, ms. */
  catch_up_ms: number;
}

export interface Env {
  /** Compiled tree: <build>/src/cli/main.js, <build>/bench/bare-smtp-server.js. */
  build: string;
  /** Where servers keep their data. */
  work: string;
  smtpSink: string;
  postfix: string;
}

const HOST = '127.0.0.1';

function countFiles(dir: string): number {
  try {
    return fs.readdirSync(dir).length;
  } catch {
    return 0;
  }
}

async function pollUntil(what: string, fn: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

export interface MailproofVariant {
  /** Journal and store on tmpfs: their fsyncs cost nothing, their CPU work stays. */
  ledgerOnTmpfs?: boolean;
  /** Maildir root on tmpfs. */
  maildirOnTmpfs?: boolean;
  /** More -o KEY=VALUE settings. */
  settings?: string[];
  /** A cluster store: this PostgreSQL (ledger.store = its URL) instead of the embedded SQLite file. */
  pg?: BenchPostgres;
  /** For the report. */
  note?: string;
  client?: { from: string; helo: string };
  /** Options for node itself, before the script (e.g. --cpu-prof). */
  nodeArgs?: string[];
}

/** A directory on tmpfs for ablation runs (removed by stop()). */
function tmpfsDir(name: string): string {
  return fs.mkdtempSync(path.join('/dev/shm', `mailproof-bench-${name}-`));
}

export async function startMailproof(env: Env, workers: number | 'auto', name: string, v: MailproofVariant = {}): Promise<Target> {
  const dataDir = fs.mkdtempSync(path.join(env.work, `${name}-`));
  const shm = v.ledgerOnTmpfs || v.maildirOnTmpfs ? tmpfsDir(name) : null;
  if (shm) register(`dir ${shm}`);
  // The ledger's two parts where serve puts them by default (config/load.ts),
  // or both on tmpfs for the ablation.
  const journalDir = v.ledgerOnTmpfs ? path.join(shm!, 'journal') : path.join(dataDir, 'journal');
  const storePath = v.ledgerOnTmpfs ? path.join(shm!, 'store.sqlite') : path.join(dataDir, 'store.sqlite');
  const maildirRoot = v.maildirOnTmpfs ? path.join(shm!, 'maildir') : path.join(dataDir, 'maildir');
  const extra = [
    ...(v.ledgerOnTmpfs ? ['-o', `ledger.journal_dir=${journalDir}`, '-o', `ledger.store=${storePath}`] : []),
    ...(v.maildirOnTmpfs ? ['-o', `delivery.maildir_root=${maildirRoot}`] : []),
    ...(v.pg ? ['-o', `ledger.store=${v.pg.url}`, '-o', `ledger.store_password_file=${v.pg.passwordFile}`] : []),
    ...(v.settings ?? []).flatMap((kv) => ['-o', kv]),
  ];
  const port = await freePort();
  const s = await startServer(process.execPath, [
    ...(v.nodeArgs ?? []), path.join(env.build, 'src/cli/main.js'), 'serve', '--data-dir', dataDir, '--smtp-listen', `${HOST}:${port}`,
    '-o', `smtp.workers=${workers}`, '-o', 'log.level=warn', '-o', 'smtp.max_connections_per_ip=1000',
    // Several targets run at once: no POP3 or web listener of their own (fixed default ports).
    '-o', 'pop3.listen=[]', '-o', 'web.listen=[]', ...extra,
  ], /mailproof: SMTP on/, { timeoutMs: 60000 });
  const newDir = path.join(maildirRoot, 'demo.test', 'demo', 'new');
  const watch = new StoreWatch(v.pg ? { store: v.pg.url, storePasswordFile: v.pg.passwordFile } : storePath, journalDir);
  return {
    name, host: HOST, port, pid: s.pid,
    label: `mailproof, smtp.workers=${workers}${workers === 'auto' ? ` (${os.availableParallelism()})` : ''}${v.note ? `, ${v.note}` : ''}`,
    checks: 'files in Maildir new/ and message.delivered events in the store, after the store caught up with the journal',
    journal: journalDir, store: v.pg ? v.pg.url : storePath,
    ...(v.pg ? { storeSpec: { store: v.pg.url, storePasswordFile: v.pg.passwordFile }, extraCpu: v.pg.cpu } : {}),
    ...(v.client ? { client: v.client } : {}),
    async report(windows?: RunWindow[]) {
      const events: StoredEvent[] = [];
      for await (const e of watch.events()) events.push(e);
      const all = checkLatency(events);
      if (!windows?.length) return all;
      const groups: Record<string, Record<string, unknown>> = {};
      for (const g of new Set(windows.map((w) => w.group))) {
        const ws = windows.filter((w) => w.group === g);
        groups[g] = checkLatency(events.filter((e) => ws.some((w) => e.ts >= w.from && e.ts <= w.to)));
      }
      return { ...all, groups };
    },
    async accepted() {
      const files = countFiles(newDir);
      const events = await watch.count('message.delivered');
      // Both must agree: a message in new/ without its event in the store (or
      // the other way round) would be a bug, not a benchmark figure.
      return files === events ? files : -Math.abs(files - events) - 1e9;
    },
    async settle(_expected: number, timeoutMs = 120000) {
      // The 250 came after both fsyncs and the journal commit; what may still
      // be running is the indexer, which the figures must include: the run
      // counts as done when the store has every record of it.
      const at = await watch.lag();
      const catchUp = await watch.caughtUp(timeoutMs);
      return { lag_events: at.events, lag_ms: at.ms, catch_up_ms: catchUp };
    },
    async stop() {
      await watch.close();
      await s.stop(20000);
      if (shm) {
        fs.rmSync(shm, { recursive: true, force: true });
        register(`done ${shm}`);
      }
    },
  };
}

/** startMailproof with a cluster store: a PostgreSQL of its own (bench/lib/postgres.ts), stopped with the target. */
export async function startMailproofPg(env: Env, workers: number | 'auto', name: string, v: MailproofVariant = {}): Promise<Target> {
  const pg = await startBenchPostgres(name);
  let t: Target;
  try {
    t = await startMailproof(env, workers, name, { ...v, pg, note: [v.note, 'cluster store: PostgreSQL on loopback (fsync on)'].filter(Boolean).join(', ') });
  } catch (err) {
    await pg.stop();
    throw err;
  }
  const stop = t.stop.bind(t);
  return { ...t, async stop() { await stop(); await pg.stop(); } };
}

export async function startBare(env: Env, stockDelay: boolean, name: string, onTmpfs = false): Promise<Target> {
  const dir = onTmpfs ? tmpfsDir(name) : fs.mkdtempSync(path.join(env.work, `${name}-`));
  if (onTmpfs) register(`dir ${dir}`);
  const port = await freePort();
  const s = await startServer(process.execPath, [
    path.join(env.build, 'bench/bare-smtp-server.js'), '--listen', `${HOST}:${port}`, '--dir', dir,
    '--greeting-delay', stockDelay ? 'stock' : '0',
  ], /bare-smtp-server: SMTP on/);
  return {
    name, host: HOST, port, pid: s.pid,
    label: `bare smtp-server + write + fsync${stockDelay ? ', stock 100 ms greeting delay' : ', no greeting delay'}${onTmpfs ? ', file on tmpfs' : ''}`,
    checks: 'files written (and fsynced) by the server',
    async accepted() { return countFiles(dir); },
    async settle() { /* nothing in the background */ },
    async stop() {
      await s.stop(5000);
      if (onTmpfs) {
        fs.rmSync(dir, { recursive: true, force: true });
        register(`done ${dir}`);
      }
    },
  };
}

export async function startSink(env: Env): Promise<Target> {
  const port = await freePort();
  // -u: it runs as root here and must drop to some user; 1024: listen backlog.
  const s = await startServer(env.smtpSink, ['-u', 'nobody', `${HOST}:${port}`, '1024'], { host: HOST, port }, { timeoutMs: 10000 });
  return {
    name: 'smtp-sink', host: HOST, port, pid: s.pid,
    label: 'Postfix smtp-sink (accepts and discards, no disk)',
    checks: 'smtp-source exit status only (smtp-sink keeps nothing)',
    async accepted() { return -1; },
    async settle() { /* nothing */ },
    async stop() { await s.stop(3000); },
  };
}

export function postfixMainCf(o: { dir: string; queueDir: string; dataDir: string; logFile: string }, extra: Record<string, string> = {}): string {
  const p: Record<string, string> = {
    compatibility_level: '3.6',
    queue_directory: o.queueDir,
    data_directory: o.dataDir,
    maillog_file: o.logFile,
    maillog_file_prefixes: o.dir,
    myhostname: 'postfix.bench.invalid',
    mydomain: 'bench.invalid',
    myorigin: '$myhostname',
    // demo.test is the one domain it accepts mail for; every message goes to
    // the discard transport, so the queue drains and nothing leaves the host.
    mydestination: '',
    relay_domains: 'demo.test',
    local_recipient_maps: '',
    alias_maps: '',
    alias_database: '',
    default_transport: 'discard:benchmark',
    relay_transport: 'discard:benchmark',
    local_transport: 'discard:benchmark',
    inet_interfaces: '127.0.0.1',
    inet_protocols: 'ipv4',
    mynetworks: '127.0.0.0/8',
    smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination',
    // mailproof does no reverse lookup either (disableReverseLookup).
    smtpd_peername_lookup: 'no',
    smtpd_tls_security_level: 'none',
    // Room for 100 concurrent sessions plus the ones closing.
    default_process_limit: '200',
    // Postfix's best case: no inflow throttling (the default is 1s when the
    // queue manager falls behind).
    in_flow_delay: '0s',
    biff: 'no',
    append_dot_mydomain: 'no',
    readme_directory: 'no',
    ...extra,
  };
  return `# Throwaway Postfix for mailproof's benchmark (bench/lib/targets.ts).\n${Object.entries(p).map(([k, v]) => `${k} = ${v}`).join('\n')}\n`;
}

function postfixMasterCf(port: number): string {
  // chroot "n": the queue directory is not prepared as a chroot jail.
  return `# service type  private unpriv  chroot  wakeup  maxproc command
${HOST}:${port} inet n - n - - smtpd
cleanup    unix  n  -  n  -     0  cleanup
qmgr       unix  n  -  n  300   1  qmgr
rewrite    unix  -  -  n  -     -  trivial-rewrite
bounce     unix  -  -  n  -     0  bounce
defer      unix  -  -  n  -     0  bounce
trace      unix  -  -  n  -     0  bounce
verify     unix  -  -  n  -     1  verify
flush      unix  n  -  n  1000? 0  flush
proxymap   unix  -  -  n  -     -  proxymap
proxywrite unix  -  -  n  -     1  proxymap
showq      unix  n  -  n  -     -  showq
error      unix  -  -  n  -     -  error
retry      unix  -  -  n  -     -  error
discard    unix  -  -  n  -     -  discard
anvil      unix  -  -  n  -     1  anvil
scache     unix  -  -  n  -     1  scache
postlog    unix-dgram n - n -   1  postlogd
`;
}

export interface PostfixVariant {
  name?: string;
  label?: string;
  /** More or overriding main.cf parameters. */
  main?: Record<string, string>;
  /** More master.cf lines. */
  master?: string[];
  /** A resolv.conf bind-mounted over /etc/resolv.conf in Postfix's own mount namespace. */
  resolvConf?: string;
  client?: { from: string; helo: string };
}

export async function startPostfix(env: Env, v: PostfixVariant = {}): Promise<Target> {
  // Postfix's daemons run as the postfix user and must reach the directories.
  fs.chmodSync(env.work, 0o755);
  const dir = fs.mkdtempSync(path.join(env.work, 'postfix-'));
  fs.chmodSync(dir, 0o755);
  const configDir = path.join(dir, 'etc');
  const queueDir = path.join(dir, 'spool');
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'maillog');
  fs.mkdirSync(configDir, { mode: 0o755 });
  fs.mkdirSync(queueDir, { mode: 0o755 });
  const port = await freePort();
  fs.writeFileSync(path.join(configDir, 'main.cf'), postfixMainCf({ dir, queueDir, dataDir, logFile }, v.main), { mode: 0o644 });
  fs.writeFileSync(path.join(configDir, 'master.cf'), postfixMasterCf(port) + (v.master ?? []).map((l) => `${l}\n`).join(''), { mode: 0o644 });
  register(`postfix ${configDir}`);
  // The master daemon and its children stay in the namespace unshare made,
  // where /etc/resolv.conf is ours; `postfix stop` from outside still works
  // (it signals the master by its pid file).
  const r = v.resolvConf
    ? await run('unshare', ['--mount', '--propagation', 'private', 'sh', '-c',
      `mount --bind "$1" /etc/resolv.conf && exec "$2" -c "$3" start`, 'sh', v.resolvConf, env.postfix, configDir], { timeoutMs: 60000 })
    : await run(env.postfix, ['-c', configDir, 'start'], { timeoutMs: 60000 });
  if (r.code !== 0) throw new Error(`postfix start failed (${r.code}):\n${r.out}`);
  const masterPid = Number(fs.readFileSync(path.join(queueDir, 'pid', 'master.pid'), 'utf8').trim());
  await pollUntil('Postfix smtpd to listen', () => canConnect(HOST, port), 30000);
  const removedCount = (): number => {
    let text = '';
    try { text = fs.readFileSync(logFile, 'utf8'); } catch { return 0; }
    let n = 0;
    for (const line of text.split('\n')) if (/postfix\/qmgr\[\d+\]: [0-9A-Za-z]+: removed$/.test(line)) n++;
    return n;
  };
  const queued = (): number => {
    let n = 0;
    for (const q of ['maildrop', 'incoming', 'active', 'deferred', 'hold']) {
      const walk = (d: string): void => {
        let ents: fs.Dirent[] = [];
        try { ents = fs.readdirSync(d, { withFileTypes: true }); } catch { return; }
        for (const e of ents) if (e.isDirectory()) walk(path.join(d, e.name)); else n++;
      };
      walk(path.join(queueDir, q));
    }
    return n;
  };
  return {
    name: v.name ?? 'postfix', host: HOST, port, pid: masterPid,
    label: v.label ?? 'Postfix smtpd into its queue (local domain -> discard)',
    ...(v.client ? { client: v.client } : {}),
    checks: 'qmgr "removed" log lines after the queue drained (each message queued, then delivered to discard)',
    async accepted() { return removedCount(); },
    async settle(expected: number, timeoutMs = 120000) {
      await pollUntil('the Postfix queue to drain', () => queued() === 0 && removedCount() >= expected, timeoutMs);
    },
    async stop() {
      await run(env.postfix, ['-c', configDir, 'stop'], { timeoutMs: 30000 });
      const deadline = Date.now() + 10000;
      while (Date.now() < deadline && fs.existsSync(`/proc/${masterPid}`)) await sleep(100);
      try { process.kill(masterPid, 'SIGKILL'); } catch { /* gone */ }
      register(`done ${configDir}`);
    },
  };
}

/**
 * What the checks add to a message's time in the session, from the events of
 * a run (the store's, once it caught up): per transaction, for each stage, the slowest of the checks that ran
 * at it (they run side by side), summed over the stages. The scanners' own
 * time (the virus and spam checks) is left out and given separately: it is
 * clamd's and rspamd's work, not the gateway's.
 */
export function checkLatency(events: Iterable<{ kind: string; session?: string | null; ref?: string | null; check_name?: string | null; details?: Record<string, unknown> | null }>): Record<string, unknown> {
  const rows: { session: string; ref: string | null; check_name: string; details: { stage?: string; ms?: number } | null }[] = [];
  for (const e of events) {
    if (e.kind !== 'check.result') continue;
    rows.push({ session: e.session ?? '', ref: e.ref ?? null, check_name: e.check_name ?? '', details: (e.details ?? null) as { stage?: string; ms?: number } | null });
  }
  const SCANNERS = new Set(['virus', 'spam']);
  // Connect and HELO checks belong to the session; count them once per session's first transaction.
  const perTx = new Map<string, Map<string, number>>();
  // The same with the scanners in their stage: everything the checks add.
  const perTxAll = new Map<string, Map<string, number>>();
  const scan = new Map<string, number>();
  const sessionTx = new Map<string, string>();
  for (const r of rows) {
    const d = r.details ?? {};
    const ms = d.ms ?? 0;
    const stage = d.stage ?? '?';
    const key = stage === 'connect' || stage === 'helo' ? `s:${r.session}` : `t:${r.ref}`;
    if (key.startsWith('t:') && r.ref) sessionTx.set(r.session, sessionTx.get(r.session) ?? r.ref);
    const all = perTxAll.get(key) ?? new Map<string, number>();
    all.set(stage, Math.max(all.get(stage) ?? 0, ms));
    perTxAll.set(key, all);
    if (SCANNERS.has(r.check_name)) {
      const k = `${key}|${r.check_name}`;
      scan.set(k, ms);
      continue;
    }
    const m = perTx.get(key) ?? new Map<string, number>();
    m.set(stage, Math.max(m.get(stage) ?? 0, ms));
    perTx.set(key, m);
  }
  const sumByTx = (m: Map<string, Map<string, number>>): Map<string, number> => {
    const totals = new Map<string, number>();
    for (const [key, stages] of m) {
      const sum = [...stages.values()].reduce((a, b) => a + b, 0);
      const tx = key.startsWith('s:') ? sessionTx.get(key.slice(2)) : key.slice(2);
      if (!tx) continue;
      totals.set(tx, (totals.get(tx) ?? 0) + sum);
    }
    return totals;
  };
  const totals = sumByTx(perTx);
  const totalsAll = sumByTx(perTxAll);
  const pct = (xs: number[], p: number): number | null => {
    if (!xs.length) return null;
    const sorted = [...xs].sort((a, b) => a - b);
    return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! * 1000) / 1000;
  };
  const t = [...totals.values()];
  const tAll = [...totalsAll.values()];
  const byScanner: Record<string, { p50: number | null; p99: number | null; n: number }> = {};
  for (const name of SCANNERS) {
    const xs = [...scan.entries()].filter(([k]) => k.endsWith(`|${name}`)).map(([, v]) => v);
    if (xs.length) byScanner[name] = { p50: pct(xs, 50), p99: pct(xs, 99), n: xs.length };
  }
  return {
    transactions: t.length, checks_ms_p50: pct(t, 50), checks_ms_p99: pct(t, 99), scanners_ms: byScanner,
    // With the scanners: the whole time the checks add to a transaction.
    with_scanners_ms_p50: pct(tAll, 50), with_scanners_ms_p99: pct(tAll, 99),
  };
}
