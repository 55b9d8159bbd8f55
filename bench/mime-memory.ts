// Memory under many large messages at once: COUNT messages at the size
// limit (smtp.max_message_size, 25 MiB by default), all sent at the same
// time, through a real mailproof (one process, smtp.workers=1) with the
// attachment policy and the virus check (a real clamd) on; the gateway's
// RSS before, its peak (the kernel's high-water mark VmHWM, and VmRSS
// sampled every 100 ms) and after.
//
//   node BUILD/bench/mime-memory.js [--build DIR] [--work DIR] [--count 100] [--size BYTES]
//        [--checks on|off] [--out FILE.json]
//
// --build is the compiled tree whose src/cli/main.js is started (default:
// the tree this file was compiled into), so a before/after comparison runs
// the same benchmark against an older build. --checks off runs the
// attachment and virus checks off: the floor that receiving, spooling and
// storing cost. Loopback only; clients from 127.0.0.60-69. A few minutes on
// 2 cores with the defaults (clamd scans every message twice).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startClamd, type ClamdInstance } from '../test/helpers/clamd.js';
import { bigMessage, burst } from '../test/helpers/big-mail.js';
import { args, freePort, register, startServer, type Started } from './lib/proc.js';

const a = args(process.argv.slice(2));
const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const build = path.resolve(a.build ?? here);
const count = Number(a.count ?? 100);
const size = Number(a.size ?? 25 * 1024 * 1024 - 64 * 1024);
const checksOn = (a.checks ?? 'on') !== 'off';

const MiB = (kib: number): number => Math.round(kib / 1024);

async function main(): Promise<void> {
  const work = fs.mkdtempSync(path.join(a.work ?? os.tmpdir(), 'mime-memory-'));
  register(`dir ${work}`);
  let clamd: ClamdInstance | null = null;
  let server: Started | null = null;
  try {
    clamd = checksOn ? await startClamd() : null;
    const port = await freePort();
    const off = ['dnsbl', 'client_identity', 'sender_domain', 'spf', 'dmarc', 'rate', ...(checksOn ? [] : ['attachments'])];
    server = await startServer(process.execPath, [
      path.join(build, 'src/cli/main.js'), 'serve', '--data-dir', path.join(work, 'data'), '--smtp-listen', `127.0.0.1:${port}`,
      '-o', 'smtp.workers=1', '-o', 'log.level=warn', '-o', 'smtp.max_connections_per_ip=1000',
      '-o', 'pop3.listen=[]', '-o', 'web.listen=[]', '-o', 'checks.allowlist.networks=[]',
      ...off.flatMap((c) => ['-o', `checks.${c}.mode=off`]),
      ...(clamd ? ['-o', `scanners.clamd.address=127.0.0.1:${clamd.tcp.port}`, '-o', 'scanners.clamd.timeout_ms=600000'] : []),
    ], /mailproof: SMTP on/, { timeoutMs: 60000 });
    const body = bigMessage(size);
    const r = await burst(server.pid, port, body, count);
    const replies: Record<string, number> = {};
    for (const x of r.replies) {
      const k = x.slice(0, 9);
      replies[k] = (replies[k] ?? 0) + 1;
    }
    const result = {
      build, count, message_bytes: body.length, checks: checksOn ? 'attachments + virus (clamd)' : 'attachments and virus off',
      rss_before_mib: MiB(r.beforeKiB), rss_peak_mib: MiB(r.peakKiB), rss_after_mib: MiB(r.afterKiB),
      peak_growth_mib: MiB(r.peakKiB - r.beforeKiB), seconds: r.seconds, replies,
      ...(r.replies.some((x) => !x.startsWith('250')) ? { other_replies: [...new Set(r.replies.filter((x) => !x.startsWith('250')))].slice(0, 5) } : {}),
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    if (a.out) fs.writeFileSync(a.out, JSON.stringify(result, null, 2));
  } finally {
    await server?.stop(20000);
    await clamd?.stop();
    fs.rmSync(work, { recursive: true, force: true });
    register(`done ${work}`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`mime-memory: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
