// A real DNS server for end-to-end tests: Debian's Knot DNS (knotd), an
// authoritative server that serves zone files with their exact TTLs, answers
// NXDOMAIN/NODATA with the zone's SOA (RFC 2308) and truncates large UDP
// answers with the TC bit, as the servers of the Internet do.
//
// Everything lives in one temporary directory (config, zone files, databases,
// control socket); /etc/knot is never read nor touched, and knotd listens on
// 127.0.0.1 only, on a free port. Runs as the calling user (root in CI).
//
//   const dns = await startDnsServer({ zones: {
//     'sender.test': ['sender.test. 300 IN MX 10 mx.sender.test.', 'mx.sender.test. 300 IN A 127.0.0.1'],
//   } });
//   new StubResolver({ servers: [dns.address] }); ... await dns.stop();
//
// Zone lines are master-file lines (RFC 1035 section 5) with $ORIGIN set to
// the zone; a SOA (negative TTL `negativeTtl`) and an NS are added unless the
// lines have their own.
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './server.js';
import { which } from './env.js';
import { StubResolver } from '../../src/dns/stub-resolver.js';

export interface DnsServerOptions {
  /** Zone name -> master-file lines. */
  zones: Record<string, string[]>;
  /** SOA MINIMUM and SOA TTL of the added SOA: the negative TTL. Default 60. */
  negativeTtl?: number;
  /** Path of knotd; default found on PATH or in /usr/sbin. */
  knotdPath?: string;
  /** Loopback address to listen on; default 127.0.0.1 (the benchmark uses 127.0.0.153 port 53 for Postfix's resolver). */
  host?: string;
  /** Port on `host` (e.g. to start a stopped server again where its clients look); default a free one. */
  port?: number;
  /** Milliseconds to wait for every zone to be served. Default 15000. */
  startTimeoutMs?: number;
}

export interface DnsServer {
  /** "127.0.0.1:PORT", as StubResolver takes it. */
  address: string;
  host: string;
  port: number;
  dir: string;
  /** knotd's process id (the benchmark counts its CPU time). */
  pid: number;
  /** knotd's log so far. */
  log(): string;
  /** Stops knotd (waits for it to exit) and removes the directory. Idempotent. */
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A port free for both TCP and UDP on 127.0.0.1. */
async function freeUdpTcpPort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await freePort('127.0.0.1');
    const ok = await new Promise<boolean>((resolve) => {
      const s = dgram.createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error('no port free for both TCP and UDP on 127.0.0.1');
}

function zoneFile(zone: string, lines: string[], negativeTtl: number): string {
  const origin = `${zone.replace(/\.$/, '')}.`;
  const has = (type: string): boolean =>
    lines.some((l) => new RegExp(`^(\\S+\\s+)?(\\d+\\s+)?(IN\\s+)?(\\d+\\s+)?${type}\\s`, 'i').test(l.trim()));
  const head = [`$ORIGIN ${origin}`, '$TTL 3600'];
  if (!has('SOA')) head.push(`@ ${negativeTtl} IN SOA ns.invalid. hostmaster.${origin} 1 3600 600 86400 ${negativeTtl}`);
  if (!has('NS')) head.push('@ 3600 IN NS ns.invalid.');
  return [...head, ...lines, ''].join('\n');
}

function config(dir: string, host: string, port: number, zones: string[]): string {
  const q = (s: string): string => JSON.stringify(s);
  return [
    'server:',
    `    rundir: ${q(path.join(dir, 'run'))}`,
    `    listen: ${host}@${port}`,
    '    udp-workers: 1',
    '    tcp-workers: 1',
    '    background-workers: 1',
    'database:',
    `    storage: ${q(path.join(dir, 'db'))}`,
    '    journal-db-max-size: 64M',
    '    kasp-db-max-size: 16M',
    '    timer-db-max-size: 16M',
    '    catalog-db-max-size: 16M',
    'control:',
    `    listen: ${q(path.join(dir, 'run', 'knot.sock'))}`,
    'log:',
    '  - target: stderr',
    '    any: info',
    'template:',
    '  - id: default',
    `    storage: ${q(path.join(dir, 'zones'))}`,
    '    file: "%s.zone"',
    '    zonefile-sync: -1',
    '    zonefile-load: whole',
    '    journal-content: none',
    'zone:',
    ...zones.map((z) => `  - domain: ${q(z)}`),
    '',
  ].join('\n');
}

async function waitExit(proc: ChildProcess, ms: number): Promise<boolean> {
  if (proc.exitCode !== null || proc.signalCode !== null) return true;
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    proc.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

export async function startDnsServer(opts: DnsServerOptions): Promise<DnsServer> {
  const knotd = opts.knotdPath ?? which('knotd');
  if (!knotd) throw new Error('knotd not found (apt-get install knot; scripts/install-test-deps.sh)');
  const zones = Object.keys(opts.zones).map((z) => z.replace(/\.$/, '').toLowerCase());
  if (zones.length === 0) throw new Error('startDnsServer needs at least one zone');
  let lastError: Error | null = null;
  // A port may be taken between choosing and binding it: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-knot-'));
    for (const sub of ['run', 'db', 'zones']) fs.mkdirSync(path.join(dir, sub));
    for (const [zone, lines] of Object.entries(opts.zones)) {
      const z = zone.replace(/\.$/, '').toLowerCase();
      fs.writeFileSync(path.join(dir, 'zones', `${z}.zone`), zoneFile(z, lines, opts.negativeTtl ?? 60));
    }
    const host = opts.host ?? '127.0.0.1';
    const port = opts.port ?? (await freeUdpTcpPort());
    const confFile = path.join(dir, 'knot.conf');
    fs.writeFileSync(confFile, config(dir, host, port, zones));
    let output = '';
    const proc = spawn(knotd, ['-c', confFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout?.on('data', (d: Buffer) => { output += d.toString(); });
    proc.stderr?.on('data', (d: Buffer) => { output += d.toString(); });
    let spawnError: Error | null = null;
    proc.on('error', (e) => { spawnError = e; });
    const stop = async (): Promise<void> => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        if (!(await waitExit(proc, 5000))) {
          proc.kill('SIGKILL');
          await waitExit(proc, 5000);
        }
      }
      fs.rmSync(dir, { recursive: true, force: true });
    };
    const server: DnsServer = { address: `${host}:${port}`, host, port, dir, pid: proc.pid ?? -1, log: () => output, stop };
    // Ready when every zone answers its SOA authoritatively.
    const probe = new StubResolver({ servers: [server.address], timeoutMs: 200, attempts: 1 });
    const deadline = Date.now() + (opts.startTimeoutMs ?? 15000);
    const pending = new Set(zones);
    while (pending.size > 0 && Date.now() < deadline && proc.exitCode === null && !spawnError) {
      for (const z of [...pending]) {
        const a = await probe.resolve(z, 'SOA');
        if (a.rcode === 'NOERROR' && a.authoritative && a.records.length > 0) pending.delete(z);
      }
      if (pending.size > 0) await sleep(50);
    }
    if (pending.size === 0) return server;
    await stop();
    lastError = new Error(
      `knotd did not serve ${[...pending].join(', ')} on ${server.address}` +
      `${spawnError ? ` (${String(spawnError)})` : ''}; its log:\n${output}`,
    );
    // A bind failure is worth another port; a zone knotd refuses is not.
    if (!/bind|address already in use/i.test(output)) break;
  }
  throw lastError ?? new Error('knotd did not start');
}
