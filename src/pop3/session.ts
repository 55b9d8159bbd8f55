// The POP3 session state machine (RFC 1939 sections 3-6), with CAPA (RFC
// 2449), STLS (RFC 2595), AUTH PLAIN (RFC 5034, RFC 4616) and the response
// codes of RFC 2449 section 8 / RFC 3206. Written by hand: no installed
// library implements a POP3 server. It knows nothing about sockets: the
// server (server.ts) feeds it lines and gives it a SessionIO to answer on,
// so the unit tests can drive it directly.
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { LedgerEvent, LedgerWriter } from '../ledger/types.js';
import type { Logger } from '../log/logger.js';
import { logSafe } from '../util/sanitize.js';
import type { LoginGuard } from './guard.js';
import { MailboxLock } from './lock.js';
import { listMaildir, Pop3Encoder, readHeaderFacts, type Pop3Message } from './maildir-view.js';
import type { PasswordStore } from './passwords.js';

export interface SessionIO {
  readonly clientIp: string;
  /** The connection is TLS now (after STLS). */
  readonly secure: boolean;
  /** A certificate is there, so STLS can be offered. */
  readonly tlsAvailable: boolean;
  /** Writes reply text (CRLF included). */
  write(text: string): void;
  /** Writes message data; resolves when the socket wants more. */
  writeData(chunk: Buffer): Promise<void>;
  /** Called right after the +OK to STLS: the server switches the socket to TLS. */
  startTls(): void;
  /** Ends the connection after what was written. */
  close(): void;
}

export interface SessionDeps {
  node: string;
  ledger: LedgerWriter;
  passwords: PasswordStore;
  guard: LoginGuard;
  /** The Maildir of a configured mailbox ("local@domain", lower case), or null if there is no such mailbox. */
  maildirOf(address: string): string | null;
  allowPlaintextAuth: boolean;
  maxAuthFailures: number;
  log?: Logger;
}

type State = 'authorization' | 'transaction' | 'closed';

// A client that sends nothing but errors is not a mail client; cut it off.
const MAX_ERRORS = 50;
const ERR_TEMP = '-ERR [SYS/TEMP]';

export class Pop3Session {
  readonly id = 'p' + randomBytes(6).toString('hex');
  private state: State = 'authorization';
  private user: string | null = null;
  private saslPending = false;
  private authFailures = 0;
  private errors = 0;
  private mailbox: string | null = null;
  private maildir: string | null = null;
  private lock: MailboxLock | null = null;
  private messages: Pop3Message[] = [];
  private retrCount = 0;
  private method = '';
  private tlsRequested = false;
  private ended = false;

  constructor(private readonly io: SessionIO, private readonly deps: SessionDeps) {}

  get closed(): boolean {
    return this.state === 'closed';
  }

  // A method, not a property read: TypeScript would otherwise keep its
  // narrowing across the awaits in which the connection can go away.
  private isClosed(): boolean {
    return this.state === 'closed';
  }

  /** True after STLS was accepted: lines the client sent after it in plaintext must be dropped (RFC 2595 section 4). */
  takeTlsRequest(): boolean {
    const r = this.tlsRequested;
    this.tlsRequested = false;
    return r;
  }

  greet(): void {
    // No APOP timestamp: APOP (MD5 of a shared secret) is not offered.
    this.io.write('+OK mailproof POP3 server ready\r\n');
  }

  private base(kind: LedgerEvent['kind']): LedgerEvent {
    return { ts: Date.now(), node: this.deps.node, source: 'pop3', kind, session: this.id, client_ip: this.io.clientIp };
  }

  private reply(text: string): void {
    this.io.write(text + '\r\n');
  }

  private error(text: string): void {
    this.reply(`-ERR ${text}`);
    if (++this.errors >= MAX_ERRORS) {
      this.reply('-ERR too many errors, closing');
      void this.drop();
    }
  }

  private authAllowed(): boolean {
    return this.io.secure || this.deps.allowPlaintextAuth;
  }

  /** One command line (without CRLF). */
  async line(raw: Buffer): Promise<void> {
    if (this.state === 'closed') return;
    const text = raw.toString('utf8');
    if (this.saslPending) {
      this.saslPending = false;
      await this.saslResponse(text.trim());
      return;
    }
    const sp = text.indexOf(' ');
    const keyword = (sp >= 0 ? text.slice(0, sp) : text).toUpperCase();
    const arg = sp >= 0 ? text.slice(sp + 1) : '';
    // RFC 2449 section 4: keywords are 3 or 4 characters, arguments up to 40.
    const args = arg.split(' ').filter((a) => a !== '');
    if (keyword === 'CAPA') return this.capa();
    if (keyword === 'QUIT') return this.quit();
    if (this.state === 'authorization') {
      switch (keyword) {
        case 'STLS': return this.stls();
        case 'USER': return this.userCmd(arg);
        case 'PASS': return this.passCmd(arg);
        case 'AUTH': return this.auth(args);
        case 'APOP': return this.error('APOP is not supported; use USER/PASS or AUTH PLAIN');
        default: return this.error(/^[A-Z]{3,4}$/.test(keyword) ? 'command not valid before login' : 'unknown command');
      }
    }
    switch (keyword) {
      case 'STAT': return this.stat();
      case 'LIST': return this.list(args);
      case 'UIDL': return this.uidl(args);
      case 'RETR': return this.retr(args);
      case 'TOP': return this.top(args);
      case 'DELE': return this.dele(args);
      case 'RSET': return this.rset();
      case 'NOOP': return this.reply('+OK');
      default: return this.error('unknown command');
    }
  }

  /** A line over the length limit (its bytes were not kept). */
  tooLong(): void {
    if (this.state === 'closed') return;
    if (this.saslPending) {
      this.saslPending = false;
      this.error('authentication response too long');
      return;
    }
    this.error('line too long');
  }

  private capa(): void {
    const caps = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING'];
    if (this.state === 'authorization') {
      if (this.io.tlsAvailable && !this.io.secure) caps.push('STLS');
      // RFC 2595 section 2.4 / RFC 2449 section 6.8: announce only what is usable now.
      if (this.authAllowed()) caps.push('USER', 'SASL PLAIN');
    }
    caps.push('IMPLEMENTATION mailproof');
    this.io.write(`+OK capability list follows\r\n${caps.join('\r\n')}\r\n.\r\n`);
  }

  private stls(): void {
    if (this.io.secure) return this.error('already using TLS');
    if (!this.io.tlsAvailable) return this.error('TLS is not available');
    this.user = null;
    this.reply('+OK begin TLS negotiation');
    this.tlsRequested = true;
    this.io.startTls();
  }

  private plaintextRefused(): void {
    // RFC 2595 section 2.4: the server may refuse plaintext passwords on an unencrypted connection.
    this.error('[AUTH] plaintext authentication is disabled on unencrypted connections; use STLS first');
  }

  private userCmd(arg: string): void {
    if (!this.authAllowed()) return this.plaintextRefused();
    if (!arg) return this.error('USER needs a mailbox name');
    this.user = arg.trim().slice(0, 512);
    this.reply('+OK send PASS');
  }

  private async passCmd(arg: string): Promise<void> {
    if (!this.authAllowed()) return this.plaintextRefused();
    if (this.user === null) return this.error('USER first');
    const user = this.user;
    this.user = null;
    // RFC 1939 section 7: the password may contain spaces; the whole rest of the line is it.
    await this.login('user', user, arg);
  }

  private async auth(args: string[]): Promise<void> {
    if (args.length === 0) {
      // Not in RFC 5034, but what clients expect: the mechanism list.
      if (!this.authAllowed()) return this.plaintextRefused();
      this.io.write('+OK\r\nPLAIN\r\n.\r\n');
      return;
    }
    if (args[0]!.toUpperCase() !== 'PLAIN') return this.error('unsupported SASL mechanism; use PLAIN');
    if (!this.authAllowed()) return this.plaintextRefused();
    if (args.length > 2) return this.error('syntax: AUTH PLAIN [initial-response]');
    if (args.length === 2) {
      // RFC 5034 section 4: "=" is an empty initial response.
      await this.saslResponse(args[1] === '=' ? '' : args[1]!);
      return;
    }
    this.saslPending = true;
    this.reply('+ ');
  }

  private async saslResponse(b64: string): Promise<void> {
    if (b64 === '*') return this.error('authentication cancelled');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) return this.error('[AUTH] invalid base64 in the response');
    // RFC 4616 section 2: [authzid] NUL authcid NUL passwd.
    const parts = Buffer.from(b64, 'base64').toString('utf8').split('\0');
    if (parts.length !== 3) return this.error('[AUTH] malformed PLAIN response');
    const [authzid, authcid, passwd] = parts as [string, string, string];
    if (authzid !== '' && authzid.toLowerCase() !== authcid.toLowerCase()) {
      // Proxy authorization (acting as another user) is not supported.
      await this.login('plain', authcid, null);
      return;
    }
    await this.login('plain', authcid, passwd);
  }

  /** password null: refuse without checking (the request is not allowed at all). */
  private async login(method: string, rawUser: string, password: string | null): Promise<void> {
    const ip = this.io.clientIp;
    const userLower = rawUser.toLowerCase();
    const maildir = this.deps.maildirOf(userLower);
    const rcpt = maildir ? userLower : logSafe(userLower, 254);
    const event = (verdict: 'pass' | 'reject', reason?: string): LedgerEvent => ({
      ...this.base('pop3.login'), rcpt, verdict,
      details: { method, tls: this.io.secure, ...(reason ? { reason } : {}) },
    });
    const fail = async (reason: string, text: string): Promise<void> => {
      try {
        await this.deps.ledger.append([event('reject', reason)]);
      } catch (err) {
        this.deps.log?.error({ err: (err as Error).message }, 'pop3: ledger write failed');
        return this.reply(`${ERR_TEMP} cannot record the login; try again later`);
      }
      this.reply(text);
      if (reason !== 'in_use' && ++this.authFailures >= this.deps.maxAuthFailures) {
        this.reply('-ERR [AUTH] too many failed logins, closing');
        await this.drop();
      }
    };

    if (this.deps.guard.blocked(ip)) {
      return fail('rate_limited', '-ERR [AUTH] too many failed logins from your address; wait a minute');
    }
    // Always hash, also for unknown users: the answer time must not tell which mailboxes exist.
    const ok = await this.deps.passwords.verify(maildir ? userLower : '', password ?? '') && maildir !== null && password !== null;
    if (this.isClosed()) return;
    if (!ok) {
      this.deps.guard.fail(ip);
      return fail(password === null ? 'authzid' : 'bad_credentials', '-ERR [AUTH] invalid user name or password');
    }
    const lock = MailboxLock.acquire(maildir);
    if (!lock) {
      return fail('in_use', '-ERR [IN-USE] mailbox is in use by another session; try again later');
    }
    let messages: Pop3Message[];
    try {
      messages = await listMaildir(maildir);
    } catch (err) {
      lock.release();
      this.deps.log?.error({ err: (err as Error).message }, 'pop3: cannot read the maildir');
      return this.reply(`${ERR_TEMP} cannot open the mailbox`);
    }
    try {
      await this.deps.ledger.append([event('pass')]);
    } catch (err) {
      lock.release();
      this.deps.log?.error({ err: (err as Error).message }, 'pop3: ledger write failed');
      return this.reply(`${ERR_TEMP} cannot record the login; try again later`);
    }
    if (this.isClosed()) {
      // The connection went away while we waited.
      lock.release();
      return;
    }
    this.lock = lock;
    this.mailbox = userLower;
    this.maildir = maildir;
    this.method = method;
    this.messages = messages;
    this.state = 'transaction';
    const total = messages.reduce((a, m) => a + m.size, 0);
    this.reply(`+OK ${messages.length} messages (${total} octets)`);
  }

  private live(): Pop3Message[] {
    return this.messages.filter((m) => !m.deleted);
  }

  /** A message number argument (RFC 1939 section 5): an existing, not deleted message. */
  private pick(arg: string | undefined): Pop3Message | string {
    if (arg === undefined || !/^\d{1,9}$/.test(arg)) return 'expected a message number';
    const m = this.messages[Number(arg) - 1];
    if (!m) return 'no such message';
    if (m.deleted) return 'message is deleted';
    return m;
  }

  private stat(): void {
    const live = this.live();
    this.reply(`+OK ${live.length} ${live.reduce((a, m) => a + m.size, 0)}`);
  }

  private list(args: string[]): void {
    if (args.length > 0) {
      const m = this.pick(args[0]);
      if (typeof m === 'string') return this.error(m);
      return this.reply(`+OK ${m.n} ${m.size}`);
    }
    const live = this.live();
    this.io.write(`+OK ${live.length} messages\r\n${live.map((m) => `${m.n} ${m.size}\r\n`).join('')}.\r\n`);
  }

  private uidl(args: string[]): void {
    if (args.length > 0) {
      const m = this.pick(args[0]);
      if (typeof m === 'string') return this.error(m);
      return this.reply(`+OK ${m.n} ${m.uidl}`);
    }
    this.io.write(`+OK\r\n${this.live().map((m) => `${m.n} ${m.uidl}\r\n`).join('')}.\r\n`);
  }

  private msgEvent(kind: 'pop3.retr' | 'pop3.dele', m: Pop3Message, facts: { ref: string | null; messageId: string | null }): LedgerEvent {
    return {
      ...this.base(kind), rcpt: this.mailbox, ref: facts.ref, message_id: facts.messageId, size: m.size,
      details: { uidl: m.uidl },
    };
  }

  private async facts(m: Pop3Message): Promise<{ ref: string | null; messageId: string | null }> {
    try {
      return await readHeaderFacts(m.file);
    } catch {
      return { ref: null, messageId: null };
    }
  }

  private async retr(args: string[]): Promise<void> {
    const m = this.pick(args[0]);
    if (typeof m === 'string') return this.error(m);
    const facts = await this.facts(m);
    // Recorded before the data goes out: a message that left the server is
    // then always in the ledger. The price is an event for a transfer the
    // client may not complete (a dropped connection shows in pop3.logout).
    try {
      await this.deps.ledger.append([this.msgEvent('pop3.retr', m, facts)]);
    } catch (err) {
      this.deps.log?.error({ err: (err as Error).message }, 'pop3: ledger write failed');
      return this.reply(`${ERR_TEMP} cannot record the retrieval; try again later`);
    }
    this.retrCount++;
    await this.send(m, null);
  }

  private async top(args: string[]): Promise<void> {
    const m = this.pick(args[0]);
    if (typeof m === 'string') return this.error(m);
    if (args[1] === undefined || !/^\d{1,9}$/.test(args[1])) return this.error('syntax: TOP msg n');
    await this.send(m, Number(args[1]));
  }

  private async send(m: Pop3Message, bodyLines: number | null): Promise<void> {
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(m.file, 'r');
    } catch {
      return this.error('[SYS/PERM] the message is gone from the mailbox');
    }
    try {
      this.reply(bodyLines === null ? `+OK ${m.size} octets` : '+OK top of message follows');
      const enc = new Pop3Encoder(bodyLines);
      const buf = Buffer.allocUnsafe(64 * 1024);
      while (!enc.finished && this.state !== 'closed') {
        const { bytesRead } = await fh.read(buf, 0, buf.length);
        if (bytesRead === 0) break;
        const out = enc.push(buf.subarray(0, bytesRead));
        if (out.length) await this.io.writeData(out);
      }
      if (this.state !== 'closed') await this.io.writeData(enc.end());
    } catch (err) {
      // Half a message is out: the multi-line reply cannot be ended cleanly.
      this.deps.log?.error({ err: (err as Error).message }, 'pop3: read error during transfer');
      await this.drop();
    } finally {
      await fh.close();
    }
  }

  private dele(args: string[]): void {
    const m = this.pick(args[0]);
    if (typeof m === 'string') return this.error(m);
    // RFC 1939 section 5: only marked; removed in the UPDATE state (QUIT).
    m.deleted = true;
    this.reply(`+OK message ${m.n} deleted`);
  }

  private rset(): void {
    for (const m of this.messages) m.deleted = false;
    this.stat();
  }

  private async quit(): Promise<void> {
    if (this.state !== 'transaction') {
      this.reply('+OK bye');
      this.finish();
      return;
    }
    // UPDATE state (RFC 1939 section 6). The deletions are recorded (durably)
    // before any file goes; if the ledger cannot take them, nothing is deleted.
    const doomed = this.messages.filter((m) => m.deleted);
    const events: LedgerEvent[] = [];
    for (const m of doomed) events.push(this.msgEvent('pop3.dele', m, await this.facts(m)));
    events.push(this.logoutEvent(false, doomed.length));
    try {
      await this.deps.ledger.append(events, { durable: true });
    } catch (err) {
      this.deps.log?.error({ err: (err as Error).message }, 'pop3: ledger write failed at QUIT');
      this.reply(`${ERR_TEMP} cannot record the deletions; nothing was deleted`);
      this.finish();
      return;
    }
    let failed = 0;
    const dirs = new Set<string>();
    for (const m of doomed) {
      try {
        await fsp.unlink(m.file);
        dirs.add(path.dirname(m.file));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') failed++;
      }
    }
    for (const d of dirs) await fsyncDir(d).catch(() => undefined);
    // RFC 1939 section 6: -ERR when some deleted messages were not removed.
    this.reply(failed ? `-ERR ${failed} deleted messages not removed` : `+OK bye, ${doomed.length} messages deleted`);
    this.finish();
  }

  private logoutEvent(dropped: boolean, dele: number): LedgerEvent {
    return {
      ...this.base('pop3.logout'), rcpt: this.mailbox,
      details: { retr: this.retrCount, dele, dropped, method: this.method },
    };
  }

  private finish(): void {
    this.state = 'closed';
    this.lock?.release();
    this.lock = null;
    this.ended = true;
    this.io.close();
  }

  /**
   * The connection is gone or is being cut (timeout, shutdown, too many
   * errors): RFC 1939 section 6, no UPDATE state, nothing is deleted.
   */
  async drop(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    const wasIn = this.state === 'transaction';
    this.state = 'closed';
    if (wasIn) {
      await this.deps.ledger.append([this.logoutEvent(true, 0)], { durable: false }).catch((err: Error) => {
        this.deps.log?.error({ err: err.message }, 'pop3: ledger write failed for the logout');
      });
    }
    this.lock?.release();
    this.lock = null;
    this.io.close();
  }

  /** RFC 1939 section 3: the autologout timer expired. */
  async timeout(): Promise<void> {
    if (this.ended) return;
    this.reply('-ERR autologout: idle for too long');
    await this.drop();
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try { await fh.sync(); } finally { await fh.close(); }
}
