import { spawn } from 'node:child_process';

export interface SwaksResult { code: number | null; out: string }

/** Runs swaks (a real SMTP client) with the given arguments. */
export function swaks(args: string[], timeoutMs = 30000): Promise<SwaksResult> {
  return new Promise((resolve) => {
    const p = spawn('swaks', ['--hide-informational', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString('latin1'); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString('latin1'); });
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => { clearTimeout(t); resolve({ code, out }); });
  });
}

/** The server reply lines swaks printed ("<-  250 ..." and "<** 550 ..."). */
export function serverLines(out: string): string[] {
  return out.split('\n').filter((l) => /^<(-|\*\*|~|~\*\*) /.test(l)).map((l) => l.replace(/^<\S*\s+/, '').trimEnd());
}
