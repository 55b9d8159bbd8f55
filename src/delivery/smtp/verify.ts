// Recipient verification at RCPT time against the delivery target, like
// Postfix's reject_unverified_recipient: LHLO/EHLO, MAIL FROM:<>, RCPT TO,
// RSET, QUIT, and the target's verdict on the address, kept a short while.
//
// Written by hand: nodemailer's SMTPConnection has no "RCPT only" call (its
// send() goes on to DATA as soon as one recipient is accepted), and a probe
// must never send a message. The dialog is five commands, one at a time.
import net from 'node:net';
import type { Mailbox } from '../../mail/address.js';
import type { Health } from '../../health/index.js';
import type { Reply } from '../../mail/reply.js';
import { logSafe } from '../../util/sanitize.js';
import type { DownstreamReply } from '../types.js';
import { ledgerLine, mapRefusal, parseReply, unreachable } from './map.js';
import type { Endpoint, Protocol } from './index.js';

export type VerifyResult =
  | { kind: 'ok'; downstream: string; cached: boolean }
  | { kind: 'reject' | 'tempfail'; reply: Reply; downstream: string; cached: boolean; component?: string };

const MAX_REPLY = 16 * 1024;

/** One SMTP/LMTP reply (all its lines); code of the last line. */
class LineReader {
  private buf = '';
  private waiting: ((r: string | Error) => void) | null = null;
  private failure: Error | null = null;

  constructor(private readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      if (this.buf.length > MAX_REPLY) this.fail(new Error('reply too long'));
      else this.tryDeliver();
    });
    sock.on('error', (err) => this.fail(err));
    sock.on('close', () => this.fail(new Error('connection closed')));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const w = this.waiting;
    this.waiting = null;
    if (w) w(this.failure);
  }

  private tryDeliver(): void {
    if (!this.waiting) return;
    // RFC 5321 section 4.2.1: "NNN-" continues, "NNN " (or bare "NNN") ends a reply.
    const m = /^(?:\d{3}-[^\n]*\n)*(\d{3}(?:[ \t][^\n]*)?)\r?\n/.exec(this.buf);
    if (!m) return;
    this.buf = this.buf.slice(m[0].length);
    const w = this.waiting;
    this.waiting = null;
    w(m[1]!.replace(/\r$/, ''));
  }

  next(): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting = (r) => (r instanceof Error ? reject(r) : resolve(r));
      this.tryDeliver();
    });
  }
}

export interface VerifierOptions {
  protocol: Protocol;
  endpoint: Endpoint;
  address: string;
  hostname: string;
  timeoutMs: number;
  cacheMs: number;
  health: Health;
  now?: () => number;
}

export class RecipientVerifier {
  private cache = new Map<string, { until: number; result: VerifyResult }>();
  private readonly now: () => number;

  constructor(private readonly o: VerifierOptions) {
    this.now = o.now ?? Date.now;
  }

  async verify(m: Mailbox): Promise<VerifyResult> {
    const addr = `${m.local}@${m.domain}`.toLowerCase();
    const hit = this.cache.get(addr);
    if (hit && hit.until > this.now()) return { ...hit.result, cached: true };
    if (hit) this.cache.delete(addr);
    const result = await this.probe(addr);
    // Temporary answers are not kept: the next attempt should ask again.
    if (this.o.cacheMs > 0 && result.kind !== 'tempfail') {
      if (this.cache.size >= 10000) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(addr, { until: this.now() + this.o.cacheMs, result });
    }
    return result;
  }

  private async probe(addr: string): Promise<VerifyResult> {
    const component = this.o.protocol;
    const ep = this.o.endpoint;
    const sock = 'path' in ep ? net.connect({ path: ep.path }) : net.connect({ host: ep.host, port: ep.port });
    const timer = setTimeout(() => sock.destroy(new Error(`timed out after ${this.o.timeoutMs} ms`)), this.o.timeoutMs);
    const rd = new LineReader(sock);
    const cmd = async (line: string): Promise<DownstreamReply & { raw: string }> => {
      sock.write(`${line}\r\n`);
      const raw = await rd.next();
      return { ...parseReply(raw), raw };
    };
    const down = (why: string): VerifyResult => {
      this.o.health.fail(component, `${this.o.address}: ${logSafe(why, 200)}`);
      return { kind: 'tempfail', reply: unreachable(), downstream: logSafe(why, 300), cached: false, component };
    };
    try {
      const greet = parseReply(await rd.next());
      if (greet.code !== 220) return down(`greeting: ${ledgerLine(greet)}`);
      const hello = await cmd(`${this.o.protocol === 'lmtp' ? 'LHLO' : 'EHLO'} ${this.o.hostname}`);
      if (hello.code !== 250) return down(`${this.o.protocol === 'lmtp' ? 'LHLO' : 'EHLO'}: ${ledgerLine(hello)}`);
      // The null sender, as Postfix's address verification probes use: no
      // sender's reputation is at stake and no bounce can result.
      const mail = await cmd('MAIL FROM:<>');
      if (mail.code !== 250) return down(`MAIL FROM: ${ledgerLine(mail)}`);
      // addr comes from a validated address (relay check): no CR/LF or <>.
      const rcpt = await cmd(`RCPT TO:<${addr.replace(/[\r\n<>]/g, '')}>`);
      await cmd('RSET').catch(() => undefined);
      sock.write('QUIT\r\n');
      this.o.health.ok(component);
      const line = ledgerLine(rcpt);
      if (rcpt.code !== null && rcpt.code >= 200 && rcpt.code < 300) return { kind: 'ok', downstream: line, cached: false };
      if (rcpt.code !== null && rcpt.code >= 500) return { kind: 'reject', reply: mapRefusal(rcpt, addr), downstream: line, cached: false };
      // A 4xx: the target knows the answer only later (its user database is down ...).
      return { kind: 'tempfail', reply: { code: 451, enhanced: '4.4.3', text: `Cannot verify <${addr}> right now; please try again later` }, downstream: line, cached: false };
    } catch (err) {
      return down((err as Error).message);
    } finally {
      clearTimeout(timer);
      sock.end();
      setTimeout(() => sock.destroy(), 1000).unref();
    }
  }
}
