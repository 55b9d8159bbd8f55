// What an account may see. Staff: everything. Customer: journeys whose
// recipient is in one of its domains, nothing else. The rule is applied to
// the search filter (so the ledger is only asked about the customer's
// domains) and again to the answer (so a bug in one place is not a leak).
import type { LedgerReader } from '../ledger/types.js';
import { explainJourney, type Lang } from '../research/explain.js';
import { trace } from '../research/journeys.js';
import { search, type SearchFilter, type SearchOptions, type SearchResult } from '../research/search.js';
import type { PublicView } from './views.js';

/** null = staff (no restriction); otherwise the domains, lower case. */
export type Scope = string[] | null;

export function domainOf(addr: string): string {
  return addr.slice(addr.lastIndexOf('@') + 1).toLowerCase();
}

export function inScope(scope: Scope, rcpt: string): boolean {
  return scope === null || scope.includes(domainOf(rcpt));
}

function empty(f: SearchFilter): SearchResult {
  return { since: f.since !== undefined ? new Date(f.since).toISOString() : null, until: new Date(f.until ?? Date.now()).toISOString(), journeys: [], findings: [], near_misses: [], truncated: false };
}

export function scopedSearch(reader: LedgerReader, f: SearchFilter, scope: Scope, opts: SearchOptions): SearchResult {
  if (scope === null) return search(reader, f, opts);
  if (f.rcpt && !inScope(scope, f.rcpt)) return empty(f);
  if (f.domain && !scope.includes(f.domain.toLowerCase())) return empty(f);
  // Without a recipient or domain, one search per domain of the account.
  const parts = f.rcpt || f.domain ? [search(reader, f, opts)] : scope.map((d) => search(reader, { ...f, domain: d }, opts));
  if (parts.length === 0) return empty(f);
  const journeys = parts.flatMap((p) => p.journeys).filter((j) => inScope(scope, j.rcpt))
    .sort((a, b) => a.started_at.localeCompare(b.started_at));
  return {
    since: parts[0]!.since,
    until: parts[0]!.until,
    journeys,
    // no_attempt_seen says nothing about other customers; the other
    // addresses of a sender domain would (they wrote to someone else).
    findings: parts[0]!.findings,
    near_misses: parts.flatMap((p) => p.near_misses).filter((n) => n.kind === 'similar_mailbox' && inScope(scope, n.value)),
    truncated: parts.some((p) => p.truncated),
  };
}

/** The journeys of one REF the account may see (an unknown REF and a REF of another customer look the same: none). */
export function journeysOfRef(reader: LedgerReader, ref: string, scope: Scope, opts: SearchOptions): SearchResult {
  const r = search(reader, { ref }, opts);
  const journeys = r.journeys.filter((j) => j.ref === ref && inScope(scope, j.rcpt));
  return { ...r, journeys, near_misses: [], findings: [] };
}

const RECIPIENT: Record<Lang, string> = { en: 'the recipient address', de: 'die Empfängeradresse' };

/**
 * The public page of a REF: what the sender needs (time, its server's
 * address, our answer, why and what to do) and nothing else. Recipient
 * addresses are masked everywhere, in the replies too (550 5.1.1 names the
 * address); subjects, Message-IDs and typo hints (other mailboxes) are not
 * used at all.
 */
export function publicViewOf(reader: LedgerReader, ref: string, lang: Lang): PublicView | null {
  const journeys = trace(reader, { ref }).filter((j) => j.ref === ref);
  if (journeys.length === 0) return null;
  const rcpts = [...new Set(journeys.map((j) => j.rcpt.toLowerCase()))];
  const mask = (s: string): string => {
    let out = s;
    for (const r of rcpts) {
      if (!r) continue;
      out = out.split(new RegExp(r.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi')).join(RECIPIENT[lang]);
      const local = r.slice(0, r.lastIndexOf('@'));
      // The bare mailbox name too, where it stands alone (a reply may quote just the local part).
      if (local.length >= 3) out = out.replace(new RegExp(`(?<![A-Za-z0-9._%+-])${local.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9_%+-])`, 'gi'), RECIPIENT[lang]);
    }
    return out;
  };
  const replies: string[] = [];
  const explanations: PublicView['explanations'] = [];
  const seen = new Set<string>();
  for (const j of journeys) {
    if (j.reply && !replies.includes(mask(j.reply))) replies.push(mask(j.reply));
    const masked = { ...j, rcpt: RECIPIENT[lang], near_misses: [], message_id: null };
    for (const f of explainJourney(masked, lang)) {
      // Mailbox-side findings (fetched by whom, from where) are the customer's business, not the sender's.
      if (f.side === 'recipient') continue;
      const x = { title: f.title, what: mask(f.what), action: mask(f.action) };
      const key = JSON.stringify(x);
      if (!seen.has(key)) { seen.add(key); explanations.push(x); }
    }
  }
  const first = journeys[0]!;
  const outcomes = [...new Set(journeys.map((j) => j.outcome))];
  return { ref, at: first.started_at, client_ip: first.client_ip, outcome: outcomes.join(', '), replies, explanations };
}
