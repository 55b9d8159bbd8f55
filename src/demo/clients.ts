// The demo's clients: a sending MTA (nodemailer's SMTP client, bound to a
// chosen loopback source address) and a mail program that fetches by POP3.
import net from 'node:net';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';

export interface SendResult {
  ok: boolean;
  /** The gateway's last reply line (250 with REF, or the refusal). */
  reply: string;
  ref: string | null;
}

/** The REF a reply carries: "... (ref K7Q2M9XW, https://...)" (docs/design.md "Reply texts"). */
export function refOf(reply: string): string | null {
  return /\(ref ([A-Za-z0-9_-]+)/.exec(reply)?.[1] ?? null;
}

export async function compose(mail: ConstructorParameters<typeof MailComposer>[0]): Promise<Buffer> {
  return new MailComposer(mail).compile().build();
}

/**
 * One SMTP transaction from `localAddress`, as a sending MTA would run it:
 * EHLO with its name, STARTTLS when offered (our self-signed certificate is
 * not checked: opportunistic TLS, RFC 7435), MAIL, RCPT, DATA.
 */
export async function sendMail(o: {
  host: string; port: number; localAddress: string; helo: string;
  from: string; to: string; message: Buffer; size?: number;
}): Promise<SendResult> {
  const conn = new SMTPConnection({
    host: o.host, port: o.port, localAddress: o.localAddress, name: o.helo,
    tls: { rejectUnauthorized: false },
    connectionTimeout: 30000, greetingTimeout: 30000, socketTimeout: 60000,
    allowInternalNetworkInterfaces: true,
  } as ConstructorParameters<typeof SMTPConnection>[0]);
  let failure: Error | null = null;
  conn.on('error', (err: Error) => { failure ??= err; });
  try {
    await new Promise<void>((resolve, reject) => {
      conn.once('end', () => reject(failure ?? new Error('connection closed')));
      conn.connect(() => resolve());
    });
    const info = await new Promise<{ response?: string }>((resolve, reject) => {
      conn.send({ from: o.from, to: [o.to], ...(o.size ? { size: o.size } : {}) }, o.message, (err, i) => (err ? reject(err) : resolve(i)));
    });
    const reply = String(info.response ?? '');
    return { ok: true, reply, ref: refOf(reply) };
  } catch (err) {
    const e = err as Error & { response?: string };
    const reply = e.response ?? e.message;
    return { ok: false, reply, ref: refOf(reply) };
  } finally {
    conn.quit();
    conn.close();
  }
}

/**
 * A POP3 session (RFC 1939) from `localAddress`: log in, fetch every message,
 * delete them if asked, QUIT (section 6: deletions take effect only then).
 * A few lines over a socket: no POP3 client library is installed.
 */
export async function pop3Fetch(o: { host: string; port: number; localAddress: string; user: string; pass: string; dele: boolean }): Promise<{ fetched: number; deleted: number }> {
  const sock = net.connect({ host: o.host, port: o.port, localAddress: o.localAddress });
  sock.setTimeout(30000, () => sock.destroy(new Error('POP3 server did not answer in 30 s')));
  let buf = '';
  let waiting: { multi: boolean; resolve: (s: string) => void; reject: (e: Error) => void } | null = null;
  const check = (): void => {
    if (!waiting) return;
    const w = waiting;
    if (w.multi) {
      if (buf.startsWith('-ERR')) {
        const i = buf.indexOf('\r\n');
        if (i < 0) return;
      } else {
        // A multi-line answer ends with "CRLF.CRLF" (section 3).
        if (buf.indexOf('\r\n.\r\n') < 0) return;
      }
    } else if (buf.indexOf('\r\n') < 0) return;
    const end = w.multi && buf.startsWith('+OK') ? buf.indexOf('\r\n.\r\n') + 5 : buf.indexOf('\r\n') + 2;
    const text = buf.slice(0, end);
    buf = buf.slice(end);
    waiting = null;
    if (text.startsWith('+OK')) w.resolve(text);
    else w.reject(new Error(`POP3: ${text.split('\r\n')[0]}`));
  };
  sock.setEncoding('latin1');
  sock.on('data', (d: string) => { buf += d; check(); });
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  sock.on('error', (err) => { waiting?.reject(err); waiting = null; });
  const cmd = (line: string | null, multi = false): Promise<string> => new Promise((resolve, reject) => {
    waiting = { multi, resolve, reject };
    if (line !== null) sock.write(`${line}\r\n`);
    check();
  });
  try {
    await cmd(null); // greeting
    await cmd(`USER ${o.user}`);
    await cmd(`PASS ${o.pass}`);
    const stat = await cmd('STAT');
    const count = Number(/^\+OK (\d+)/.exec(stat)?.[1] ?? 0);
    let deleted = 0;
    for (let i = 1; i <= count; i++) {
      await cmd(`RETR ${i}`, true);
      if (o.dele) { await cmd(`DELE ${i}`); deleted++; }
    }
    await cmd('QUIT');
    return { fetched: count, deleted };
  } finally {
    sock.end();
    await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]);
    sock.destroy();
  }
}
