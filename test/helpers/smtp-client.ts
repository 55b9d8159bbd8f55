import net from 'node:net';

/**
 * A raw SMTP client for dialog tests: sends exactly the bytes a test gives
 * (hostile ones included) and collects complete replies.
 */
export class RawSmtp {
  private buf = '';
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      this.wake();
    });
    socket.on('close', () => { this.closed = true; this.wake(); });
    socket.on('error', () => { this.closed = true; this.wake(); });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  static connect(port: number, opts: { host?: string; localAddress?: string } = {}): Promise<RawSmtp> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: opts.host ?? '127.0.0.1', localAddress: opts.localAddress }, () => resolve(new RawSmtp(s)));
      s.once('error', reject);
    });
  }

  /** Next complete reply (all lines up to the one with "NNN "), or null if the connection closed. */
  async reply(timeoutMs = 10000): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = /^(?:\d{3}-[^\n]*\n)*\d{3}(?: [^\n]*)?\r?\n/.exec(this.buf);
      if (m) {
        this.buf = this.buf.slice(m[0].length);
        return m[0].replace(/\r?\n$/, '');
      }
      if (this.closed) return null;
      if (Date.now() > deadline) throw new Error(`no reply within ${timeoutMs} ms; buffer: ${JSON.stringify(this.buf)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => { clearTimeout(t); r(); });
      });
    }
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Sends a line (CRLF added) and returns the reply. */
  async cmd(line: string | Buffer): Promise<string | null> {
    this.write(typeof line === 'string' ? line + '\r\n' : Buffer.concat([line, Buffer.from('\r\n')]));
    return this.reply();
  }

  async close(): Promise<void> {
    if (!this.closed) {
      this.socket.end();
      await new Promise<void>((r) => { if (this.closed) r(); else this.socket.once('close', () => r()); setTimeout(r, 2000); });
    }
    this.socket.destroy();
  }
}

/** Greeting + EHLO + MAIL + RCPTs + DATA; returns every reply. */
export async function sendMail(port: number, o: { from: string; to: string[]; body: string; helo?: string; localAddress?: string; host?: string }): Promise<{ replies: (string | null)[]; final: string | null }> {
  const c = await RawSmtp.connect(port, { host: o.host, localAddress: o.localAddress });
  const replies: (string | null)[] = [];
  try {
    replies.push(await c.reply());
    replies.push(await c.cmd(`EHLO ${o.helo ?? 'client.example.org'}`));
    replies.push(await c.cmd(`MAIL FROM:<${o.from}>`));
    let ok = 0;
    for (const r of o.to) {
      const rep = await c.cmd(`RCPT TO:<${r}>`);
      replies.push(rep);
      if (rep?.startsWith('250')) ok++;
    }
    let final: string | null = null;
    if (ok > 0) {
      replies.push(await c.cmd('DATA'));
      const body = o.body.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
      final = await c.cmd(body + (body.endsWith('\r\n') ? '' : '\r\n') + '.');
      replies.push(final);
    }
    replies.push(await c.cmd('QUIT'));
    return { replies, final };
  } finally {
    await c.close();
  }
}
