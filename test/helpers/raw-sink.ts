import net from 'node:net';

/** One transaction as a downstream server saw it: the envelope and the raw DATA bytes (dot-stuffed, as sent). */
export interface SinkTransaction {
  mailFrom: string;
  rcpts: string[];
  data: Buffer;
}

/**
 * A downstream SMTP or LMTP server that keeps the exact bytes it receives,
 * for tests of what the gateway sends on. It ends DATA only on CRLF.CRLF
 * (RFC 5321 section 4.1.1.4), like a careful server; what a careless one
 * would do with a bare CR or LF is judged by the test from the bytes.
 */
export class RawSink {
  readonly transactions: SinkTransaction[] = [];
  /** Every command line received, in order. */
  readonly commands: string[] = [];
  private constructor(private readonly server: net.Server, readonly port: number) {}

  static async start(protocol: 'smtp' | 'lmtp', host = '127.0.0.1'): Promise<RawSink> {
    let sink: RawSink | null = null;
    const server = net.createServer((sock) => {
      let buf = Buffer.alloc(0);
      let inData = false;
      let tx: SinkTransaction | null = null;
      sock.write('220 sink ready\r\n');
      sock.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        for (;;) {
          if (inData) {
            const end = buf.indexOf('\r\n.\r\n');
            if (end < 0) return;
            const t = tx!;
            t.data = buf.subarray(0, end + 2);
            buf = buf.subarray(end + 5);
            inData = false;
            sink!.transactions.push(t);
            const n = protocol === 'lmtp' ? t.rcpts.length : 1;
            for (let i = 0; i < n; i++) sock.write('250 2.0.0 stored\r\n');
            tx = null;
            continue;
          }
          const lf = buf.indexOf('\r\n');
          if (lf < 0) return;
          const line = buf.subarray(0, lf).toString('latin1');
          buf = buf.subarray(lf + 2);
          sink!.commands.push(line);
          const verb = line.slice(0, 4).toUpperCase();
          if (verb === 'EHLO' || verb === 'LHLO' || verb === 'HELO') sock.write('250-sink\r\n250 8BITMIME\r\n');
          else if (verb === 'MAIL') { tx = { mailFrom: line.slice(10), rcpts: [], data: Buffer.alloc(0) }; sock.write('250 2.1.0 ok\r\n'); }
          else if (verb === 'RCPT') { tx?.rcpts.push(line.slice(8)); sock.write('250 2.1.5 ok\r\n'); }
          else if (verb === 'DATA') { inData = true; sock.write('354 go ahead\r\n'); }
          else if (verb === 'QUIT') { sock.end('221 bye\r\n'); return; }
          else sock.write('250 ok\r\n');
        }
      });
      sock.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    sink = new RawSink(server, (server.address() as net.AddressInfo).port);
    return sink;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Offsets of CR bytes not followed by LF and LF bytes not preceded by CR. */
export function bareLineEnds(b: Buffer): number[] {
  const at: number[] = [];
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0x0d && b[i + 1] !== 0x0a) at.push(i);
    if (b[i] === 0x0a && (i === 0 || b[i - 1] !== 0x0d)) at.push(i);
  }
  return at;
}
