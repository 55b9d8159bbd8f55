// The "bare" peer for the benchmark: smtp-server with nothing on top. Each
// message is written to one file and fsynced before the 250; no checks, no
// ledger, no Maildir rename, no directory fsync. It is the floor of what any
// durable server on smtp-server can do in one Node process.
//
//   node bare-smtp-server.js --listen 127.0.0.1:PORT --dir DIR [--greeting-delay stock|0] [--fsync false]
//
// --greeting-delay stock keeps smtp-server's fixed 100 ms wait before the
// 220 (its early-talker guard in SMTPConnection.init); the default 0 removes
// it the way mailproof does (src/smtp/connection.ts, GatewayConnection.init /
// GatewaySmtpServer.connect), so the two are compared on equal terms.
import fsp from 'node:fs/promises';
import type net from 'node:net';
import path from 'node:path';
import type tls from 'node:tls';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { args } from './lib/proc.js';

const a = args(process.argv.slice(2));
const listen = a.listen ?? '127.0.0.1:2599';
const dir = a.dir ?? '/tmp/bare-smtp-server';
const stockDelay = a['greeting-delay'] === 'stock';
const doFsync = a.fsync !== 'false';
const [host, portStr] = [listen.slice(0, listen.lastIndexOf(':')), listen.slice(listen.lastIndexOf(':') + 1)];

class NoDelayConnection extends SMTPConnection {
  override init(): void {
    // As SMTPConnection.init, minus the 100 ms timer (and the maxClients
    // check, which is off here anyway).
    this._setListeners(() => this.connectionReady());
  }
}

class NoDelaySmtpServer extends SMTPServer {
  override connect(socket: net.Socket | tls.TLSSocket, socketOptions?: ConstructorParameters<typeof SMTPConnection>[2]): void {
    const connection = new NoDelayConnection(this, socket, socketOptions);
    this.connections.add(connection);
    connection.on('error', (err: Error) => this._onError(err));
    connection.on('connect', (data: Parameters<SMTPServer['_onClientConnect']>[0]) => this._onClientConnect(data));
    connection.init();
  }
}

let seq = 0;

const options: SMTPServerOptions = {
  name: 'bare.bench.invalid',
  size: 25 * 1024 * 1024,
  disabledCommands: ['AUTH', 'STARTTLS'],
  hideSTARTTLS: true,
  authOptional: true,
  disableReverseLookup: true,
  logger: false,
  // The idle-connection test holds connections for a while.
  socketTimeout: 10 * 60 * 1000,
  onData(stream, _session, callback) {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const file = path.join(dir, `${process.pid}.${++seq}`);
      const write = async (): Promise<void> => {
        const fh = await fsp.open(file, 'wx', 0o600);
        try {
          await fh.write(Buffer.concat(chunks));
          if (doFsync) await fh.sync();
        } finally {
          await fh.close();
        }
      };
      write().then(() => callback(null, 'OK stored'), (err: Error) => callback(err));
    });
  },
};

const server = stockDelay ? new SMTPServer(options) : new NoDelaySmtpServer(options);

await fsp.mkdir(dir, { recursive: true });
server.on('error', (err: Error) => process.stderr.write(`bare-smtp-server: ${err.message}\n`));
server.listen(Number(portStr), host, () => {
  process.stdout.write(`bare-smtp-server: SMTP on ${host}:${portStr} (greeting delay ${stockDelay ? '100 ms (stock)' : 'none'}, fsync ${doFsync ? 'on' : 'off'}, pid ${process.pid})\n`);
});
const stop = (): void => {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
