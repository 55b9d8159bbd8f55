// The overview: the last days' mail counted by day, outcome, recipient
// domain and cause, and the busiest refused senders. It counts what
// research's own search answers (the same journeys, outcomes and diagnosis
// codes as the list a click on a bar opens), one search per domain, so a
// customer's overview is made of nothing but its own domains' journeys
// (visibility.ts applies inside the search).
//
// Bounded: each domain's newest `perDomainLimit` journeys and `totalLimit`
// in all. What was left out is said in `basis`, never silently dropped:
// "based on the newest 2000 journeys of example.com". Measured on a seeded
// SQLite ledger (7 days, ~7 events per journey, one laptop core): 4000
// journeys of 2 domains in 0.5-1 s, 20000 of 10 domains in 1.6-4 s (the
// first run the slower) and ~150 MB of heap; the search's own cost per
// journey, about 0.1 ms. 2000/20000 keep the start page within a few seconds
// of a research thread (web.research_timeout_s is 60 by default), and the
// web caches each overview for a minute.
import type { StoreLag } from '../ledger/store/types.js';
import type { LedgerReader } from '../ledger/types.js';
import { explainCode, factsOf, type Lang } from './explain.js';
import type { Journey, Outcome, ResearchSettings } from './journeys.js';
import { runSearch } from './service.js';
import { domainOf, type Scope } from './visibility.js';

/** The outcomes counted, in the order charts stack them. */
export const OVERVIEW_OUTCOMES: readonly Outcome[] = ['delivered', 'rejected', 'tempfailed', 'incomplete', 'no_transaction'];

export type Counts = Record<Outcome, number>;

export interface OverviewDomain {
  domain: string;
  counts: Counts;
  /** Journeys of this domain the overview counted. */
  journeys: number;
  /** The search had more journeys than the limit: only the newest were counted, back to `oldest`. */
  cut: boolean;
  /** When the oldest counted journey began (ISO); null without journeys. */
  oldest: string | null;
  /** Left out entirely because the total bound was used up by the domains before it. */
  skipped: boolean;
}

export interface OverviewDay {
  /** The calendar day in the overview's time zone, YYYY-MM-DD. */
  day: string;
  /** Its first and last instant (ISO, UTC; `until` inclusive, as the search's until is). */
  since: string;
  until: string;
  counts: Counts;
  by_domain: { domain: string; counts: Counts }[];
}

export interface OverviewCause {
  /** A diagnosis code (diagnosis.ts), or one of OTHER_CAUSES for journeys without one. */
  code: string;
  title: string;
  count: number;
  outcomes: Counts;
  by_domain: { domain: string; count: number; outcomes: Counts }[];
}

export interface RefusedSender {
  /** The client address, or the sender domain ("" = the null sender <>); null = not recorded. */
  key: string | null;
  /** Refused journeys: rejected plus temporarily refused. */
  count: number;
  rejected: number;
  tempfailed: number;
  /** Its most frequent cause. */
  cause: { code: string; title: string };
  /** The other side: for an address its sender domains, for a domain its addresses; the top 3 with counts, and how many there were. */
  with: { value: string | null; count: number }[];
  with_total: number;
  last_at: string;
}

export interface OverviewBasis {
  /** Journeys counted (inside the window). */
  journeys: number;
  /** Some domain was cut or skipped. */
  cut: boolean;
  per_domain_limit: number;
  total_limit: number;
  since: string;
  until: string;
  days: number;
  time_zone: string;
}

export interface Overview {
  generated_at: string;
  lang: Lang;
  /** The domains looked at, in the order asked (staff: the configuration's; a customer: its own). */
  domains: OverviewDomain[];
  /** Every day of the window, oldest first (days without mail count zeros). */
  days: OverviewDay[];
  /** Why mail was not delivered: rejected, temporarily refused and unfinished journeys by cause, most frequent first. */
  causes: OverviewCause[];
  /** The busiest refused sending servers (by client address) and sender domains, most refusals first. */
  refused_ips: RefusedSender[];
  refused_domains: RefusedSender[];
  totals: Counts;
  basis: OverviewBasis;
  /** Set by the web's research thread when the store had not taken in all journals (as on a search). */
  store_behind?: StoreLag[];
}

export interface OverviewOptions {
  /** Whose mail: null = staff; a customer's domains, which also bound `domains`. */
  scope: Scope;
  /** The recipient domains to count: staff the configured ones; absent for a customer = its scope. */
  domains?: readonly string[];
  /** Calendar days counted, ending with `lastDay` (default 7). */
  days?: number;
  /** The last day counted, YYYY-MM-DD in `timeZone` (default: today). */
  lastDay?: string;
  now?: number;
  /** IANA time zone the days are counted in (default UTC). */
  timeZone?: string;
  lang?: Lang;
  settings?: ResearchSettings;
  mailboxes?: (domain: string) => string[];
  /** Most journeys counted per domain (default 2000) and in all (default 20000); the newest are kept. */
  perDomainLimit?: number;
  totalLimit?: number;
  /** Rows of each refused-senders list (default 10). */
  top?: number;
}

/** What the web asks of a research thread (research.ts Research.overview); scope, language, settings and mailboxes come from the thread. */
export type OverviewRequest = Pick<OverviewOptions, 'domains' | 'days' | 'lastDay' | 'now' | 'timeZone'>;

export const MAX_DAYS = 31;
export const PER_DOMAIN_LIMIT = 2000;
export const TOTAL_LIMIT = 20000;
/** A domain gets at least this many even when many domains share the total. */
const MIN_PER_DOMAIN = 100;

/** Causes of journeys that carry no diagnosis code: refused by a check without one (HELO, relay, rate), or never finished. */
export const OTHER_CAUSES = ['refused_other', 'tempfailed_other', 'incomplete'] as const;
const OTHER_TITLES: Record<Lang, Record<(typeof OTHER_CAUSES)[number], string>> = {
  en: { refused_other: 'Refused for another reason', tempfailed_other: 'Temporarily refused for another reason', incomplete: 'Not completed' },
  de: { refused_other: 'Aus anderem Grund abgelehnt', tempfailed_other: 'Aus anderem Grund vorübergehend abgewiesen', incomplete: 'Nicht abgeschlossen' },
};

export function zeroCounts(): Counts {
  return { delivered: 0, rejected: 0, tempfailed: 0, incomplete: 0, no_transaction: 0 };
}

export function totalOf(c: Counts): number {
  return OVERVIEW_OUTCOMES.reduce((n, o) => n + c[o], 0);
}

/** A journey's cause: its first diagnosis code (the refusing check's, journeys.ts diagnose), or a word for none. */
export function causeOf(j: Pick<Journey, 'outcome' | 'diagnosis'>): string {
  return j.diagnosis[0] ?? (j.outcome === 'rejected' ? 'refused_other' : j.outcome === 'tempfailed' ? 'tempfailed_other' : 'incomplete');
}

/** The title of a cause in `lang`: explain.ts's for a diagnosis code. */
export function causeTitle(code: string, lang: Lang): string {
  if ((OTHER_CAUSES as readonly string[]).includes(code)) return OTHER_TITLES[lang][code as (typeof OTHER_CAUSES)[number]];
  return explainCode(code, lang, factsOf({ mail_from: null, rcpt: '', client_ip: null, events: [], access: [], reply: null }, lang)).title;
}

// --- days in a time zone -------------------------------------------------------

const FORMATS = new Map<string, Intl.DateTimeFormat>();
function formatIn(timeZone: string): Intl.DateTimeFormat {
  let f = FORMATS.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    FORMATS.set(timeZone, f);
  }
  return f;
}

function fieldsIn(ts: number, timeZone: string): { y: number; m: number; d: number; H: number; M: number; S: number } {
  const p: Record<string, number> = {};
  for (const x of formatIn(timeZone).formatToParts(new Date(ts))) if (x.type !== 'literal') p[x.type] = Number(x.value);
  return { y: p.year!, m: p.month!, d: p.day!, H: p.hour!, M: p.minute!, S: p.second! };
}

/** The calendar day of an instant in a time zone, YYYY-MM-DD. */
export function dayIn(ts: number, timeZone: string): string {
  const f = fieldsIn(ts, timeZone);
  return `${String(f.y).padStart(4, '0')}-${String(f.m).padStart(2, '0')}-${String(f.d).padStart(2, '0')}`;
}

/** YYYY-MM-DD plus n days (calendar arithmetic, no time zone involved). */
export function addDays(day: string, n: number): string {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}

/** The first instant of a calendar day in a time zone (its local midnight; where a DST change skips midnight, the first hour that exists). */
export function startOfDay(day: string, timeZone: string): number {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const wall = Date.UTC(y, m - 1, d);
  const offset = (ts: number): number => {
    const f = fieldsIn(ts, timeZone);
    return Date.UTC(f.y, f.m - 1, f.d, f.H, f.M, f.S) - (ts - (((ts % 1000) + 1000) % 1000));
  };
  // Twice: the offset at the guess may differ from the offset at midnight itself.
  let t = wall - offset(wall);
  t = wall - offset(t);
  return t;
}

export const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

// --- the overview -------------------------------------------------------------------

interface Tally { count: number; rejected: number; tempfailed: number; causes: Map<string, number>; with: Map<string | null, number>; last: string }

function bump<K>(m: Map<K, number>, k: K, n = 1): void {
  m.set(k, (m.get(k) ?? 0) + n);
}

function topOf<K>(m: Map<K, number>, n: number): { value: K; count: number }[] {
  // Ties in a stable order (the key as text), so the same ledger gives the same page.
  return [...m].sort((a, b) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0]))).slice(0, n).map(([value, count]) => ({ value, count }));
}

/** The sender domain of a MAIL FROM: "" for the null sender, null when none was recorded. */
function senderDomainOf(from: string | null): string | null {
  if (from === null) return null;
  if (from === '') return '';
  return from.includes('@') ? domainOf(from) : from.toLowerCase();
}

export async function overviewOf(reader: LedgerReader, o: OverviewOptions): Promise<Overview> {
  const lang = o.lang ?? 'en';
  const now = o.now ?? Date.now();
  const timeZone = o.timeZone ?? 'UTC';
  const days = Math.min(MAX_DAYS, Math.max(1, Math.floor(o.days ?? 7)));
  const top = o.top ?? 10;
  // A customer counts its own domains and nothing else, whatever it asked for.
  const asked = [...new Set((o.domains ?? o.scope ?? []).map((d) => d.toLowerCase()))];
  const domains = o.scope === null ? asked : asked.filter((d) => o.scope!.includes(d));

  const lastDay = o.lastDay && DAY_PATTERN.test(o.lastDay) ? o.lastDay : dayIn(now, timeZone);
  const dayList = Array.from({ length: days }, (_, i) => addDays(lastDay, i - days + 1));
  const since = startOfDay(dayList[0]!, timeZone);
  const end = startOfDay(addDays(lastDay, 1), timeZone) - 1;
  const until = Math.min(now, end);

  const totalLimit = o.totalLimit ?? TOTAL_LIMIT;
  const perDomainLimit = Math.min(o.perDomainLimit ?? PER_DOMAIN_LIMIT, Math.max(MIN_PER_DOMAIN, Math.floor(totalLimit / Math.max(1, domains.length))));

  const dayIndex = new Map(dayList.map((d, i) => [d, i]));
  const dayRows: OverviewDay[] = dayList.map((day, i) => ({
    day,
    since: new Date(startOfDay(day, timeZone)).toISOString(),
    until: new Date((i + 1 < dayList.length ? startOfDay(dayList[i + 1]!, timeZone) : end + 1) - 1).toISOString(),
    counts: zeroCounts(),
    by_domain: domains.map((domain) => ({ domain, counts: zeroCounts() })),
  }));
  const totals = zeroCounts();
  const causes = new Map<string, OverviewCause>();
  const ips = new Map<string | null, Tally>();
  const senders = new Map<string | null, Tally>();
  const domainRows: OverviewDomain[] = [];
  let budget = totalLimit;
  let counted = 0;

  for (const [di, domain] of domains.entries()) {
    const row: OverviewDomain = { domain, counts: zeroCounts(), journeys: 0, cut: false, oldest: null, skipped: false };
    domainRows.push(row);
    if (budget <= 0) { row.skipped = true; row.cut = true; continue; }
    const limit = Math.min(perDomainLimit, budget);
    const r = await runSearch(reader, { domain, since, until, now, limit }, { lang, mailboxes: o.mailboxes, settings: o.settings, scope: o.scope });
    budget -= r.journeys.length;
    row.cut = r.truncated;
    for (const j of r.journeys) {
      const ts = Date.parse(j.started_at);
      // The search also finds journeys that began before the window and ended in it; the days count what began in them.
      if (!(ts >= since && ts <= until)) continue;
      const d = dayIndex.get(dayIn(ts, timeZone));
      if (d === undefined) continue;
      counted++;
      row.journeys++;
      row.oldest ??= j.started_at;
      row.counts[j.outcome]++;
      totals[j.outcome]++;
      dayRows[d]!.counts[j.outcome]++;
      dayRows[d]!.by_domain[di]!.counts[j.outcome]++;
      if (j.outcome === 'delivered') continue;
      const code = causeOf(j);
      let c = causes.get(code);
      if (!c) { c = { code, title: causeTitle(code, lang), count: 0, outcomes: zeroCounts(), by_domain: [] }; causes.set(code, c); }
      c.count++;
      c.outcomes[j.outcome]++;
      let cd = c.by_domain.find((x) => x.domain === domain);
      if (!cd) { cd = { domain, count: 0, outcomes: zeroCounts() }; c.by_domain.push(cd); }
      cd.count++;
      cd.outcomes[j.outcome]++;
      if (j.outcome !== 'rejected' && j.outcome !== 'tempfailed') continue;
      const from = senderDomainOf(j.mail_from);
      tally(ips, j.client_ip, from, j, code);
      tally(senders, from, j.client_ip, j, code);
    }
  }
  for (const c of causes.values()) c.by_domain.sort((a, b) => b.count - a.count || a.domain.localeCompare(b.domain));

  const senderRows = (m: Map<string | null, Tally>): RefusedSender[] => topOf(new Map([...m].map(([k, t]) => [k, t.count])), top).map(({ value }) => {
    const t = m.get(value)!;
    const cause = topOf(t.causes, 1)[0]!.value;
    return {
      key: value, count: t.count, rejected: t.rejected, tempfailed: t.tempfailed,
      cause: { code: cause, title: causeTitle(cause, lang) },
      with: topOf(t.with, 3), with_total: t.with.size, last_at: t.last,
    };
  });

  return {
    generated_at: new Date(now).toISOString(),
    lang,
    domains: domainRows,
    days: dayRows,
    causes: [...causes.values()].sort((a, b) => b.count - a.count || a.code.localeCompare(b.code)),
    refused_ips: senderRows(ips),
    refused_domains: senderRows(senders),
    totals,
    basis: {
      journeys: counted,
      cut: domainRows.some((d) => d.cut),
      per_domain_limit: perDomainLimit,
      total_limit: totalLimit,
      since: new Date(since).toISOString(),
      until: new Date(until).toISOString(),
      days,
      time_zone: timeZone,
    },
  };
}

function tally(m: Map<string | null, Tally>, key: string | null, other: string | null, j: Journey, cause: string): void {
  let t = m.get(key);
  if (!t) { t = { count: 0, rejected: 0, tempfailed: 0, causes: new Map(), with: new Map(), last: j.started_at }; m.set(key, t); }
  t.count++;
  if (j.outcome === 'rejected') t.rejected++;
  else t.tempfailed++;
  bump(t.causes, cause);
  bump(t.with, other);
  if (j.started_at > t.last) t.last = j.started_at;
}
