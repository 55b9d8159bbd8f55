import { clientNetwork } from '../dns/ip.js';
import type { EventKind, EventQuery, LedgerReader, LookupWindow, StoredEvent } from '../ledger/types.js';
import { findingCode } from './diagnosis.js';

// The research layer's journey model: one journey per transaction and
// recipient, whatever wrote the events (the gateway, the POP3 server, or
// ingested Postfix and Dovecot logs; see ingest/). A journey is built from
//  - the transaction's events (same ref),
//  - the session's facts (connect, HELO, connect/HELO checks),
//  - mailbox access to that message (POP3 RETR/DELE, IMAP expunge, Dovecot's
//    LMTP save), joined by ref when our POP3 server wrote it, else by
//    Message-ID and mailbox: Dovecot knows nothing of our REF.
// The JSON shape is the contract of docs/design.md (snake_case, stable).

/** no_transaction: an SMTP session that sent no MAIL FROM (research/sessions.ts); its rcpt is "". */
export type Outcome = 'delivered' | 'rejected' | 'tempfailed' | 'incomplete' | 'no_transaction';

export interface Access {
  at: string;
  kind: string;
  source: string;
  client_ip: string | null;
}

/**
 * Something close to what was searched: a similar address that was refused
 * as unknown (the likely typo), a similar existing mailbox, another address
 * of the same sender domain. Filled by research/search.ts.
 */
export interface NearMiss {
  kind: 'refused_similar_address' | 'similar_mailbox' | 'other_sender_address';
  value: string;
  /** refused_similar_address: when it was last refused (ISO time) and that transaction's REF. */
  at?: string;
  ref?: string;
  /** What it is, in the search's language. */
  what?: string;
}

export interface Journey {
  ref: string;
  node: string;
  source: string;
  started_at: string;
  client_ip: string | null;
  helo: string | null;
  mail_from: string | null;
  rcpt: string;
  message_id: string | null;
  outcome: Outcome;
  reply: string | null;
  diagnosis: string[];
  /** Mailbox access to this message after delivery, oldest first. */
  access: Access[];
  /** Filled by research/search.ts; empty from trace() alone. */
  near_misses: NearMiss[];
  /**
   * A 4xx still within the retry window (tempfail_pending): by when a retry
   * of the same message should have come (ISO time). Absent otherwise.
   */
  retry_by?: string;
  events: StoredEvent[];
}

export interface TraceFilter {
  rcpt?: string;
  domain?: string;
  from?: string;
  ip?: string;
  ref?: string;
  messageId?: string;
  since?: number;
  until?: number;
  /** "now" for the tempfail_not_retried rule; tests pin it. */
  now?: number;
  /**
   * How long after a 4xx the sender's retry of the same message is expected
   * (research.retry_window_s); an attempt later than this after the previous
   * one, without the same Message-ID, is another message. Default 2 hours.
   */
  retryWindowMs?: number;
  /**
   * Our own POP3 server serves the embedded Maildirs (pop3.listen is not
   * empty), so a message delivered there and never fetched by it was not
   * fetched at all. Default true.
   */
  ownPop3?: boolean;
  /**
   * Most journeys wanted; the newest are kept and `truncated` is set on the
   * result array. Bounds the work for a mailbox that gets thousands of
   * messages a week (bench/research: a busy info@ address).
   */
  limit?: number;
}

/** What the configuration tells research (research.retry_window_s, whether our POP3 server runs); the web passes it with every query. */
export type ResearchSettings = Pick<TraceFilter, 'retryWindowMs' | 'ownPop3'> & {
  /** checks.dnsbl.zones[].lookup_url by zone: where a sender looks up its listing (research/blocklists.ts). */
  dnsblLinks?: Record<string, string>;
};

/** Most events a search reads for its hits (before the transactions' own events). */
const MAX_HITS = 50000;

/** trace()'s answer: the journeys, oldest first, and whether older ones were left out by the limit. */
export type Journeys = Journey[] & { truncated?: boolean };

/**
 * A 4xx counts as not retried once senders have had this long; RFC 5321
 * section 4.5.4.1 asks for a retry interval of at least 30 minutes, and common
 * MTAs retry within an hour (Postfix: maximal_backoff_time 4000 s).
 */
export const DEFAULT_RETRY_WINDOW_MS = 2 * 3600e3;

const ACCESS_KINDS = new Set(['pop3.retr', 'pop3.dele', 'imap.expunge', 'mailbox.copy']);
const LOGIN_KINDS = new Set(['pop3.login', 'pop3.logout', 'imap.login', 'imap.logout']);
const DELETING = new Set(['pop3.dele', 'imap.expunge']);
const FINAL_KINDS = new Set(['message.delivered', 'message.recovered', 'rcpt.rejected', 'data.rejected', 'message.delivery_failed', 'session.limit']);

function isAccess(e: StoredEvent): boolean { return ACCESS_KINDS.has(e.kind); }
/** Events that belong to a message in a mailbox rather than to an SMTP transaction. */
function isMailboxSide(e: StoredEvent): boolean {
  return isAccess(e) || (e.source === 'dovecot' && e.kind === 'message.delivered');
}
function stageOf(e: StoredEvent): string { return String((e.details as { stage?: unknown } | null)?.stage ?? ''); }

/** A failed hand-over to the mailbox (our LMTP/SMTP target, or an ingested Postfix delivery agent). */
function deliveryFailureCode(e: StoredEvent): string | null {
  if (e.kind !== 'message.delivery_failed') return null;
  // The target's own reply (details.reply: Dovecot's "452 4.2.2 Quota
  // exceeded") says more than ours to the client ("451 4.3.0 Some recipients
  // could not be stored").
  const downstream = (e.details as { reply?: unknown } | null)?.reply;
  const text = `${typeof downstream === 'string' ? downstream : ''} ${e.enhanced_code ?? ''} ${e.reply ?? ''}`;
  // RFC 3463: X.2.2 mailbox full; X.1.1 bad destination mailbox.
  if (/\b[45]\.2\.2\b/.test(text) || /quota|mailbox (is )?full|over ?quota/i.test(text)) return 'mailbox_full';
  if (/\b5\.1\.1\b/.test(text) || /user unknown|no such user|unknown user/i.test(text)) return 'unknown_recipient';
  if (/\b[45]\.3\.4\b/.test(text) || /too large|size exceeds/i.test(text)) return 'message_too_large';
  return null;
}

/** The refusing check's code first, then what other checks found on the way. */
function diagnose(outcome: Outcome, decisive: StoredEvent | null, events: StoredEvent[]): string[] {
  if (outcome === 'delivered') {
    // Deferred on the way, then delivered (an ingested Postfix queue retries itself).
    const deferred = events.some((e) => e.kind === 'message.delivery_failed' && (e.smtp_code ?? 0) < 500);
    return deferred ? ['delivered', 'tempfail_retried'] : ['delivered'];
  }
  if (outcome !== 'rejected' && outcome !== 'tempfailed') return [];
  const codes: string[] = [];
  const refusing = decisive?.check_name
    ? events.find((e) => e.kind === 'check.result' && e.check_name === decisive.check_name && (e.verdict === 'reject' || e.verdict === 'tempfail'))
    // Ingested refusals name no check on the reply event: the refusing check
    // is the one that said reject or tempfail.
    : events.find((e) => e.kind === 'check.result' && (e.verdict === 'reject' || e.verdict === 'tempfail'));
  const first = refusing ? findingCode(refusing)
    : decisive?.check_name === 'recipient' ? 'unknown_recipient'
      : decisive?.check_name === 'size' ? 'message_too_large'
        : decisive ? deliveryFailureCode(decisive) : null;
  if (first) codes.push(first);
  for (const e of events) {
    const c = findingCode(e);
    if (c && !codes.includes(c)) codes.push(c);
  }
  return codes;
}

function outcomeOf(events: StoredEvent[]): { outcome: Outcome; reply: string | null; decisive: StoredEvent | null } {
  // Our own events come first among equals: Dovecot's "saved" of a message
  // we delivered over LMTP must not hide our reply.
  const last = [...events].reverse().find((e) => FINAL_KINDS.has(e.kind) && !isMailboxSide(e))
    ?? [...events].reverse().find((e) => FINAL_KINDS.has(e.kind));
  if (!last) return { outcome: 'incomplete', reply: null, decisive: null };
  // Recovered: in the mailbox after a crash, without a 250 to the sender (delivery/maildir/recover.ts).
  if (last.kind === 'message.delivered' || last.kind === 'message.recovered') return { outcome: 'delivered', reply: last.reply ?? null, decisive: last };
  const code = last.smtp_code ?? 0;
  return { outcome: code >= 500 ? 'rejected' : code >= 400 ? 'tempfailed' : 'incomplete', reply: last.reply ?? null, decisive: last };
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

/** The mailboxes a recipient's message was stored in (an alias fans out). */
function mailboxesOf(events: StoredEvent[], rcpt: string): Set<string> {
  const out = new Set<string>([rcpt]);
  for (const e of events) {
    if ((e.kind !== 'message.delivered' && e.kind !== 'message.recovered') || e.rcpt !== rcpt) continue;
    const boxes = (e.details as { mailboxes?: unknown } | null)?.mailboxes;
    if (Array.isArray(boxes)) for (const b of boxes) if (typeof b === 'string') out.add(b.toLowerCase());
  }
  return out;
}

/**
 * How far before the window the events of the transactions, sessions and
 * Message-IDs it found can lie: a transaction a Postfix kept in its queue
 * (5 days by default, maximal_queue_lifetime) or an earlier attempt of the
 * same message (the retry window) began before the events that named it.
 * Later events (a fetch weeks after the delivery) are always read.
 */
const LOOK_BACK_MS = 7 * 86400_000;
function lookupWindow(f: TraceFilter): LookupWindow {
  return f.since === undefined ? {} : { since: f.since - Math.max(LOOK_BACK_MS, f.retryWindowMs ?? 0) };
}

export async function trace(reader: LedgerReader, f: TraceFilter): Promise<Journeys> {
  const q: EventQuery = { since: f.since, until: f.until, limit: MAX_HITS };
  if (f.rcpt) q.rcpt = f.rcpt;
  else if (f.domain) q.rcpt_domain = f.domain;
  if (f.ip) q.client_ip = f.ip;
  if (f.ref) q.ref = f.ref;
  if (f.messageId) q.message_id = f.messageId;
  if (f.from) {
    if (f.from.includes('@')) q.mail_from = f.from;
    else q.mail_from_domain = f.from;
  }
  // With a limit, the newest events first: they name the newest `limit`
  // transactions (or mailbox-only groups), whose events are fetched below.
  if (f.limit !== undefined) {
    q.newest_first = true;
    // A few rows per transaction name the newest `limit` of them; when that
    // many rows do not, read as many more as the rows per transaction seen so
    // far say are needed (a client address's transactions carry it on every
    // event), up to the full row limit: not all of a busy address's week.
    q.limit = Math.min(MAX_HITS, f.limit * 4);
  }
  let hits = await reader.query(q);
  for (let round = 0; round < 3 && f.limit !== undefined && hits.length === q.limit && q.limit < MAX_HITS; round++) {
    const refs = new Set(hits.map((e) => e.ref)).size;
    if (refs > f.limit) break;
    q.limit = Math.min(MAX_HITS, Math.ceil((q.limit / Math.max(1, refs)) * (f.limit + 1) * 1.25), q.limit * 16);
    hits = await reader.query(q);
  }
  let truncated = false;
  if (f.limit !== undefined) {
    const keys = new Set<string>();
    const kept: StoredEvent[] = [];
    for (const e of hits) {
      // Transactions count; mailbox access without a REF (POP3, Dovecot) joins
      // its delivery by Message-ID below and costs no slot of its own.
      if (e.ref && !keys.has(e.ref)) {
        if (keys.size >= f.limit) { truncated = true; break; }
        keys.add(e.ref);
      }
      kept.push(e);
    }
    // The row limit of the hits query reached: there was more.
    if (hits.length >= MAX_HITS) truncated = true;
    hits = kept.reverse();
  }

  // 1. Groups: one per transaction (ref); mailbox-side events without a ref
  //    are grouped by Message-ID until they find their delivery below.
  const groups = new Map<string, StoredEvent[]>();
  const seen = new Set<number>();
  const add = (key: string, e: StoredEvent): void => {
    if (seen.has(e.id)) return;
    seen.add(e.id);
    push(groups, key, e);
  };
  const refs = [...new Set(hits.map((e) => e.ref).filter((r): r is string => !!r))];
  const lookup = lookupWindow(f);
  for (const e of await reader.byRefs(refs, lookup)) add(e.ref!, e);

  // 2. Mailbox access by Message-ID: to the transactions that delivered that
  //    message, or a group of its own (a log of Dovecot alone).
  const byMid = new Map<string, string[]>();
  for (const [key, list] of groups) {
    for (const e of list) if (e.message_id && !(byMid.get(e.message_id) ?? []).includes(key)) push(byMid, e.message_id, key);
  }
  const mids = new Set<string>(byMid.keys());
  for (const e of hits) if (!e.ref && e.message_id && isMailboxSide(e)) mids.add(e.message_id);
  const orphans: StoredEvent[] = [];
  for (const e of await reader.byMessageIds([...mids], lookup)) {
    if (seen.has(e.id) || !isMailboxSide(e)) continue;
    if (e.ref && groups.has(e.ref)) continue;
    const keys = byMid.get(e.message_id!);
    if (keys) {
      seen.add(e.id);
      for (const k of keys) groups.get(k)!.push(e);
    } else orphans.push(e);
  }
  for (const e of orphans) add(e.ref ?? `mid:${e.message_id}`, e);

  // 3. Session facts: for an SMTP session its connect, HELO, TLS and close and
  //    the connect/HELO checks; for a mailbox session its login and logout.
  const sessions = new Set<string>();
  for (const list of groups.values()) for (const e of list) if (e.session) sessions.add(e.session);
  const sessionEvents = new Map<string, StoredEvent[]>();
  for (const e of await reader.bySessions([...sessions], lookup)) {
    const smtpFact = e.kind.startsWith('session.') || (e.kind === 'check.result' && ['connect', 'helo'].includes(stageOf(e)));
    if (!(smtpFact || LOGIN_KINDS.has(e.kind)) || !e.session) continue;
    push(sessionEvents, e.session, e);
  }

  const wantRcpt = f.rcpt?.toLowerCase();
  const wantDomain = f.domain?.toLowerCase();
  const journeys: Journey[] = [];
  const pendingAccess: (Unfetched & { j: Journey })[] = [];
  for (const [key, own] of groups) {
    const ids = new Set(own.map((e) => e.id));
    const events = [...own];
    for (const s of new Set(own.map((e) => e.session).filter((x): x is string => !!x))) {
      for (const e of sessionEvents.get(s) ?? []) if (!ids.has(e.id)) { ids.add(e.id); events.push(e); }
    }
    events.sort((a, b) => a.ts - b.ts || a.id - b.id);
    // Recipients of the transaction; mailbox-side names count only when
    // there is no transaction (ingested Dovecot alone).
    let rcpts = [...new Set(events.filter((e) => e.rcpt && !isMailboxSide(e) && !LOGIN_KINDS.has(e.kind)).map((e) => e.rcpt!))];
    if (rcpts.length === 0) rcpts = [...new Set(events.filter((e) => e.rcpt && isMailboxSide(e)).map((e) => e.rcpt!))];
    for (const rcpt of rcpts) {
      if (wantRcpt && rcpt !== wantRcpt) continue;
      if (wantDomain && !rcpt.endsWith(`@${wantDomain}`)) continue;
      const boxes = mailboxesOf(events, rcpt);
      const accessSessions = new Set(events.filter((e) => isAccess(e) && e.rcpt && boxes.has(e.rcpt) && e.session).map((e) => e.session!));
      const mine = events.filter((e) => {
        if (LOGIN_KINDS.has(e.kind)) return !!e.session && accessSessions.has(e.session);
        if (isMailboxSide(e)) return !e.rcpt || boxes.has(e.rcpt);
        return !e.rcpt || e.rcpt === rcpt;
      });
      if (mine.length === 0) continue;
      const { outcome, reply, decisive } = outcomeOf(mine);
      const first = mine[0]!;
      // The transaction's own events know the client best (XCLIENT/PROXY may
      // have replaced the connecting address after the session began).
      const txEvents = mine.filter((e) => !isMailboxSide(e) && !LOGIN_KINDS.has(e.kind));
      const head = txEvents.find((e) => e.ref === key && e.client_ip) ?? txEvents.find((e) => e.ref === key) ?? txEvents[0] ?? first;
      const access = accessOf(mine);
      let diagnosis = diagnose(outcome, decisive, mine);
      let unfetched: Unfetched | null = null;
      if (outcome === 'delivered') {
        // The cause first (README): where the message went in the mailbox
        // comes before the generic "delivered".
        if (access.some((a) => DELETING.has(a.kind))) diagnosis = ['fetched_and_deleted', ...diagnosis];
        else if (!access.some((a) => a.kind === 'pop3.retr') && decisive && intoMailbox(decisive)) {
          unfetched = { at: decisive.ts, boxes: [...boxes], own: ownMaildir(decisive) };
        }
      }
      journeys.push({
        ref: key,
        node: head.node,
        source: head.source,
        started_at: new Date(first.ts).toISOString(),
        client_ip: head.client_ip ?? null,
        helo: txEvents.find((e) => e.helo)?.helo ?? null,
        mail_from: txEvents.find((e) => e.mail_from !== undefined && e.mail_from !== null)?.mail_from ?? null,
        rcpt,
        message_id: mine.find((e) => e.message_id)?.message_id ?? null,
        outcome,
        reply,
        diagnosis,
        access,
        near_misses: [],
        events: mine,
      });
      if (unfetched) pendingAccess.push({ j: journeys.at(-1)!, ...unfetched });
    }
  }
  journeys.sort((a, b) => a.started_at.localeCompare(b.started_at));
  await markUnfetched(reader, pendingAccess, f);
  markRetries(journeys, f.now ?? Date.now(), f.retryWindowMs ?? DEFAULT_RETRY_WINDOW_MS);
  const out: Journeys = f.limit !== undefined && journeys.length > f.limit ? journeys.slice(-f.limit) : journeys;
  out.truncated = truncated || journeys.length > (f.limit ?? Infinity);
  return out;
}

/**
 * Did this delivery put the message into a mailbox (where "not fetched" means
 * something), or hand it on to another MTA?
 */
export function intoMailbox(e: StoredEvent): boolean {
  const d = (e.details ?? {}) as { target?: unknown; service?: unknown; relay?: unknown };
  if (e.source === 'dovecot' || e.source === 'pop3') return true;
  if (e.source === 'gateway') return d.target !== 'smtp';
  // Ingested Postfix: local(8), virtual(8) and LMTP deliveries end in a mailbox.
  return /^(local|virtual|lmtp)$/.test(String(d.service ?? '')) || /^(local|virtual)$/.test(String(d.relay ?? ''));
}

/** Who touched the message in the mailbox; the client address comes from the session's login when the line itself has none (Dovecot's mail_log). */
function accessOf(events: StoredEvent[]): Access[] {
  const loginIp = new Map<string, string>();
  for (const e of events) if (LOGIN_KINDS.has(e.kind) && e.session && e.client_ip) loginIp.set(e.session, e.client_ip);
  return events.filter(isAccess).map((e) => ({
    at: new Date(e.ts).toISOString(),
    kind: e.kind,
    source: e.source,
    client_ip: e.client_ip ?? (e.session ? loginIp.get(e.session) ?? null : null),
  }));
}

/** A delivered message with no fetch seen: when, into which mailboxes, and whether into our own Maildir. */
interface Unfetched { at: number; boxes: string[]; own: boolean }

/** Delivered into the embedded Maildir by the gateway (or recovered there), which only our POP3 server reads. */
function ownMaildir(e: StoredEvent): boolean {
  if (e.source === 'pop3') return true;
  const target = (e.details as { target?: unknown } | null)?.target;
  return e.source === 'gateway' && (target === undefined || target === null || target === 'maildir');
}

/**
 * Events that show a mailbox's POP3 access is logged. IMAP logins do not
 * count: an IMAP client reads without a line in Dovecot's log (only
 * expunge, copy and move are logged), so "not fetched" cannot follow from them.
 */
const SEEN_ACCESS: EventKind[] = ['pop3.login', 'pop3.logout', 'pop3.retr', 'pop3.dele'];

/**
 * "Not fetched" is a claim about mailbox access, true only where research
 * sees that access: our own POP3 over our own Maildir, or a mailbox whose
 * access log (Dovecot, ingested) shows POP3 sessions after the delivery. Anywhere
 * else the message may have been read and deleted without a trace here, so
 * the journey says access_not_recorded instead of delivered_not_fetched.
 */
async function markUnfetched(reader: LedgerReader, list: (Unfetched & { j: Journey })[], f: TraceFilter): Promise<void> {
  const ownPop3 = f.ownPop3 ?? true;
  const needed = new Map<string, number>();
  for (const u of list) {
    if (u.own && ownPop3) continue;
    for (const b of u.boxes) needed.set(b, Math.min(needed.get(b) ?? Infinity, u.at));
  }
  // The newest access of each mailbox in the window says it all: a delivery
  // is covered when the mailbox was accessed at or after it.
  const lastSeen = new Map<string, number>();
  for (const [box, since] of needed) {
    const newest = (await reader.query({ rcpt: box, kinds: SEEN_ACCESS, since, until: f.until ?? f.now, newest_first: true, limit: 1 }))[0];
    if (newest) lastSeen.set(box, newest.ts);
  }
  for (const u of list) {
    const covered = (u.own && ownPop3) || u.boxes.some((b) => (lastSeen.get(b) ?? -Infinity) >= u.at);
    if (covered) u.j.diagnosis.unshift('delivered_not_fetched');
    else u.j.diagnosis.splice(1, 0, 'access_not_recorded');
  }
}

/** The size a journey's message had: declared at MAIL FROM (RFC 1870) and received at DATA. */
function sizesOf(j: Journey): { declared: number | null; received: number | null } {
  const declared = j.events.find((e) => e.kind === 'mail.from' && typeof e.size === 'number' && e.size > 0)?.size ?? null;
  const received = j.events.find((e) => e.kind === 'data.received' && typeof e.size === 'number' && e.size > 0)?.size ?? null;
  return { declared, received };
}

/**
 * Is `k` the sender's retry of the message of the 4xx `j`? The same
 * Message-ID where both have one; else (a 4xx before DATA has none) the same
 * client network, sender, recipient and size, within the retry window of `j`.
 * A later message from another server, of another size, or after the window
 * is another message.
 */
function isRetry(j: Journey, k: Journey, windowMs: number): boolean {
  if (k.rcpt !== j.rcpt || k.mail_from !== j.mail_from || k.started_at <= j.started_at) return false;
  if (j.message_id && k.message_id) return k.message_id === j.message_id;
  if (Date.parse(k.started_at) - Date.parse(j.started_at) > windowMs) return false;
  if (j.client_ip && k.client_ip && clientNetwork(j.client_ip) !== clientNetwork(k.client_ip)) return false;
  const a = sizesOf(j);
  const b = sizesOf(k);
  if (a.declared !== null && b.declared !== null && a.declared !== b.declared) return false;
  if (a.received !== null && b.received !== null && a.received !== b.received) return false;
  return true;
}

/**
 * A 4xx asks the sender to try again (RFC 5321 section 4.2.5). Did it? A later
 * attempt of the same message (isRetry) is the retry; none within the window
 * means the sender's queue gave up or never retried; within the window it is
 * still pending, and the journey says until when a retry is due.
 */
function markRetries(journeys: Journey[], now: number, windowMs: number): void {
  for (const [i, j] of journeys.entries()) {
    if (j.outcome !== 'tempfailed') continue;
    if (journeys.slice(i + 1).some((k) => isRetry(j, k, windowMs))) j.diagnosis.push('tempfail_retried');
    else if (now - Date.parse(j.started_at) > windowMs) j.diagnosis.push('tempfail_not_retried');
    else {
      j.diagnosis.push('tempfail_pending');
      j.retry_by = new Date(Date.parse(j.started_at) + windowMs).toISOString();
    }
  }
}
