// The search page: the form, then the answer as a mail client shows a
// folder (time, status, sender, recipient, subject, cause in words), with
// quick filters, CSV export and a report of the whole search.
import type { StoreLag } from '../../ledger/store/types.js';
import type { NearMiss } from '../../research/journeys.js';
import type { ExplainedJourney, SearchResult } from '../../research/search.js';
import { Html, href, html } from '../html.js';
import type { TextKey } from '../i18n/index.js';
import { addr, outcomeBadge, outcomeWord, senderText, timeCell, timeText, type ViewContext } from './format.js';
import { causeOf, findingBlock, subjectOf, toneOf } from './findings.js';

/** The search fields: query parameter and label; the first four are always shown, the rest under "more". */
export const SEARCH_FIELDS: readonly (readonly [string, TextKey])[] = [
  ['rcpt', 'search.rcpt'], ['domain', 'search.domain'], ['from', 'search.from'], ['since', 'search.since'],
  ['subject', 'search.subject'], ['ip', 'search.ip'], ['ref', 'search.ref'], ['message-id', 'search.message_id'], ['until', 'search.until'],
];
const SHOWN = 4;

export const OUTCOMES = ['delivered', 'rejected', 'tempfailed', 'incomplete', 'no_transaction'] as const;

/** Page sizes of the search page: the first answer is small and quick, more on request (the API's maximum last). */
export const PAGE_SIZES = [100, 250, 1000] as const;

export function searchForm(q: Record<string, string>, ctx: ViewContext, scope: readonly string[] | null): Html {
  const { t } = ctx;
  const outcome = q.outcome ?? '';
  const field = ([k, label]: readonly [string, TextKey]): Html =>
    html`<label>${t(label)}<input name="${k}" value="${q[k] ?? ''}" maxlength="320"${k === 'since' || k === 'until' ? html` placeholder="${t('search.time_hint')}"` : ''}></label>`;
  const more = SEARCH_FIELDS.slice(SHOWN);
  const open = more.some(([k]) => q[k]) || outcome !== '';
  return html`${scope ? html`<p class="muted">${t('search.scope', { domains: scope.join(', ') })}</p>` : ''}
<form method="get" action="/search" class="search">
${SEARCH_FIELDS.slice(0, SHOWN).map(field)}
<details${open ? new Html(' open') : ''}><summary>${t('search.more')}</summary><div>
${more.map(field)}
<label>${t('search.outcome')}<select name="outcome">
${['', ...OUTCOMES].map((o) => html`<option value="${o}"${o === outcome ? new Html(' selected') : ''}>${o ? outcomeWord(o, t) : t('search.outcome_any')}</option>`)}
</select></label></div></details>
<div><button type="submit">${t('search.submit')}</button></div></form>`;
}

/** The start page's one field: an address, a domain, an IP address or a REF (the server puts it in the right search field). */
export function findForm(ctx: ViewContext): Html {
  const { t } = ctx;
  return html`<form method="get" action="/find" class="find" role="search"><label>${t('find.label')} <input name="q" maxlength="320" placeholder="${t('find.placeholder')}"></label> <button type="submit">${t('search.submit')}</button> <a href="/search">${t('find.all_fields')}</a></form>`;
}

/** Said plainly when the store had not taken in everything the journals held when the question came. */
export function lagNotice(lag: StoreLag[], ctx: Pick<ViewContext, 't'>): Html {
  if (lag.length === 0) return html``;
  const { t } = ctx;
  return html`<p class="notice">${lag.map((l) => l.silent_ms !== undefined
    ? t('lag.silent', { node: l.node, stream: l.stream, seconds: Math.round(l.silent_ms / 1000) })
    : t('lag.behind', { node: l.node, stream: l.stream, events: l.events })).join(' ')}</p>`;
}

export function nearMisses(list: NearMiss[], ctx: ViewContext): Html {
  if (!list.length) return html``;
  // research/near-misses.ts says what each is; the likely typo comes first.
  return html`<h2>${ctx.t('near.title')}</h2><ul>${list.map((n) => html`<li>${n.what ?? n.value}${n.kind === 'refused_similar_address' ? html` (<code>${n.value}</code>${n.ref ? html`, REF ${n.ref}` : ''})` : ''}</li>`)}</ul>`;
}

/** Words that a quick filter matches a journey by: addresses, subject, cause, client address, REF. */
function haystack(j: ExplainedJourney, ctx: ViewContext): string {
  return [j.mail_from, j.rcpt, subjectOf(j), causeOf(j, ctx.lang), j.client_ip, j.ref, outcomeWord(j.outcome, ctx.t)].filter(Boolean).join('\n').toLowerCase();
}

export function quickFiltered(journeys: ExplainedJourney[], q: string | undefined, ctx: ViewContext): ExplainedJourney[] {
  const needle = q?.trim().toLowerCase();
  return needle ? journeys.filter((j) => haystack(j, ctx).includes(needle)) : journeys;
}

export function journeyHref(j: { ref: string; rcpt: string }, lang: string): string {
  return href(`/journey/${encodeURIComponent(j.ref)}`, { rcpt: j.rcpt, lang });
}

function listRow(j: ExplainedJourney, ctx: ViewContext): Html {
  const { t } = ctx;
  const subject = subjectOf(j);
  return html`<tr class="row-${toneOf(j.outcome)}">
<td class="when" data-label="${t('list.time')}">${timeCell(j.started_at, ctx)}</td>
<td data-label="${t('list.status')}">${outcomeBadge(j.outcome, t)}</td>
<td class="text" data-label="${t('list.from')}">${senderText(j.mail_from, t)}</td>
<td class="text" data-label="${t('list.to')}">${addr(j.rcpt)}</td>
<td class="text" data-label="${t('list.subject')}"><a href="${journeyHref(j, ctx.lang)}">${subject === null ? html`<span class="muted">${t('list.no_subject')}</span>` : subject}</a></td>
<td class="text cause" data-label="${t('list.cause')}">${causeOf(j, ctx.lang)}</td></tr>`;
}

export interface ResultsOptions {
  /** The search as asked (for the bigger-page links, quick filters, export). */
  q: Record<string, string>;
  limit: number;
  reports: boolean;
}

export function results(r: SearchResult, ctx: ViewContext, o: ResultsOptions): Html {
  const { t } = ctx;
  const all = r.journeys;
  const shown = quickFiltered(all, o.q.q, ctx);
  const bigger = r.truncated ? PAGE_SIZES.filter((n) => n > o.limit) : [];
  const more = r.truncated
    ? bigger.length
      ? html` ${t('search.truncated_more')} ${bigger.map((n, i) => html`${i ? ` ${t('search.or')} ` : ''}<a href="${href('/search', { ...o.q, limit: String(n) })}">${String(n)}</a>`)}`
      : html` ${t('search.truncated_narrow')}`
    : '';
  const window = `${r.since ? timeText(r.since, ctx) : t('search.any_time')} – ${r.until ? timeText(r.until, ctx) : t('search.now')}`;
  const counts = new Map<string, number>();
  for (const j of all) counts.set(j.outcome, (counts.get(j.outcome) ?? 0) + 1);
  const base = { ...o.q, lang: ctx.lang };
  const chips = all.length || o.q.outcome ? html`<ul class="chips" aria-label="${t('search.quick_filter')}">
<li>${o.q.outcome ? html`<a href="${href('/search', { ...base, outcome: undefined })}">${t('search.outcome_any')}</a>` : html`<span class="on">${t('search.outcome_any')} ${String(all.length)}</span>`}</li>
${OUTCOMES.filter((x) => counts.has(x) || o.q.outcome === x).map((x) => html`<li>${o.q.outcome === x
    ? html`<span class="on">${outcomeWord(x, t)} ${String(counts.get(x) ?? 0)}</span>`
    : html`<a href="${href('/search', { ...base, outcome: x })}">${outcomeWord(x, t)} ${String(counts.get(x) ?? 0)}</a>`}</li>`)}
</ul>` : html``;
  const quick = all.length > 1 ? html`<form method="get" action="/search" class="actions">
${Object.entries(o.q).filter(([k]) => k !== 'q').map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}
<label>${t('search.filter_these')} <input name="q" value="${o.q.q ?? ''}" maxlength="200"></label><button type="submit">${t('search.filter')}</button></form>` : html``;
  const exportQ = { ...o.q, q: undefined, lang: ctx.lang };
  const actions = all.length ? html`<p class="actions"><a href="${href('/search.csv', exportQ)}" download>${t('search.export_csv')}</a>
${o.reports ? ['pdf', 'html'].map((f) => html`<a href="${href('/search/report', { ...exportQ, format: f })}" download>${t(f === 'pdf' ? 'search.report_pdf' : 'search.report_html')}</a>`) : ''}</p>` : html``;
  return html`${lagNotice(r.store_behind ?? [], ctx)}${r.findings.map((f) => findingBlock(f, ctx))}
${nearMisses(r.near_misses, ctx)}
<p class="count">${t(all.length === 1 ? 'search.count_one' : 'search.count_other', { n: all.length })}, ${window}.${more}</p>
${chips}${quick}${actions}
${shown.length ? html`<table class="list cards"><thead><tr><th>${t('list.time')}</th><th>${t('list.status')}</th><th>${t('list.from')}</th><th>${t('list.to')}</th><th>${t('list.subject')}</th><th>${t('list.cause')}</th></tr></thead><tbody>
${[...shown].reverse().map((j) => listRow(j, ctx))}
</tbody></table>` : html`<p>${all.length ? t('search.none_match_filter') : t('search.none')}</p>`}`;
}
