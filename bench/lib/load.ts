// The load and the CPU accounting that throughput.ts and sustained.ts share:
// Postfix's smtp-source against a target, and the CPU time of a server's
// whole process tree.
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import type { Target } from './targets.js';

/** Message size of every run (smtp-source -l). */
export const SIZE = 4096;

export { cpuSeconds } from './proc.js';

export function cpuPressure(): number | null {
  try {
    const m = /some avg10=([\d.]+)/.exec(fs.readFileSync('/proc/pressure/cpu', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * smtp-source -s c -m n: one new connection per message, HELO, one recipient,
 * SIZE bytes (smtp-source's own generated message), or the message in msgFile
 * as it is (-F: header and body).
 */
export function smtpSourceRun(smtpSource: string, t: Target, c: number, n: number, msgFile?: string): Promise<{ code: number | null; out: string; seconds: number }> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const who = t.client ? ['-f', t.client.from, '-M', t.client.helo] : ['-f', 'sender@example.org'];
    const p = spawn(smtpSource, ['-s', String(c), '-m', String(n), ...(msgFile ? ['-F', msgFile] : ['-l', String(SIZE)]), ...who, '-t', 'demo@demo.test', `${t.host}:${t.port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let o = '';
    p.stdout.on('data', (d: Buffer) => { o = (o + d.toString()).slice(-4000); });
    p.stderr.on('data', (d: Buffer) => { o = (o + d.toString()).slice(-4000); });
    const timer = setTimeout(() => { o += '\n(killed: took longer than 300 s)'; p.kill('SIGKILL'); }, 300_000);
    p.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out: o, seconds: Number(process.hrtime.bigint() - t0) / 1e9 });
    });
  });
}
