// What an account may see: the rule is research's (research/visibility.ts),
// applied where the query runs, in the research thread; this module only
// names the web's questions in its terms.
import type { LedgerReader } from '../ledger/types.js';
import { explainJourney, type Lang } from '../research/explain.js';
import { trace, type ResearchSettings } from '../research/journeys.js';
import { search, type SearchFilter, type SearchOptions, type SearchResult } from '../research/search.js';
import { domainOf, inScope, visibleJourney, type Scope } from '../research/visibility.js';
import { maskRecipients } from './mask.js';
import type { PublicView } from './views.js';

export { domainOf, inScope, type Scope };

export function scopedSearch(reader: LedgerReader, f: SearchFilter, scope: Scope, opts: SearchOptions): SearchResult {
  return search(reader, f, { ...opts, scope });
}

/** The journeys of one REF the account may see (an unknown REF and a REF of another customer look the same: none). */
export function journeysOfRef(reader: LedgerReader, ref: string, scope: Scope, opts: SearchOptions, settings: ResearchSettings = {}): SearchResult {
  const r = search(reader, { ref, ...settings }, { ...opts, scope });
  const journeys = r.journeys.filter((j) => j.ref === ref);
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
export function publicViewOf(reader: LedgerReader, ref: string, lang: Lang, settings: ResearchSettings = {}): PublicView | null {
  // Each journey as its own recipient's customer would see it: no internals in what the sender reads.
  const journeys = trace(reader, { ref, ...settings }).filter((j) => j.ref === ref).map((j) => visibleJourney(j, [domainOf(j.rcpt)])!);
  if (journeys.length === 0) return null;
  const rcpts = [...new Set(journeys.map((j) => j.rcpt.toLowerCase()))];
  const mask = (s: string): string => maskRecipients(s, rcpts, RECIPIENT[lang]);
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
