// GET /overview: the request as the page takes it (period, one domain, one
// day), the account's scope applied, and a cache per question, so reloading
// the start page does not run research again each time.
import type { Lang } from '../research/explain.js';
import { addDays, DAY_PATTERN, dayIn, MAX_DAYS, type Overview, type OverviewRequest } from '../research/overview.js';
import type { Scope } from '../research/visibility.js';
import { html, type Html } from './html.js';
import { textsOf } from './i18n/index.js';
import { overviewView, type OverviewPageView } from './overview-view.js';
import type { Research } from './research.js';

/** How long an overview is served from the cache: a minute, so a busy start page costs one research run a minute per account scope. */
export const OVERVIEW_TTL_MS = 60e3;
/** How far back a single day may be asked for. */
const MAX_DAY_AGE = 366;

/**
 * Overviews by question (scope, domains, period, language, time zone), each
 * kept for `ttlMs`. Concurrent requests for the same question share one
 * research run; a failed run is not kept. Bounded: the oldest entries go.
 */
export class OverviewCache {
  private entries = new Map<string, { at: number; value: Promise<Overview> }>();

  constructor(private readonly ttlMs = OVERVIEW_TTL_MS, private readonly now: () => number = Date.now, private readonly max = 200) {}

  get(key: string, make: () => Promise<Overview>): Promise<Overview> {
    const now = this.now();
    const hit = this.entries.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.value;
    const value = make();
    const entry = { at: now, value };
    this.entries.delete(key);
    this.entries.set(key, entry);
    value.catch(() => { if (this.entries.get(key) === entry) this.entries.delete(key); });
    for (const [k, e] of this.entries) {
      if (this.entries.size <= this.max && now - e.at < this.ttlMs) break;
      this.entries.delete(k);
    }
    return value;
  }

  get size(): number { return this.entries.size; }
}

export interface OverviewQuestion { req: OverviewRequest; view: OverviewPageView; choosable: string[] }

/**
 * The question of a request, or what is wrong with it. `configured`: the
 * configuration's domains (staff); a customer chooses among its own.
 */
export function overviewQuestion(q: Record<string, string>, o: { scope: Scope; configured: readonly string[]; timeZone: string; now: number; lang: Lang }): OverviewQuestion | { error: string } {
  const t = textsOf(o.lang);
  const choosable = [...(o.scope ?? o.configured)].map((d) => d.toLowerCase());
  const n = /^\d{1,2}$/.test(q.days ?? '') ? Number(q.days) : 7;
  const days = n >= 1 && n <= MAX_DAYS ? n : 7;
  const domain = q.domain ? q.domain.toLowerCase() : null;
  if (domain !== null && !choosable.includes(domain)) return { error: t('overview.bad_domain', { domain }) };
  let day: string | null = null;
  if (q.day) {
    const today = dayIn(o.now, o.timeZone);
    if (!DAY_PATTERN.test(q.day) || addDays(q.day, 0) !== q.day || q.day > today || q.day < addDays(today, -MAX_DAY_AGE)) {
      return { error: t('overview.bad_day', { days: MAX_DAY_AGE }) };
    }
    day = q.day;
  }
  const req: OverviewRequest = { domains: domain ? [domain] : choosable, days: day ? 1 : days, timeZone: o.timeZone, now: o.now, ...(day ? { lastDay: day } : {}) };
  return { req, view: { days: day ? 1 : days, domain, day }, choosable };
}

/** The cache key of a question: everything that changes the answer but the time. */
function keyOf(req: OverviewRequest, scope: Scope, lang: Lang): string {
  return JSON.stringify([scope, req.domains, req.days, req.lastDay ?? null, req.timeZone, lang]);
}

export interface OverviewPageOptions {
  research: Pick<Research, 'overview'>;
  cache: OverviewCache;
  q: Record<string, string>;
  scope: Scope;
  lang: Lang;
  /** The configuration's domains (what staff see). */
  configured: readonly string[];
  /** web.time_zone; null = the server's. */
  timeZone: string | null;
  now: number;
}

/** The body of the overview page. */
export async function overviewPage(o: OverviewPageOptions): Promise<Html> {
  const timeZone = o.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  const question = overviewQuestion(o.q, { scope: o.scope, configured: o.configured, timeZone, now: o.now, lang: o.lang });
  if ('error' in question) return html`<p class="error">${question.error}</p>`;
  const data = await o.cache.get(keyOf(question.req, o.scope, o.lang), () => o.research.overview(question.req, o.scope, o.lang));
  return overviewView(data, { lang: o.lang, t: textsOf(o.lang), scope: o.scope, view: question.view, domains: question.choosable });
}
