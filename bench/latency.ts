// Per-step latency of one SMTP session at a time (c=1): where does a
// message's time go, stage by stage, as the client sees it?
//
//   node latency.js --port P [--host 127.0.0.1] [--sessions 50] [--size 4096] [--label NAME]
//
// Prints the median and 90th percentile of each step, in ms.
import net from 'node:net';
import { args, median } from './lib/proc.js';

const a = args(process.argv.slice(2));
const host = a.host ?? '127.0.0.1';
const port = Number(a.port);
const sessions = Number(a.sessions ?? 50);
const size = Number(a.size ?? 4096);
const label = a.label ?? `${host}:${port}`;

const STEPS = ['connect+220', 'EHLO', 'MAIL', 'RCPT', 'DATA', 'end of data (250)', 'QUIT'] as const;

function body(): string {
  const line = `${'x'.repeat(76)}\r\n`;
  let text = `From: <sender@example.org>\r\nTo: <demo@demo.test>\r\nSubject: latency probe\r\nMessage-ID: <${Date.now()}.${Math.random()}@example.org>\r\n\r\n`;
  while (text.length < size) text += line;
  return `${text}.\r\n`;
}

function session(): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const times: number[] = [];
    const s = net.connect(port, host);
    s.setNoDelay(true);
    let buf = '';
    let t = performance.now();
    let step = 0;
    const send = (line: string): void => {
      t = performance.now();
      s.write(line);
    };
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (;;) {
        const eol = buf.indexOf('\r\n');
        if (eol < 0) return;
        const line = buf.slice(0, eol);
        buf = buf.slice(eol + 2);
        if (line[3] === '-') continue; // multi-line reply goes on
        if (!/^[23]/.test(line)) { s.destroy(); reject(new Error(`${STEPS[step]}: ${line}`)); return; }
        times.push(performance.now() - t);
        step++;
        switch (step) {
          case 1: send('EHLO latency.example.org\r\n'); break;
          case 2: send('MAIL FROM:<sender@example.org>\r\n'); break;
          case 3: send('RCPT TO:<demo@demo.test>\r\n'); break;
          case 4: send('DATA\r\n'); break;
          case 5: send(body()); break;
          case 6: send('QUIT\r\n'); break;
          default: s.end(); resolve(times);
        }
      }
    });
    s.on('error', reject);
  });
}

const all: number[][] = STEPS.map(() => []);
const totals: number[] = [];
for (let i = 0; i < sessions; i++) {
  const t0 = performance.now();
  const ts = await session();
  totals.push(performance.now() - t0);
  ts.forEach((v, j) => all[j]!.push(v));
}
const p90 = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length * 0.9)] ?? NaN;
process.stdout.write(`latency per step, ${label}, ${sessions} sessions one after another (ms, median / p90):\n`);
STEPS.forEach((name, j) => process.stdout.write(`  ${name.padEnd(18)} ${median(all[j]!).toFixed(2).padStart(8)} / ${p90(all[j]!).toFixed(2).padStart(8)}\n`));
process.stdout.write(`  ${'whole session'.padEnd(18)} ${median(totals).toFixed(2).padStart(8)} / ${p90(totals).toFixed(2).padStart(8)}\n`);
