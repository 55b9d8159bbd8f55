// A throwaway clamd for end-to-end tests: the real Debian clamav-daemon with
// the signatures the project ships (test/fixtures/clamav), since no signature
// download is possible here.
//
// Everything lives in one temporary directory (config, database copy, local
// socket, log, temp files); the package's own service, /etc/clamav and
// /var/lib/clamav are never used. clamd runs in the foreground as a child of
// the test process and as the same user (no User option: it needs no root),
// listening on a free port on 127.0.0.1 and on a unix socket.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT, freePort } from './server.js';
import { which } from './env.js';

/** The shipped test signatures (README.md there says what each matches). */
export const SIGNATURE_DIR = path.join(ROOT, 'test/fixtures/clamav');
const SIGNATURE_EXT = /\.(ndb|hdb|hsb|mdb|msb|ldb|cdb|ftm|ign2|fp|sfp|yar|yara|pdb|wdb|cat|crb)$/;

export interface ClamdOptions {
  /** clamd's StreamMaxLength in bytes (INSTREAM limit). Default 25 MiB, as Debian's clamd.conf. */
  streamMaxLength?: number;
  /** Extra or overriding clamd.conf lines, e.g. { MaxThreads: '2' }. */
  conf?: Record<string, string>;
  /** Path of clamd; default found on PATH or in /usr/sbin. */
  clamdPath?: string;
  /** How long to wait for PONG; default 60 s (the tiny database loads in well under a second). */
  startTimeoutMs?: number;
  /** Use this TCP port instead of a free one. */
  port?: number;
}

export interface ClamdInstance {
  tcp: { host: string; port: number };
  /** The unix socket (LocalSocket). */
  socket: string;
  dir: string;
  logFile: string;
  pid: number;
  /** The whole log so far. */
  log(): string;
  /** SIGTERM, waits for the exit, removes the directory. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL (for failure tests), waits for the exit; the directory stays for restart(). */
  kill(): Promise<void>;
  /**
   * Starts clamd again on the same port and socket (after kill(), or to
   * replace a running one), and waits for PONG.
   */
  restart(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One PING over TCP; true on PONG. */
export function pingTcp(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    let buf = '';
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.on('connect', () => s.write('zPING\0'));
    s.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('\0')) done(buf.startsWith('PONG'));
    });
    s.on('error', () => done(false));
    s.on('close', () => done(buf.startsWith('PONG')));
  });
}

function writeConf(dir: string, port: number, opts: ClamdOptions): string {
  const lines: Record<string, string> = {
    Foreground: 'yes',
    LogFile: path.join(dir, 'clamd.log'),
    LogTime: 'yes',
    LogVerbose: 'no',
    PidFile: path.join(dir, 'clamd.pid'),
    TemporaryDirectory: path.join(dir, 'tmp'),
    DatabaseDirectory: path.join(dir, 'db'),
    LocalSocket: path.join(dir, 'clamd.sock'),
    LocalSocketMode: '660',
    TCPSocket: String(port),
    TCPAddr: '127.0.0.1',
    StreamMaxLength: String(opts.streamMaxLength ?? 25 * 1024 * 1024),
    MaxThreads: '4',
    // The database never changes during a test: no reload checks.
    SelfCheck: '0',
    ScanMail: 'yes',
    ScanArchive: 'yes',
    ScanOLE2: 'yes',
    ...opts.conf,
  };
  const file = path.join(dir, 'clamd.conf');
  fs.writeFileSync(file, Object.entries(lines).map(([k, v]) => `${k} ${v}\n`).join(''));
  return file;
}

/**
 * Starts clamd and waits until it answers PING with PONG on TCP and the unix
 * socket exists. Throws with the log if clamd exits or does not answer in time.
 */
export async function startClamd(opts: ClamdOptions = {}): Promise<ClamdInstance> {
  const clamd = opts.clamdPath ?? which('clamd');
  if (!clamd) throw new Error('clamd is not installed (scripts/install-test-deps.sh installs clamav-daemon)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-clamd-'));
  // A copy of the signature files only: clamd would also try to load
  // anything else in the directory that has a database extension.
  const db = path.join(dir, 'db');
  fs.mkdirSync(db);
  fs.mkdirSync(path.join(dir, 'tmp'));
  for (const f of fs.readdirSync(SIGNATURE_DIR)) {
    if (SIGNATURE_EXT.test(f)) fs.copyFileSync(path.join(SIGNATURE_DIR, f), path.join(db, f));
  }
  const port = opts.port ?? (await freePort());
  const conf = writeConf(dir, port, opts);
  const logFile = path.join(dir, 'clamd.log');
  const socket = path.join(dir, 'clamd.sock');
  const host = '127.0.0.1';

  let proc: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let output = '';

  const log = (): string => {
    try {
      return fs.readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };

  const launch = async (): Promise<void> => {
    // A stale socket from a killed clamd would make clamd refuse to start.
    fs.rmSync(socket, { force: true });
    output = '';
    const p = spawn(clamd, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = p;
    p.stdout?.on('data', (d: Buffer) => { output += d.toString(); });
    p.stderr?.on('data', (d: Buffer) => { output += d.toString(); });
    let gone = false;
    // A test process that dies must not leave clamd behind.
    const reap = (): void => { p.kill('SIGKILL'); };
    process.once('exit', reap);
    exited = new Promise<void>((resolve) => p.once('exit', () => {
      gone = true;
      process.removeListener('exit', reap);
      resolve();
    }));
    const deadline = Date.now() + (opts.startTimeoutMs ?? 60000);
    for (;;) {
      if (gone) throw new Error(`clamd exited during start (code ${p.exitCode}, signal ${p.signalCode})\n${output}\n${log()}`);
      if (fs.existsSync(socket) && (await pingTcp(host, port))) return;
      if (Date.now() > deadline) {
        p.kill('SIGKILL');
        await exited;
        throw new Error(`clamd did not answer PING within ${opts.startTimeoutMs ?? 60000} ms\n${output}\n${log()}`);
      }
      await sleep(50);
    }
  };

  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    p.kill(sig);
    const t = setTimeout(() => p.kill('SIGKILL'), 15000);
    await exited;
    clearTimeout(t);
  };

  try {
    await launch();
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  let removed = false;
  const inst: ClamdInstance = {
    tcp: { host, port },
    socket,
    dir,
    logFile,
    get pid(): number {
      return proc?.pid ?? -1;
    },
    log,
    stop: async () => {
      await signal('SIGTERM');
      if (!removed) {
        removed = true;
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
    kill: () => signal('SIGKILL'),
    restart: async () => {
      if (removed) throw new Error('clamd was stopped and its directory removed; start a new one');
      await signal('SIGTERM');
      await launch();
    },
  };
  return inst;
}
