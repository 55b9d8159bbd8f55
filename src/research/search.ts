import type { LedgerReader } from '../ledger/types.js';
import { explainCode, explainJourney, explainNoAttemptTo, factsOf, type Finding, type Lang } from './explain.js';
import { trace, type Journey, type NearMiss, type Outcome, type TraceFilter } from './journeys.js';
import { domainOf, inScope, visibleJourney, visibleNearMisses, type Scope } from './visibility.js';

// Search = trace + what a support person asks next: the explanation of each
// code, near misses (a typo in the address, another address of the same
// sender), and what did not happen at all (no_attempt_seen). CLI, web and
// reports all call this, so they show the same answer.

export interface SearchFilter extends TraceFilter {
  outcome?: Outcome;
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
}

/** How far back deliveries count as "this mailbox exists" for typo hints. */
const KNOWN_MAILBOX_WINDOW_MS = 30 * 86400e3;

export function search(reader: LedgerReader, f: SearchFilter, opts: SearchOptions = {}): SearchResult {
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
    const r = collect(reader, p, limit);
    journeys.push(...r.journeys);
    truncated ||= r.truncated;
  }
  if (parts.length > 1) {
    journeys.sort((a, b) => a.started_at.localeCompare(b.started_at));
    if (journeys.length > limit) { journeys = journeys.slice(-limit); truncated = true; }
  }
  // And the rule once more on the answer (a bug in one place is not a leak); internals go here.
  journeys = journeys.map((j) => visibleJourney(j, scope)).filter((j): j is Journey => j !== null);

  const known = new Map<string, string[]>();
  const mailboxesOf = (domain: string): string[] => {
    let list = known.get(domain);
    if (!list) {
      list = [...new Set([...(opts.mailboxes?.(domain) ?? []), ...reader.recipients(domain, until - KNOWN_MAILBOX_WINDOW_MS, until)].map((m) => m.toLowerCase()))];
      known.set(domain, list);
    }
    return list;
  };
  for (const j of journeys) {
    if (!j.diagnosis.includes('unknown_recipient')) continue;
    const at = j.rcpt.lastIndexOf('@');
    if (at < 0) continue;
    for (const m of similarMailboxes(j.rcpt, mailboxesOf(j.rcpt.slice(at + 1)))) j.near_misses.push({ kind: 'similar_mailbox', value: m });
  }

  const findings: Omit<Finding, 'evidence'>[] = [];
  const nearMisses: NearMiss[] = [];
  if (journeys.length === 0 && f.from && parts.length > 0) {
    absent(reader, f, { until, lang, domains: scope === null ? null : parts.map((p) => p.rcpt ? domainOf(p.rcpt) : p.domain!.toLowerCase()) }, findings, nearMisses);
  }

  return {
    since: f.since !== undefined ? new Date(f.since).toISOString() : null,
    until: new Date(until).toISOString(),
    journeys: journeys.map((j) => ({ ...j, explanations: explainJourney(j, lang) })),
    findings,
    near_misses: visibleNearMisses(nearMisses, scope),
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
function collect(reader: LedgerReader, f: SearchFilter, limit: number): { journeys: Journey[]; truncated: boolean } {
  // The limit goes into the trace (bounded work for a busy mailbox) unless an
  // outcome filter follows, which needs every journey of the window to filter.
  const traced = trace(reader, f.outcome ? f : { ...f, limit });
  let journeys: Journey[] = f.outcome ? traced.filter((j) => j.outcome === f.outcome) : traced;
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
function absent(reader: LedgerReader, f: SearchFilter, o: { until: number; lang: Lang; domains: string[] | null }, findings: Omit<Finding, 'evidence'>[], nearMisses: NearMiss[]): void {
  const from = f.from!.toLowerCase();
  const domain = from.includes('@') ? from.slice(from.lastIndexOf('@') + 1) : from;
  const window = { since: f.since, until: o.until };
  const to = (o.domains ?? [null]).map((d) => (d === null ? {} : { rcpt_domain: d }));
  const fromDomain = to.flatMap((d) => reader.query({ mail_from_domain: domain, ...d, ...window, limit: 2000 }));
  const fromIp = f.ip ? to.flatMap((d) => reader.query({ client_ip: f.ip, ...d, ...window, limit: 1 })) : [];
  if (fromDomain.length === 0 && fromIp.length === 0) {
    const rcpt = f.rcpt ?? f.domain ?? o.domains?.join(', ') ?? '';
    const facts = factsOf({ mail_from: from, rcpt, client_ip: f.ip ?? null, events: [], access: [], reply: null }, o.lang);
    findings.push(o.domains === null ? explainCode('no_attempt_seen', o.lang, facts) : explainNoAttemptTo(o.lang, facts));
    return;
  }
  if (from.includes('@')) {
    const others = [...new Set(fromDomain.map((e) => e.mail_from?.toLowerCase()).filter((a): a is string => !!a && a !== from))];
    for (const a of others.slice(0, 20)) nearMisses.push({ kind: 'other_sender_address', value: a });
  }
  if (f.rcpt) {
    // The sender reached us, but not for this recipient: to whom did it send?
    const sentTo = [...new Set(fromDomain.map((e) => e.rcpt?.toLowerCase()).filter((a): a is string => !!a))];
    for (const m of similarMailboxes(f.rcpt.toLowerCase(), sentTo)) nearMisses.push({ kind: 'similar_mailbox', value: m });
  }
}

/** Existing mailboxes of the same domain whose local part is one or two typing slips away. */
export function similarMailboxes(addr: string, candidates: string[]): string[] {
  const at = addr.lastIndexOf('@');
  const local = addr.slice(0, at).toLowerCase();
  const domain = addr.slice(at + 1).toLowerCase();
  // Short names are one slip away from many others; allow one edit there.
  const max = local.length <= 4 ? 1 : 2;
  const scored: { m: string; d: number }[] = [];
  for (const c of candidates) {
    const cat = c.lastIndexOf('@');
    if (cat < 0 || c.slice(cat + 1).toLowerCase() !== domain) continue;
    const cl = c.slice(0, cat).toLowerCase();
    if (cl === local) continue;
    const d = typoDistance(local, cl, max);
    if (d <= max) scored.push({ m: c.toLowerCase(), d });
  }
  return scored.sort((a, b) => a.d - b.d || a.m.localeCompare(b.m)).slice(0, 5).map((s) => s.m);
}

/**
 * Optimal string alignment distance (Levenshtein plus swapped neighbours, the
 * commonest typing slip), stopping early past `max`. Hand-written: a dozen
 * lines, where the libraries on npm do plain Levenshtein without the swap.
 */
export function typoDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) rows.push([i]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    let best = Infinity;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = v;
      best = Math.min(best, v);
    }
    if (best > max) return max + 1;
  }
  return rows[a.length]![b.length]!;
}
