// A throwaway SpamAssassin spamd (Debian bookworm's spamd 4.0) for end-to-end
// tests, on a free loopback port.
//
// The package's rules are used as shipped (-C /usr/share/spamassassin; an
// sa-update'd /var/lib/spamassassin is ignored so every machine scans with the
// same rules). The site configuration is our own in a temporary directory:
// the plugin loaders (*.pre) copied from /etc/spamassassin, and a local.cf
// that turns off everything needing the network or state (Bayes, auto-learn,
// DNS blocklists, Razor, Pyzor, DCC); spamd runs with -L (local tests only)
// and -x (no per-user configuration).
//
// As root, spamd drops to the user `nobody` for scanning, so the directory is
// world-readable. Startup: spamd parses and compiles some 2,000 rules: several
// seconds, up to a minute on a busy machine (see startupMs).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './server.js';
import { which } from './env.js';

export interface SpamdOptions {
  spamdPath?: string;
  port?: number;
  /** Longest start waits for PONG; default 300 s. */
  startTimeoutMs?: number;
  /** Extra local.cf lines (e.g. 'required_score 3.0'). */
  localCf?: string;
  /** Directory of the stock rules; default /usr/share/spamassassin. */
  rulesDir?: string;
}

export interface SpamdInstance {
  host: string;
  port: number;
  dir: string;
  startupMs: number;
  /** spamd's log (stderr) so far. */
  output(): string;
  /** Starts it again (same port and configuration) after kill(). */
  start(): Promise<void>;
  /** SIGSTOP to every spamd process: connections are accepted by the kernel, never answered (a hung scanner). */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** SIGKILL to spamd and its children (a crash); keeps the directory. */
  kill(): Promise<void>;
  /** SIGTERM, waits for every spamd process to exit, removes the directory. Idempotent. */
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function ping(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    let buf = '';
    const t = setTimeout(() => s.destroy(), timeoutMs);
    s.on('connect', () => s.write('PING SPAMC/1.5\r\n\r\n'));
    s.on('data', (d: Buffer) => { buf += d.toString('latin1'); });
    s.on('error', () => { /* close follows */ });
    s.on('close', () => { clearTimeout(t); resolve(/^SPAMD\/\d+\.\d+ 0 PONG/.test(buf)); });
  });
}

function groupMembers(pgid: number): number[] {
  const pids: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
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

const LOCAL_CF = `# Written by test/helpers/spamd.ts: offline, stateless.
use_bayes 0
bayes_auto_learn 0
skip_rbl_checks 1
dns_available no
use_razor2 0
use_pyzor 0
use_dcc 0
use_auto_whitelist 0
`;

export async function startSpamd(opts: SpamdOptions = {}): Promise<SpamdInstance> {
  const bin = opts.spamdPath ?? which('spamd');
  if (!bin) throw new Error('spamd is not installed (scripts/install-test-deps.sh)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-spamd-'));
  const site = path.join(dir, 'site');
  const home = path.join(dir, 'home');
  fs.mkdirSync(site);
  fs.mkdirSync(home);
  for (const f of fs.readdirSync('/etc/spamassassin')) {
    if (f.endsWith('.pre')) fs.copyFileSync(path.join('/etc/spamassassin', f), path.join(site, f));
  }
  fs.writeFileSync(path.join(site, 'local.cf'), LOCAL_CF + (opts.localCf ? `${opts.localCf}\n` : ''));
  // spamd's children run as nobody: they must read the configuration.
  fs.chmodSync(dir, 0o755);
  fs.chmodSync(site, 0o755);
  fs.chmodSync(home, 0o777);

  const host = '127.0.0.1';
  const port = opts.port ?? await freePort();
  const startTimeoutMs = opts.startTimeoutMs ?? 300000;
  const args = [
    '-L', '-x',
    '--listen', `${host}:${port}`,
    '-A', '127.0.0.1',
    '-C', opts.rulesDir ?? '/usr/share/spamassassin',
    `--siteconfigpath=${site}`,
    `--helper-home-dir=${home}`,
    '--syslog=stderr',
    '--min-children=1', '--max-children=2',
    '--pidfile', path.join(dir, 'spamd.pid'),
  ];
  if (process.getuid?.() === 0) args.push('-u', 'nobody');

  let proc: ChildProcess | null = null;
  /** Resolves when Node has reaped the main process (its 'exit' event). */
  let reaped: Promise<void> = Promise.resolve();
  let pgid = 0;
  let out = '';
  let removed = false;
  const onExit = (): void => { if (pgid) signalGroup(pgid, 'SIGKILL'); };
  process.on('exit', onExit);

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
    pgid = 0;
  }

  const inst: SpamdInstance = {
    host,
    port,
    dir,
    startupMs: 0,
    output: () => out,
    async start(): Promise<void> {
      if (proc && proc.exitCode === null && proc.signalCode === null) throw new Error('spamd is already running');
      const t0 = Date.now();
      const p = spawn(bin, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      proc = p;
      pgid = p.pid ?? 0;
      p.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
      p.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
      let gone = false;
      reaped = new Promise<void>((r) => p.once('exit', () => { gone = true; r(); }));
      const deadline = t0 + startTimeoutMs;
      for (;;) {
        if (gone) throw new Error(`spamd exited during start (code ${p.exitCode}, signal ${p.signalCode})\n${out.slice(-5000)}`);
        if (await ping(host, port, 2000)) break;
        if (Date.now() > deadline) {
          signalGroup(pgid, 'SIGKILL');
          throw new Error(`spamd did not answer PING within ${startTimeoutMs} ms\n${out.slice(-5000)}`);
        }
        await sleep(200);
      }
      inst.startupMs = Date.now() - t0;
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

  try {
    await inst.start();
  } catch (e) {
    await inst.stop();
    throw e;
  }
  return inst;
}
