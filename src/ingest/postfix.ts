// Postfix log lines -> ledger events, and the correlation of a message's
// lines (smtpd, cleanup, qmgr, delivery agents) by queue ID into one
// transaction. Written by hand: no installed library parses Postfix logs.
// Event contract: briefs/ingest.md (shared with src/research/journeys.ts).
import type { LedgerEvent, Verdict } from '../ledger/types.js';
import { clean, MAX_ADDR, MAX_HELO, MAX_TEXT, RefusalNote, replyCodes, type Sink, type StatefulParser } from './common.js';
import { checksTrailer, deliveryFields, postscreenTrailer, qmgrFrom, smtpdTrailer, type Trailer, type TrailerReading } from './postfix-fields.js';
import { policyService, readPolicy, type PolicyFinding, type PolicyResult, type PolicyService } from './policy.js';
import type { SyslogLine } from './syslog.js';
import { normalizeMessageId } from '../util/message-id.js';
import type { CheckFinding } from '../checks/findings.js';

interface SessionState { session: string; ip: string | null; ptr: string | null; ts: number; ended?: string }
interface TxnState {
  ref: string; ts: number; last: number;
  ip: string | null; ptr: string | null; session: string | null;
  message_id: string | null; mail_from: string | null; size: number | null;
  queued: boolean; bounce_of: string | null;
}

// Hot-path patterns, compiled once (none is global or sticky: no lastIndex state).
const BOUNCE_RE = /^([0-9A-Za-z]+): sender (?:non-delivery|delay|delivery status) notification: ([0-9A-Za-z]+)$/;
const PICKUP_RE = /^[0-9A-Za-z]+: uid=/;
// "lost connection after DATA (0 bytes) from host[ip]" and its kin: how a session ended early.
const ENDED_RE = /^(lost connection|timeout|too many errors) after ([A-Z-]+)(?: \((?:approximately )?\d+ bytes\))? from ([^ ]+)$/;
// "Anonymous TLS connection established from host[ip]: TLSv1.3 with cipher NAME (256/256 bits) ..."
// (smtpd), "... established to host[ip]:25: ..." (smtp client); the trust level first.
const TLS_RE = /^(Anonymous|Untrusted|Trusted|Verified) TLS connection established (from|to) ([^ ]+): (TLSv?[0-9.]+|SSLv[0-9.]+) with cipher (\S+) \((\d+)\/\d+ bits\)/;
const SMTPD_CHATTER_RE = /^(?:lost connection|timeout|too many errors|warning:|Anonymous TLS|Trusted TLS|Untrusted TLS|Verified TLS|SSL_accept|improper command pipelining|NOQUEUE: (?:discard|hold|filter|warn|redirect)|[0-9A-Za-z]+: (?:discard|hold|filter|warn|redirect|filter)|auth|statistics|table |proxy-)/;
const REJECT_STAGE_RE = /^(CONNECT|HELO|EHLO|MAIL|RCPT|DATA|END-OF-MESSAGE|VRFY|ETRN|BDAT) from ([^ ]*): /;
const PS_EVENT_RE = /^(PASS (?:NEW|OLD)|DNSBL rank (\d+) for|PREGREET (\d+) after [0-9.]+ from|DISCONNECT) \[([^\]]*)\]:(\d+)(.*)$/;
const PS_NOQUEUE_RE = /^NOQUEUE: reject: \w+ from \[([^\]]*)\]:(\d+): /;
const PS_CHATTER_RE = /^(?:HANGUP|COMMAND|BARE NEWLINE|NON-SMTP|WHITELISTED|ALLOWLISTED|BLACKLISTED|DENYLISTED|CACHE|warning:|PASS|FAIL|DNSBL|statistics|cache|lost connection)/;
const QID_RE = /^[0-9A-Za-z]+$/;
// header_checks/body_checks (and milter) actions other than reject, access(5)
// and header_checks(5): the message went on, or was dropped (discard), held or re-routed.
const CHECKS_ACTION_RE = /^(warning|discard|hold|redirect|filter|replace|prepend|info|milter-discard|milter-hold): (?=(?:header|body|END-OF-MESSAGE|DATA|RCPT|MAIL|CONNECT|HELO|EHLO) )/;

/** A queue ID silent this long starts a new transaction when seen again (Postfix keeps mail 5 days by default). */
const REUSE_GAP_MS = 6 * 86400e3;

/** A policy service's answer is matched to smtpd's refusal logged this soon after it. */
const POLICY_MATCH_MS = 120e3;
/** At most this many policy answers wait for their smtpd line (a busy server logs hundreds a second). */
const POLICY_NOTES = 4096;
/**
 * A policy service's answer logged after smtpd's refusal (they log through
 * different paths, so their order in the file is not guaranteed; seen with a
 * real postgrey) still belongs to it when this soon after: the service logs
 * as it answers, and smtpd refuses as soon as it has the answer.
 */
const POLICY_LATE_MS = 10e3;

/** A postscreen session not closed after this long is over (see sweepPostscreen). */
const PS_SESSION_MS = 3600e3;

const base36 = (n: number): string => n.toString(36);

/** "QUEUEID: rest" -> its two halves; null when the line has no "ID: " prefix. */
function queueLine(msg: string): { qid: string; rest: string } | null {
  const colon = msg.indexOf(': ');
  return colon > 0 ? { qid: msg.slice(0, colon), rest: msg.slice(colon + 2) } : null;
}

/** "mail.example.com[192.0.2.1]" or "unknown[192.0.2.1]:25" -> name and address. */
function hostAddr(s: string): { ptr: string | null; ip: string | null } {
  const br = s.indexOf('[');
  const end = s.indexOf(']', br);
  if (br < 0 || end < 0) return { ptr: null, ip: null };
  const name = s.slice(0, br);
  let ip = s.slice(br + 1, end);
  if (ip.startsWith('ipv6:') || ip.startsWith('IPv6:')) ip = ip.slice(5);
  return { ptr: name && name !== 'unknown' ? clean(name, MAX_HELO) : null, ip: clean(ip, 64) };
}

/** The check our own gateway would name for a Postfix rejection text. */
/** A refusal as one of the gateway's checks and its findings (checks/findings.ts), or Postfix's own. */
export type Classified = (CheckFinding | { check: 'postfix'; finding: 'other' }) & { evidence: Record<string, unknown> };

export function classify(text: string, milter: boolean): Classified {
  let m = /blocked using ([^\s;,]+)/.exec(text);
  if (m) return { check: 'dnsbl', finding: 'listed', evidence: { zone: m[1]!.slice(0, 253) } };
  if (/User unknown|\b5\.1\.1\b|Recipient address rejected: (?:undeliverable|unverified|User unknown)/i.test(text)) {
    return { check: 'recipient', finding: 'unknown', evidence: {} };
  }
  if (/Relay access denied/i.test(text)) return { check: 'relay', finding: 'relay_denied', evidence: {} };
  if (/Sender address rejected: Domain not found/i.test(text)) return { check: 'sender_domain', finding: 'nxdomain', evidence: {} };
  if (/cannot find your (?:reverse )?hostname/i.test(text)) return { check: 'client_identity', finding: 'no_ptr', evidence: {} };
  if (/Helo command rejected/i.test(text)) return { check: 'helo', finding: 'rejected', evidence: {} };
  if (/Message size exceeds/i.test(text)) return { check: 'size', finding: 'too_large', evidence: {} };
  // postgrey's default reply ("Greylisted, see http://postgrey.schweikert.ch/help/...") and the like.
  if (/\bgreylist/i.test(text)) return { check: 'greylist', finding: 'greylisted', evidence: {} };
  if (/\bSPF\b/i.test(text)) return { check: 'spf', finding: 'fail', evidence: {} };
  if (/\bDMARC\b/i.test(text)) return { check: 'dmarc', finding: 'reject', evidence: {} };
  if (milter || /virus|infected|malware/i.test(text)) {
    if (/virus|infected|malware|\bFOUND\b/i.test(text)) {
      m = /(?:virus|infected)[:\s]+([A-Za-z0-9._/-]+)/i.exec(text);
      return { check: 'virus', finding: 'infected', evidence: m ? { signature: m[1] } : {} };
    }
    if (/spam/i.test(text)) return { check: 'spam', finding: 'spam', evidence: {} };
  }
  return { check: 'postfix', finding: 'other', evidence: {} };
}

export class PostfixParser implements StatefulParser {
  private sessions = new Map<string, SessionState>();
  private txns = new Map<string, TxnState>();
  /** Last NOQUEUE stamp and counter, so NOQUEUE refs are unique and the same on a re-run. */
  private noq = { ts: 0, n: 0 };
  private refusal = new RefusalNote();

  takeRefusal(): string | null { return this.refusal.take(); }

  save(): unknown {
    return { s: [...this.sessions], t: [...this.txns], noq: this.noq };
  }

  load(state: unknown): void {
    const st = state as { s?: [string, SessionState][]; t?: [string, TxnState][]; noq?: { ts: number; n: number } } | null;
    if (!st) return;
    this.sessions = new Map(st.s ?? []);
    this.txns = new Map(st.t ?? []);
    this.noq = st.noq ?? { ts: 0, n: 0 };
  }

  expire(before: number): void {
    for (const [k, v] of this.sessions) if (v.ts < before) this.sessions.delete(k);
    for (const [k, v] of this.txns) if (v.last < before) this.txns.delete(k);
  }

  /** Open sessions and transactions (for tests and the summary). */
  get openCounts(): { sessions: number; transactions: number } {
    return { sessions: this.sessions.size, transactions: this.txns.size };
  }

  private txn(node: string, qid: string, ts: number, create: boolean): TxnState | null {
    const key = node + '|' + qid;
    let t = this.txns.get(key);
    if (t && ts - t.last > REUSE_GAP_MS) t = undefined;
    if (!t) {
      if (!create) return null;
      t = { ref: `pf:${node}:${qid}:${base36(ts)}`, ts, last: ts, ip: null, ptr: null, session: null, message_id: null, mail_from: null, size: null, queued: false, bounce_of: null };
      this.txns.set(key, t);
    }
    t.last = ts;
    return t;
  }

  handle(l: SyslogLine, node: string, sink: Sink): boolean {
    const prog = l.program;
    const svc = policyService(prog);
    if (svc) return this.policy(l, node, sink, svc);
    const slash = prog.lastIndexOf('/');
    if (slash < 0 || !prog.startsWith('postfix')) return false;
    const daemon = prog.slice(slash + 1);
    const msg = l.msg;
    switch (daemon) {
      case 'smtpd': return this.smtpd(l, node, sink);
      case 'postscreen': return this.postscreen(l, node, sink);
      case 'cleanup': return this.cleanup(l, node, sink);
      case 'qmgr': return this.qmgr(l, node, sink);
      case 'smtp': case 'lmtp': case 'local': case 'virtual': case 'pipe': case 'error': case 'retry': case 'relay': case 'discard':
        return this.delivery(l, node, sink);
      case 'bounce': {
        const m = BOUNCE_RE.exec(msg);
        if (!m) return msg.startsWith('warning:');
        const t = this.txn(node, m[1]!, l.ts, true)!;
        // The notification is a message of its own (from=<>); its transaction points back here.
        const n = this.txn(node, m[2]!, l.ts, true)!;
        n.bounce_of = t.ref;
        return true;
      }
      case 'pickup': return PICKUP_RE.test(msg) || msg.startsWith('warning:');
      case 'dnsblog': case 'master': case 'postfix-script': case 'postlogd': case 'anvil': case 'scache':
      case 'tlsmgr': case 'verify': case 'trivial-rewrite': case 'proxymap': case 'flush': case 'showq':
      case 'postqueue': case 'postsuper': case 'sendmail': case 'postdrop': case 'tlsproxy':
        // Service chatter: nothing about a message's journey (dnsblog's findings come again in postscreen's DNSBL rank).
        return true;
      default: return false;
    }
  }

  /**
   * Policy answers waiting for smtpd's refusal of the same request, by node,
   * client address, sender and recipient: smtpd's line names neither the
   * service nor its finding ("450 4.2.0 <r>: Recipient address rejected:
   * Greylisted"), the policy service's line has no queue ID or session.
   */
  private policyNotes = new Map<string, { r: PolicyResult; ts: number }>();
  private policyKey(node: string, ip: string | null, from: string | null, to: string | null): string {
    return `${node}|${ip ?? ''}|${(from ?? '').toLowerCase()}|${(to ?? '').toLowerCase()}`;
  }

  /** smtpd refusals no policy answer was known for yet, by policyKey: a late answer joins their transaction. */
  private unexplained = new Map<string, { ref: string; session: string | null; ts: number }>();

  private policy(l: SyslogLine, node: string, sink: Sink, svc: PolicyService): boolean {
    const p = readPolicy(svc, l.msg);
    if (p === null) return false;
    if (p === 'chatter') return true;
    if (!p.ok) return this.refusal.refuse(p.reason);
    const r = p.result;
    const codes = r.reply ? replyCodes(r.reply) : { code: null, enhanced: null };
    const refusing = r.verdict === 'reject' || r.verdict === 'tempfail';
    const key = this.policyKey(node, r.ip, r.from, r.to);
    // The refusal this answer caused, when smtpd's line came first.
    let late = refusing ? this.unexplained.get(key) : undefined;
    if (late) {
      this.unexplained.delete(key);
      if (l.ts < late.ts || l.ts - late.ts > POLICY_LATE_MS) late = undefined;
    }
    sink.emit({
      ts: l.ts, node, source: 'postfix', kind: 'check.result', check_name: r.check, verdict: r.verdict,
      ...(late ? { session: late.session, ref: late.ref } : {}),
      client_ip: clean(r.ip, 64), client_ptr: clean(r.ptr, MAX_HELO), helo: clean(r.helo, MAX_HELO),
      mail_from: clean(r.from, MAX_ADDR), rcpt: clean(r.to, MAX_ADDR),
      smtp_code: codes.code, enhanced_code: codes.enhanced, reply: clean(r.reply, MAX_TEXT),
      details: { stage: 'rcpt', evidence: { finding: r.finding, service: r.service, ...r.evidence } },
    });
    if (refusing && !late) {
      this.policyNotes.delete(key);
      this.policyNotes.set(key, { r, ts: l.ts });
      if (this.policyNotes.size > POLICY_NOTES) this.policyNotes.delete(this.policyNotes.keys().next().value!);
    }
    return true;
  }

  /** The policy answer behind smtpd's refusal of (ip, from, to), taken once. */
  private policyNote(node: string, ip: string | null, from: string | null, to: string | null, ts: number): PolicyResult | null {
    if (this.policyNotes.size === 0) return null;
    const key = this.policyKey(node, ip, from, to);
    const n = this.policyNotes.get(key);
    if (!n) return null;
    this.policyNotes.delete(key);
    return ts - n.ts <= POLICY_MATCH_MS && ts >= n.ts ? n.r : null;
  }

  private sessionOf(node: string, pid: string | null): SessionState | undefined {
    return pid === null ? undefined : this.sessions.get(node + '|' + pid);
  }

  /**
   * postscreen(8) logs no DISCONNECT for a client it passes on to smtpd (PASS
   * NEW/OLD hands the connection over), so its sessions would stay open for
   * EXPIRE (days) and be saved with every batch. A postscreen session lasts
   * seconds (postscreen_greet_wait) to minutes (the after-220 tests, bounded
   * by smtpd_timeout-like limits): one silent for an hour is over. Swept every
   * few thousand connects, so the cost is spread thin.
   */
  private psConnects = 0;
  private sweepPostscreen(now: number): void {
    if (++this.psConnects % 4096 !== 0) return;
    const before = now - PS_SESSION_MS;
    for (const [k, v] of this.sessions) if (v.ts < before && k.includes('|ps|')) this.sessions.delete(k);
  }

  private smtpd(l: SyslogLine, node: string, sink: Sink): boolean {
    const msg = l.msg;
    if (msg.startsWith('connect from ')) {
      const { ptr, ip } = hostAddr(msg.slice(13));
      const s: SessionState = { session: `pf:${node}:${l.pid}:${l.ts}`, ip, ptr, ts: l.ts };
      this.sessions.set(node + '|' + l.pid, s);
      sink.emit({ ts: l.ts, node, source: 'postfix', kind: 'session.connect', session: s.session, client_ip: ip, client_ptr: ptr });
      return true;
    }
    if (msg.startsWith('disconnect from ')) {
      const s = this.sessionOf(node, l.pid);
      const rest = msg.slice(16);
      const sp = rest.indexOf(' ');
      const counts: Record<string, string> = {};
      if (sp > 0) {
        for (const kv of rest.slice(sp + 1).split(' ', 40)) {
          const eq = kv.indexOf('=');
          if (eq > 0 && eq < 32) counts[kv.slice(0, eq)] = kv.slice(eq + 1, eq + 33);
        }
      }
      const { ptr, ip } = hostAddr(sp > 0 ? rest.slice(0, sp) : rest);
      const details: Record<string, unknown> = { commands: counts };
      if (s?.ended) details.ended = s.ended;
      sink.emit({ ts: l.ts, node, source: 'postfix', kind: 'session.close', session: s?.session ?? null, client_ip: s?.ip ?? ip, client_ptr: s?.ptr ?? ptr, details });
      if (l.pid !== null) this.sessions.delete(node + '|' + l.pid);
      return true;
    }
    const colon = msg.indexOf(': ');
    if (colon > 0) {
      const qid = msg.slice(0, colon);
      const rest = msg.slice(colon + 2);
      if (rest.startsWith('client=')) {
        if (!QID_RE.test(qid)) return false;
        const s = this.sessionOf(node, l.pid);
        const comma = rest.indexOf(',');
        const { ptr, ip } = hostAddr(rest.slice(7, comma > 0 ? comma : undefined));
        const t = this.txn(node, qid, l.ts, true)!;
        t.ip = ip; t.ptr = ptr; t.session = s?.session ?? null;
        return true;
      }
      if (rest.startsWith('reject: ') || rest.startsWith('reject_warning: ') || rest.startsWith('milter-reject: ')) {
        return this.reject(l, node, sink, qid, rest, this.sessionOf(node, l.pid), smtpdTrailer);
      }
    }
    const c0 = msg.charCodeAt(0);
    if (c0 === 108 /* l */ || c0 === 116 /* t */) {
      const m = ENDED_RE.exec(msg);
      if (m) return this.ended(l, node, sink, m);
    }
    if (msg.includes(' TLS connection established ')) {
      const m = TLS_RE.exec(msg);
      if (m) return this.tls(l, node, sink, m);
    }
    // Connection-level chatter with no event of its own.
    return SMTPD_CHATTER_RE.test(msg);
  }

  /**
   * "lost connection after DATA from host[ip]" (also "timeout after", "too
   * many errors after"): the client went away in the middle, which says why
   * a message never arrived. smtpd logs "disconnect from" next, whose
   * session.close then carries it; without a known session (a log that starts
   * mid-session) it is a session.close of its own.
   */
  private ended(l: SyslogLine, node: string, sink: Sink, m: RegExpExecArray): boolean {
    const ended = `${m[1]} after ${m[2]}`;
    const s = this.sessionOf(node, l.pid);
    if (s) { s.ended = ended; return true; }
    const { ptr, ip } = hostAddr(m[3]!);
    sink.emit({ ts: l.ts, node, source: 'postfix', kind: 'session.close', session: null, client_ip: ip, client_ptr: ptr, details: { ended } });
    return true;
  }

  /** The TLS handshake's outcome: the gateway's own session.tls (protocol, cipher), plus Postfix's trust level. */
  private tls(l: SyslogLine, node: string, sink: Sink, m: RegExpExecArray): boolean {
    const outbound = m[2] === 'to';
    const s = outbound ? undefined : this.sessionOf(node, l.pid);
    const { ptr, ip } = hostAddr(m[3]!);
    const details: Record<string, unknown> = { protocol: m[4], cipher: clean(m[5]!, 100), bits: Number(m[6]), trust: m[1]!.toLowerCase() };
    if (outbound) { details.direction = 'outbound'; details.peer = clean(m[3]!, 300); }
    sink.emit({
      ts: l.ts, node, source: 'postfix', kind: 'session.tls', session: s?.session ?? null,
      client_ip: outbound ? null : s?.ip ?? ip, client_ptr: outbound ? null : s?.ptr ?? ptr, details,
    });
    return true;
  }

  /**
   * "NOQUEUE: reject: RCPT from host[ip]: 554 5.7.1 <..>: text; from=<a> to=<b> proto=ESMTP helo=<h>"
   * and the queue-ID form of the same. A rejection is the event research starts from: it carries the
   * envelope, and a check.result says which check (in our gateway's names) refused.
   */
  private reject(l: SyslogLine, node: string, sink: Sink, qid: string, rest: string, s: SessionState | undefined, read: (s: string) => TrailerReading): boolean {
    const warn = rest.startsWith('reject_warning: ');
    const milter = rest.startsWith('milter-reject: ');
    const body = rest.slice(warn ? 16 : milter ? 15 : 8);
    const m = REJECT_STAGE_RE.exec(body);
    if (!m) return false;
    const stage = m[1]!.toLowerCase().replace('end-of-message', 'data').replace('ehlo', 'helo').replace('bdat', 'data');
    const { ptr, ip } = hostAddr(m[2]!);
    // The reply and the fields after it, split where only one reading fits (postfix-fields.ts).
    const r = read(body.slice(m[0].length));
    if (!r.ok) return this.refusal.refuse(r.reason);
    const tr = r.trailer;
    const reply = clean(tr.text, MAX_TEXT)!;
    const codes = replyCodes(reply);
    const code = codes.code;
    let ref: string;
    if (qid === 'NOQUEUE') {
      if (l.ts === this.noq.ts) this.noq.n++;
      else this.noq = { ts: l.ts, n: 0 };
      ref = `pf:${node}:NOQUEUE:${l.ts}:${this.noq.n}`;
    } else {
      if (!QID_RE.test(qid)) return false;
      ref = this.txn(node, qid, l.ts, true)!.ref;
    }
    let cls: Classified | (PolicyFinding & { evidence: Record<string, unknown> }) = classify(tr.text, milter);
    // The policy service that answered this request names the check and its finding.
    // policyd-spf's answer names no recipient: it is found by client and sender.
    const note = this.policyNote(node, ip ?? s?.ip ?? null, tr.from, tr.to, l.ts) ?? this.policyNote(node, ip ?? s?.ip ?? null, tr.from, null, l.ts);
    if (note) cls = { ...({ check: note.check, finding: note.finding } as PolicyFinding), evidence: { service: note.service, ...note.evidence } };
    const verdict: Verdict = warn ? 'flag' : code !== null && code < 500 ? 'tempfail' : 'reject';
    if (!note && !warn) {
      // By recipient, and without one for an answer that names none (policyd-spf).
      for (const to of tr.to ? [tr.to, null] : [null]) {
        const key = this.policyKey(node, ip ?? s?.ip ?? null, tr.from, to);
        this.unexplained.delete(key);
        this.unexplained.set(key, { ref, session: s?.session ?? null, ts: l.ts });
      }
      while (this.unexplained.size > POLICY_NOTES) this.unexplained.delete(this.unexplained.keys().next().value!);
    }
    const base = {
      ts: l.ts, node, source: 'postfix' as const, session: s?.session ?? null, ref,
      client_ip: ip ?? s?.ip ?? null, client_ptr: ptr ?? s?.ptr ?? null,
      helo: clean(tr.helo, MAX_HELO), mail_from: clean(tr.from, MAX_ADDR), rcpt: clean(tr.to, MAX_ADDR),
    };
    if (!warn) {
      sink.emit({
        ...base, kind: stage === 'data' ? 'data.rejected' : 'rcpt.rejected', check_name: cls.check, verdict,
        smtp_code: code ?? (verdict === 'tempfail' ? 450 : 550), enhanced_code: codes.enhanced, reply,
      });
    }
    sink.emit({
      ...base, kind: 'check.result', check_name: cls.check, verdict,
      smtp_code: code, enhanced_code: codes.enhanced, reply,
      details: { stage, evidence: { finding: cls.finding, ...cls.evidence, source_text: reply } },
    });
    return true;
  }

  private postscreen(l: SyslogLine, node: string, sink: Sink): boolean {
    const msg = l.msg;
    const psKey = (ipPort: string): string => node + '|ps|' + ipPort;
    // "CONNECT from [ip]:port to [ip]:port", the most frequent postscreen line: split by hand.
    let m: RegExpExecArray | string[] | null = null;
    if (msg.startsWith('CONNECT from [')) {
      const close = msg.indexOf(']', 14);
      let e = close + 2;
      while (e < msg.length && msg.charCodeAt(e) >= 48 && msg.charCodeAt(e) <= 57) e++;
      if (close > 0 && msg.charCodeAt(close + 1) === 58 /* : */ && e > close + 2) m = [msg.slice(0, e), msg.slice(14, close), msg.slice(close + 2, e)];
    }
    if (m) {
      this.sweepPostscreen(l.ts);
      const ip = clean(m[1]!, 64);
      const s: SessionState = { session: `pf:${node}:${l.pid}:${l.ts}`, ip, ptr: null, ts: l.ts };
      this.sessions.set(psKey(`${m[1]}:${m[2]}`), s);
      sink.emit({ ts: l.ts, node, source: 'postfix', kind: 'session.connect', session: s.session, client_ip: ip, details: { service: 'postscreen' } });
      return true;
    }
    const c0 = msg.charCodeAt(0);
    m = c0 === 80 /* P */ || c0 === 68 /* D */ ? PS_EVENT_RE.exec(msg) : null;
    if (m) {
      const key = psKey(`${m[4]}:${m[5]}`);
      const s = this.sessions.get(key);
      const base = { ts: l.ts, node, source: 'postfix' as const, session: s?.session ?? null, client_ip: clean(m[4]!, 64) };
      const what = m[1]!;
      if (what.startsWith('PASS')) {
        sink.emit({ ...base, kind: 'check.result', check_name: 'postscreen', verdict: 'pass', details: { stage: 'connect', evidence: { finding: what.slice(5).toLowerCase() } } });
      } else if (what.startsWith('DNSBL')) {
        sink.emit({ ...base, kind: 'check.result', check_name: 'dnsbl', verdict: 'flag', details: { stage: 'connect', evidence: { finding: 'listed', rank: Number(m[2]) } } });
      } else if (what.startsWith('PREGREET')) {
        sink.emit({ ...base, kind: 'check.result', check_name: 'pregreet', verdict: 'reject', details: { stage: 'connect', evidence: { finding: 'early_talker', bytes: Number(m[3]), source_text: clean(m[6]!.replace(/^: /, ''), 200) } } });
      } else {
        sink.emit({ ...base, kind: 'session.close', details: { service: 'postscreen' } });
        this.sessions.delete(key);
      }
      return true;
    }
    if (msg.startsWith('NOQUEUE: reject: ')) {
      // "RCPT from [ip]:port: 550 5.7.1 Service unavailable; client [ip] blocked using zen...; from=<a>, to=<b>, proto=ESMTP, helo=<h>"
      const pm = PS_NOQUEUE_RE.exec(msg);
      const s = pm ? this.sessions.get(psKey(`${pm[1]}:${pm[2]}`)) : undefined;
      return this.reject(l, node, sink, 'NOQUEUE', msg.slice(9), s, postscreenTrailer);
    }
    return PS_CHATTER_RE.test(msg);
  }

  private cleanup(l: SyslogLine, node: string, sink: Sink): boolean {
    const msg = l.msg;
    const q = queueLine(msg);
    if (!q) return false;
    const { qid, rest } = q;
    if (rest.startsWith('message-id=')) {
      const t = this.txn(node, qid, l.ts, true)!;
      t.message_id = clean(normalizeMessageId(rest.slice(11)), 998) || null;
      return true;
    }
    if (rest.startsWith('milter-reject: ') || rest.startsWith('reject: ')) {
      return this.milterReject(l, node, sink, qid, rest);
    }
    const act = CHECKS_ACTION_RE.exec(rest);
    if (act) return this.checksAction(l, node, sink, qid, act[1]!, rest.slice(act[0].length));
    return rest.startsWith('resent-message-id=') || rest.startsWith('warning: ') || rest.startsWith('info: ') || msg.startsWith('warning:');
  }

  /** "QID: milter-reject: END-OF-MESSAGE from host[ip]: 5.7.1 text; from=<a> to=<b> proto=ESMTP helo=<h>" */
  private milterReject(l: SyslogLine, node: string, sink: Sink, qid: string, rest: string): boolean {
    const milter = rest.startsWith('milter-reject: ');
    const body = rest.slice(milter ? 15 : 8);
    // "END-OF-MESSAGE from host[ip]: text; fields" (milter), or
    // "header Subject: x from host[ip]; fields: 5.7.1 text" (header/body_checks).
    if (!MILTER_FROM.test(body) && !/^(?:header|body) /.test(body)) return false;
    const a = actionFields(body, false);
    if (!a.ok) return this.refusal.refuse(a.reason);
    const { tr, client, m } = a;
    const text = tr.text;
    const t = this.txn(node, qid, l.ts, true)!;
    const ha = hostAddr(client);
    const reply = clean(text, MAX_TEXT)!;
    const codes = replyCodes(reply);
    const enhanced = codes.enhanced;
    const code = codes.code ?? (enhanced?.startsWith('4') ? 451 : 550);
    const cls = classify(text, milter);
    const verdict: Verdict = code < 500 ? 'tempfail' : 'reject';
    const stage = m && /^(?:CONNECT|HELO|EHLO|MAIL|RCPT)$/.test(m[1]!) ? m[1]!.toLowerCase() : 'data';
    const base = {
      ts: l.ts, node, source: 'postfix' as const, session: t.session, ref: t.ref,
      client_ip: ha.ip ?? t.ip, client_ptr: ha.ptr ?? t.ptr, helo: clean(tr.helo, MAX_HELO),
      mail_from: clean(tr.from, MAX_ADDR) ?? t.mail_from, rcpt: clean(tr.to, MAX_ADDR), message_id: t.message_id,
    };
    sink.emit({ ...base, kind: stage === 'data' ? 'data.rejected' : 'rcpt.rejected', check_name: cls.check, verdict, smtp_code: code, enhanced_code: enhanced, reply });
    sink.emit({ ...base, kind: 'check.result', check_name: cls.check, verdict, smtp_code: code, enhanced_code: enhanced, reply, details: { stage, evidence: { finding: cls.finding, ...cls.evidence, source_text: reply } } });
    return true;
  }

  /**
   * "QID: discard: header Subject: x from host[ip]; from=<a> to=<b> proto=ESMTP helo=<h>: optional text":
   * a header/body_checks (or milter) action that did not refuse. The sender got
   * 250, so for "discard" this line is the only trace of where the message went.
   */
  private checksAction(l: SyslogLine, node: string, sink: Sink, qid: string, action: string, body: string): boolean {
    const a = actionFields(body, true);
    if (!a.ok) return this.refusal.refuse(a.reason);
    const { tr, client, m } = a;
    if (!QID_RE.test(qid)) return false;
    const t = this.txn(node, qid, l.ts, true)!;
    const ha = hostAddr(client);
    const what = m ? m[1]!.toLowerCase() : body.startsWith('body ') ? 'body' : 'header';
    sink.emit({
      ts: l.ts, node, source: 'postfix', kind: 'check.result', check_name: m ? 'milter' : `${what}_checks`, verdict: 'flag',
      session: t.session, ref: t.ref, client_ip: ha.ip ?? t.ip, client_ptr: ha.ptr ?? t.ptr, helo: clean(tr.helo, MAX_HELO),
      mail_from: clean(tr.from, MAX_ADDR) ?? t.mail_from, rcpt: clean(tr.to, MAX_ADDR), message_id: t.message_id,
      details: { stage: 'data', evidence: { finding: action.replace('milter-', ''), action, source_text: clean(tr.text, MAX_TEXT) } },
    });
    return true;
  }

  private qmgr(l: SyslogLine, node: string, sink: Sink): boolean {
    const msg = l.msg;
    const q = queueLine(msg);
    if (!q) return false;
    const { qid, rest } = q;
    if (rest === 'removed') {
      // The queue ID is free again: a later line with it is another message.
      this.txns.delete(node + '|' + qid);
      return true;
    }
    if (rest.startsWith('from=<')) {
      // The tail after the sender is fixed, so it is matched at the end of the line: the sender is all before it.
      const q = qmgrFrom(rest);
      if (!q) return this.refusal.refuse('no qmgr fields');
      const t = this.txn(node, qid, l.ts, true)!;
      t.mail_from = clean(q.from, MAX_ADDR) ?? '';
      if (q.size !== null) t.size = q.size;
      if (q.status !== null) {
        // "status=expired, returned to sender": the queue gave up on the message.
        sink.emit({ ts: l.ts, node, source: 'postfix', kind: 'message.delivery_failed', ref: t.ref, session: t.session, client_ip: t.ip, mail_from: t.mail_from, message_id: t.message_id, smtp_code: 550, enhanced_code: null, reply: clean(q.status, MAX_TEXT), details: { status: 'expired' } });
        return true;
      }
      // qmgr logs from= each time the message enters the active queue (every retry): one event per message.
      if (!t.queued) {
        t.queued = true;
        sink.emit({
          ts: l.ts, node, source: 'postfix', kind: 'message.queued', ref: t.ref, session: t.session,
          client_ip: t.ip, client_ptr: t.ptr, mail_from: t.mail_from, size: t.size, message_id: t.message_id,
          details: { queue_id: qid, nrcpt: q.nrcpt, ...(t.bounce_of ? { bounce_of: t.bounce_of } : {}) },
        });
      }
      return true;
    }
    return msg.startsWith('warning:') || rest.startsWith('skipped') || rest.startsWith('to=<');
  }

  /** "QID: to=<x>, orig_to=<y>, relay=..., delay=0.5, delays=a/b/c/d, dsn=2.0.0, status=sent (250 ...)" */
  private delivery(l: SyslogLine, node: string, sink: Sink): boolean {
    const msg = l.msg;
    if (msg.includes(' TLS connection established ')) {
      const m = TLS_RE.exec(msg);
      if (m) return this.tls(l, node, sink, m);
    }
    const q = queueLine(msg);
    if (!q) return msg.startsWith('warning:');
    const { qid, rest } = q;
    if (!rest.startsWith('to=<')) {
      // "connect to ...", "host x said ...", "lost connection ...", "conversation with ... timed out": the status line follows.
      return QID_RE.test(qid) || msg.startsWith('warning:') || msg.startsWith('connect to ') || msg.startsWith('SSL_connect');
    }
    // The recipient is the client's and the reply the remote server's: read so neither passes for the other fields.
    const r = deliveryFields(rest);
    if (!r.ok) return this.refusal.refuse(r.reason);
    const t = this.txn(node, qid, l.ts, true)!;
    const { to, origTo, relay, delay, delays, dsn, status, text: why } = r.d;
    const reply = clean(why!, MAX_TEXT);
    // service: the delivery agent (smtp, lmtp, local, virtual ...); research
    // tells a mailbox delivery from a hand-over to another MTA by it.
    const details: Record<string, unknown> = { relay: clean(relay!, 300), dsn, delay: Number(delay), delays, status, queue_id: qid, service: l.program.slice(l.program.lastIndexOf('/') + 1) };
    if (origTo) details.orig_to = clean(origTo, MAX_ADDR);
    if (t.bounce_of) details.bounce_of = t.bounce_of;
    const base: LedgerEvent = {
      ts: l.ts, node, source: 'postfix', kind: 'message.delivered', ref: t.ref, session: t.session,
      client_ip: t.ip, client_ptr: t.ptr, mail_from: t.mail_from, message_id: t.message_id, size: t.size,
      rcpt: clean(to!.toLowerCase(), MAX_ADDR), reply, details,
    };
    if (status === 'sent' || status === 'delivered') {
      const c = replyCodes(why!);
      sink.emit({ ...base, smtp_code: c.code, enhanced_code: c.enhanced ?? dsn! });
      return true;
    }
    const c = replyCodes(why!);
    const temp = dsn!.startsWith('4') || status === 'deferred';
    sink.emit({
      ...base, kind: 'message.delivery_failed',
      smtp_code: c.code ?? (temp ? 451 : 550), enhanced_code: c.enhanced ?? dsn!,
    });
    return true;
  }
}

const MILTER_FROM = /^([A-Z-]+) from ([^ ]*): /;

/**
 * The client and fields of a milter or header/body_checks line:
 * "STAGE from host[ip]: text; fields" (milter) or
 * "header|body ... from host[ip]; fields: text" (checks). `emptyText`: an
 * action without an optional text (WARN, DISCARD, HOLD) ends at the fields.
 */
function actionFields(body: string, emptyText: boolean): { ok: true; tr: Trailer; client: string; m: RegExpExecArray | null } | { ok: false; reason: string } {
  const m = MILTER_FROM.exec(body);
  if (m) {
    const r = smtpdTrailer(body.slice(m[0].length));
    return r.ok ? { ok: true, tr: r.trailer, client: m[2]!, m } : r;
  }
  let r = checksTrailer(body);
  if (emptyText && !r.ok && r.reason === 'no trailer') r = checksTrailer(body + ': ');
  return r.ok ? { ok: true, tr: r.trailer, client: r.client, m: null } : r;
}
