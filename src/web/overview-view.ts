// The overview page: charts to look at (charts.ts), the busiest refused
// senders, and what it is all based on. Every bar opens the search that
// lists its messages, with the same window and outcome (filters.ts parses
// these links as it parses the search form). Domain names, client addresses
// and sender domains come from the ledger or the accounts: they reach the
// page only through html`` and href(), which escape and encode.
import type { Lang } from '../research/explain.js';
import type { Outcome } from '../research/journeys.js';
import { OVERVIEW_OUTCOMES, totalOf, type Counts, type Overview, type OverviewCause, type RefusedSender } from '../research/overview.js';
import type { Scope } from '../research/visibility.js';
import { barChart, legend, type BarRow, type Segment } from './charts.js';
import { href, html, type Html } from './html.js';
import type { T, TextKey } from './i18n/index.js';

/** The page as asked, for the links to other periods, a domain alone, and back. */
export interface OverviewPageView {
  days: number;
  domain: string | null;
  day: string | null;
}

export interface OverviewViewOptions {
  lang: Lang;
  t: T;
  scope: Scope;
  view: OverviewPageView;
  /** The domains the account may choose among (for the "all domains" link); default: the overview's own. */
  domains?: readonly string[];
}

/** The periods offered above the charts. */
export const PERIODS = [1, 7, 14, 30] as const;
/** Rows of the per-domain chart and of the cause chart; the rest are named below them. */
const MAX_DOMAIN_ROWS = 20;
const MAX_CAUSE_ROWS = 12;

/** The outcomes a cause can have (a delivered message has no cause here). */
const CAUSE_OUTCOMES: readonly Outcome[] = ['rejected', 'tempfailed', 'incomplete', 'no_transaction'];

/** "2026-12-04T00:00:00Z": an instant as the search's since/until fields take it (filters.ts parseTime), to the millisecond only where needed. */
function instant(iso: string): string {
  return iso.replace(/\.000Z$/, 'Z');
}

function searchHref(q: { domain?: string | null; ip?: string | null; from?: string | null; since: string; until: string; outcome?: Outcome | null }, lang: Lang): string {
  return href('/search', { domain: q.domain, ip: q.ip, from: q.from, since: instant(q.since), until: instant(q.until), outcome: q.outcome, lang });
}

function overviewHref(q: { domain?: string | null; days?: number | null; day?: string | null }, lang: Lang): string {
  return href('/overview', { domain: q.domain, days: q.days ? String(q.days) : null, day: q.day, lang });
}

const LOCALE: Record<Lang, string> = { en: 'en-GB', de: 'de-DE' };

/** "Fri 4 Dec" / "Fr., 4. Dez.": a calendar day (YYYY-MM-DD, already in the overview's time zone). */
export function dayLabel(day: string, lang: Lang): string {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return new Intl.DateTimeFormat(LOCALE[lang], { weekday: 'short', day: 'numeric', month: 'short', timeZone: 'UTC' }).format(Date.UTC(y, m - 1, d));
}

/** "4 Dec, 14:05": an instant in the overview's time zone. */
function timeLabel(iso: string, lang: Lang, timeZone: string): string {
  return new Intl.DateTimeFormat(LOCALE[lang], { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone }).format(new Date(iso));
}

function num(n: number, lang: Lang): string {
  return n.toLocaleString(LOCALE[lang]);
}

function outcomeWord(t: T, o: Outcome): string {
  return t(`outcome.${o}` as TextKey);
}

/** The segments of a row of counts, in the fixed order (delivered first), each linking where `link` says. */
function segmentsOf(counts: Counts, outcomes: readonly Outcome[], title: (o: Outcome, n: number) => string, link: (o: Outcome) => string | null): Segment[] {
  return outcomes.filter((o) => counts[o] > 0).map((o) => ({ tone: o, value: counts[o], href: link(o), title: title(o, counts[o]) }));
}

export function overviewView(data: Overview, opts: OverviewViewOptions): Html {
  const { lang, t, view } = opts;
  const zone = data.basis.time_zone;
  const single = data.domains.length === 1 ? data.domains[0]!.domain : null;
  const today = data.days.at(-1)?.day;
  const isToday = (day: string): boolean => day === today && !view.day;
  const dayName = (day: string): string => (isToday(day) ? t('overview.today_suffix', { day: dayLabel(day, lang) }) : dayLabel(day, lang));
  const win = { since: data.basis.since, until: data.days.at(-1)?.until ?? data.basis.until };
  const total = totalOf(data.totals);
  const tip = (key: 'overview.tip_search' | 'overview.tip_day', what: string) => (o: Outcome, n: number): string => t(key, { what, count: num(n, lang), outcome: outcomeWord(t, o) });

  // --- what is shown, and the other choices -------------------------------------
  const choosable = opts.domains ?? data.domains.map((d) => d.domain);
  const period = view.day ? dayLabel(view.day, lang) : view.days === 1 ? t('overview.period_today') : t('overview.period_days', { days: view.days });
  const what = view.domain ?? (choosable.length === 1 ? choosable[0]! : t('overview.all_domains'));
  const periods = PERIODS.map((n, i) => {
    const label = n === 1 ? t('overview.period_today') : t('overview.n_days', { days: n });
    const current = !view.day && view.days === n;
    return html`${i ? ' · ' : ''}${current ? html`<strong>${label}</strong>` : html`<a href="${overviewHref({ domain: view.domain, days: n }, lang)}">${label}</a>`}`;
  });
  const back = (view.domain || view.day) && choosable.length > 1
    ? html`<span><a href="${overviewHref({ days: view.day ? null : view.days }, lang)}">${t('overview.back_all')}</a></span>` : '';
  const head = html`<p class="ov-nav"><span>${t('overview.showing', { period, what })}</span> <span>${t('overview.choose_period')} ${periods}</span> ${back}</p>`;

  const key = legend(OVERVIEW_OUTCOMES.filter((o) => o === 'delivered' || o === 'rejected' || o === 'tempfailed' || data.totals[o] > 0)
    .map((o) => ({ tone: o, text: `${outcomeWord(t, o)}: ${num(data.totals[o], lang)}` })), 'ov-legend');

  // --- per day --------------------------------------------------------------------
  // With one domain a day's bar opens its search; with several (the search
  // asks one domain at a time) it opens that day per domain, whose bars do.
  const dayRows: BarRow[] = [...data.days].reverse().map((d) => ({
    label: dayName(d.day),
    note: num(totalOf(d.counts), lang),
    segments: segmentsOf(d.counts, OVERVIEW_OUTCOMES,
      single ? tip('overview.tip_search', `${dayLabel(d.day, lang)} · ${single}`) : tip('overview.tip_day', dayLabel(d.day, lang)),
      (o) => (single ? searchHref({ domain: single, since: d.since, until: d.until, outcome: o }, lang) : data.days.length > 1 ? overviewHref({ day: d.day }, lang) : null)),
  }));

  // --- per domain -------------------------------------------------------------------
  const byVolume = [...data.domains].sort((a, b) => totalOf(b.counts) - totalOf(a.counts) || a.domain.localeCompare(b.domain));
  const shownDomains = byVolume.slice(0, MAX_DOMAIN_ROWS);
  const domainRows: BarRow[] = shownDomains.map((d) => ({
    label: d.domain,
    href: overviewHref({ domain: d.domain, days: view.day ? null : view.days, day: view.day }, lang),
    title: t('overview.tip_domain', { domain: d.domain }),
    note: num(totalOf(d.counts), lang),
    segments: segmentsOf(d.counts, OVERVIEW_OUTCOMES, tip('overview.tip_search', d.domain), (o) => searchHref({ domain: d.domain, ...win, outcome: o }, lang)),
  }));
  const moreDomains = byVolume.slice(MAX_DOMAIN_ROWS);

  // --- causes -------------------------------------------------------------------------
  // One row per cause and domain when there are several domains: a bar must open one search, and a search is of one domain.
  const causeRows: { c: OverviewCause; domain: string; count: number; outcomes: Counts }[] = data.causes
    .flatMap((c) => c.by_domain.map((d) => ({ c, domain: d.domain, count: d.count, outcomes: d.outcomes })))
    .sort((a, b) => b.count - a.count || a.c.code.localeCompare(b.c.code) || a.domain.localeCompare(b.domain));
  const causeBars: BarRow[] = causeRows.slice(0, MAX_CAUSE_ROWS).map((r) => ({
    label: r.c.title,
    title: `${r.c.title} (${r.c.code})`,
    ...(single ? {} : { sub: r.domain }),
    note: num(r.count, lang),
    segments: segmentsOf(r.outcomes, CAUSE_OUTCOMES,
      (o, n) => t('overview.tip_cause', { what: single ? r.c.title : `${r.c.title} · ${r.domain}`, count: num(n, lang), outcome: outcomeWord(t, o), domain: r.domain }),
      (o) => searchHref({ domain: r.domain, ...win, outcome: o }, lang)),
  }));
  const causeScale = Math.max(1, ...causeRows.map((r) => r.count));

  const chartsBody = html`<div class="ov-grid">
<section class="ov-days"><h2>${t('overview.heading_days')}</h2>${barChart(dayRows, { id: 'ov-days', label: t('overview.chart_days') })}</section>
${single ? '' : html`<section class="ov-domains"><h2>${t('overview.heading_domains')}</h2>${barChart(domainRows, { id: 'ov-domains', label: t('overview.chart_domains') })}
${moreDomains.length ? html`<p class="muted">${t('overview.more_domains', { count: moreDomains.length })} ${moreDomains.map((d, i) => html`${i ? ', ' : ''}<a href="${overviewHref({ domain: d.domain, days: view.days }, lang)}">${d.domain}</a> (${num(totalOf(d.counts), lang)})`)}</p>` : ''}</section>`}
<section class="ov-causes"><h2>${t('overview.heading_causes')}</h2>${causeBars.length
    ? html`${barChart(causeBars, { id: 'ov-causes', label: t('overview.chart_causes'), scale: causeScale })}${causeRows.length > MAX_CAUSE_ROWS ? html`<p class="muted">${t('overview.more_causes', { count: causeRows.length - MAX_CAUSE_ROWS })}</p>` : ''}`
    : html`<p>${total ? t('overview.all_delivered') : t('overview.no_mail')}</p>`}</section>
</div>`;

  // --- refused senders ------------------------------------------------------------------
  const senderLink = (q: { ip?: string; from?: string }, shown: string): Html =>
    html`<a href="${searchHref({ ...q, domain: single, ...win }, lang)}" title="${t('overview.tip_sender', { value: shown })}">${shown}</a>`;
  const nameOf = (v: string | null): string => (v === null ? t('overview.unknown') : v === '' ? t('overview.null_sender') : v);
  // The temporary part of the refusals in the tooltip: a fourth column did not fit a phone.
  const refusedCell = (s: RefusedSender): Html => html`<td class="num"${s.tempfailed ? html` title="${t('overview.of_them_temporarily', { count: num(s.tempfailed, lang) })}"` : ''}>${num(s.count, lang)}</td>`;
  const withLine = (s: RefusedSender): Html => html`<br><span class="muted">${s.with.slice(0, 2).map((w, i) => html`${i ? ', ' : ''}${nameOf(w.value)} (${num(w.count, lang)})`)}${s.with_total > 2 ? ` ${t('overview.more', { count: s.with_total - 2 })}` : ''}</span>`;
  // Three columns, the other side under the name: more did not fit a phone.
  const table = (rows: RefusedSender[], first: string, link: (s: RefusedSender) => Html): Html => html`<table class="ov-senders"><thead><tr>
<th>${first}</th><th class="num">${t('overview.col_refused')}</th><th>${t('overview.col_cause')}</th></tr></thead><tbody>
${rows.map((s) => html`<tr><td class="text">${link(s)}${withLine(s)}</td>${refusedCell(s)}<td>${s.cause.title}</td></tr>`)}
</tbody></table>`;
  const senders = data.refused_ips.length
    ? html`<div class="ov-grid">
<section><h3>${t('overview.servers')}</h3>${table(data.refused_ips, t('overview.col_address'), (s) => (s.key === null ? html`${nameOf(null)}` : senderLink({ ip: s.key }, s.key)))}</section>
<section><h3>${t('overview.sender_domains')}</h3>${table(data.refused_domains, t('overview.col_domain'), (s) => (s.key ? senderLink({ from: s.key }, s.key) : html`${nameOf(s.key)}`))}</section>
</div>`
    : html`<p>${t('overview.no_refused')}</p>`;

  // --- what it is based on ------------------------------------------------------------
  const b = data.basis;
  const cut = data.domains.filter((d) => d.cut && !d.skipped && d.oldest);
  const skipped = data.domains.filter((d) => d.skipped);
  const basis = html`<p class="ov-basis muted">${t('overview.basis', {
    count: num(b.journeys, lang), domains: data.domains.map((d) => d.domain).join(', '),
    since: timeLabel(b.since, lang, zone), until: timeLabel(b.until, lang, zone), zone, at: timeLabel(data.generated_at, lang, zone),
  })}</p>
${cut.map((d) => html`<p class="notice">${t('overview.basis_cut', { limit: num(d.journeys, lang), domain: d.domain, oldest: timeLabel(d.oldest!, lang, zone) })}</p>`)}
${skipped.length ? html`<p class="notice">${t('overview.basis_skipped', { domains: skipped.map((d) => d.domain).join(', '), limit: num(b.total_limit, lang) })}</p>` : ''}`;

  return html`<div class="overview">
${data.store_behind?.length ? html`<p class="notice">${t('overview.store_behind')}</p>` : ''}
${head}
${key}
${chartsBody}
<section class="ov-senders"><h2>${t('overview.heading_senders')}</h2>${senders}</section>
${basis}
</div>`;
}

/** The page's own styles; web/html.ts's stylesheet takes them in. The charts carry their colours themselves (charts.ts), so these are layout and focus only. */
export const OVERVIEW_CSS = `
.overview h2 { font-size: 1.15em; margin: 1.2em 0 .5em; }
.overview h3 { font-size: 1em; margin: .8em 0 .3em; }
.ov-nav { display: flex; flex-wrap: wrap; gap: .3em 1.2em; margin: 0 0 .5em; }
.ov-nav a, .ov-nav strong { white-space: nowrap; }
.ov-legend { display: flex; flex-wrap: wrap; gap: .3em 1.2em; margin: .3em 0; }
.ov-key { white-space: nowrap; }
.ov-key svg { vertical-align: -2px; }
.ov-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 28em), 1fr)); gap: 0 2.5em; }
.ov-grid > section { min-width: 0; }
.ov-chart { display: block; overflow: hidden; }
.ov-chart a:hover rect, .ov-chart a:focus rect { stroke: #111; stroke-width: 2; }
.ov-chart a.ov-label text { fill: #0645ad; text-decoration: underline; }
.ov-chart a:focus { outline: 2px solid #111; }
table.ov-senders { margin-top: .3em; }
.ov-basis { font-size: .9em; }
table.ov-senders .num { text-align: right; }
table.ov-senders td:first-child { width: 50%; }
`;
