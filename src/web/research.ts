// What the web server asks of research, behind one interface: the searches,
// the journeys of a REF, the public page of a REF, and a report. Two ways to
// answer: in this thread (unit tests, and tools that are nothing but
// research), or in a pool of worker threads (research-pool.ts) for `mailproof
// serve`, whose event loop also carries the SMTP sessions and must never
// wait for a query.
import type { LedgerReader } from '../ledger/types.js';
import type { Lang } from '../research/explain.js';
import type { ResearchSettings } from '../research/journeys.js';
import type { SearchFilter, SearchResult } from '../research/search.js';
import { journeysOfRef, publicViewOf, runSearch, type PublicView, type Scope } from '../research/service.js';
import { overviewOf, type Overview, type OverviewRequest } from '../research/overview.js';

export interface ReportOptions { lang: Lang; format: 'text' | 'html' | 'pdf'; now?: Date; filter?: SearchFilter }
export interface RenderedReport { body: Buffer; contentType: string; filename: string }

export interface Research {
  search(f: SearchFilter, scope: Scope, lang: Lang): Promise<SearchResult>;
  /** withMailboxes: typo hints against the configured mailboxes too (as a search does). */
  journeysOfRef(ref: string, scope: Scope, lang: Lang, withMailboxes: boolean): Promise<SearchResult>;
  publicView(ref: string, lang: Lang): Promise<PublicView | null>;
  /** The start page's counts (research/overview.ts), for the scope's domains only. */
  overview(req: OverviewRequest, scope: Scope, lang: Lang): Promise<Overview>;
  close(): Promise<void>;
}

/** Research refused for now (all threads busy and the queue full, or a query over its time): HTTP 503. */
export class ResearchUnavailable extends Error {
  readonly statusCode = 503;
}

/** Configured mailboxes by domain, as research's SearchOptions.mailboxes wants them. */
export type MailboxesOf = (domain: string) => string[];

/** Research in the calling thread: every call blocks it for the length of the query. `settings`: from the configuration (research/settings.ts researchSettings). */
/** settings: fixed, or asked for each question (a cluster's POP3 nodes may change: research/settings.ts withClusterPop3). */
export function inlineResearch(reader: LedgerReader, mailboxes: MailboxesOf, settings: ResearchSettings | (() => Promise<ResearchSettings>) = {}): Research {
  const now = async (): Promise<ResearchSettings> => (typeof settings === 'function' ? settings() : settings);
  return {
    search: async (f, scope, lang) => runSearch(reader, f, { lang, mailboxes, settings: await now(), scope }),
    journeysOfRef: async (ref, scope, lang, withMailboxes) => journeysOfRef(reader, ref, scope, withMailboxes ? { lang, mailboxes } : { lang }, await now()),
    publicView: async (ref, lang) => publicViewOf(reader, ref, lang, await now()),
    overview: async (req, scope, lang) => overviewOf(reader, { ...req, scope, lang, mailboxes, settings: await now() }),
    close: async () => undefined,
  };
}
