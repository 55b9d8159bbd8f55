// One journey: the verdict first in one sentence, the cause card, the
// evidence as the report words it, then everything else. Staff may open the
// raw event; customers never see it (visibility.ts has already removed
// internals from the details, and the raw form is not for them anyway).
import { clientPtrOf, describeEvent } from '../../research/event-words.js';
import type { ExplainedJourney } from '../../research/search.js';
import type { StoredEvent } from '../../ledger/types.js';
import type { DomainDiagnosis, IpDiagnosis } from '../../dnscheck/diagnostics.js';
import { Html, href, html } from '../html.js';
import { addr, senderText, timeCell, type ViewContext } from './format.js';
import { checksSummary, verdictOf } from '../../research/verdict.js';
import { evidenceOf } from '../../research/evidence.js';
import { findingBlock, subjectOf } from './findings.js';
import { domainResult, ipResult } from './diagnostics.js';
import { journeyHref, nearMisses } from './search.js';

export interface RecheckView {
  domain: { name: string; result: DomainDiagnosis | null; error: string | null } | null;
  ip: { addr: string; result: IpDiagnosis | null; error: string | null } | null;
  /** The resolvers the checks asked (staff see them; customers are told "the gateway's resolver"). */
  resolvers: string[];
}

export interface JourneyOptions {
  csrf: string;
  recheck: RecheckView | null;
  reportFormats: boolean;
  others: { ref: string; rcpt: string }[];
}

/** The reply as the server sent it: the code is part of the text already (no "554 554 ..."). */
function replyText(code: number | null | undefined, reply: string | null | undefined): string {
  if (!reply) return code ? String(code) : '';
  return code && !reply.startsWith(String(code)) ? `${code} ${reply}` : reply;
}

/** The verdict in one sentence (research/verdict.ts): the cause, whose side, the key evidence. */
function verdictBox(j: ExplainedJourney, ctx: ViewContext): Html {
  const v = verdictOf(j, ctx.lang);
  return html`<section class="verdict tone-${v.tone}" aria-label="${ctx.t('journey.verdict')}"><p class="headline">${v.headline}</p></section>`;
}

function checksLine(j: ExplainedJourney, ctx: ViewContext): Html {
  if (!j.events.some((e) => e.kind === 'check.result')) return html``;
  return html`<p class="muted">${checksSummary(j.events, ctx.lang).text}</p>`;
}

/** The proof of a finding as the report words it: what the block list answered, the signature and file, the records. */
function evidenceBlock(j: ExplainedJourney, code: string, ctx: ViewContext): Html {
  const lines = evidenceOf(j, ctx.lang, code).filter((l) => l.fields.length > 0);
  if (!lines.length) return html``;
  return html`${lines.map((l) => html`<p class="evidence-title">${timeCell(`${l.time.replace(' ', 'T')}Z`, ctx, true)} · ${l.title}</p>
<dl class="evidence">${l.fields.map((f) => html`<dt>${f.label}</dt><dd>${f.value}</dd>`)}</dl>`)}`;
}

function facts(j: ExplainedJourney, ctx: ViewContext): Html {
  const { t } = ctx;
  const subject = subjectOf(j);
  const row = (label: string, v: Html | string, cls = ''): Html => html`<tr><th>${label}</th><td${cls ? html` class="${cls}"` : ''}>${v}</td></tr>`;
  return html`<table class="facts"><tbody>
${row(t('facts.time'), timeCell(j.started_at, ctx, true))}
${row(t('facts.from'), senderText(j.mail_from, t), 'text')}${row(t('facts.to'), addr(j.rcpt), 'text')}
${subject !== null ? row(t('facts.subject'), subject, 'text') : ''}
${row(t('facts.client'), html`${j.client_ip ?? t('facts.unknown')}${j.helo !== null ? html`, HELO <code>${j.helo}</code>` : ''}`, 'text')}
${row(t('facts.reply'), j.reply ?? '', 'text')}
${row('REF', j.ref)}${j.message_id ? row('Message-ID', j.message_id, 'text') : ''}
${ctx.staff ? row(t('facts.node'), `${j.node} (${j.source})`) : ''}
</tbody></table>`;
}

const PASSING = new Set(['pass', 'skip', 'allow']);

function timeline(j: ExplainedJourney, ctx: ViewContext): Html {
  const { t, lang } = ctx;
  const evidence = new Set(j.explanations.flatMap((f) => f.evidence));
  const ptr = clientPtrOf(j.events);
  // Passing checks in a row are one line ("5 checks passed: ..."), the evidence stands out.
  const rows: (StoredEvent | StoredEvent[])[] = [];
  for (const e of j.events) {
    const passing = e.kind === 'check.result' && PASSING.has(e.verdict ?? '') && !evidence.has(e.id);
    const last = rows[rows.length - 1];
    if (passing && Array.isArray(last)) last.push(e);
    else rows.push(passing ? [e] : e);
  }
  const raw = (e: StoredEvent): Html => (ctx.staff && e.details && Object.keys(e.details).length
    ? html`<details class="raw"><summary>${t('timeline.raw')} #${e.id}</summary><pre>${JSON.stringify(e.details, null, 2)}</pre></details>` : html``);
  const node = (e: StoredEvent): Html => (ctx.staff ? html`<td data-label="${t('timeline.node')}">${e.node} (${e.source})</td>` : html``);
  const row = (e: StoredEvent): Html => html`<tr id="e${e.id}"${evidence.has(e.id) ? new Html(' class="evidence"') : ''}><td data-label="${t('timeline.time')}">${timeCell(e.ts, ctx, true)}</td>${node(e)}
<td class="text" data-label="${t('timeline.event')}">${describeEvent(e, lang, { reply: false, ptr })}${raw(e)}</td>
<td class="text" data-label="${t('timeline.reply')}">${replyText(e.smtp_code, e.reply)}</td></tr>`;
  const group = (g: StoredEvent[]): Html => (g.length === 1 ? row(g[0]!) : html`<tr class="checks"><td data-label="${t('timeline.time')}">${timeCell(g[0]!.ts, ctx, true)}</td>${node(g[0]!)}
<td class="text" data-label="${t('timeline.event')}"><details><summary>${t('journey.checks_passed_other', { n: g.length })}</summary><ul>${g.map((e) => html`<li id="e${e.id}">${describeEvent(e, lang, { reply: false, ptr })}${raw(e)}</li>`)}</ul></details></td><td></td></tr>`);
  return html`<table class="timeline cards"><thead><tr><th>${t('timeline.time')}</th>${ctx.staff ? html`<th>${t('timeline.node')}</th>` : ''}<th>${t('timeline.event')}</th><th>${t('timeline.reply')}</th></tr></thead><tbody>
${rows.map((r) => (Array.isArray(r) ? group(r) : row(r)))}
</tbody></table>`;
}

function recheckBlock(j: ExplainedJourney, ctx: ViewContext, o: JourneyOptions, self: string): Html {
  const { t } = ctx;
  const rc = o.recheck;
  const form = html`<form method="post" action="${href(`${self}/recheck`, { rcpt: j.rcpt, lang: ctx.lang })}"><input type="hidden" name="_csrf" value="${o.csrf}"><button type="submit">${t('recheck.button')}</button></form>`;
  if (!rc) return html`<h2>${t('recheck.title')}</h2><p>${t('recheck.intro')}</p>${form}`;
  const asked = ctx.staff && rc.resolvers.length ? t('recheck.asked_staff', { resolvers: rc.resolvers.join(', ') }) : t('recheck.asked_customer');
  return html`<h2>${t('recheck.title')}</h2><p class="notice">${asked}</p>${form}
${rc.domain ? domainResult(rc.domain.name, rc.domain.result, rc.domain.error, ctx) : html`<p>${t('recheck.no_domain')}</p>`}
${rc.ip ? ipResult(rc.ip.addr, rc.ip.result, rc.ip.error, ctx) : html`<p>${t('recheck.no_ip')}</p>`}`;
}

export function journeyView(j: ExplainedJourney, ctx: ViewContext, o: JourneyOptions): Html {
  const { t } = ctx;
  const self = `/journey/${encodeURIComponent(j.ref)}`;
  // The cause first (research orders the findings: the specific before the generic "delivered").
  const findings = j.explanations;
  const evidenceLinks = (ids: number[]): Html => (ids.length ? html`<p class="muted">${t('finding.proved_by')} ${ids.map((id, i) => html`${i ? ', ' : ''}<a href="#e${id}">${t('finding.event')} ${String(id)}</a>`)}</p>` : html``);
  const recorded = html`${findings.length ? findings.map((f) => findingBlock(f, ctx, html`${evidenceBlock(j, f.code, ctx)}${evidenceLinks(f.evidence)}`)) : html`<p>${t('journey.no_diagnosis')}</p>`}${checksLine(j, ctx)}`;
  const others = o.others.length ? html`<p>${t('journey.other_recipients')} ${o.others.map((x, i) => html`${i ? ', ' : ''}<a href="${journeyHref(x, ctx.lang)}">${addr(x.rcpt)}</a>`)}</p>` : html``;
  const reports = html`<p class="actions">${o.reportFormats
    ? ['pdf', 'html', 'text'].map((f) => html`<a class="report" download href="${href(`${self}/report`, { rcpt: j.rcpt, lang: ctx.lang, format: f })}">${t(`journey.report_${f as 'pdf' | 'html' | 'text'}`)}</a>`)
    : html`<span class="muted">${t('journey.reports_unavailable')}</span>`}</p>`;
  const access = j.access.length ? html`<h2>${t('journey.access')}</h2><ul>${j.access.map((a) => html`<li>${timeCell(a.at, ctx, true)}: ${describeAccess(a.kind, ctx)} ${t('journey.access_from', { ip: a.client_ip ?? t('facts.unknown') })}</li>`)}</ul>` : html``;
  return html`${verdictBox(j, ctx)}
<div class="${o.recheck ? 'recheck' : ''}"><section><h2>${t('journey.cause')}</h2>${recorded}</section>${o.recheck ? html`<section>${recheckBlock(j, ctx, o, self)}</section>` : ''}</div>
${nearMisses(j.near_misses, ctx)}
${facts(j, ctx)}${others}${reports}${access}
<h2>${t('journey.timeline')}</h2>
${timeline(j, ctx)}
${o.recheck ? '' : recheckBlock(j, ctx, o, self)}`;
}

function describeAccess(kind: string, ctx: ViewContext): string {
  const { t } = ctx;
  return kind === 'pop3.dele' ? t('access.deleted') : kind === 'pop3.retr' ? t('access.fetched') : kind === 'imap.expunge' ? t('access.expunged') : kind === 'mailbox.copy' ? t('access.moved') : kind;
}
