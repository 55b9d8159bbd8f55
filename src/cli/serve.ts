import cluster from 'node:cluster';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type LoadOptions, type ResolvedConfig } from '../config/load.js';
import { createLogger } from '../log/logger.js';
import { servePrimaryLimiter, WorkerLimiter } from '../smtp/cluster-limiter.js';
import { serveRatePrimary } from '../checks/rate/cluster.js';
import { LocalLimiter } from '../net/limiter.js';
import { loadTls, type TlsMaterial } from '../net/tls.js';
import { Reloader, type ReloadPlan } from '../runtime/reload.js';
import { startGateway, type RunningGateway } from '../runtime/gateway-process.js';
import { isClusterStore, prepareStore } from '../ledger/open.js';
import { startIndexer, type RunningIndexer } from '../ledger/indexer-thread.js';
import { startPop3, type RunningPop3 } from '../pop3/server.js';
import { startWeb, type RunningWeb } from '../web/index.js';
import { commandHint } from '../util/invocation.js';
import { errorMessage, exitCodeOf } from './common.js';

type Log = ReturnType<typeof createLogger>;

/** Messages between the primary and its workers besides the start-up ones. */
type ReloadMessage =
  | { mp: 'config?' }
  | { mp: 'config'; cfg: ResolvedConfig }
  | { mp: 'reload'; id: number; cfg: ResolvedConfig }
  | { mp: 'reloaded'; id: number; ok: boolean; error?: string; generation?: number };

// SIGHUP's default action ends the process: it is caught from the very
// start, and a reload asked for before serve is ready runs once it is.
let onHangup: (() => void) | null = null;
let hangupPending = false;

/** A worker's gateway, once it runs: reloads the primary asks for wait for it. */
let gatewayStarted: (v: { gw: RunningGateway; log: Log }) => void = () => undefined;
const gatewayReady = new Promise<{ gw: RunningGateway; log: Log }>((resolve) => { gatewayStarted = resolve; });

/**
 * The command: the primary (or the only process) reads the configuration
 * and reads it again on SIGHUP; a worker takes the configuration the primary
 * runs with, which may be a reloaded one (the file may have changed since,
 * or hold errors the primary refused).
 */
export async function serveCommand(opts: LoadOptions): Promise<void> {
  process.on('SIGHUP', () => {
    if (onHangup) onHangup();
    else hangupPending = true;
  });
  if (cluster.isWorker) {
    listenForReloads();
    return serve(await configFromPrimary(), null);
  }
  const load = (): ResolvedConfig => loadConfig(opts);
  return serve(load(), load);
}

function whenHangup(fn: () => void): void {
  onHangup = fn;
  if (hangupPending) { hangupPending = false; fn(); }
}

function configFromPrimary(): Promise<ResolvedConfig> {
  return new Promise((resolve) => {
    const on = (m: ReloadMessage): void => {
      if (m?.mp !== 'config') return;
      process.off('message', on);
      resolve(m.cfg);
    };
    process.on('message', on);
    process.send?.({ mp: 'config?' } satisfies ReloadMessage);
  });
}

/** A worker: the primary validated the configuration; build it and say how it went. */
function listenForReloads(): void {
  let chain: Promise<void> = Promise.resolve();
  process.on('message', (m: ReloadMessage) => {
    if (m?.mp !== 'reload') return;
    chain = chain.then(async () => {
      const { gw, log } = await gatewayReady;
      let answer: ReloadMessage;
      try {
        const tls = loadTls(m.cfg.smtp.tls_cert, m.cfg.smtp.tls_key, m.cfg.paths.tlsDir, m.cfg.hostname);
        await gw.reload(m.cfg, tls);
        log.info({ generation: gw.generation }, 'worker: new sessions use the reloaded configuration');
        answer = { mp: 'reloaded', id: m.id, ok: true, generation: gw.generation };
      } catch (err) {
        answer = { mp: 'reloaded', id: m.id, ok: false, error: (err as Error).message };
      }
      process.send?.(answer);
    });
  });
}

/**
 * `mailproof serve`. One process, or a primary with workers that share the
 * listening sockets (Node's cluster module): one Node process uses one core,
 * and durable acceptance is bound by CPU and fsync latency, so every core
 * helps. Each worker writes its own journal stream (no shared write lock);
 * the primary holds the connection counts and runs the indexer, which builds
 * the store from every stream.
 */
export async function serve(cfg: ResolvedConfig, load: (() => ResolvedConfig) | null): Promise<void> {
  const log = createLogger(cfg.log.level, { node: cfg.node });
  let startTls: TlsMaterial | null = null;
  let pop3: RunningPop3 | null = null;
  let web: RunningWeb | null = null;
  let indexer: RunningIndexer | null = null;
  // Without an SMTP listener (a research node of a cluster) one process is enough.
  const workers = cfg.smtp.listen.length === 0 ? 1 : cfg.smtp.workers === 'auto' ? Math.max(1, os.availableParallelism()) : cfg.smtp.workers;
  // When a later part cannot start (a port in use), what started so far
  // stops again: no half-started server keeps running, no lock stays taken.
  const stopStarted = async (): Promise<void> => {
    await Promise.all([
      pop3?.stop().catch((err: Error) => log.error({ err: err.message }, 'error while stopping POP3')),
      web?.stop().catch((err: Error) => log.error({ err: err.message }, 'error while stopping the web server')),
    ]);
    await indexer?.stop();
  };

  if (cluster.isPrimary) {
    try {
      prepareDataDir(cfg);
      // Created once here so workers do not race to make the key.
      const tls = loadTls(cfg.smtp.tls_cert, cfg.smtp.tls_key, cfg.paths.tlsDir, cfg.hostname);
      startTls = tls;
      if (tls.selfSigned) log.info({ cert: path.join(cfg.paths.tlsDir, 'cert.pem') }, 'using a self-signed certificate for STARTTLS');
      // The store exists (a ledger of the previous format converted into it,
      // with progress on a terminal) before anything reads it.
      const converted = await prepareStore(cfg).catch((err: Error) => {
        // A cluster node takes mail while PostgreSQL is down: the journal keeps it, the indexer ships it later.
        if (err.name !== 'StoreUnavailableError' || !isClusterStore(cfg.paths)) throw err;
        log.error({ err: err.message }, 'the cluster store cannot be reached: mail is taken into the journal and shipped when it is back (research misses it until then)');
        return null;
      });
      if (converted) log.warn({ events: converted.events, old: converted.renamedTo }, 'converted the ledger of the previous format into the store; the old file is kept under the name given');
      indexer = startIndexer(cfg, log);
      // POP3 runs in the primary only: one process holds the mailbox locks and
      // the login-failure counts (src/pop3/server.ts).
      pop3 = await startPop3(cfg, tls, log);
      if (pop3) {
        const where = pop3.addresses.map((a) => `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`).join(', ');
        log.info({ pop3: where }, 'POP3 is listening');
        process.stdout.write(`mailproof: POP3 on ${where}\n`);
      }
      // The web server too: its sessions and login-failure counts live in
      // memory, so one process must see every request (web/index.ts).
      // The report module (pdfkit, fonts) loads on the first download, not at start.
      web = await startWeb(cfg, log);
      if (web) announceWeb(web, log);
    } catch (err) {
      await stopStarted();
      throw err;
    }
    if (workers > 1) return runPrimary(cfg, workers, log, pop3, web, indexer, startTls!, load!);
  }

  const tls = loadTls(cfg.smtp.tls_cert, cfg.smtp.tls_key, cfg.paths.tlsDir, cfg.hostname);
  const limiter = cluster.isWorker ? new WorkerLimiter() : new LocalLimiter(cfg.smtp.max_connections, cfg.smtp.max_connections_per_ip);
  const stream = cluster.isWorker ? `smtp-${process.env.MAILPROOF_WORKER ?? cluster.worker?.id ?? 0}` : 'smtp';
  let gw: RunningGateway;
  try {
    gw = await startGateway(cfg, tls, limiter, log, stream);
  } catch (err) {
    if (cluster.isWorker) {
      // Every worker fails alike (the same port): the primary says it once and stops (runPrimary).
      process.send?.({ mp: 'start-failed', message: errorMessage(err), code: exitCodeOf(err) }, () => process.exit(exitCodeOf(err)));
      return;
    }
    await stopStarted();
    throw err;
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: new clients get 421, running sessions may finish');
    Promise.all([gw.stop(cfg.smtp.shutdown_grace_s * 1000), pop3?.stop(), web?.stop()]).then(() => indexer?.stop()).then(
      () => { log.info('stopped'); process.exit(0); },
      (err: Error) => { log.error({ err: err.message }, 'error while stopping'); process.exit(1); },
    );
  };
  // Before "listening" is announced: whoever waits for that line may stop
  // us at once, and a SIGTERM without a handler would kill the process
  // instead of stopping it (no 421s, no last events, no indexer flush).
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (cluster.isWorker) {
    // The primary reloads every worker (listenForReloads); a SIGHUP sent to
    // the whole process group must not end this one.
    whenHangup(() => log.info('SIGHUP to a worker is ignored: the primary reloads the workers'));
    gatewayStarted({ gw, log });
  } else {
    const pop3Now = pop3 as RunningPop3 | null;
    const reloader = new Reloader({ cfg, tls }, load!, async (plan) => {
      await gw.reload(plan.cfg, plan.tls);
      pop3Now?.reload(plan.cfg, plan.tls);
    }, log);
    whenHangup(() => { if (!stopping) void reloader.trigger(); });
  }
  const where = gw.addresses.map((a) => `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`).join(', ');
  if (cluster.isPrimary) {
    log.info({ smtp: where, data_dir: cfg.data_dir, domains: Object.keys(cfg.domains) }, 'mailproof is running');
    process.stdout.write(where
      ? `mailproof: SMTP on ${where}; data in ${cfg.data_dir}; local domains: ${Object.keys(cfg.domains).join(', ')}\n`
      : `mailproof: no SMTP listener (smtp.listen is empty); data in ${cfg.data_dir}\n`);
  } else {
    process.send?.({ mp: 'listening', where });
  }
}

function prepareDataDir(cfg: ResolvedConfig): void {
  fs.mkdirSync(cfg.data_dir, { recursive: true, mode: 0o700 });
  fs.mkdirSync(cfg.paths.maildirRoot, { recursive: true, mode: 0o700 });
  // Spool files left by a crash belong to transactions that never got a 250.
  fs.rmSync(path.join(cfg.data_dir, 'spool'), { recursive: true, force: true });
}

function announceWeb(web: RunningWeb, log: ReturnType<typeof createLogger>): void {
  log.info({ web: web.url, accounts: web.accounts, public_path: web.publicPath }, 'web UI is listening');
  const more = web.addresses.length > 1 ? ` (and ${web.addresses.slice(1).map((a) => `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`).join(', ')})` : '';
  process.stdout.write(`mailproof: web UI on ${web.url}${more}; public reference pages at ${web.publicPath}<REF>\n`);
  // With this instance's --config/--data-dir: the defaults would put the account where this server never looks.
  process.stdout.write(web.accounts === 0
    ? `mailproof: no web accounts yet; create a login with: ${commandHint('user add NAME --role staff')}\n`
    : `mailproof: ${web.accounts} web account(s); add more with: ${commandHint('user add NAME --role staff|customer [--domain D]')}\n`);
}

function runPrimary(
  cfg: ResolvedConfig, n: number, log: Log, pop3: RunningPop3 | null, web: RunningWeb | null, indexer: RunningIndexer | null,
  tls: TlsMaterial, load: () => ResolvedConfig,
): Promise<void> {
  servePrimaryLimiter(cfg.smtp.max_connections, cfg.smtp.max_connections_per_ip);
  serveRatePrimary();
  /** What a worker gets when it asks at start: the configuration of the last reload. */
  let current = cfg;
  /** Workers that got their configuration: they hear about every reload from then on. */
  const configured = new Set<number>();
  let reloadSeq = 0;
  const reloadWorker = (w: NonNullable<typeof cluster.workers>[string] & object, next: ResolvedConfig): Promise<string | null> => new Promise((resolve) => {
    const id = ++reloadSeq;
    const done = (err: string | null): void => {
      clearTimeout(timer);
      w.off('message', onMessage);
      w.off('exit', onExit);
      resolve(err);
    };
    const onMessage = (m: ReloadMessage): void => { if (m?.mp === 'reloaded' && m.id === id) done(m.ok ? null : m.error ?? 'failed'); };
    const onExit = (): void => done('the worker ended before it answered');
    const timer = setTimeout(() => done('no answer within 60 s'), 60_000);
    w.on('message', onMessage);
    w.once('exit', onExit);
    w.send({ mp: 'reload', id, cfg: next } satisfies ReloadMessage);
  });
  const reloader = new Reloader({ cfg, tls }, load, async (plan: ReloadPlan) => {
    // First, so that a worker started from now on (in place of a dead one) starts with it.
    current = plan.cfg;
    pop3?.reload(plan.cfg, plan.tls);
    const targets = Object.values(cluster.workers ?? {}).filter((w): w is NonNullable<typeof w> => !!w && configured.has(w.id) && w.isConnected());
    const failed = await Promise.all(targets.map(async (w) => ({ pid: w.process.pid, err: await reloadWorker(w, plan.cfg) })));
    for (const f of failed) {
      if (f.err) log.error({ pid: f.pid, err: f.err }, `reload: worker ${f.pid} kept the old configuration: ${f.err}`);
    }
  }, log);
  let stopping = false;
  let exitCode = 0;
  let listening = 0;
  /** Workers that announced their listeners. */
  const listened = new Set<number>();
  // Worker i writes journal stream smtp-i; a worker started in place of a dead one takes over its stream.
  const fork = (i: number): void => {
    const w = cluster.fork({ MAILPROOF_WORKER: String(i) });
    slot.set(w.id, i);
    w.on('message', (m: { mp?: string; where?: string; message?: string; code?: number }) => {
      if (m?.mp === 'config?') {
        configured.add(w.id);
        w.send({ mp: 'config', cfg: current } satisfies ReloadMessage);
      } else if (m?.mp === 'listening') {
        listened.add(w.id);
        if (stopping) w.process.kill('SIGTERM');
        else if (++listening === n) {
          log.info({ smtp: m.where, workers: n, data_dir: cfg.data_dir }, 'mailproof is running');
          process.stdout.write(`mailproof: SMTP on ${m.where} (${n} workers); data in ${cfg.data_dir}; local domains: ${Object.keys(cfg.domains).join(', ')}\n`);
        }
      } else if (m?.mp === 'start-failed') {
        if (stopping) return;
        if (listening < n) {
          // At start every worker fails alike (the same port in use): said
          // once, as the single process says it (cli/main.ts), and serve stops.
          process.stderr.write(`mailproof: ${m.message ?? 'a worker could not start'}\n`);
          stop(m.code ?? 1);
        } else {
          log.error({ err: m.message }, 'a worker started in place of a dead one could not start');
        }
      }
    });
  };
  const slot = new Map<number, number>();
  for (let i = 0; i < n; i++) fork(i);
  cluster.on('exit', (worker, code, signal) => {
    configured.delete(worker.id);
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) void pop3Stopped.then(() => indexer?.stop()).then(() => process.exit(exitCode));
      return;
    }
    log.error({ pid: worker.process.pid, code, signal }, 'worker died, starting a new one');
    fork(slot.get(worker.id) ?? 0);
  });
  let pop3Stopped: Promise<unknown> = Promise.resolve();
  const stop = (code = 0): void => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    pop3Stopped = Promise.all([
      pop3?.stop().catch((err: Error) => log.error({ err: err.message }, 'error while stopping POP3')),
      web?.stop().catch((err: Error) => log.error({ err: err.message }, 'error while stopping the web server')),
    ]);
    // After a failed start, a worker still starting fails alike and exits by itself, its journal lock released.
    for (const w of Object.values(cluster.workers ?? {})) if (w && (code === 0 || listened.has(w.id))) w.process.kill('SIGTERM');
    setTimeout(() => process.exit(exitCode || 1), (cfg.smtp.shutdown_grace_s + 10) * 1000).unref();
  };
  process.on('SIGTERM', () => stop());
  process.on('SIGINT', () => stop());
  whenHangup(() => { if (!stopping) void reloader.trigger(); });
  return Promise.resolve();
}
