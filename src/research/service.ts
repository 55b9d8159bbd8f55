// The research service: the questions the CLI, the web and reports ask,
// over any LedgerReader. What an account may see is the rule of
// visibility.ts, applied here where the query runs (in the web's research
// threads), so pages, API, reports and the command line agree.
import type { LedgerReader, StoredEvent } from '../ledger/types.js';
import { blocklistLinks, type ListLink } from './blocklists.js';
import { explainForSender, explainJourney, type Lang } from './explain.js';
import { trace, type Outcome, type ResearchSettings } from './journeys.js';
import { maskRecipients } from './mask.js';
import { search, type ExplainedJourney, type SearchFilter, type SearchOptions, type SearchResult } from './search.js';
import { verdictOf, type Tone } from './verdict.js';
import { domainOf, inScope, visibleJourney, type Scope } from './visibility.js';

export { domainOf, inScope, type Scope };

export interface RunOptions extends SearchOptions {
  /** From the configuration (settings.ts researchSettings). */
  settings?: ResearchSettings;
}

/** One search: the filter with the configuration's settings, the account's scope (absent: staff), typo hints from the configured mailboxes. */
export function runSearch(reader: LedgerReader, f: SearchFilter, opts: RunOptions): Promise<SearchResult> {
  const { settings, ...rest } = opts;
  return search(reader, { ...f, ...settings }, rest);
}

/** What the public reference page shows: no recipients, subjects, Message-IDs or customer names. */
export interface PublicView {
  ref: string;
  at: string;
  client_ip: string | null;
  outcome: string;
  replies: string[];
  /** The verdict per recipient, for the sender (verdict.ts, audience 'sender'); the same sentence once. */
  verdicts: { status: Outcome; word: string; tone: Tone; headline: string }[];
  explanations: { title: string; what: string; action: string }[];
  /** The block lists that listed the sender's server, with their own lookup and delisting pages (research/blocklists.ts). */
  links: ListLink[];
}

/** The journeys of one REF the account may see (an unknown REF and a REF of another customer look the same: none). */
export async function journeysOfRef(reader: LedgerReader, ref: string, scope: Scope, opts: SearchOptions, settings: ResearchSettings = {}): Promise<SearchResult> {
  const r = await search(reader, { ref, ...settings }, { ...opts, scope });
  const journeys = await Promise.all(r.journeys.filter((j) => j.ref === ref).map((j) => withRetries(reader, j, scope, opts, settings)));
  return { ...r, journeys, near_misses: [], findings: [] };
}

/**
 * A 4xx's retry comes under another REF, so the REF alone cannot tell
 * whether the sender tried again: its journey is judged again among the
 * recipient's journeys of the days after it, as a search by recipient would
 * judge it (else the page would say "never tried again", or "a retry is
 * expected", of a message that was retried and delivered).
 */
async function withRetries(reader: LedgerReader, j: ExplainedJourney, scope: Scope, opts: SearchOptions, settings: ResearchSettings): Promise<ExplainedJourney> {
  if (j.outcome !== 'tempfailed' || !j.rcpt) return j;
  const wide = await search(reader, { rcpt: j.rcpt, ...retryWindowOf(j, settings), ...settings }, { ...opts, scope });
  return wide.journeys.find((x) => x.ref === j.ref && x.rcpt === j.rcpt) ?? j;
}

/** From the 4xx to a day past twice the retry window: where a retry of it would be. */
function retryWindowOf(j: { started_at: string }, settings: ResearchSettings, now = Date.now()): { since: number; until: number } {
  const t0 = Date.parse(j.started_at);
  const window = settings.retryWindowMs ?? 2 * 3600e3;
  return { since: t0 - 1000, until: Math.min(now, t0 + 2 * window + 86400e3) };
}

/** The recipient's address where a reply quotes it, on the page for the sender. */
const RECIPIENT: Record<Lang, string> = { en: 'the recipient address', de: 'die Empfängeradresse' };

/** The public page's settings: the configuration's, and "now" for whether a 4xx was retried (tests pin it; else the clock). */
export type PublicSettings = ResearchSettings & { now?: number };

/**
 * Whole recipient addresses in our own sentences. maskRecipients also masks
 * a bare local part, as a reply may quote one; in our sentences that would
 * hit words ("mail" of mail@..., "team" of team@...: "your the recipient
 * address administrator"), so their facts come from a journey whose ledger
 * texts are masked already (publicViewOf), and this only makes sure.
 */
function maskAddresses(text: string, rcpts: readonly string[], placeholder: string): string {
  let out = text;
  for (const r of rcpts) if (r) out = out.replace(new RegExp(r.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'), 'gi'), placeholder);
  return out;
}

/**
 * The public page of a REF: what the sender needs (time, its server's
 * address, our answer, why and what to do, where to look up a block list)
 * and nothing else. It speaks to the sender (explain.ts explainForSender,
 * verdict.ts audience 'sender'): a delivered message is delivered, whatever
 * the recipient did with it since. Recipient addresses are masked
 * everywhere, in the replies too (550 5.1.1 names the address); subjects,
 * Message-IDs and typo hints (other mailboxes) are not used at all.
 */
export async function publicViewOf(reader: LedgerReader, ref: string, lang: Lang, settings: PublicSettings = {}): Promise<PublicView | null> {
  const { dnsblLinks, ...traceSettings } = settings;
  // Each journey as its own recipient's customer would see it: no internals in what the sender reads.
  const own = (await trace(reader, { ref, ...traceSettings })).filter((j) => j.ref === ref);
  // A 4xx judged among the recipient's journeys after it (withRetries says why).
  const judged = await Promise.all(own.map(async (j) => {
    if (j.outcome !== 'tempfailed' || !j.rcpt) return j;
    const { since, until } = retryWindowOf(j, traceSettings, traceSettings.now);
    return (await trace(reader, { rcpt: j.rcpt, since, until, ...traceSettings })).find((x) => x.ref === j.ref && x.rcpt === j.rcpt) ?? j;
  }));
  const journeys = judged.map((j) => visibleJourney(j, [domainOf(j.rcpt)])!);
  if (journeys.length === 0) return null;
  const rcpts = [...new Set(journeys.map((j) => j.rcpt.toLowerCase()))];
  const mask = (s: string): string => maskRecipients(s, rcpts, RECIPIENT[lang]);
  const ours = (s: string): string => maskAddresses(s, rcpts, RECIPIENT[lang]);
  // The ledger's texts that our sentences quote (our answer, the mailbox server's, an ingested list's) with the recipient masked.
  const maskEvent = (e: StoredEvent): StoredEvent => {
    const d = e.details as Record<string, unknown> | null;
    return { ...e, reply: e.reply ? mask(e.reply) : e.reply, details: d && typeof d.reply === 'string' ? { ...d, reply: mask(d.reply) } : e.details };
  };
  const replies: string[] = [];
  const explanations: PublicView['explanations'] = [];
  const verdicts: PublicView['verdicts'] = [];
  const links: ListLink[] = [];
  const seen = new Set<string>();
  for (const j of journeys) {
    if (j.reply && !replies.includes(mask(j.reply))) replies.push(mask(j.reply));
    const masked = { ...j, rcpt: RECIPIENT[lang], near_misses: [], message_id: null, reply: j.reply ? mask(j.reply) : j.reply, events: j.events.map(maskEvent) };
    const v = verdictOf({ ...masked, explanations: explainJourney(masked, lang) }, lang, { audience: 'sender' });
    const headline = ours(v.headline);
    if (!verdicts.some((x) => x.headline === headline)) verdicts.push({ status: v.status, word: v.word, tone: v.tone, headline });
    for (const f of explainForSender(masked, lang)) {
      const x = { title: ours(f.title), what: ours(f.what), action: ours(f.action) };
      const key = JSON.stringify(x);
      if (!seen.has(key)) { seen.add(key); explanations.push(x); }
    }
    for (const l of blocklistLinks(j.events, dnsblLinks)) if (!links.some((x) => x.url === l.url && x.name === l.name)) links.push(l);
  }
  const first = journeys[0]!;
  const outcomes = [...new Set(journeys.map((j) => j.outcome))];
  return { ref, at: first.started_at, client_ip: first.client_ip, outcome: outcomes.join(', '), replies, verdicts, explanations, links };
}
