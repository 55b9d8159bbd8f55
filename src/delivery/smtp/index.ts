// Delivery to a downstream server over SMTP or LMTP, inside the session:
// the sender gets our 250 only after the downstream server accepted the
// message. The protocol client is nodemailer's SMTPConnection (it speaks
// LMTP with `lmtp: true` and reports refused recipients one by one).
import net from 'node:net';
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import type { Mailbox } from '../../mail/address.js';
import { LoneCrToLf } from '../line-ends.js';
import type { Health } from '../../health/index.js';
import { logSafe } from '../../util/sanitize.js';
import type { DeliveryReport, DownstreamReply, Envelope, OutgoingMessage, PerRecipientTarget } from '../types.js';
import { ledgerLine, mapRefusal, parseReply, unreachable } from './map.js';

export type Protocol = 'smtp' | 'lmtp';

export interface DownstreamOptions {
  protocol: Protocol;
  /** HOST:PORT, [v6]:PORT, or (lmtp) a unix socket path. */
  address: string;
  timeoutMs: number;
  /** smtp only; LMTP runs on loopback or a local socket (RFC 2033 section 1). */
  tls: 'none' | 'opportunistic' | 'required';
  /** Our name in LHLO/EHLO. */
  hostname: string;
  health: Health;
}

export type Endpoint = { host: string; port: number } | { path: string };

export function parseEndpoint(address: string): Endpoint {
  if (address.startsWith('/')) return { path: address };
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]/]+)):(\d{1,5})$/.exec(address);
  if (!m) throw new Error(`not HOST:PORT nor a socket path: ${address}`);
  return { host: m[1] ?? m[2]!, port: Number(m[3]) };
}

/** Errors of the connection itself (not a reply): the target is down or too slow. */
const CONNECTION_ERRORS = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ETLS', 'EPROTOCOL', 'ECONNREFUSED', 'ENOENT', 'EACCES']);

interface SendError extends Error {
  code?: string;
  response?: string;
  responseCode?: number;
  command?: string;
  rejected?: string[];
  rejectedErrors?: SendError[];
  recipient?: string;
}

interface SendInfo {
  accepted: string[];
  rejected: string[];
  rejectedErrors?: SendError[];
  response: string;
}

function addressOf(m: Mailbox): string {
  return `${m.local}@${m.domain}`;
}

function messageStream(msg: OutgoingMessage): Readable {
  const out = new LoneCrToLf();
  out.write(msg.prefix);
  if ('buffer' in msg.body) {
    out.end(msg.body.buffer);
  } else {
    const src = fs.createReadStream(msg.body.path);
    src.on('error', (err) => out.destroy(err));
    src.pipe(out);
  }
  return out;
}

/** Runs one SMTPConnection step; its 'error' or 'end' event ends the step as a failure. */
function withConnectionEvents<T = void>(conn: InstanceType<typeof SMTPConnection>, step: (done: (err: Error | null, v?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null, v?: T): void => {
      if (settled) return;
      settled = true;
      conn.removeListener('error', onError);
      conn.removeListener('end', onEnd);
      if (err) reject(err);
      else resolve(v as T);
    };
    const onError = (err: Error): void => finish(err);
    const onEnd = (): void => finish(Object.assign(new Error('connection closed unexpectedly'), { code: 'ECONNECTION' }));
    conn.once('error', onError);
    conn.once('end', onEnd);
    step(finish);
  });
}

export class DownstreamTarget implements PerRecipientTarget {
  readonly endpoint: Endpoint;

  constructor(readonly opts: DownstreamOptions) {
    this.endpoint = parseEndpoint(opts.address);
  }

  get component(): Protocol {
    return this.opts.protocol;
  }

  /** A connected client (greeting and LHLO/EHLO done), or throws a connection error. */
  async connect(): Promise<InstanceType<typeof SMTPConnection>> {
    const o = this.opts;
    const common = {
      lmtp: o.protocol === 'lmtp',
      name: o.hostname,
      connectionTimeout: o.timeoutMs,
      greetingTimeout: o.timeoutMs,
      socketTimeout: o.timeoutMs,
      // A downstream MX of our own cluster: no certificate to check against
      // (opportunistic TLS, RFC 7435); 'required' insists on STARTTLS all the same.
      tls: { rejectUnauthorized: false },
      ignoreTLS: o.protocol === 'lmtp' || o.tls === 'none',
      requireTLS: o.protocol === 'smtp' && o.tls === 'required',
      // Loopback and private targets are the normal case here.
      allowInternalNetworkInterfaces: true,
    };
    let conn: InstanceType<typeof SMTPConnection>;
    if ('path' in this.endpoint) {
      const sock = net.connect({ path: this.endpoint.path });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => { sock.destroy(); reject(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })); }, o.timeoutMs);
        sock.once('connect', () => { clearTimeout(timer); resolve(); });
        sock.once('error', (err: NodeJS.ErrnoException) => { clearTimeout(timer); reject(Object.assign(err, { code: 'ECONNECTION' })); });
      });
      // `connection`: an already connected socket (nodemailer's `socket` option would connect it by host and port).
      conn = new SMTPConnection({ ...common, connection: sock, host: 'localhost', port: 24 } as ConstructorParameters<typeof SMTPConnection>[0]);
    } else {
      conn = new SMTPConnection({ ...common, host: this.endpoint.host, port: this.endpoint.port } as ConstructorParameters<typeof SMTPConnection>[0]);
    }
    // SMTPConnection reports connection failures only as 'error'/'end'
    // events, never through the callbacks: listen for them around each step.
    conn.on('error', () => undefined);
    await withConnectionEvents(conn, (done) => conn.connect(() => done(null)));
    return conn;
  }

  async deliverEach(msg: OutgoingMessage, mailboxes: Mailbox[], env: Envelope): Promise<DeliveryReport> {
    const proto = this.opts.protocol;
    const t0 = performance.now();
    const ms = (): number => Math.round((performance.now() - t0) * 1000) / 1000;
    const byAddress = new Map<string, Mailbox>();
    for (const m of mailboxes) byAddress.set(addressOf(m).toLowerCase(), m);
    const base = { address: this.opts.address };
    const allFailed = (reason: string, reply: DownstreamReply | null): DeliveryReport => ({
      stored: [],
      failed: [...byAddress.values()].map((m) => ({
        mailbox: m, target: proto, temporary: true,
        reply: reply ? mapRefusal(reply, addressOf(m)) : unreachable(),
        details: { ...base, reason: logSafe(reason, 300), ...(reply ? { reply: ledgerLine(reply), downstream_code: reply.code } : {}), ms: ms() },
      })),
    });

    let conn: InstanceType<typeof SMTPConnection>;
    try {
      conn = await this.connect();
    } catch (err) {
      const e = err as SendError;
      const reply = e.response ? parseReply(e.response) : null;
      this.opts.health.fail(proto, `${this.opts.address}: ${logSafe(e.message, 200)}`);
      const rep = allFailed(e.message, reply && reply.code !== null && reply.code >= 400 ? reply : null);
      // A greeting of 4xx/5xx is the server saying no: still "down" for us (RFC 5321 section 3.1, 554 greeting).
      for (const f of rep.failed) { f.reply = unreachable(); }
      return rep;
    }

    // nodemailer reports each LMTP recipient's refusal but not each success
    // line; keep every per-recipient reply for the ledger (RFC 2033 section 4.2:
    // one reply per accepted RCPT, in RCPT order).
    const perRcpt = new Map<string, string>();
    const internals = conn as unknown as { _actionLMTPStream?: (rcpt: string, final: boolean, str: string, cb: unknown) => void };
    const orig = internals._actionLMTPStream;
    if (proto === 'lmtp' && typeof orig === 'function') {
      internals._actionLMTPStream = function (this: unknown, rcpt: string, final: boolean, str: string, cb: unknown) {
        perRcpt.set(String(rcpt).toLowerCase(), String(str));
        return orig.call(this, rcpt, final, str, cb);
      };
    }

    let info: SendInfo | null = null;
    let error: SendError | null = null;
    try {
      info = await withConnectionEvents<SendInfo>(conn, (done) => conn.send(
        { from: env.mailFrom, to: [...byAddress.keys()] },
        messageStream(msg) as unknown as Buffer,
        (err: Error | null, i: unknown) => done(err, i as SendInfo),
      ));
    } catch (err) {
      error = err as SendError;
    } finally {
      try { conn.quit(); } catch { /* closing anyway */ }
      setTimeout(() => { try { conn.close(); } catch { /* gone */ } }, 1000).unref();
    }

    const report: DeliveryReport = { stored: [], failed: [] };
    if (error) {
      const code = error.code ?? '';
      if (error.rejectedErrors?.length && code === 'EENVELOPE' && error.command === 'RCPT TO') {
        // Every recipient refused at RCPT: per-recipient answers.
        this.opts.health.ok(proto);
        for (const e of error.rejectedErrors) {
          const m = byAddress.get(String(e.recipient).toLowerCase());
          if (!m) continue;
          const r = parseReply(e.response);
          report.failed.push({ mailbox: m, target: proto, temporary: r.code === null || r.code < 500, reply: mapRefusal(r, addressOf(m)), details: { ...base, reply: ledgerLine(r), downstream_code: r.code, stage: 'rcpt', ms: ms() } });
        }
        return report;
      }
      if (error.responseCode && !CONNECTION_ERRORS.has(code)) {
        // A reply to MAIL FROM or DATA refusing the whole message.
        this.opts.health.ok(proto);
        return allFailed(error.message, parseReply(error.response));
      }
      // Cut off or timed out: for LMTP after DATA some recipients may be
      // stored already; we cannot know, so the sender retries (RFC 5321
      // section 6.1 accepts duplicates over losses).
      this.opts.health.fail(proto, `${this.opts.address}: ${logSafe(error.message, 200)}`);
      return allFailed(error.message, null);
    }
    this.opts.health.ok(proto);
    const i = info!;
    const failedAt = new Map<string, SendError>();
    for (const e of i.rejectedErrors ?? []) failedAt.set(String(e.recipient).toLowerCase(), e);
    for (const [addr, m] of byAddress) {
      // LMTP: the recipient's own reply after DATA decides (nodemailer's
      // info.rejectedErrors holds only the RCPT-time refusals).
      const own = perRcpt.get(addr);
      if (own !== undefined) {
        const r = parseReply(own);
        if (r.code !== null && r.code >= 200 && r.code < 300) {
          report.stored.push({ mailbox: m, location: `${proto}:${this.opts.address}`, target: proto, details: { ...base, reply: ledgerLine(r), ms: ms() } });
        } else {
          report.failed.push({
            mailbox: m, target: proto, temporary: r.code === null || r.code < 500, reply: mapRefusal(r, addr),
            details: { ...base, reply: ledgerLine(r), downstream_code: r.code, stage: 'data', ms: ms() },
          });
        }
        continue;
      }
      const e = failedAt.get(addr);
      if (e) {
        const r = parseReply(e.response);
        report.failed.push({
          mailbox: m, target: proto, temporary: r.code === null || r.code < 500, reply: mapRefusal(r, addr),
          details: { ...base, reply: ledgerLine(r), downstream_code: r.code, stage: e.command === 'RCPT TO' ? 'rcpt' : 'data', ms: ms() },
        });
      } else if (i.accepted.map((a) => a.toLowerCase()).includes(addr)) {
        const line = perRcpt.get(addr) ?? i.response;
        report.stored.push({ mailbox: m, location: `${proto}:${this.opts.address}`, target: proto, details: { ...base, reply: ledgerLine(parseReply(line)), ms: ms() } });
      } else {
        report.failed.push({ mailbox: m, target: proto, temporary: true, reply: unreachable(), details: { ...base, reason: 'no reply for this recipient', ms: ms() } });
      }
    }
    return report;
  }
}
