// A throwaway PostgreSQL for tests: Debian's own server binaries
// (/usr/lib/postgresql/<version>/bin, not on PATH), a fresh cluster made by
// initdb in a temporary directory, listening on a free port on 127.0.0.1 and
// on a unix socket inside that directory. The machine's own clusters
// (pg_ctlcluster, /etc/postgresql) are never used or touched.
//
// Layout of the temporary directory:
//   data/          the cluster (owned by the server's user, mode 0700)
//   run/           the unix socket (superuser setup and query(), trust)
//   postgres.log   initdb's and the server's output
//   password       the test role's password (mode 0600)
//
// initdb and the server refuse to run as root: under root they run as the
// `postgres` system user the Debian package creates; otherwise as the user
// running the tests.
//
// The postmaster is a direct child of the test process, so stop() and kill()
// act on its PID and await its exit. A test process that ends without
// close() (a failed assertion before it, a signal) kills the server and
// removes the directory in an exit handler.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import pg from 'pg';
import { missingTool } from './env.js';
import { alive, pollUntil } from './postfix.js';
import { freePort } from './server.js';

const DEBIAN_PG_ROOT = '/usr/lib/postgresql';
/** The bootstrap superuser (initdb -U), reachable only over the unix socket. */
const SUPERUSER = 'postgres';
const HOST = '127.0.0.1';

export interface PostgresOptions {
  /** The login role with a password (and owner of `database`). Default 'mailproof'. */
  user?: string;
  /** Default 'mailproof'. */
  database?: string;
  /**
   * Keep fsync and full_page_writes on (benchmarks). By default they are off:
   * a test's data need not survive a machine crash, only a server crash.
   */
  durable?: boolean;
  /** Extra postgresql.conf settings; they win over the harness's own. */
  settings?: Record<string, string | number>;
  /** How long a start waits for the server to accept connections. Default 30 s. */
  startTimeoutMs?: number;
}

export interface PostgresInstance {
  host: typeof HOST;
  port: number;
  database: string;
  user: string;
  password: string;
  /** The password alone (no newline), mode 0600: how the product is given it. */
  passwordFile: string;
  /** postgres://user@127.0.0.1:port/database, without the password. */
  url: string;
  /** The temporary directory (data/, run/, postgres.log, password). */
  dir: string;
  dataDir: string;
  logFile: string;
  /** The postmaster's PID; after stop() or kill() the PID it had. */
  readonly pid: number;
  /** initdb's and the server's output so far. */
  log(): string;
  /** Fast shutdown (SIGINT to the postmaster); waits for its exit. No-op when stopped. */
  stop(): Promise<void>;
  /** Starts the server again on the same data and port (after stop() or kill()); waits for connections. */
  start(): Promise<void>;
  /** SIGKILL to the postmaster and every server process: a crash (start() then runs crash recovery). */
  kill(): void;
  /** One statement as the superuser over the unix socket, in `database` (for test assertions). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  /** stop() and remove the directory. Idempotent. */
  close(): Promise<void>;
}

/** The bin directory of the newest PostgreSQL installed by Debian's packages, or null. */
export function postgresBinDir(): string | null {
  let versions: string[];
  try {
    versions = fs.readdirSync(DEBIAN_PG_ROOT);
  } catch {
    return null;
  }
  const usable = versions
    .filter((v) => /^\d+(\.\d+)?$/.test(v))
    .filter((v) => ['initdb', 'postgres'].every((b) => isExecutable(path.join(DEBIAN_PG_ROOT, v, 'bin', b))))
    .sort((a, b) => Number(b) - Number(a));
  return usable[0] === undefined ? null : path.join(DEBIAN_PG_ROOT, usable[0], 'bin');
}

const POSTGRES = `PostgreSQL (${DEBIAN_PG_ROOT}/<version>/bin/initdb and postgres)`;

/** The bin directory, or what requireTool does about a missing tool: skip outside CI, fail under CI. */
export function requirePostgres(t: TestContext): string | null {
  return postgresBinDir() ?? missingTool(t, POSTGRES);
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Who runs initdb and the server: root may not, so the package's postgres user; anyone else as themselves. */
function serverUser(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  try {
    const id = (flag: string): number => Number(execFileSync('id', [flag, SUPERUSER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new Error(`the tests run as root and there is no "${SUPERUSER}" system user to run PostgreSQL as (Debian's postgresql package creates it; scripts/install-test-deps.sh installs it)`);
  }
}

// --- never leave a server behind -------------------------------------------

/** Synchronous last-resort cleanups of the instances not closed yet. */
const pending = new Set<() => void>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function cleanUpAll(): void {
  for (const f of pending) f();
  pending.clear();
}

function onSignal(sig: NodeJS.Signals): void {
  cleanUpAll();
  unguardAll();
  // Die of the signal as without this handler, unless someone else handles it.
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}

function unguardAll(): void {
  process.removeListener('exit', cleanUpAll);
  for (const s of SIGNALS) process.removeListener(s, onSignal);
}

function guard(f: () => void): void {
  if (pending.size === 0) {
    process.on('exit', cleanUpAll);
    for (const s of SIGNALS) process.on(s, onSignal);
  }
  pending.add(f);
}

function unguard(f: () => void): void {
  pending.delete(f);
  if (pending.size === 0) unguardAll();
}

/** The processes whose parent is pid (a postmaster's backends and workers). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      // Fields after the command (which may hold spaces and parentheses): state, ppid, ...
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(e));
    } catch { /* exited meanwhile */ }
  }
  return out;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

// ---------------------------------------------------------------------------

/** A client, used for fn and closed again. */
async function withClient<T>(config: pg.ClientConfig, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  // ssl: false, so that no PGSSLMODE in the environment applies to a loopback test server.
  const c = new pg.Client({ ssl: false, ...config });
  await c.connect(); // on failure pg has closed the socket already
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

function conf(settings: Record<string, string | number>): string {
  const quote = (v: string | number): string => (typeof v === 'number' ? String(v) : `'${v.replace(/'/g, "''")}'`);
  return Object.entries(settings).map(([k, v]) => `${k} = ${quote(v)}\n`).join('');
}

function tail(text: string, lines = 40): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Starts a throwaway PostgreSQL and waits until it accepts connections. With
 * a test context: the binaries missing skip the test (null) outside CI and
 * fail it under CI, and the test's after() closes the instance.
 */
export async function startPostgres(t: TestContext, opts?: PostgresOptions): Promise<PostgresInstance | null>;
export async function startPostgres(t?: undefined, opts?: PostgresOptions): Promise<PostgresInstance>;
export async function startPostgres(t?: TestContext, opts: PostgresOptions = {}): Promise<PostgresInstance | null> {
  const bin = t ? requirePostgres(t) : postgresBinDir();
  if (!bin) {
    if (t) return null;
    throw new Error(`${POSTGRES} is not installed; scripts/install-test-deps.sh installs it`);
  }
  const runAs = serverUser();
  const user = opts.user ?? 'mailproof';
  const database = opts.database ?? 'mailproof';
  const startTimeoutMs = opts.startTimeoutMs ?? 30000;
  const port = await freePort(HOST);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-pg-'));
  const dataDir = path.join(dir, 'data');
  const runDir = path.join(dir, 'run');
  const logFile = path.join(dir, 'postgres.log');
  const passwordFile = path.join(dir, 'password');
  const password = randomBytes(18).toString('base64url');

  let proc: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let pid = -1;
  let closed = false;

  const log = (): string => {
    try {
      return fs.readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  /** Until its exit event: also a killed postmaster whose exit is not seen yet. */
  const running = (): boolean => proc !== null && proc.exitCode === null && proc.signalCode === null;

  /** The processes kill() killed, until the next launch waits for them to be gone. */
  let killed: number[] = [];
  /** SIGKILL to the postmaster and its children (once). */
  const killAll = (): void => {
    if (!running() || killed.length) return;
    proc!.ref(); // whoever awaits the exit must not find the event loop empty
    killed = [pid, ...childrenOf(pid)];
    for (const p of killed) signal(p, 'SIGKILL');
  };
  const emergency = (): void => {
    killAll();
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  };
  guard(emergency);

  // The server's user must reach data/ and run/; the password file stays private to the tests.
  fs.chmodSync(dir, 0o711);
  for (const d of [dataDir, runDir]) {
    fs.mkdirSync(d, { mode: 0o700 });
    if (runAs) fs.chownSync(d, runAs.uid, runAs.gid);
  }
  fs.writeFileSync(passwordFile, password, { mode: 0o600 });

  /** Spawns a server binary as the server's user, its output appended to the log. */
  const spawnServerBin = (name: string, args: string[], detached: boolean): ChildProcess => {
    const fd = fs.openSync(logFile, 'a', 0o644);
    try {
      return spawn(path.join(bin, name), args, {
        cwd: dir,
        // Nothing of the caller's PG* variables or locale: the same cluster everywhere.
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
        stdio: ['ignore', fd, fd],
        detached,
        ...(runAs ?? {}),
      });
    } finally {
      fs.closeSync(fd); // the child has its own copy
    }
  };

  const superuser: pg.ClientConfig = { host: runDir, port, user: SUPERUSER, connectionTimeoutMillis: 5000 };

  const launch = async (): Promise<void> => {
    // After kill(): the old server processes must be gone, or the new
    // postmaster finds their shared memory in use and refuses to start.
    await exited;
    if (killed.length) {
      await pollUntil(() => killed.every((p) => !alive(p)), { timeoutMs: 10000, intervalMs: 20, what: 'the killed PostgreSQL processes to exit' });
      killed = [];
    }
    // Own process group: a Ctrl-C in the terminal reaches the test process
    // (whose handlers stop the server), not the server directly.
    const p = spawnServerBin('postgres', ['-D', dataDir], true);
    if (p.pid === undefined) throw await new Promise<Error>((resolve) => p.once('error', resolve));
    proc = p;
    pid = p.pid;
    exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    const started = Date.now();
    try {
      await pollUntil(async () => {
        if (!running()) throw new Error(`PostgreSQL exited during start (code ${p.exitCode}, signal ${p.signalCode})`);
        try {
          await withClient({ ...superuser, database: 'postgres' }, (c) => c.query('SELECT 1'));
          return true;
        } catch {
          return false; // not listening yet, or still "starting up"
        }
      }, { timeoutMs: startTimeoutMs, intervalMs: 25, what: `PostgreSQL to accept connections on ${HOST}:${port}` });
    } catch (err) {
      killAll();
      await exited;
      throw new Error(`${(err as Error).message} (after ${Date.now() - started} ms); tail of ${logFile}:\n${tail(log())}`, { cause: err });
    }
    // Its exit must not keep the test process alive: a forgotten close() is left to the exit handler.
    p.unref();
  };

  const stop = async (): Promise<void> => {
    if (!running()) return;
    proc!.ref(); // keep the event loop alive until the exit is seen
    if (killed.length) return exited;
    signal(pid, 'SIGINT'); // fast shutdown: rolls back open transactions, disconnects clients
    const slow = setTimeout(killAll, 30000);
    await exited;
    clearTimeout(slow);
  };

  try {
    const initdb = spawnServerBin('initdb', [
      '-D', dataDir, '-U', SUPERUSER, '--no-locale', '-E', 'UTF8', '--auth-local=trust', '--auth-host=scram-sha-256',
      ...(opts.durable ? [] : ['--no-sync']),
    ], false);
    const code = await new Promise<number | null>((resolve, reject) => {
      initdb.once('error', reject);
      initdb.once('exit', (c) => resolve(c));
    });
    if (code !== 0) throw new Error(`initdb exited with ${code}; tail of ${logFile}:\n${tail(log())}`);

    fs.appendFileSync(path.join(dataDir, 'postgresql.conf'), '\n# test/helpers/postgres.ts\n' + conf({
      listen_addresses: HOST,
      port,
      unix_socket_directories: runDir,
      // Enough for tests, and many instances fit in a CI machine's memory.
      shared_buffers: '16MB',
      max_connections: 50,
      fsync: opts.durable ? 'on' : 'off',
      full_page_writes: opts.durable ? 'on' : 'off',
      password_encryption: 'scram-sha-256',
      logging_collector: 'off',
      log_destination: 'stderr',
      log_line_prefix: '%m [%p] %q%u@%d ',
      timezone: 'UTC',
      ...opts.settings,
    }));
    // Written from scratch: only the superuser without a password, only on
    // the socket in our directory; every TCP login needs its SCRAM password.
    fs.writeFileSync(path.join(dataDir, 'pg_hba.conf'), [
      '# test/helpers/postgres.ts',
      `local all ${SUPERUSER} trust`,
      `host all all ${HOST}/32 scram-sha-256`,
      '',
    ].join('\n'));

    await launch();
    await withClient({ ...superuser, database: 'postgres' }, async (c) => {
      await c.query(`CREATE ROLE ${pg.escapeIdentifier(user)} LOGIN PASSWORD ${pg.escapeLiteral(password)}`);
      await c.query(`CREATE DATABASE ${pg.escapeIdentifier(database)} OWNER ${pg.escapeIdentifier(user)}`);
    });
  } catch (err) {
    unguard(emergency);
    killAll();
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const inst: PostgresInstance = {
    host: HOST,
    port,
    database,
    user,
    password,
    passwordFile,
    url: `postgres://${encodeURIComponent(user)}@${HOST}:${port}/${encodeURIComponent(database)}`,
    dir,
    dataDir,
    logFile,
    get pid() {
      return pid;
    },
    log,
    stop,
    start: async () => {
      if (closed) throw new Error('this PostgreSQL was closed and its directory removed; start a new one');
      if (!running() || killed.length) await launch();
    },
    kill: killAll,
    query: <R extends pg.QueryResultRow>(sql: string, params?: unknown[]) => withClient({ ...superuser, database }, (c) => c.query<R>(sql, params)),
    close: async () => {
      if (closed) return;
      closed = true;
      await stop();
      unguard(emergency);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  t?.after(() => inst.close());
  return inst;
}
