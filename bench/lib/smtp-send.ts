// One message over SMTP, every reply kept: the sanity sends of the
// whole-filter benchmark (a GTUBE and an EICAR message must be refused, and
// the reply says by whom). smtp-source only says that something failed.
import fs from 'node:fs';
import net from 'node:net';

export interface SendResult {
  /** Each command and the reply it got ("DATA end" for the message itself). */
  steps: { cmd: string; reply: string }[];
  /** The reply to the end of the message (or to whatever refused it first). */
  final: string;
  /** Its code, 0 when the connection failed. */
  code: number;
}

export async function sendOne(host: string, port: number, o: { helo: string; from: string; rcpt: string; file: string }, timeoutMs = 60000): Promise<SendResult> {
  const body = fs.readFileSync(o.file, 'latin1').replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
  const sock = net.connect(port, host);
  sock.setEncoding('latin1');
  let buf = '';
  const waiters: ((reply: string) => void)[] = [];
  const steps: SendResult['steps'] = [];
  sock.on('data', (d: string) => {
    buf += d;
    // A complete reply ends with a line "NNN text" (no dash after the code).
    for (;;) {
      const m = /^(?:\d{3}-[^\n]*\n)*\d{3}(?: [^\n]*)?\r?\n/.exec(buf);
      if (!m) break;
      buf = buf.slice(m[0].length);
      waiters.shift()?.(m[0].trim());
    }
  });
  const closed = new Promise<string>((resolve) => { sock.on('close', () => resolve('')); sock.on('error', () => resolve('')); });
  const timer = new Promise<string>((resolve) => setTimeout(() => resolve('(timeout)'), timeoutMs).unref());
  const reply = (): Promise<string> => Promise.race([new Promise<string>((r) => waiters.push(r)), closed, timer]);
  const say = async (cmd: string, data = `${cmd}\r\n`): Promise<string> => {
    const r = reply();
    sock.write(data);
    const text = await r;
    steps.push({ cmd, reply: text });
    return text;
  };
  const code = (r: string): number => Number(r.slice(0, 3)) || 0;
  const greeting = await reply();
  steps.push({ cmd: '(connect)', reply: greeting });
  let final = greeting;
  try {
    if (code(greeting) !== 220) return { steps, final, code: code(final) };
    for (const cmd of [`EHLO ${o.helo}`, `MAIL FROM:<${o.from}>`, `RCPT TO:<${o.rcpt}>`, 'DATA']) {
      final = await say(cmd);
      const c = code(final);
      if (!(c >= 200 && c < 400)) return { steps, final, code: c };
    }
    final = await say('DATA end', `${body}${body.endsWith('\r\n') ? '' : '\r\n'}.\r\n`);
    await say('QUIT').catch(() => '');
    return { steps, final, code: code(final) };
  } finally {
    sock.destroy();
  }
}
