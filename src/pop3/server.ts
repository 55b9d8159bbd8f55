// The POP3 listener: sockets, limits, STLS, and the wiring of sessions to the
// ledger and the Maildirs. Hand-written like the rest of src/pop3 (no POP3
// server library is installed).
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import type { ResolvedConfig } from '../config/load.js';
import { clientNetwork } from '../dns/ip.js';
import { LocalDomains } from '../domains/index.js';
import { openJournal } from '../ledger/open.js';
import type { LedgerWriter } from '../ledger/types.js';
import type { Logger } from '../log/logger.js';
import { LocalLimiter } from '../net/limiter.js';
import { listenError, splitHostPort } from '../net/listen.js';
import type { TlsMaterial } from '../net/tls.js';
import type { Pop3Settings } from './config.js';
import { LoginGuard } from './guard.js';
import { LineReader } from './lines.js';
import { PasswordStore } from './passwords.js';
import { Pop3Session, type SessionDeps, type SessionIO } from './session.js';

export function passwordsFile(cfg: ResolvedConfig): string {
  return path.resolve(cfg.data_dir, cfg.pop3.passwords_file ?? 'passwords');
}

/** "local@domain" -> its Maildir, for configured mailboxes only (aliases have none). */
export function mailboxResolver(cfg: ResolvedConfig): (address: string) => string | null {
  const boxes = new Set(new LocalDomains(cfg.domains).allMailboxes().map((m) => `${m.local}@${m.domain}`));
  return (address) => {
    if (!boxes.has(address)) return null;
    const at = address.lastIndexOf('@');
    // Local parts and domains are validated by the schema: no "/" or "..".
    return path.join(cfg.paths.maildirRoot, address.slice(at + 1), address.slice(0, at));
  };
}

export interface Pop3ServerOptions {
  settings: Pop3Settings;
  tls: TlsMaterial | null;
  deps: Omit<SessionDeps, 'guard' | 'allowPlaintextAuth' | 'maxAuthFailures'>;
  log?: Logger;
}

interface Conn { session: Pop3Session; socket: net.Socket; done: Promise<void> }

export class Pop3Server {
  private servers: net.Server[] = [];
  private conns = new Set<Conn>();
  private limiter: LocalLimiter;
  private guard: LoginGuard;
  private secureContext: tls.SecureContext | null;
  private stopping = false;

  constructor(private readonly opts: Pop3ServerOptions) {
    const s = opts.settings;
    this.limiter = new LocalLimiter(s.max_connections, s.max_connections_per_ip);
    this.guard = new LoginGuard(s.login_failures_per_ip_per_minute);
    this.secureContext = opts.tls ? tls.createSecureContext({ key: opts.tls.key, cert: opts.tls.cert }) : null;
  }

  get activeSessions(): number {
    return this.conns.size;
  }

  /** A reload: STLS handshakes from now on use this certificate; sessions already in TLS keep theirs. */
  setTls(material: TlsMaterial): void {
    if (this.secureContext) this.secureContext = tls.createSecureContext({ key: material.key, cert: material.cert });
  }

  async listen(addresses: string[]): Promise<{ host: string; port: number }[]> {
    const out: { host: string; port: number }[] = [];
    for (const a of addresses) {
      const { host, port } = splitHostPort(a);
      const srv = net.createServer((socket) => this.accept(socket));
      await new Promise<void>((resolve, reject) => {
        const failed = (err: Error): void => reject(listenError(err, 'pop3.listen', a));
        srv.once('error', failed);
        srv.listen(port, host, () => {
          srv.off('error', failed);
          srv.on('error', (err) => this.opts.log?.error({ err: err.message }, 'pop3 server error'));
          const addr = srv.address() as net.AddressInfo;
          out.push({ host: addr.address, port: addr.port });
          resolve();
        });
      });
      this.servers.push(srv);
    }
    return out;
  }

  private accept(raw: net.Socket): void {
    const ip = (raw.remoteAddress ?? 'unknown').replace(/^::ffff:(?=\d+\.)/, '');
    raw.on('error', () => undefined);
    if (this.stopping) {
      raw.end('-ERR [SYS/TEMP] server is shutting down\r\n');
      return;
    }
    // Counted per network: an IPv6 client can pick any address of its /64.
    const slotKey = clientNetwork(ip, 32, this.opts.settings.ipv6_prefix);
    const slot = this.limiter.acquireSync(slotKey);
    if (slot !== 'ok') {
      raw.end(`-ERR [SYS/TEMP] too many connections${slot === 'per_ip' ? ' from your address' : ''}; try again later\r\n`);
      return;
    }
    const s = this.opts.settings;
    let socket: net.Socket = raw;
    let secure = false;
    const reader = new LineReader(s.max_line_length);
    const queue: Array<{ line: Buffer } | { tooLong: true }> = [];
    let busy = false;
    let closed = false;
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => { resolveDone = r; });

    const io: SessionIO = {
      clientIp: ip,
      get secure() { return secure; },
      tlsAvailable: this.secureContext !== null,
      write: (text) => { if (!closed) socket.write(text); },
      writeData: (chunk) => new Promise<void>((resolve) => {
        if (closed) return resolve();
        if (socket.write(chunk)) return resolve();
        const go = (): void => { socket.off('drain', go); socket.off('close', go); resolve(); };
        socket.on('drain', go);
        socket.on('close', go);
      }),
      startTls: () => upgrade(),
      close: () => { socket.end(); },
    };
    const session = new Pop3Session(io, {
      ...this.opts.deps,
      guard: this.guard,
      allowPlaintextAuth: s.allow_plaintext_auth,
      maxAuthFailures: s.max_auth_failures,
    });
    const conn: Conn = { session, socket: raw, done };
    this.conns.add(conn);

    const pump = async (): Promise<void> => {
      if (busy) return;
      busy = true;
      socket.pause();
      try {
        while (queue.length && !session.closed) {
          const ev = queue.shift()!;
          if ('line' in ev) await session.line(ev.line);
          else session.tooLong();
          // STLS: whatever the client sent after the command in plaintext is
          // dropped, so it cannot be injected into the TLS session (RFC 2595 section 4).
          if (session.takeTlsRequest()) { queue.length = 0; reader.reset(); return; }
        }
      } catch (err) {
        this.opts.log?.error({ err: (err as Error).stack }, 'pop3 session error');
        await session.drop();
      } finally {
        busy = false;
      }
      if (!closed && !session.closed) socket.resume();
    };
    const onData = (d: Buffer): void => {
      for (const ev of reader.push(d)) queue.push(ev);
      // Pipelined commands are kept, but not without bound.
      if (queue.length > 1000) { void session.drop(); return; }
      void pump();
    };
    const onTimeout = (): void => { void session.timeout(); };

    const attach = (sock: net.Socket): void => {
      socket = sock;
      sock.on('data', onData);
      sock.setTimeout(s.idle_timeout_s * 1000, onTimeout);
    };
    const upgrade = (): void => {
      raw.off('data', onData);
      raw.setTimeout(0);
      const secureSocket = new tls.TLSSocket(raw, { isServer: true, secureContext: this.secureContext! });
      secureSocket.on('error', (err) => {
        this.opts.log?.info({ err: err.message, client_ip: ip }, 'pop3 TLS handshake failed');
        secureSocket.destroy();
      });
      secureSocket.once('secure', () => {
        secure = true;
        attach(secureSocket);
        secureSocket.resume();
      });
      socket = secureSocket;
    };

    raw.once('close', () => {
      closed = true;
      this.limiter.release(slotKey);
      void session.drop().finally(() => {
        this.conns.delete(conn);
        resolveDone();
      });
    });
    attach(raw);
    session.greet();
  }

  /** Stops listening and ends running sessions as dropped connections: nothing they marked is deleted. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.servers.map((srv) => new Promise<void>((r) => srv.close(() => r()))));
    for (const c of this.conns) {
      c.socket.write('-ERR [SYS/TEMP] server is shutting down\r\n');
      void c.session.drop();
      c.socket.destroy();
    }
    await Promise.all([...this.conns].map((c) => c.done));
  }
}

export interface RunningPop3 {
  addresses: { host: string; port: number }[];
  /**
   * A reload (SIGHUP): logins from now on find the mailboxes of `cfg`
   * (passwords are read at every login anyway), and STLS uses `tls`.
   * A session already logged in keeps its mailbox.
   */
  reload(cfg: ResolvedConfig, tls: TlsMaterial): void;
  stop(): Promise<void>;
}

/** Starts the POP3 listeners of `mailproof serve` with their own journal stream. */
export async function startPop3(cfg: ResolvedConfig, tlsMaterial: TlsMaterial, log: Logger): Promise<RunningPop3 | null> {
  if (cfg.pop3.listen.length === 0) return null;
  const ledger: LedgerWriter = await openJournal(cfg, 'pop3');
  let maildirOf = mailboxResolver(cfg);
  const server = new Pop3Server({
    settings: cfg.pop3,
    tls: tlsMaterial,
    log,
    deps: {
      node: cfg.node,
      ledger,
      passwords: new PasswordStore(passwordsFile(cfg)),
      // Asked at login: a reload's new mailboxes can log in on a connection opened before it.
      maildirOf: (address) => maildirOf(address),
      log,
    },
  });
  let addresses: { host: string; port: number }[];
  try {
    addresses = await server.listen(cfg.pop3.listen);
  } catch (err) {
    await server.stop();
    await ledger.close();
    throw err;
  }
  return {
    addresses,
    reload(next, material) {
      maildirOf = mailboxResolver(next);
      server.setTls(material);
    },
    async stop() {
      await server.stop();
      await ledger.close();
    },
  };
}
