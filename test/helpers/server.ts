import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

// The repository (dist/test/helpers/ is three levels down). The benchmark
// compiles into a temp tree elsewhere and names the repository instead.
export const ROOT = process.env.MAILPROOF_ROOT ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = path.join(ROOT, 'bin/mailproof.js');

/** Ports this process handed out: two calls in a row may get the same free port from the kernel (seen in CI: SMTP and web on one port). */
const given = new Set<number>();

export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, host, () => {
        const a = s.address() as net.AddressInfo;
        s.close(() => resolve(a.port));
      });
    });
    if (!given.has(port)) {
      given.add(port);
      return port;
    }
  }
}

export interface Instance {
  dataDir: string;
  /** The YAML file serve was started with (a test may rewrite it and send SIGHUP). */
  configFile: string;
  port: number;
  host: string;
  proc: ChildProcess;
  output: () => string;
  /** Maildir new/ of a mailbox. */
  newDir(addr: string): string;
  /** Runs `mailproof trace ... --json` against this instance. */
  trace(args: string[]): Promise<{ journeys: Array<Record<string, unknown> & { events: Array<Record<string, unknown>> }> }>;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
  kill9(): Promise<void>;
}

export interface StartOptions {
  /** Configuration as an object; written to a YAML file. */
  config?: Record<string, unknown>;
  args?: string[];
  dataDir?: string;
  port?: number;
  /** Loopback address the SMTP listener binds (default 127.0.0.1): cluster tests give each node its own. */
  host?: string;
  env?: Record<string, string>;
}

export function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts `mailproof serve` in a fresh data dir on a free loopback port. */
export async function startServer(opts: StartOptions = {}): Promise<Instance> {
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-test-'));
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (await freePort(host));
  const cfg = {
    hostname: 'mx.test.invalid',
    node: 'test-node',
    log: { level: 'info' },
    domains: { 'demo.test': { mailboxes: ['demo', 'alice', 'bob'], aliases: { postmaster: 'demo', team: ['alice', 'bob'] } } },
    ...opts.config,
    data_dir: dataDir,
    smtp: { listen: [`${host}:${port}`], ...(opts.config?.smtp as object | undefined) },
    // POP3 only where a test asks for it: the default port would be shared by every test server.
    pop3: { listen: [], ...(opts.config?.pop3 as object | undefined) },
    // The web server likewise (default 127.0.0.1:8080).
    web: { listen: [], ...(opts.config?.web as object | undefined) },
  };
  const cfgFile = path.join(dataDir, 'test-config.yaml');
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(cfgFile, YAML.stringify(cfg));
  const proc = spawn(process.execPath, [BIN, 'serve', '--config', cfgFile, ...(opts.args ?? [])], {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Never leave a half-started server behind: it would keep the test process alive.
      proc.kill('SIGKILL');
      reject(new Error(`server did not start within 60 s:\n${out}`));
    }, 60000);
    const check = (): void => {
      if (out.includes('mailproof: SMTP on')) { clearTimeout(timer); resolve(); }
    };
    proc.stdout!.on('data', check);
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited with ${code}:\n${out}`)); });
  });
  const exited = new Promise<number | null>((resolve) => {
    if (proc.exitCode !== null) resolve(proc.exitCode);
    proc.once('exit', (code) => resolve(code));
  });
  return {
    dataDir, configFile: cfgFile, port, host, proc,
    output: () => out,
    newDir: (addr) => {
      const [local, domain] = addr.toLowerCase().split('@') as [string, string];
      return path.join(dataDir, 'maildir', domain, local, 'new');
    },
    async trace(args) {
      // Every journey (the CLI's first page is 100); a test's own --limit comes later and wins.
      const r = await run(['trace', '--config', cfgFile, '--json', '--limit', '1000', ...args]);
      if (r.code !== 0) throw new Error(`trace failed (${r.code}): ${r.stderr}`);
      return JSON.parse(r.stdout) as Awaited<ReturnType<Instance['trace']>>;
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
    async kill9() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** The files in a new/ folder in the order our POP3 server numbers them (src/pop3/maildir-view.ts). */
export function listNew(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  } catch {
    return [];
  }
}

/**
 * `checks` settings that switch off every check that asks DNS, for tests of
 * other checks that run without a DNS server (spread into `checks`, next to
 * `allowlist: { networks: [] }`).
 */
export const NO_DNS_CHECKS = {
  dnsbl: { mode: 'off' },
  client_identity: { mode: 'off' },
  sender_domain: { mode: 'off' },
  spf: { mode: 'off' },
  dmarc: { mode: 'off' },
} as const;
