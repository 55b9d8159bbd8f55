import type { EventQuery, LedgerReader, StoredEvent } from '../ledger/types.js';

// A first, plain research layer: find the transactions that touched a
// recipient, and tell per recipient what became of the message. The full
// diagnosis comes with the research issue; the JSON shape is already the
// contract of DESIGN.md (snake_case, stable).

export type Outcome = 'delivered' | 'rejected' | 'tempfailed' | 'incomplete';

export interface Journey {
  ref: string;
  node: string;
  started_at: string;
  client_ip: string | null;
  helo: string | null;
  mail_from: string | null;
  rcpt: string;
  message_id: string | null;
  outcome: Outcome;
  reply: string | null;
  diagnosis: string[];
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
}

/**
 * What a check's event says, as a DESIGN.md diagnosis code: the check's name,
 * and for some checks the finding in its evidence. Only refusals and flags
 * count (a pass says nothing is wrong).
 */
function findingCode(e: StoredEvent): string | null {
  if (e.kind !== 'check.result' || !e.check_name) return null;
  if (e.verdict !== 'reject' && e.verdict !== 'tempfail' && e.verdict !== 'flag') return null;
  const finding = (e.details as { evidence?: { finding?: unknown } } | null)?.evidence?.finding;
  switch (e.check_name) {
    case 'recipient': return 'unknown_recipient';
    case 'size': return 'message_too_large';
    case 'dnsbl': return 'sender_ip_blocklisted';
    case 'client_identity': return finding === 'dynamic_name' ? 'sender_dynamic_ip' : null;
    case 'sender_domain':
      if (finding === 'mx_is_ip' || finding === 'some_mx_is_ip') return 'sender_mx_is_ip';
      if (finding === 'nxdomain' || finding === 'no_mail_host' || finding === 'null_mx') return 'sender_domain_unresolvable';
      return null;
    case 'spf': return e.verdict === 'flag' ? null : 'spf_fail';
    case 'dmarc': return e.verdict === 'flag' ? null : 'dmarc_reject';
    case 'virus': return 'virus';
    case 'spam': return e.verdict === 'flag' ? null : 'spam';
    default: return null;
  }
}

/** The refusing check's code first, then what other checks found on the way. */
function diagnose(outcome: Outcome, decisive: StoredEvent | null, events: StoredEvent[]): string[] {
  if (outcome === 'delivered') return ['delivered'];
  if (outcome !== 'rejected' && outcome !== 'tempfailed') return [];
  const codes: string[] = [];
  const refusing = decisive?.check_name
    ? events.find((e) => e.kind === 'check.result' && e.check_name === decisive.check_name && (e.verdict === 'reject' || e.verdict === 'tempfail'))
    : undefined;
  const first = refusing ? findingCode(refusing) : decisive?.check_name === 'recipient' ? 'unknown_recipient' : decisive?.check_name === 'size' ? 'message_too_large' : null;
  if (first) codes.push(first);
  for (const e of events) {
    const c = findingCode(e);
    if (c && !codes.includes(c)) codes.push(c);
  }
  return codes;
}

function outcomeOf(events: StoredEvent[]): { outcome: Outcome; reply: string | null; decisive: StoredEvent | null } {
  const last = [...events].reverse().find((e) =>
    e.kind === 'message.delivered' || e.kind === 'rcpt.rejected' || e.kind === 'data.rejected' || e.kind === 'message.delivery_failed' || e.kind === 'session.limit');
  if (!last) return { outcome: 'incomplete', reply: null, decisive: null };
  if (last.kind === 'message.delivered') return { outcome: 'delivered', reply: last.reply ?? null, decisive: last };
  const code = last.smtp_code ?? 0;
  return { outcome: code >= 500 ? 'rejected' : code >= 400 ? 'tempfailed' : 'incomplete', reply: last.reply ?? null, decisive: last };
}

export function trace(reader: LedgerReader, f: TraceFilter): Journey[] {
  const q: EventQuery = { since: f.since, until: f.until, limit: 50000 };
  if (f.rcpt) q.rcpt = f.rcpt;
  else if (f.domain) q.rcpt_domain = f.domain;
  if (f.ip) q.client_ip = f.ip;
  if (f.ref) q.ref = f.ref;
  if (f.messageId) q.message_id = f.messageId;
  if (f.from) {
    if (f.from.includes('@')) q.mail_from = f.from;
    else q.mail_from_domain = f.from;
  }
  const hits = reader.query(q);
  const refs = [...new Set(hits.map((e) => e.ref).filter((r): r is string => !!r))];
  const all = reader.byRefs(refs);
  // Session-wide facts (connect, HELO, TLS, close) carry the session's own
  // reference; they belong to every transaction of that session.
  const sessions = [...new Set(all.map((e) => e.session).filter((s): s is string => !!s))];
  const sessionEvents = new Map<string, StoredEvent[]>();
  for (const e of reader.bySessions(sessions)) {
    // Connect and HELO check results are the session's too (DNSBL, PTR ...).
    const sessionCheck = e.kind === 'check.result' && ['connect', 'helo'].includes(String((e.details as { stage?: unknown } | null)?.stage));
    if (!(e.kind.startsWith('session.') || sessionCheck) || !e.session) continue;
    const list = sessionEvents.get(e.session) ?? [];
    list.push(e);
    sessionEvents.set(e.session, list);
  }
  const byRef = new Map<string, StoredEvent[]>();
  for (const e of all) {
    if (!e.ref) continue;
    const list = byRef.get(e.ref) ?? [];
    list.push(e);
    byRef.set(e.ref, list);
  }
  for (const [ref, list] of byRef) {
    const session = list.find((e) => e.session)?.session;
    const extra = session ? (sessionEvents.get(session) ?? []).filter((e) => e.ref !== ref) : [];
    byRef.set(ref, [...list, ...extra].sort((a, b) => a.ts - b.ts || a.id - b.id));
  }
  const wantRcpt = f.rcpt?.toLowerCase();
  const wantDomain = f.domain?.toLowerCase();
  const journeys: Journey[] = [];
  for (const [ref, events] of byRef) {
    const rcpts = [...new Set(events.map((e) => e.rcpt).filter((r): r is string => !!r))];
    for (const rcpt of rcpts) {
      if (wantRcpt && rcpt !== wantRcpt) continue;
      if (wantDomain && !rcpt.endsWith(`@${wantDomain}`)) continue;
      const mine = events.filter((e) => !e.rcpt || e.rcpt === rcpt);
      const { outcome, reply, decisive } = outcomeOf(mine);
      const first = mine[0]!;
      // The transaction's own events know the client best (XCLIENT/PROXY may
      // have replaced the connecting address after the session began).
      const own = mine.find((e) => e.ref === ref) ?? first;
      const diagnosis = diagnose(outcome, decisive, mine);
      journeys.push({
        ref,
        node: first.node,
        started_at: new Date(first.ts).toISOString(),
        client_ip: own.client_ip ?? null,
        helo: mine.find((e) => e.helo)?.helo ?? null,
        mail_from: mine.find((e) => e.mail_from !== undefined)?.mail_from ?? null,
        rcpt,
        message_id: mine.find((e) => e.message_id)?.message_id ?? null,
        outcome,
        reply,
        diagnosis,
        events: mine,
      });
    }
  }
  return journeys.sort((a, b) => a.started_at.localeCompare(b.started_at));
}
