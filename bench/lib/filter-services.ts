// The services of the whole-filter benchmark (bench/filter): one Knot DNS with
// the check benchmark's zones, one clamd with the project's test signatures,
// and two rspamd instances with the same configuration (rules, actions, DNS
// modules SPF, DKIM, DMARC and an RBL against the Knot zones, same worker
// count), started from the same code:
//
// - "mailproof's": the normal worker mailproof's spam check POSTs to;
// - "the stack's": the same plus the proxy worker in milter mode (Postfix's
//   smtpd_milters) and the antivirus module calling the same clamd. mailproof
//   calls clamd itself, so its rspamd has no antivirus module: otherwise
//   every message would go to clamd twice.
//
// Two instances rather than one, so that each side's rspamd CPU is its own.
// Everything is counted per run: CPU time of each component, rspamd's
// "scanned" counter (/stat: the milter really saw every message), clamd's
// scans (its log, LogClean on) and rspamd's own time per message (its log).
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startDnsServer } from '../../test/helpers/dns-server.js';
import { startClamd, type ClamdInstance } from '../../test/helpers/clamd.js';
import { startRspamd, type RspamdInstance } from '../../test/helpers/rspamd.js';
import { DNS_HOST, ZONES, type CheckServices } from './check-services.js';
import { cpuSeconds, freePort, register } from './proc.js';

export interface FilterServices extends CheckServices {
  clamd: ClamdInstance;
  /** mailproof's rspamd (normal worker). */
  rspamd: RspamdInstance;
  /** The stack's rspamd (milter proxy + antivirus module). */
  stack: RspamdInstance;
  /** Processes per rspamd worker type. */
  rspamdWorkers: number;
  /** What both rspamd instances are told, for the report. */
  rspamdConfig: Record<string, string>;
}

/** local.d files both instances share: the DNS modules on (the test helper turns them off). */
const SHARED_LOCAL_D: Record<string, string> = {
  'spf.conf': '',
  'dkim.conf': '',
  'dmarc.conf': '',
  'rbl.conf': '',
};

/**
 * override.d/rbl.conf: the benchmark's block list only (the shipped list of
 * public RBLs would send a dozen queries per message to a server that knows
 * none of them). The load comes from 127.0.0.1, which rspamd skips by default.
 */
const RBL_OVERRIDE = `rbls {
  bench_bl {
    symbol = "RBL_BENCH";
    rbl = "bl.bench.test";
    checks = ["from"];
    exclude_local = false;
    exclude_private_ips = false;
    returncodes {
      RBL_BENCH_LISTED = "127.0.0.2";
    }
  }
}
`;

/** Options for both: SPF and DMARC check loopback senders too (the whole load comes from 127.0.0.1). */
const OPTIONS = 'check_local = true;\n';

function antivirus(clamd: ClamdInstance): string {
  // rspamd's defaults otherwise: scan_mime_parts = true (attachments only), no Redis cache.
  return `clamav {
  type = "clamav";
  servers = "${clamd.tcp.host}:${clamd.tcp.port}";
  symbol = "CLAM_VIRUS";
  action = "reject";
  message = '\${SCANNER}: virus found: "\${VIRUS}"';
  log_clean = true;
  timeout = 15.0;
  retransmits = 1;
}
`;
}

export async function startFilterServices(work: string): Promise<FilterServices> {
  const rspamdWorkers = Number(process.env.BENCH_FILTER_RSPAMD_WORKERS ?? os.availableParallelism());
  const dns = await startDnsServer({ zones: ZONES, host: DNS_HOST, port: 53 });
  register(`dir ${dns.dir}`);
  const resolvConf = path.join(work, 'resolv.conf');
  fs.writeFileSync(resolvConf, `nameserver ${DNS_HOST}\noptions attempts:2 timeout:2\n`, { mode: 0o644 });
  let clamd: ClamdInstance | null = null;
  let mp: RspamdInstance | null = null;
  let stack: RspamdInstance | null = null;
  const common = { nameservers: [`${DNS_HOST}:53`], workers: rspamdWorkers, options: OPTIONS, overrideD: { 'rbl.conf': RBL_OVERRIDE } };
  try {
    // LogClean: one log line per scan, so the benchmark can count what each side sends to clamd.
    clamd = await startClamd({ conf: { LogClean: 'yes' } });
    mp = await startRspamd({ ...common, localD: SHARED_LOCAL_D });
    stack = await startRspamd({ ...common, localD: { ...SHARED_LOCAL_D, 'antivirus.conf': antivirus(clamd) }, milterPort: await freePort() });
  } catch (err) {
    await stack?.stop().catch(() => undefined);
    await mp?.stop().catch(() => undefined);
    await clamd?.stop().catch(() => undefined);
    await dns.stop();
    throw err;
  }
  const c = clamd;
  return {
    dns, clamd: c, rspamd: mp, stack, resolvConf, rspamdWorkers,
    rspamdConfig: {
      'local.d (both)': 'spf, dkim, dmarc, rbl on (the shipped defaults); the test helper\'s other local.d files (offline: no fuzzy, no Redis modules, no remote maps, no hfilter)',
      'override.d/rbl.conf (both)': RBL_OVERRIDE.replace(/\s+/g, ' ').trim(),
      'options (both)': `dns nameserver ${DNS_HOST}:53, ${OPTIONS.trim()}`,
      workers: `${rspamdWorkers} normal worker(s); the stack's instance also ${rspamdWorkers} proxy worker(s), milter = yes, self_scan = yes`,
      'local.d/antivirus.conf (stack only)': antivirus(c).replace(/\s+/g, ' ').trim(),
    },
    async stop() {
      await stack?.stop().catch(() => undefined);
      await mp?.stop().catch(() => undefined);
      await c.stop().catch(() => undefined);
      await dns.stop();
    },
  };
}

/** rspamd's /stat "scanned" counter (every message it scanned, whichever worker). */
export function rspamdScanned(r: RspamdInstance): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(`${r.controllerUrl}/stat`, { agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => {
        try { resolve(Number((JSON.parse(body) as { scanned?: number }).scanned ?? NaN)); } catch { resolve(NaN); }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(NaN));
  });
}

/** Bytes of a file so far (a log's offset before a run). */
export function fileSize(f: string): number {
  try { return fs.statSync(f).size; } catch { return 0; }
}

/** The text a log got since `from` bytes. */
export function logSince(f: string, from: number): string {
  let fd: number | null = null;
  try {
    fd = fs.openSync(f, 'r');
    const size = fs.fstatSync(fd).size;
    const b = Buffer.alloc(Math.max(0, size - from));
    fs.readSync(fd, b, 0, b.length, from);
    return b.toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}

/** clamd's scans in a piece of its log (LogClean yes: "stream(...): OK", and FOUND lines). */
export function clamdScans(log: string): number {
  let n = 0;
  for (const l of log.split('\n')) if (/: (OK|.+ FOUND)$/.test(l)) n++;
  return n;
}

/** rspamd's time per message (ms) from its task log lines ("... len: N, time: 12.345ms, ..."). */
export function rspamdTaskTimes(log: string): number[] {
  const out: number[] = [];
  for (const m of log.matchAll(/rspamd_task_write_log: .*?, time: ([\d.]+)ms/g)) out.push(Number(m[1]));
  return out;
}

/** CPU seconds so far of every service, by component. */
export function serviceCpu(s: FilterServices): Record<string, number> {
  return {
    'rspamd (mailproof\'s)': s.rspamd.mainPid() ? cpuSeconds(s.rspamd.mainPid()) : 0,
    'rspamd (stack\'s)': s.stack.mainPid() ? cpuSeconds(s.stack.mainPid()) : 0,
    clamd: cpuSeconds(s.clamd.pid),
    knot: cpuSeconds(s.dns.pid),
  };
}

export function rspamdLogFile(r: RspamdInstance): string {
  return path.join(r.dir, 'log', 'rspamd.log');
}
