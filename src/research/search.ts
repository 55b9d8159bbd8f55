import type { StoreLag } from '../ledger/store/types.js';
import type { EventQuery, LedgerReader, StoredEvent } from '../ledger/types.js';
import { explainCode, explainJourney, explainNoAttemptTo, factsOf, type Finding, type Lang } from './explain.js';
import { trace, type Journey, type NearMiss, type Outcome, type TraceFilter } from './journeys.js';
import { rankNearMisses, refusedSimilar, similarMailboxes } from './near-misses.js';
import { sessionJourneys, sessionOfRef } from './sessions.js';
import { domainOf, inScope, visibleJourney, visibleNearMisses, type Scope } from './visibility.js';

export { similarMailboxes, typoDistance } from './near-misses.js';

// Search = trace + what a support person asks next: the explanation of each
// code, near misses (a typo in the address, another address of the same
// sender), and what did not happen at all (no_attempt_seen). CLI, web and
// reports all call this, so they show the same answer.

export interface SearchFilter extends TraceFilter {
  outcome?: Outcome;
  /** Only journeys whose subject contains this (any case): the subject a mail client shows, from the data.received event. */
  subject?: string;
}

/** The subject of a journey's message as the gateway read it (decoded), or null. */
export function subjectOf(j: Journey): string | null {
  const e = j.events.find((x) => x.kind === 'data.received' && typeof x.details?.subject === 'string');
  return e ? (e.details!.subject as string) : null;
}

export interface SearchOptions {
  lang?: Lang;
  /** Mailboxes configured for a domain (domains.<d>.mailboxes); the ledger's deliveries are added. */
  mailboxes?: (domain: string) => string[];
  /** Most journeys returned; the newest are kept. */
  limit?: number;
  /** Whose mail: absent or null = all (staff); a customer's domains = only what visibility.ts lets it see, applied in the queries. */
  scope?: Scope;
}

export interface ExplainedJourney extends Journey {
  explanations: Finding[];
}

export interface SearchResult {
  since: string | null;
  until: string | null;
  journeys: ExplainedJourney[];
  /** Findings about the search as a whole: no_attempt_seen. */
  findings: Omit<Finding, 'evidence'>[];
  near_misses: NearMiss[];
  truncated: boolean;
  /** Set when the store had not taken in all of the journals in time (ledger/open.ts): the answer may miss those events. */
  store_behind?: StoreLag[];
}

/** How far back deliveries count as "this mailbox exists" for typo hints. */
const KNOWN_MAILBOX_WINDOW_MS = 30 * 86400e3;

export async function search(reader: LedgerReader, f: SearchFilter, opts: SearchOptions = {}): Promise<SearchResult> {
  const lang = opts.lang ?? 'en';
  const scope = opts.scope ?? null;
  const until = f.until ?? Date.now();
  const limit = f.limit ?? opts.limit ?? 1000;
  // A customer's search runs per own domain: the ledger is only ever asked
  // about its recipients, so the journeys, `truncated` and the findings
  // below count nothing of other customers' mail.
  const parts = partsOf(f, scope);
  let journeys: Journey[] = [];
  let truncated = false;
  for (const p of parts) {
    const r = await collect(reader, p, limit);
    journeys.push(...r.journeys);
    truncated ||= r.truncated;
  }
  // Sessions without a transaction (research/sessions.ts): only when the
  // search names a sender or a client address, so that their sender side
  // matches, and for staff only: a session names no recipient, so it is no
  // customer's own mail, and would tell a customer that the sender's server
  // talked to us, perhaps for another customer (visibility.ts).
  let sessions: Journey[] = [];
  if (scope === null && (f.from || f.ip) && !f.ref && !f.messageId && !f.subject && (!f.outcome || f.outcome === 'no_transaction')) {
    const r = await sessionJourneys(reader, { ip: f.ip, from: f.from, since: f.since, until });
    sessions = r.journeys;
    truncated ||= r.truncated;
  }
  // The REF of such a session, as the lists show it (web: /journey/REF).
  if (scope === null && f.ref && journeys.length === 0) sessions = await sessionOfRef(reader, f.ref);
  if (parts.length > 1 || sessions.length > 0) {
    journeys.push(...sessions);
    journeys.sort((a, b) => a.started_at.localeCompare(b.started_at));
    if (journeys.length > limit) { journeys = journeys.slice(-limit); truncated = true; }
  }
  // And the rule once more on the answer (a bug in one place is not a leak); internals go here.
  journeys = journeys.map((j) => visibleJourney(j, scope)).filter((j): j is Journey => j !== null);

  const known = new Map<string, string[]>();
  const mailboxesOf = async (domain: string): Promise<string[]> => {
    let list = known.get(domain);
    if (!list) {
      list = [...new Set([...(opts.mailboxes?.(domain) ?? []), ...await reader.recipients(domain, until - KNOWN_MAILBOX_WINDOW_MS, until)].map((m) => m.toLowerCase()))];
      known.set(domain, list);
    }
    return list;
  };
  for (const j of journeys) {
    if (!j.diagnosis.includes('unknown_recipient')) continue;
    const at = j.rcpt.lastIndexOf('@');
    if (at < 0) continue;
    const similar = similarMailboxes(j.rcpt, await mailboxesOf(j.rcpt.slice(at + 1))).map((m): NearMiss => ({ kind: 'similar_mailbox', value: m }));
    j.near_misses = rankNearMisses([...j.near_misses, ...similar], lang);
  }

  // Near misses look at mail to the searched recipient domains only: for a
  // customer its own, and for anyone searching a recipient or a domain that
  // one, since the answer goes into that customer's report. Staff searching
  // by sender alone see the whole ledger.
  const domains = scope !== null ? parts.map((p) => (p.rcpt ? domainOf(p.rcpt) : p.domain!.toLowerCase()))
    : f.rcpt ? [domainOf(f.rcpt)] : f.domain ? [f.domain.toLowerCase()] : null;
  const findings: Omit<Finding, 'evidence'>[] = [];
  const nearMisses: NearMiss[] = [];
  // The intended address of a typo: the refused one is the likely story, whether or not mail to the intended one exists.
  if (f.rcpt && parts.length > 0) nearMisses.push(...await refusedSimilar(reader, f.rcpt, { since: f.since, until, from: f.from }));
  if (journeys.length === 0 && f.from && parts.length > 0) {
    await absent(reader, f, { until, lang, domains: scope === null ? null : domains, nearDomains: domains }, findings, nearMisses);
  }

  return {
    since: f.since !== undefined ? new Date(f.since).toISOString() : null,
    until: new Date(until).toISOString(),
    journeys: journeys.map((j) => ({ ...j, explanations: explainJourney(j, lang) })),
    findings,
    near_misses: rankNearMisses(visibleNearMisses(nearMisses, scope), lang),
    truncated,
  };
}

/** The filters a search runs as: as asked for staff; per domain of the account, and nothing outside them, for a customer. */
function partsOf(f: SearchFilter, scope: Scope): SearchFilter[] {
  if (scope === null) return [f];
  if (f.rcpt) return inScope(scope, f.rcpt) && (!f.domain || scope.includes(f.domain.toLowerCase())) ? [f] : [];
  if (f.domain) return scope.includes(f.domain.toLowerCase()) ? [f] : [];
  return scope.map((d) => ({ ...f, domain: d }));
}

/** The journeys of one filter, the newest `limit` of them. */
async function collect(reader: LedgerReader, f: SearchFilter, limit: number): Promise<{ journeys: Journey[]; truncated: boolean }> {
  // The limit goes into the trace (bounded work for a busy mailbox) unless an
  // outcome or subject filter follows, which needs every journey of the window to filter.
  const subject = f.subject?.toLowerCase();
  const filtered = f.outcome !== undefined || subject !== undefined;
  // (Without the asked limit too: the newest N journeys first and then the filter would leave fewer than N that match.)
  const { limit: _asked, ...unlimited } = f;
  const traced = await trace(reader, filtered ? unlimited : { ...f, limit });
  let journeys: Journey[] = filtered
    ? traced.filter((j) => (f.outcome === undefined || j.outcome === f.outcome) && (subject === undefined || (subjectOf(j)?.toLowerCase().includes(subject) ?? false)))
    : traced;
  const truncated = journeys.length > limit || traced.truncated === true;
  if (journeys.length > limit) journeys = journeys.slice(-limit);
  return { journeys, truncated };
}

/**
 * Nothing matched a search that names a sender. Did the sender, or anyone of
 * its domain, reach us at all in the window? Nothing at all is
 * no_attempt_seen; the domain under another address is a near miss.
 * `domains`: a customer's search looks at mail to these recipient domains
 * only (null: staff, the whole ledger), or the answer would tell whether the
 * sender wrote to other customers.
 */
async function absent(reader: LedgerReader, f: SearchFilter, o: { until: number; lang: Lang; domains: string[] | null; nearDomains: string[] | null }, findings: Omit<Finding, 'evidence'>[], nearMisses: NearMiss[]): Promise<void> {
  const from = f.from!.toLowerCase();
  const domain = from.includes('@') ? from.slice(from.lastIndexOf('@') + 1) : from;
  const window = { since: f.since, until: o.until };
  // One query per recipient domain (or one for the whole ledger), their answers in that order.
  const perDomain = async (domains: string[] | null, q: EventQuery): Promise<StoredEvent[]> => {
    const out: StoredEvent[] = [];
    for (const d of domains ?? [null]) out.push(...await reader.query({ ...q, ...(d === null ? {} : { rcpt_domain: d }), ...window }));
    return out;
  };
  const ofDomain = (domains: string[] | null): Promise<StoredEvent[]> => perDomain(domains, { mail_from_domain: domain, limit: 2000 });
  const fromDomain = await ofDomain(o.domains);
  const fromIp = f.ip ? await perDomain(o.domains, { client_ip: f.ip, limit: 1 }) : [];
  if (fromDomain.length === 0 && fromIp.length === 0) {
    const rcpt = f.rcpt ?? f.domain ?? o.domains?.join(', ') ?? '';
    const facts = factsOf({ mail_from: from, rcpt, client_ip: f.ip ?? null, events: [], access: [], reply: null }, o.lang);
    findings.push(o.domains === null ? explainCode('no_attempt_seen', o.lang, facts) : explainNoAttemptTo(o.lang, facts));
    return;
  }
  // What the sender did to the searched recipient domains only.
  const near = o.nearDomains === o.domains ? fromDomain : await ofDomain(o.nearDomains);
  if (from.includes('@')) {
    const others = [...new Set(near.map((e) => e.mail_from?.toLowerCase()).filter((a): a is string => !!a && a !== from))];
    for (const a of others.slice(0, 5)) nearMisses.push({ kind: 'other_sender_address', value: a });
  }
  if (f.rcpt) {
    // The sender reached us, but not for this recipient: to whom did it
    // send? Mailboxes that took its mail; a refused address is
    // refused_similar_address (refusedSimilar), not "a similar mailbox exists".
    const sentTo = [...new Set(near.filter((e) => e.kind === 'rcpt.accepted' || e.kind === 'message.delivered').map((e) => e.rcpt?.toLowerCase()).filter((a): a is string => !!a))];
    for (const m of similarMailboxes(f.rcpt.toLowerCase(), sentTo)) nearMisses.push({ kind: 'similar_mailbox', value: m });
  }
}
