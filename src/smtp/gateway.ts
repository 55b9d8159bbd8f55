// The session logic of the MX: what happens at each SMTP stage, which checks
// run, when a verdict becomes a reply, what the ledger gets and when the
// message is stored. The protocol itself is smtp-server's (connection.ts);
// this module decides.
import type { SMTPServerAddress, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { Pipeline, StageOutcome } from '../checks/pipeline.js';
import type { CheckContext, CheckDeps, CheckRecord, Decision, SessionFacts, Stage, TransactionFacts, Verdict } from '../checks/types.js';
import { tooBig } from '../checks/size/index.js';
import type { LocalDomains } from '../domains/index.js';
import type { Mailbox } from '../mail/address.js';
import type { DeliveryRouter, RoutedReport } from '../delivery/router.js';
import type { FailedCopy } from '../delivery/types.js';
import type { LedgerEvent, LedgerWriter } from '../ledger/types.js';
import type { Logger } from '../log/logger.js';
import { clientNetwork } from '../dns/ip.js';
import { logSafe } from '../util/sanitize.js';
import { collect, discard, type BareLineEndPolicy, type Collected } from './collect.js';
import type { LimitKind } from './connection.js';
import type { ConnectionLimiter } from '../net/limiter.js';
import { receivedHeader, returnPathHeader } from './received.js';
import { newRef } from '../mail/ref.js';
import { render, STORE_FAILED, type RenderedReply, type Reply } from '../mail/reply.js';
import { ACCEPTED, BARE_LINE_ENDS, LEDGER_DOWN, LIMIT_REPLIES, SHUTTING_DOWN, TOO_MANY_RCPTS } from './replies.js';

export interface GatewayOptions {
  node: string;
  hostname: string;
  publicUrl: string | null;
  maxRecipients: number;
  maxMessageSize: number;
  spoolDir: string;
  bareLineEnds: BareLineEndPolicy;
  /** IPv6 clients share the per-IP connection limit per network of this many bits. */
  ipv6Prefix: number;
}

interface Tx {
  facts: TransactionFacts;
  decision: Decision | null;
  flags: Set<string>;
  allowed: boolean;
  mailboxes: Map<string, Mailbox[]>;
  rejected: number;
  started: number;
  /** Verdicts of this transaction's checks, by check name. */
  earlier: Map<string, Verdict>;
  /** Header fields the checks want on the message (Authentication-Results ...). */
  headers: string[];
}

/**
 * What a session runs with, built from one configuration: the local
 * domains, the checks, their services, the delivery targets. A reload
 * (SIGHUP) builds the next one (runtime/generation.ts); a session keeps the
 * one it got at connect until it closes, so a reload never changes the rules
 * in the middle of a session.
 */
export interface SessionSettings {
  pipeline: Pipeline;
  domains: LocalDomains;
  router: DeliveryRouter;
  deps: CheckDeps;
}

/** Hands out the current settings at connect and takes them back at close. */
export interface SettingsSource<S extends SessionSettings = SessionSettings> {
  acquire(): S;
  release(s: S): void;
}

interface State {
  /** The settings this session started with (SettingsSource). */
  gen: SessionSettings;
  facts: SessionFacts;
  /** Reference for replies outside a transaction (connect, limits). */
  ref: string;
  started: number;
  /** The connection slot held (the client's network), released at close; null when none was taken. */
  slot: string | null;
  /** Connect and HELO checks run from the moment their stage began; taken in at MAIL. */
  pending: Promise<StageOutcome>[];
  heloPending: Promise<StageOutcome> | null;
  decision: Decision | null;
  flags: Set<string>;
  allowed: boolean;
  tx: Tx | null;
  /** Verdicts of the session's connect and HELO checks, by check name. */
  earlier: Map<string, Verdict>;
  headers: string[];
  transactions: number;
  delivered: number;
  ledgerBroken: boolean;
}


class SmtpReplyError extends Error {
  constructor(readonly responseCode: number, line: string) {
    super(line);
  }
}

export class Gateway {
  private states = new Map<string, State>();
  private draining = false;

  constructor(
    private readonly opts: GatewayOptions,
    private readonly settings: SettingsSource,
    private readonly ledger: LedgerWriter,
    private readonly limiter: ConnectionLimiter,
    private readonly log: Logger,
  ) {}

  get activeSessions(): number {
    return this.states.size;
  }

  /** SIGTERM: new clients and new transactions get 421; running transactions finish. */
  drain(): void {
    this.draining = true;
  }

  private base(st: State, kind: LedgerEvent['kind'], extra: Partial<LedgerEvent> = {}): LedgerEvent {
    return {
      ts: Date.now(),
      node: this.opts.node,
      source: 'gateway',
      kind,
      session: st.facts.id,
      client_ip: st.facts.clientIp,
      client_ptr: st.facts.ptr,
      helo: st.facts.helo,
      ...extra,
    };
  }

  private txFields(tx: Tx): Partial<LedgerEvent> {
    return { ref: tx.facts.ref, mail_from: tx.facts.mailFrom };
  }

  /**
   * Events that no reply depends on: sent to the writer at once (so they are
   * in the same or an earlier commit than anything that follows), not awaited.
   * A failure marks the session so the next decisive reply becomes a 4xx.
   */
  private note(st: State, events: LedgerEvent[]): void {
    this.ledger.append(events, { durable: false }).catch((err: Error) => {
      st.ledgerBroken = true;
      this.log.error({ err: err.message, session: st.facts.id }, 'ledger write failed');
    });
  }

  /** Events a reply depends on: durable before the reply goes out. */
  private async record(st: State, events: LedgerEvent[]): Promise<boolean> {
    try {
      await this.ledger.append(events);
      return true;
    } catch (err) {
      st.ledgerBroken = true;
      this.log.error({ err: (err as Error).message, session: st.facts.id }, 'ledger write failed');
      return false;
    }
  }

  private checkEvents(st: State, records: CheckRecord[], tx: Tx | null, rcpt: string | null): LedgerEvent[] {
    return records.map((r) => {
      const v = r.verdict;
      const details: Record<string, unknown> = { stage: r.stage, ms: Math.round(r.ms * 1000) / 1000 };
      if (r.dryRun) details.dry_run = true;
      if ('reason' in v) details.reason = v.reason;
      if ('why' in v) details.reason = v.why;
      if ('tag' in v) details.tag = v.tag;
      if ('component' in v && v.component) details.component = v.component;
      if ('evidence' in v && v.evidence) details.evidence = v.evidence;
      // Connect and HELO checks belong to the session: its own REF.
      return this.base(st, 'check.result', {
        ...(tx ? this.txFields(tx) : { ref: st.ref }),
        rcpt,
        check_name: r.check,
        verdict: v.kind,
        ...('reply' in v ? { smtp_code: v.reply.code, enhanced_code: v.reply.enhanced } : {}),
        details,
      });
    });
  }

  private ctx(st: State, stage: Stage, extra: Partial<CheckContext> = {}): CheckContext {
    const flags = new Set([...st.flags, ...(st.tx?.flags ?? [])]);
    const earlier = st.tx ? new Map([...st.earlier, ...st.tx.earlier]) : st.earlier;
    return { stage, session: st.facts, tx: st.tx?.facts ?? null, rcpt: null, message: null, flags, earlier, deps: st.gen.deps, ...extra };
  }

  /** What the checks' verdicts carry besides the decision: PTR, header fields, the verdicts themselves. */
  private take(st: State, records: CheckRecord[], tx: Tx | null): void {
    for (const r of records) {
      const v = r.verdict;
      if (v.kind === 'error') continue;
      (tx ?? st).earlier.set(r.check, v);
      if (v.headers?.length) (tx ?? st).headers.push(...v.headers);
      if (v.ptr !== undefined && st.facts.ptr === null) st.facts.ptr = v.ptr;
    }
  }

  /**
   * The one way a refusal with a REF goes out: its events are in the ledger
   * (durable) first, then the reply (docs/design.md "Ledger events": every
   * REF a sender can quote is found). `events` gets the rendered reply to
   * record it. With `ledgerDown`, a failed write turns the refusal into
   * LEDGER_DOWN, as for any reply whose record failed; without, the refusal
   * goes out anyway (the sender is refused either way). `after` runs between
   * the two (log lines, the end of the transaction).
   */
  private async refuse(st: State, reply: Reply, ref: string, events: (r: RenderedReply) => LedgerEvent[], opts: { ledgerDown?: boolean; after?: (recorded: boolean) => void } = {}): Promise<never> {
    const r = render(reply, ref, this.opts.publicUrl);
    const recorded = await this.record(st, events(r));
    if (!recorded && opts.ledgerDown) throw this.fail(LEDGER_DOWN, ref);
    opts.after?.(recorded);
    throw new SmtpReplyError(r.code, r.line);
  }

  /** A refusal outside the checks' verdicts (sequence, ledger down): a session.refused event, then the reply. */
  private refuseCommand(st: State, reply: Reply, ref: string, why: string, fields: Partial<LedgerEvent> = {}): Promise<never> {
    return this.refuse(st, reply, ref, (r) => [this.base(st, 'session.refused', {
      ref, ...fields, smtp_code: r.code, enhanced_code: r.enhanced, reply: `${r.code} ${r.line}`, details: { reason: why },
    })]);
  }

  private fail(reply: Reply, ref: string): SmtpReplyError {
    const r = render(reply, ref, this.opts.publicUrl);
    return new SmtpReplyError(r.code, r.line);
  }

  // ---- connect ----------------------------------------------------------

  onConnect = (session: SMTPServerSession, cb: (err?: Error | null) => void): void => {
    void this.connect(session).then(() => cb(), (err: Error) => cb(err));
  };

  private async connect(session: SMTPServerSession): Promise<void> {
    const st: State = {
      // Released in onClose, which smtp-server calls for every connection it passed to onConnect.
      gen: this.settings.acquire(),
      facts: {
        id: session.id,
        clientIp: session.remoteAddress,
        clientPort: session.remotePort,
        localIp: session.localAddress,
        localPort: session.localPort,
        ptr: null,
        helo: null,
        tls: session.secure,
      },
      ref: newRef(),
      started: Date.now(),
      slot: null,
      pending: [],
      heloPending: null,
      decision: null,
      flags: new Set(),
      allowed: false,
      tx: null,
      earlier: new Map(),
      headers: [],
      transactions: 0,
      delivered: 0,
      ledgerBroken: false,
    };
    this.states.set(session.id, st);
    const refuse = (reply: Reply, why: string): Promise<never> => this.refuse(st, reply, st.ref, (r) => [this.base(st, 'session.refused', {
      ref: st.ref, smtp_code: r.code, enhanced_code: r.enhanced, reply: `${r.code} ${r.line}`, details: { reason: why },
    })], { after: () => this.log.info({ session: st.facts.id, ip: st.facts.clientIp, ref: st.ref, reason: why }, 'connection refused') });
    if (this.draining) await refuse(SHUTTING_DOWN, 'shutting down');
    // Per network, not per address: an IPv6 client can use every address of its /64.
    const key = clientNetwork(st.facts.clientIp, 32, this.opts.ipv6Prefix);
    const slot = await this.limiter.acquire(key);
    if (slot !== 'ok') {
      // RFC 5321 section 3.8 / 4.5.3.1.x: 421 and close; RFC 3463 4.7.0 policy.
      await refuse(
        { code: 421, enhanced: '4.7.0', text: slot === 'per_ip' ? 'Too many connections from your address; please try again later' : 'Too many connections; please try again later' },
        slot === 'per_ip' ? 'connection limit per IP' : 'connection limit',
      );
    }
    st.slot = key;
    this.note(st, [this.base(st, 'session.connect', { ref: st.ref, details: { local: `${st.facts.localIp}:${st.facts.localPort}`, port: st.facts.clientPort } })]);
    this.startStage(st, 'connect');
  }

  /** Starts a pre-MAIL stage's checks now; their verdicts are collected at MAIL (delayed rejection). */
  private startStage(st: State, stage: 'connect' | 'helo'): void {
    // HELO checks wait for the connect stage's outcome, so an allow-listed
    // client's HELO is not judged by the bypassable checks.
    const before = [...st.pending];
    const p = before.length === 0
      ? st.gen.pipeline.run(stage, this.ctx(st, stage), st.allowed)
      : Promise.all(before).then((outs) => st.gen.pipeline.run(stage, this.ctx(st, stage), st.allowed || outs.some((o) => o.allowed)));
    p.catch(() => undefined);
    st.pending.push(p);
  }

  /** Takes a pre-RCPT stage's outcome into the session or transaction (delayed rejection). */
  private absorb(st: State, out: StageOutcome, tx: Tx | null, eventTx: Tx | null = tx): void {
    this.take(st, out.records, tx);
    // Connect and HELO results are recorded with the first transaction's REF, so a trace of that message shows them.
    if (out.records.length) this.note(st, this.checkEvents(st, out.records, eventTx, null));
    const target = tx ?? st;
    for (const f of out.flags) target.flags.add(f);
    target.allowed = target.allowed || out.allowed;
    if (out.decision && !target.decision) target.decision = out.decision;
  }

  // ---- helo -------------------------------------------------------------

  onHelo = (session: SMTPServerSession, helo: string, command: 'HELO' | 'EHLO'): void => {
    const st = this.states.get(session.id);
    if (!st) return;
    // RFC 5321 section 4.1.4: a new HELO/EHLO resets the transaction.
    st.tx = null;
    st.facts.helo = helo;
    // Keep connect verdicts; a HELO verdict from an earlier HELO is replaced.
    st.decision = st.decision?.stage === 'connect' ? st.decision : null;
    st.pending = st.pending.filter((p) => p !== st.heloPending);
    // The SIZE limit the EHLO reply announces (RFC 1870 section 4), as it was
    // at that moment: a client that quits after reading it most likely had a
    // larger message and bounced it itself (research/sessions.ts).
    const details = command === 'EHLO' ? { command, size_limit: this.opts.maxMessageSize } : { command };
    this.note(st, [this.base(st, 'session.helo', { ref: st.ref, details })]);
    this.startStage(st, 'helo');
    st.heloPending = st.pending[st.pending.length - 1] ?? null;
  };

  onSecure = (_socket: unknown, session: SMTPServerSession, cb: (err?: Error | null) => void): void => {
    const st = this.states.get(session.id);
    if (st) {
      st.facts.tls = true;
      const tls = session.tlsOptions;
      this.note(st, [this.base(st, 'session.tls', { ref: st.ref, details: tls ? { protocol: tls.version, cipher: tls.name } : {} })]);
    }
    cb();
  };

  /** A trusted proxy (XCLIENT, smtp.trusted_networks) told us who the real client is. */
  onXclient = (session: SMTPServerSession, original: string): void => {
    const st = this.states.get(session.id);
    if (!st) return;
    st.facts.clientIp = session.remoteAddress;
    st.facts.clientPort = session.remotePort;
    st.facts.ptr = session.clientHostname && session.clientHostname !== `[${session.remoteAddress}]` ? session.clientHostname : null;
    st.facts.helo = null;
    st.pending = [];
    st.decision = null;
    st.flags.clear();
    st.allowed = false;
    st.tx = null;
    st.earlier.clear();
    st.headers = [];
    this.note(st, [this.base(st, 'session.connect', { ref: st.ref, details: { xclient: true, proxy: original } })]);
    this.startStage(st, 'connect');
  };

  // ---- limits -----------------------------------------------------------

  /** Records the limit's event (durable), then gives the 421's text: the connection sends it only after (connection.ts limit). */
  onLimit = async (session: SMTPServerSession, kind: LimitKind, detail: string, peer: { ip: string; port: number }): Promise<string> => {
    const st = this.states.get(session.id);
    const ref = st?.tx?.facts.ref ?? st?.ref ?? newRef();
    const r = render(LIMIT_REPLIES[kind], ref, this.opts.publicUrl);
    const fields = {
      smtp_code: r.code, enhanced_code: r.enhanced, reply: `${r.code} ${r.line}`,
      details: { limit: kind, detail: logSafe(detail, 100) },
    };
    if (st) {
      await this.record(st, [this.base(st, 'session.limit', { ...(st.tx ? this.txFields(st.tx) : { ref }), ...fields })]);
    } else {
      // Before the greeting (early talker, a flood of bytes): no session state
      // yet, but the refusal is still a fact with a client address.
      await this.ledger.append([{
        ts: Date.now(), node: this.opts.node, source: 'gateway', kind: 'session.limit', session: session.id, ref,
        client_ip: peer.ip, ...fields,
      }]).catch((err: Error) => this.log.error({ err: err.message }, 'ledger write failed'));
    }
    this.log.warn({ session: session.id, ip: peer.ip, limit: kind, ref }, 'session limit hit');
    return r.line;
  };

  onProtocolReply = (session: SMTPServerSession, code: number, text: string): string | null => {
    const st = this.states.get(session.id);
    if (!st) return null;
    const ref = st.tx?.facts.ref ?? st.ref;
    // Not awaited: smtp-server sends this reply synchronously. The event is
    // in the next commit, and the next decisive reply (a 250 or a refusal)
    // waits for that commit anyway.
    this.note(st, [this.base(st, 'session.protocol_error', {
      ...(st.tx ? this.txFields(st.tx) : { ref }),
      smtp_code: code, reply: `${code} ${logSafe(text, 200)}`,
    })]);
    return ref;
  };

  // ---- mail -------------------------------------------------------------

  onMailFrom = (address: SMTPServerAddress, session: SMTPServerSession, cb: (err?: Error | null) => void): void => {
    void this.mail(address, session).then(() => cb(), (err: Error) => cb(err));
  };

  private async mail(address: SMTPServerAddress, session: SMTPServerSession): Promise<void> {
    const st = this.mustState(session);
    if (this.draining) await this.refuseCommand(st, SHUTTING_DOWN, st.ref, 'shutting down', { mail_from: address.address });
    if (st.ledgerBroken) await this.refuseCommand(st, LEDGER_DOWN, st.ref, 'ledger unavailable', { mail_from: address.address });
    if (st.tx) this.endTx(st, st.tx.facts.rcpts.length === 0 && st.tx.rejected > 0 ? 'rejected' : 'abandoned');
    const args = address.args || {};
    const size = typeof args.SIZE === 'string' ? Number(args.SIZE) : null;
    const tx: Tx = {
      facts: { ref: newRef(), mailFrom: address.address, declaredSize: Number.isFinite(size) ? size : null, rcpts: [] },
      decision: null,
      flags: new Set(),
      allowed: st.allowed,
      mailboxes: new Map(),
      rejected: 0,
      started: Date.now(),
      earlier: new Map(),
      headers: [],
    };
    st.tx = tx;
    st.transactions++;
    this.note(st, [this.base(st, 'mail.from', {
      ...this.txFields(tx),
      size: tx.facts.declaredSize,
      details: { body: typeof args.BODY === 'string' ? args.BODY : null, smtputf8: !!args.SMTPUTF8, tls: st.facts.tls },
    })]);
    for (const p of st.pending.splice(0)) this.absorb(st, await p, null, tx);
    st.heloPending = null;
    const out = await st.gen.pipeline.run('mail', this.ctx(st, 'mail'), st.allowed || tx.allowed);
    if (st.tx !== tx) return; // superseded while the checks ran
    this.absorb(st, out, tx);
  }

  // ---- rcpt -------------------------------------------------------------

  onRcptTo = (address: SMTPServerAddress, session: SMTPServerSession, cb: (err?: Error | null) => void): void => {
    void this.rcpt(address, session).then(() => cb(), (err: Error) => cb(err));
  };

  private async rcpt(address: SMTPServerAddress, session: SMTPServerSession): Promise<void> {
    const st = this.mustState(session);
    const tx = st.tx;
    if (!tx) return this.refuseCommand(st, { code: 503, enhanced: '5.5.1', text: 'Send MAIL FROM first' }, st.ref, 'RCPT without a transaction', { rcpt: address.address });
    const rcpt = address.address;
    let decision: Decision | null = st.decision ?? tx.decision;
    let records: CheckRecord[] = [];
    if (!decision && tx.facts.rcpts.length >= this.opts.maxRecipients) {
      decision = { check: 'limit', stage: 'rcpt', kind: 'tempfail', reply: TOO_MANY_RCPTS, reason: `more than ${this.opts.maxRecipients} recipients` };
    }
    if (!decision) {
      const out = await st.gen.pipeline.run('rcpt', this.ctx(st, 'rcpt', { rcpt }), st.allowed || tx.allowed);
      records = out.records;
      decision = out.decision;
      for (const f of out.flags) tx.flags.add(f);
      this.take(st, records, tx);
    }
    const events = this.checkEvents(st, records, tx, rcpt);
    const rejected = (reply: Reply, fields: Partial<LedgerEvent>, details: Record<string, unknown>): Promise<never> => {
      tx.rejected++;
      return this.refuse(st, reply, tx.facts.ref, (r) => [...events, this.base(st, 'rcpt.rejected', {
        ...this.txFields(tx), rcpt, ...fields, smtp_code: r.code, enhanced_code: r.enhanced, reply: `${r.code} ${r.line}`, details,
      })], {
        ledgerDown: true,
        after: () => this.log.info({ session: st.facts.id, ref: tx.facts.ref, ip: st.facts.clientIp, from: logSafe(tx.facts.mailFrom, 200), rcpt: logSafe(rcpt, 200), code: reply.code, check: fields.check_name }, 'recipient rejected'),
      });
    };
    if (decision) {
      return rejected(decision.reply, { check_name: decision.check, verdict: decision.kind },
        { reason: decision.reason, stage: decision.stage, delayed: decision.stage !== 'rcpt' });
    }
    if (st.ledgerBroken) return this.refuseCommand(st, LEDGER_DOWN, tx.facts.ref, 'ledger unavailable', { ...this.txFields(tx), rcpt });
    const found = st.gen.domains.lookup(rcpt.startsWith('@') ? rcpt.slice(rcpt.indexOf(':') + 1) : rcpt);
    if (found.kind !== 'mailbox' && found.kind !== 'verify') {
      // Only reachable with the relay and recipient checks switched off.
      return rejected({ code: 550, enhanced: '5.1.1', text: 'No such mailbox here' }, {}, { reason: 'no such mailbox', stage: 'rcpt', delayed: false });
    }
    if (!tx.facts.rcpts.includes(rcpt)) tx.facts.rcpts.push(rcpt);
    // 'verify': the recipient check asked the domain's target and it said yes.
    tx.mailboxes.set(rcpt, found.kind === 'mailbox' ? found.mailboxes : [found.mailbox]);
    events.push(this.base(st, 'rcpt.accepted', { ...this.txFields(tx), rcpt }));
    this.note(st, events);
  }

  // ---- data -------------------------------------------------------------

  onData = (stream: SMTPServerDataStream, session: SMTPServerSession, cb: (err?: Error | null, message?: string) => void): void => {
    void this.data(stream, session).then((line) => cb(null, line), (err: Error) => cb(err));
  };

  private async data(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<string> {
    const st = this.mustState(session);
    const tx = st.tx;
    if (!tx) {
      stream.resume();
      return this.refuseCommand(st, { code: 503, enhanced: '5.5.1', text: 'Send MAIL FROM first' }, st.ref, 'DATA without a transaction');
    }
    let msg: Collected;
    try {
      msg = await collect(stream, this.opts.spoolDir, this.opts.bareLineEnds);
    } catch (err) {
      return this.txFail(st, tx, STORE_FAILED, 'data.rejected', `spooling failed: ${(err as Error).message}`, null);
    }
    try {
      const common = { ...this.txFields(tx), message_id: msg.messageId, size: msg.size };
      if (msg.oversized) {
        return await this.txFail(st, tx, tooBig(this.opts.maxMessageSize), 'data.rejected', 'message over size limit', { ...common, check_name: 'size' });
      }
      if (this.opts.bareLineEnds === 'reject' && (msg.bare.cr || msg.bare.lf)) {
        return await this.txFail(st, tx, BARE_LINE_ENDS, 'data.rejected',
          `bare line ends: ${msg.bare.cr} CR, ${msg.bare.lf} LF, the first at byte ${msg.bare.first}`, { ...common, check_name: 'line_ends' });
      }
      this.note(st, [this.base(st, 'data.received', { ...common, details: { subject: msg.subject ? logSafe(msg.subject, 300) : null, rcpts: tx.facts.rcpts.length } })]);
      const out = await st.gen.pipeline.run('data', this.ctx(st, 'data', {
        message: { size: msg.size, header: msg.header, messageId: msg.messageId, subject: msg.subject, body: msg.body },
      }), st.allowed || tx.allowed);
      const checkEvents = this.checkEvents(st, out.records, tx, null);
      this.take(st, out.records, tx);
      if (out.decision) {
        return await this.txFail(st, tx, out.decision.reply, 'data.rejected', out.decision.reason, { ...common, check_name: out.decision.check, verdict: out.decision.kind }, checkEvents);
      }
      if (checkEvents.length) this.note(st, checkEvents);
      if (st.ledgerBroken) return await this.txFail(st, tx, LEDGER_DOWN, 'data.rejected', 'ledger unavailable', common);
      return await this.deliver(st, tx, msg, common);
    } finally {
      await discard(msg);
    }
  }

  private async deliver(st: State, tx: Tx, msg: Collected, common: Partial<LedgerEvent>): Promise<string> {
    const single = tx.facts.rcpts.length === 1 ? tx.facts.rcpts[0]! : null;
    // Header fields from the checks (RFC 8601 Authentication-Results, spam
    // score), cleaned again here: a check must not be able to break the message.
    const extra = [...st.headers, ...tx.headers].map(headerLine).filter((h) => h !== null).join('');
    const finalPrefix = Buffer.from(returnPathHeader(tx.facts.mailFrom));
    const prefix = Buffer.from(extra + receivedHeader({
      helo: st.facts.helo, ptr: st.facts.ptr, clientIp: st.facts.clientIp, hostname: this.opts.hostname,
      protocol: st.facts.tls ? 'ESMTPS' : 'ESMTP', ref: tx.facts.ref, rcpt: single, date: new Date(),
    }));
    const all: Mailbox[] = [];
    for (const boxes of tx.mailboxes.values()) all.push(...boxes);
    const env = { mailFrom: tx.facts.mailFrom, ref: tx.facts.ref };
    const report = await st.gen.router.deliverEach({ finalPrefix, prefix, body: msg.body, size: msg.size, messageId: msg.messageId, bodyStart: msg.bodyStart }, all, env);
    const reply = finalReply(report);
    const accepted = reply.code === 250;
    // Not accepted: Maildir copies are taken back, downstream copies are
    // remembered so the retry does not store them twice (delivery/memory.ts).
    const takenBack = await st.gen.router.settle(report, accepted, env);
    const r = render(reply, tx.facts.ref, this.opts.publicUrl);
    const key = (m: Mailbox): string => `${m.local}@${m.domain}`;
    const events: LedgerEvent[] = [];
    const final = { smtp_code: r.code, enhanced_code: r.enhanced, reply: `${r.code} ${r.line}` };
    for (const [rcpt, boxes] of tx.mailboxes) {
      const mine = new Set(boxes.map(key));
      const stored = report.stored.filter((s) => mine.has(key(s.mailbox)) && !takenBack.includes(s));
      const back = takenBack.filter((s) => mine.has(key(s.mailbox)));
      const failed = report.failed.filter((f) => mine.has(key(f.mailbox)));
      if (stored.length) {
        const d = stored[0]!;
        events.push(this.base(st, 'message.delivered', {
          ...common, rcpt, ...final,
          details: {
            ...d.details,
            mailboxes: stored.map((c) => key(c.mailbox)),
            ...(stored.some((c) => c.target === 'maildir') ? { files: stored.map((c) => c.location) } : {}),
            target: d.target,
            ...(accepted ? {} : { note: 'stored, but other recipients failed: the sender was asked to retry and the retry skips this recipient' }),
          },
        }));
        const again = stored.find((c) => c.details.already_delivered_in);
        if (again) {
          this.log.info({ session: st.facts.id, ref: tx.facts.ref, rcpt: logSafe(rcpt, 200), already: again.details.already_delivered_in }, 'already delivered in an earlier attempt; not stored again');
        }
      }
      if (failed.length || back.length) {
        const f = failed[0];
        events.push(this.base(st, 'message.delivery_failed', {
          ...common, rcpt, ...final,
          details: f
            ? { ...f.details, target: f.target, mailboxes: failed.map((c) => key(c.mailbox)), temporary: f.temporary, our_reply: `${f.reply.code} ${f.reply.enhanced}` }
            : { target: 'maildir', mailboxes: back.map((c) => key(c.mailbox)), reason: 'stored, then taken back: other recipients failed and the sender retries' },
        }));
      }
    }
    if (!(await this.record(st, events))) {
      // Nothing may be accepted without a record: take the copies back.
      if (accepted) await st.gen.router.settle(report, false, env);
      throw this.fail(LEDGER_DOWN, tx.facts.ref);
    }
    if (!accepted) {
      this.log.info({ session: st.facts.id, ref: tx.facts.ref, code: r.code, stored: report.stored.length, failed: report.failed.length }, 'message not accepted');
      this.endTx(st, `refused ${r.code}`);
      throw new SmtpReplyError(r.code, r.line);
    }
    st.delivered++;
    this.endTx(st, 'delivered');
    return r.line;
  }

  private async txFail(st: State, tx: Tx, reply: Reply, kind: LedgerEvent['kind'], reason: string, fields: Partial<LedgerEvent> | null, extra: LedgerEvent[] = []): Promise<never> {
    // One event per recipient, so a search by recipient finds the refusal.
    return this.refuse(st, reply, tx.facts.ref, (r) => [...extra, ...tx.facts.rcpts.map((rcpt) => this.base(st, kind, {
      ...this.txFields(tx), ...(fields ?? {}), rcpt,
      smtp_code: r.code, enhanced_code: r.enhanced, reply: `${r.code} ${r.line}`, details: { reason },
    }))], {
      after: () => {
        this.log.info({ session: st.facts.id, ref: tx.facts.ref, code: reply.code, reason }, 'message refused');
        this.endTx(st, `refused ${reply.code}`);
      },
    });
  }

  private endTx(st: State, outcome: string): void {
    const tx = st.tx;
    if (!tx) return;
    st.tx = null;
    // One log line per transaction (the ledger has the details).
    this.log.info({
      session: st.facts.id, ref: tx.facts.ref, ip: st.facts.clientIp, from: logSafe(tx.facts.mailFrom, 200),
      rcpts: tx.facts.rcpts.length, rejected: tx.rejected, outcome, ms: Date.now() - tx.started,
    }, 'transaction');
  }

  // ---- close ------------------------------------------------------------

  onClose = (session: SMTPServerSession): void => {
    const st = this.states.get(session.id);
    if (!st) return;
    this.states.delete(session.id);
    this.settings.release(st.gen);
    // The key taken at connect: XCLIENT may have changed the client address since.
    if (st.slot !== null) this.limiter.release(st.slot);
    else return; // refused at connect: already recorded
    if (st.tx) this.endTx(st, st.tx.facts.rcpts.length === 0 && st.tx.rejected > 0 ? 'rejected' : 'abandoned');
    this.note(st, [this.base(st, 'session.close', {
      ref: st.ref, details: { transactions: st.transactions, delivered: st.delivered, ms: Date.now() - st.started },
    })]);
    // One log line per session.
    this.log.info({
      session: st.facts.id, ref: st.ref, ip: st.facts.clientIp, helo: st.facts.helo ? logSafe(st.facts.helo, 100) : null,
      tls: st.facts.tls, transactions: st.transactions, delivered: st.delivered, ms: Date.now() - st.started,
    }, 'session');
  };

  private mustState(session: SMTPServerSession): State {
    const st = this.states.get(session.id);
    if (!st) throw new SmtpReplyError(421, '4.3.0 Session state lost; please reconnect');
    return st;
  }
}

/**
 * The one SMTP reply for a message whose recipients fared differently
 * (LMTP answers per recipient, RFC 2033 section 4.2; SMTP has one reply per
 * message, RFC 5321 section 4.2.5). A 250 only when every recipient has it.
 * Mixed with a temporary failure: 451, the retry skips the ones that have it
 * (delivery/memory.ts). Mixed with only permanent failures: a retry cannot
 * help, so the permanent code, with a text that says the others got it;
 * the sender's bounce then tells the truth about both.
 */
export function finalReply(report: RoutedReport): Reply {
  if (report.failed.length === 0) return ACCEPTED;
  const temp = report.failed.find((f: FailedCopy) => f.temporary);
  if (report.stored.length === 0) return (temp ?? report.failed[0]!).reply;
  if (temp) return { code: 451, enhanced: '4.3.0', text: 'Some recipients could not be stored; please try again, the others will not get it twice' };
  const f = report.failed[0]!;
  return { code: f.reply.code, enhanced: f.reply.enhanced, text: `${f.reply.text}; the other recipients got the message` };
}

/** One header field as "Name: value\n" (LF: collect.ts stores LF line ends), or null if it is not a clean one. */
function headerLine(h: string): string | null {
  const m = /^([\x21-\x39\x3b-\x7e]{1,76}):[ \t]?(.*)$/s.exec(h);
  if (!m) return null;
  // Folded continuation lines are kept (they start with white space); nothing
  // else that is not printable ASCII survives.
  const value = m[2]!.replace(/\r?\n(?=[ \t])/g, '\n').replace(/[^\x20-\x7e\t\n]/g, '?').replace(/\n(?![ \t])/g, ' ');
  return `${m[1]}: ${value.slice(0, 4000)}\n`;
}
