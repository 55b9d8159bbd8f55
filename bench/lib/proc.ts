// Process helpers for the benchmark: free ports, servers in their own process
// group (so a whole cluster is stopped at once), a registry of everything
// started (bench/run.sh kills what is listed there on exit, even if the
// Node orchestrator itself crashed), and RSS of a process tree.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// One free-port finder for the tests and the benchmark alike.
export { freePort } from '../../test/helpers/server.js';

/**
 * File listing what was started, "pgid N" or "postfix CONFIG_DIR", and
 * "done N" / "done CONFIG_DIR" once it was stopped, one a line.
 */
const REGISTRY = process.env.BENCH_PIDFILE ?? '';

export function register(line: string): void {
  if (REGISTRY) fs.appendFileSync(REGISTRY, `${line}\n`);
}

export interface Started {
  proc: ChildProcess;
  pid: number;
  /** stdout and stderr so far. */
  output(): string;
  /** SIGTERM to the process group, SIGKILL after graceMs; resolves when the leader exited. */
  stop(graceMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

/** True once something accepts TCP connections on host:port. */
export function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, host);
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

/**
 * Starts a server in its own process group and waits until its output
 * matches `ready`, or, given a port, until the port accepts connections
 * (rejects when it exits first or timeoutMs passes).
 */
export async function startServer(cmd: string, args: string[], ready: RegExp | { host: string; port: number }, opts: SpawnOptions & { timeoutMs?: number } = {}): Promise<Started> {
  const proc = spawn(cmd, args, { ...opts, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = proc.pid;
  if (pid === undefined) throw new Error(`could not start ${cmd}`);
  register(`pgid ${pid}`);
  let out = '';
  const keep = (d: Buffer): void => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const killGroup = (sig: NodeJS.Signals): void => {
    try { process.kill(-pid, sig); } catch { /* gone */ }
  };
  const started: Started = {
    proc, pid, exited,
    output: () => out,
    async stop(graceMs = 15000) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        killGroup('SIGKILL'); // leftovers of the group, if any
        register(`done ${pid}`);
        return;
      }
      killGroup('SIGTERM');
      const t = setTimeout(() => killGroup('SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
      await sleep(100);
      killGroup('SIGKILL');
      register(`done ${pid}`);
    },
  };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd} did not get ready in time:\n${out}`)), opts.timeoutMs ?? 30000);
    if (ready instanceof RegExp) {
      const check = (): void => {
        if (ready.test(out)) { clearTimeout(timer); resolve(); }
      };
      proc.stdout!.on('data', check);
      proc.stderr!.on('data', check);
    } else {
      const probe = (): void => {
        void canConnect(ready.host, ready.port).then((ok) => {
          if (ok) { clearTimeout(timer); resolve(); } else if (proc.exitCode === null) setTimeout(probe, 50);
        });
      };
      probe();
    }
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`${cmd} exited (${code}) before it was ready:\n${out}`)); });
  }).catch(async (err: unknown) => {
    await started.stop(2000);
    throw err;
  });
  return started;
}

/** Runs a command to completion; rejects on a non-zero exit. */
export function run(cmd: string, args: string[], opts: SpawnOptions & { timeoutMs?: number } = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    const t = opts.timeoutMs ? setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs) : null;
    p.once('error', reject);
    p.once('close', (code) => {
      if (t) clearTimeout(t);
      resolve({ code, out });
    });
  });
}

/** The pid and all its descendants (from /proc). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(e));
      children.set(ppid, list);
    } catch { /* gone */ }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(root);
  return out;
}

/** VmRSS in KiB of one process, 0 if it is gone. */
export function rssKiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Sum of VmRSS over a process and its descendants, KiB. */
export function treeRssKiB(root: number): { total: number; perPid: Record<number, number> } {
  const perPid: Record<number, number> = {};
  let total = 0;
  for (const p of processTree(root)) {
    const r = rssKiB(p);
    perPid[p] = r;
    total += r;
  }
  return { total, perPid };
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Parses --key value / --flag arguments. */
export function args(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) { out._ = out._ ? `${out._} ${a}` : a; continue; }
    const eq = a.indexOf('=');
    if (eq > 0) { out[a.slice(2, eq)] = a.slice(eq + 1); continue; }
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) { out[a.slice(2)] = next; i++; } else out[a.slice(2)] = 'true';
  }
  return out;
}

/**
 * CPU time of the server's processes, seconds: every thread's run time from
 * /proc/PID/task/TID/schedstat (exact, unlike tick-sampled utime), plus what
 * reaped children left in cutime/cstime (Postfix recycles its smtpd).
 */
export function cpuSeconds(root: number): number {
  let ns = 0;
  let ticks = 0;
  for (const p of processTree(root)) {
    try {
      for (const tid of fs.readdirSync(`/proc/${p}/task`)) {
        ns += Number(fs.readFileSync(`/proc/${p}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      }
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[13]) + Number(f[14]); // cutime, cstime
    } catch { /* gone */ }
  }
  return ns / 1e9 + ticks / 100;
}
