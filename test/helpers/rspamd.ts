// A throwaway rspamd (Debian bookworm's rspamd 3.4) for end-to-end tests.
//
// The package's rules and module defaults are used as shipped ($CONFDIR is
// /etc/rspamd, read only); everything this instance writes lives in one
// temporary directory: our own top-level rspamd.conf (a normal worker and a
// controller on free loopback ports, no proxy, no fuzzy storage), the
// $LOCAL_CONFDIR with local.d/ overrides, $DBDIR, $RUNDIR and the log.
//
// Offline and fast: no Redis (the modules that need it disable themselves or
// are disabled here), no module that looks anything up on the network (RBLs,
// fuzzy, SPF/DKIM/DMARC/ARC, ASN, remote maps), and DNS goes to a closed
// loopback port so a forgotten lookup fails at once instead of hanging.
//
// Startup: rspamd compiles the public suffix list (about 9,600 patterns) into
// a hyperscan database at start. That takes minutes on a busy 2-core machine,
// so the compiled databases are kept in a cache directory shared by all
// instances and runs (hs_cache_dir; files are named by a hash of their
// patterns, so a changed rule set or rspamd version simply adds new files).
// Cold start: 1-3 minutes; warm: a few seconds (see startupMs).
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './server.js';
import { which } from './env.js';

export interface RspamdOptions {
  /** Path of the rspamd binary; default found on PATH. */
  rspamdPath?: string;
  /** Port of the normal (scanner) worker; default a free one. */
  port?: number;
  /** Longest start() waits for /ping; default 600 s (a cold hyperscan cache). */
  startTimeoutMs?: number;
  /**
   * Where compiled hyperscan databases are kept between instances and runs.
   * Default $MAILPROOF_RSPAMD_CACHE or <tmpdir>/mailproof-rspamd-cache.
   */
  cacheDir?: string;
  /** Extra local.d files: name -> content (e.g. { 'actions.conf': 'reject = 10;' }). */
  localD?: Record<string, string>;
  /** override.d files (they replace a module's settings key by key, where local.d merges into the defaults). */
  overrideD?: Record<string, string>;
  /**
   * DNS servers ("HOST:PORT") instead of the closed loopback port: the
   * benchmark points rspamd at its Knot server and turns the DNS modules on.
   */
  nameservers?: string[];
  /** More lines for the options section (local.d/options.inc), e.g. 'check_local = true;'. */
  options?: string;
  /** Processes of the normal worker (and of the milter proxy); default 1. */
  workers?: number;
  /**
   * Also a proxy worker in milter mode on this loopback port (Postfix's
   * smtpd_milters = inet:127.0.0.1:PORT), scanning itself (self_scan) as
   * rspamd's documentation sets up a milter without separate normal workers.
   */
  milterPort?: number;
}

export interface RspamdInstance {
  /** The normal worker: POST /checkv2 here. */
  url: string;
  /** The controller (web UI/API; /ping, /stat). */
  controllerUrl: string;
  port: number;
  /** The milter proxy's port, if one was asked for. */
  milterPort: number | null;
  /** The main process's pid while running (its children are the workers), else 0. */
  mainPid(): number;
  dir: string;
  /** How long the last start took until /ping answered. */
  startupMs: number;
  /** The log so far ('' before the first line). */
  log(): string;
  /** rspamd's stdout and stderr so far. */
  output(): string;
  /** Starts it again (same ports and configuration) after kill() or halt(). */
  start(): Promise<void>;
  /** SIGTERM, waits until every rspamd process has exited; keeps the directory. */
  halt(): Promise<void>;
  /** SIGSTOP to every rspamd process: connections are accepted by the kernel, never answered (a hung scanner). */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** SIGKILL to every rspamd process (a crash); keeps the directory. */
  kill(): Promise<void>;
  /** Stops rspamd and removes the directory. Idempotent. */
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A UDP port nothing listens on (bound and released): DNS queries to it fail at once. */
async function closedUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** GET url; resolves with the body when the status is 200, else null. Never rejects. */
function httpGet(url: string, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve(res.statusCode === 200 ? body : null));
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

/** Pids whose process group is pgid (rspamd's main and its forked workers). */
function groupMembers(pgid: number): number[] {
  const pids: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // fields[0] = state, fields[2] = pgrp (proc(5))
      if (fields[0] !== 'Z' && Number(fields[2]) === pgid) pids.push(Number(e));
    } catch { /* gone */ }
  }
  return pids;
}

function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch { /* already gone */ }
}

const q = (s: string): string => JSON.stringify(s);

function writeConfig(o: {
  dir: string; localDir: string; port: number; controllerPort: number; dnsPort: number; cacheDir: string;
  localD: Record<string, string>; overrideD: Record<string, string>; nameservers: string[] | null; workers: number;
  milterPort: number | null; options: string;
}): string {
  const proxy = o.milterPort === null ? '' : `
worker "rspamd_proxy" {
  bind_socket = "127.0.0.1:${o.milterPort}";
  .include "$CONFDIR/worker-proxy.inc"
  .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/worker-proxy.inc"
}
`;
  const conf = `# Written by test/helpers/rspamd.ts: a throwaway instance on loopback.
.include "$CONFDIR/common.conf"

options {
  pidfile = "$RUNDIR/rspamd.pid";
  .include "$CONFDIR/options.inc"
  .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/options.inc"
}

logging {
  type = "file";
  filename = "$LOGDIR/rspamd.log";
  .include "$CONFDIR/logging.inc"
  .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/logging.inc"
}

worker "normal" {
  bind_socket = "127.0.0.1:${o.port}";
  .include "$CONFDIR/worker-normal.inc"
  .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/worker-normal.inc"
}

worker "controller" {
  bind_socket = "127.0.0.1:${o.controllerPort}";
  .include "$CONFDIR/worker-controller.inc"
  .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/worker-controller.inc"
}
${proxy}`;
  const off = 'enabled = false;\n';
  const files: Record<string, string> = {
    'options.inc': `dns {
  nameserver = [${(o.nameservers ?? [`127.0.0.1:${o.dnsPort}`]).map(q).join(', ')}];
  timeout = 0.5s;
  retransmits = 0;
}
hs_cache_dir = ${q(o.cacheDir + '/')};
control_socket = "$RUNDIR/rspamd.sock mode=0600";
# No per-run files outside the instance directory.
tempdir = ${q(path.join(o.dir, 'tmp'))};
${o.options}`,
    'logging.inc': 'level = "info";\n',
    'worker-normal.inc': `count = ${o.workers};\n`,
    // Milter mode, scanning in the proxy itself (no hop to a normal worker).
    'worker-proxy.inc': `milter = yes;\ncount = ${o.workers};\nupstream "local" {\n  default = yes;\n  self_scan = yes;\n}\n`,
    'worker-controller.inc': 'count = 1;\n',
    // Network lookups: nothing but loopback is reachable here, and a test must
    // not depend on the internet's view of an address.
    'rbl.conf': off,
    'fuzzy_check.conf': off,
    'asn.conf': off,
    'spf.conf': off,
    'dkim.conf': off,
    'dmarc.conf': off,
    'arc.conf': off,
    'dkim_signing.conf': off,
    // HELO/From/PTR resolution checks: every name would "not resolve" here.
    'hfilter.conf': off,
    // SPF/DKIM/DMARC-based allow-lists (their checks are off above).
    'whitelist.conf': off,
    'mx_check.conf': off,
    'url_redirector.conf': off,
    'rspamd_update.conf': off,
    // Remote maps (maps.rspamd.com): freemail/disposable lists, phishtank.
    'multimap.conf': off,
    'phishing.conf': 'phishtank_enabled = false;\nopenphish_enabled = false;\n',
    // Redis-backed (the Bayes classifier finds no Redis and skips itself).
    'greylist.conf': off,
    'ratelimit.conf': off,
    'neural.conf': off,
    'reputation.conf': off,
    'replies.conf': off,
    'history_redis.conf': off,
    ...o.localD,
  };
  fs.mkdirSync(path.join(o.localDir, 'local.d'), { recursive: true });
  fs.mkdirSync(path.join(o.localDir, 'override.d'), { recursive: true });
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(o.localDir, 'local.d', name), content);
  for (const [name, content] of Object.entries(o.overrideD)) fs.writeFileSync(path.join(o.localDir, 'override.d', name), content);
  const file = path.join(o.dir, 'rspamd.conf');
  fs.writeFileSync(file, conf);
  return file;
}

/** Starts a throwaway rspamd on loopback and waits until its /ping answers. */
export async function startRspamd(opts: RspamdOptions = {}): Promise<RspamdInstance> {
  const bin = opts.rspamdPath ?? which('rspamd');
  if (!bin) throw new Error('rspamd is not installed (scripts/install-test-deps.sh)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-rspamd-'));
  const localDir = path.join(dir, 'local');
  for (const d of ['db', 'run', 'log', 'tmp']) fs.mkdirSync(path.join(dir, d));
  const cacheDir = opts.cacheDir ?? process.env.MAILPROOF_RSPAMD_CACHE ?? path.join(os.tmpdir(), 'mailproof-rspamd-cache');
  fs.mkdirSync(cacheDir, { recursive: true });
  const port = opts.port ?? await freePort();
  const controllerPort = await freePort();
  const dnsPort = await closedUdpPort();
  const milterPort = opts.milterPort ?? null;
  const confFile = writeConfig({
    dir, localDir, port, controllerPort, dnsPort, cacheDir, localD: opts.localD ?? {}, overrideD: opts.overrideD ?? {},
    nameservers: opts.nameservers ?? null, workers: opts.workers ?? 1, milterPort, options: opts.options ?? '',
  });
  const logFile = path.join(dir, 'log', 'rspamd.log');
  const startTimeoutMs = opts.startTimeoutMs ?? 600000;

  let proc: ChildProcess | null = null;
  /** Resolves when Node has reaped the main process (its 'exit' event). */
  let reaped: Promise<void> = Promise.resolve();
  let pgid = 0;
  let out = '';
  let removed = false;
  const onExit = (): void => { if (pgid) signalGroup(pgid, 'SIGKILL'); };
  process.on('exit', onExit);

  const args = ['-f', '-c', confFile,
    '--var', `LOCAL_CONFDIR=${localDir}`,
    '--var', `DBDIR=${path.join(dir, 'db')}`,
    '--var', `RUNDIR=${path.join(dir, 'run')}`,
    '--var', `LOGDIR=${path.join(dir, 'log')}`];
  // As root, rspamd drops to the user and group given (the package's _rspamd
  // by default); the instance's files are root's, so it stays root here.
  if (process.getuid?.() === 0) args.push('-u', 'root', '-g', 'root');

  const inst: RspamdInstance = {
    url: `http://127.0.0.1:${port}`,
    controllerUrl: `http://127.0.0.1:${controllerPort}`,
    port,
    milterPort,
    mainPid: () => pgid,
    dir,
    startupMs: 0,
    log: () => { try { return fs.readFileSync(logFile, 'utf8'); } catch { return ''; } },
    output: () => out,
    async start(): Promise<void> {
      if (proc && proc.exitCode === null && proc.signalCode === null) throw new Error('rspamd is already running');
      const t0 = Date.now();
      // detached: its own process group, so kill() reaches the forked workers too.
      const p = spawn(bin, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      proc = p;
      pgid = p.pid ?? 0;
      p.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
      p.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
      let gone = false;
      reaped = new Promise<void>((r) => p.once('exit', () => { gone = true; r(); }));
      const deadline = t0 + startTimeoutMs;
      for (;;) {
        if (gone) {
          throw new Error(`rspamd exited during start (code ${p.exitCode}, signal ${p.signalCode})\n${out.slice(-3000)}\n${inst.log().slice(-5000)}`);
        }
        if ((await httpGet(`${inst.url}/ping`, 1000))?.startsWith('pong')) break;
        if (Date.now() > deadline) {
          signalGroup(pgid, 'SIGKILL');
          throw new Error(`rspamd did not answer /ping within ${startTimeoutMs} ms\n${out.slice(-3000)}\n${inst.log().slice(-5000)}`);
        }
        await sleep(100);
      }
      inst.startupMs = Date.now() - t0;
    },
    async halt(): Promise<void> {
      await stopGroup('SIGTERM', 15000);
    },
    pause(): void {
      if (pgid) signalGroup(pgid, 'SIGSTOP');
    },
    resume(): void {
      if (pgid) signalGroup(pgid, 'SIGCONT');
    },
    async kill(): Promise<void> {
      await stopGroup('SIGKILL', 5000);
    },
    async stop(): Promise<void> {
      await stopGroup('SIGTERM', 15000);
      process.removeListener('exit', onExit);
      if (!removed) {
        removed = true;
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };

  async function stopGroup(sig: NodeJS.Signals, graceMs: number): Promise<void> {
    if (!pgid) return;
    const g = pgid;
    signalGroup(g, sig);
    signalGroup(g, 'SIGCONT');
    const deadline = Date.now() + graceMs;
    while (groupMembers(g).length > 0) {
      if (Date.now() > deadline + 10000) throw new Error(`processes of group ${g} survive SIGKILL: ${groupMembers(g).join(' ')}`);
      if (Date.now() > deadline) signalGroup(g, 'SIGKILL');
      await sleep(50);
    }
    // The group is gone, but the main process is a zombie until Node reaps
    // it; only then may start() run again.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => { timer = setTimeout(() => r('late'), 10000); });
    const r = await Promise.race([reaped, late]);
    clearTimeout(timer);
    if (r === 'late') throw new Error(`the main process of group ${g} exited but was not reaped within 10 s`);
    // The listening sockets are closed once every worker is gone.
    pgid = 0;
  }

  try {
    await inst.start();
  } catch (e) {
    await inst.stop();
    throw e;
  }
  return inst;
}
