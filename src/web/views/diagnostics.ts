// DNS diagnostics as a page (the diagnostics form) and beside a journey's
// evidence (recheck): what the gateway's checks find now.
import type { DomainDiagnosis, IpDiagnosis } from '../../dnscheck/diagnostics.js';
import { checkName, VERDICT } from '../../research/event-words.js';
import { html, type Html } from '../html.js';
import { timeCell, type ViewContext } from './format.js';

function problems(list: { severity: string; code: string; text: string }[], ctx: ViewContext): Html {
  const { t } = ctx;
  return list.length
    ? html`<ul>${list.map((p) => html`<li class="${p.severity === 'error' ? 'error' : ''}">${t(p.severity === 'error' ? 'diag.severity_error' : 'diag.severity_warning')}: ${p.text}${ctx.staff ? html` <code>${p.code}</code>` : ''}</li>`)}</ul>`
    : html`<p>${t('diag.no_problems')}</p>`;
}

function checksTable(checks: { check: string; verdict: string; reason: string | null; reply: string | null }[], ctx: ViewContext): Html {
  const { t, lang } = ctx;
  return html`<table class="cards"><thead><tr><th>${t('diag.check')}</th><th>${t('diag.verdict_now')}</th><th>${t('diag.reason')}</th><th>${t('diag.would_answer')}</th></tr></thead><tbody>
${checks.map((c) => html`<tr><td data-label="${t('diag.check')}">${checkName(lang, c.check)}</td><td data-label="${t('diag.verdict_now')}">${VERDICT[lang][c.verdict] ?? c.verdict}</td><td class="text" data-label="${t('diag.reason')}">${c.reason ?? ''}</td><td class="text" data-label="${t('diag.would_answer')}">${c.reply ?? ''}</td></tr>`)}</tbody></table>`;
}

export function domainResult(name: string, r: DomainDiagnosis | null, error: string | null, ctx: ViewContext): Html {
  const { t } = ctx;
  if (!r) return html`<section><h3>${t('diag.domain', { name })}</h3><p class="error">${error ?? t('diag.failed')}</p></section>`;
  return html`<section class="diag-domain"><h3>${t('diag.domain', { name: r.domain })}</h3><p class="muted">${t('diag.checked_at')} ${timeCell(r.checked_at, ctx, true)}</p>
<p>MX: ${r.mx.length ? '' : t('diag.none')}</p>${r.mx.length ? html`<ul>${r.mx.map((m) => html`<li>${m.preference} <code>${m.exchange}</code> ${m.is_ip ? t('diag.mx_is_ip') : m.addresses.join(', ') || t('diag.no_address')}</li>`)}</ul>` : ''}
<p>SPF: <code>${r.spf.record ?? t('diag.none')}</code></p><p>DMARC: <code>${r.dmarc.record ?? t('diag.none')}</code></p>
${checksTable(r.checks, ctx)}${problems(r.problems, ctx)}</section>`;
}

export function ipResult(addr: string, r: IpDiagnosis | null, error: string | null, ctx: ViewContext): Html {
  const { t } = ctx;
  if (!r) return html`<section><h3>${t('diag.address', { addr })}</h3><p class="error">${error ?? t('diag.failed')}</p></section>`;
  return html`<section class="diag-ip"><h3>${t('diag.address', { addr: r.ip })}</h3><p class="muted">${t('diag.checked_at')} ${timeCell(r.checked_at, ctx, true)}</p>
<p>${t('diag.ptr')}: <code>${r.ptr ?? t('diag.none')}</code></p>${checksTable(r.checks, ctx)}${problems(r.problems, ctx)}</section>`;
}

export function diagnosticsForm(q: { domain?: string; ip?: string }, ctx: ViewContext): Html {
  const { t } = ctx;
  return html`<p>${t('diag.intro')}</p><form method="get" action="/diagnostics" class="search">
<label>${t('diag.sender_domain')}<input name="domain" value="${q.domain ?? ''}" maxlength="253"></label>
<label>${t('diag.ip')}<input name="ip" value="${q.ip ?? ''}" maxlength="64"></label>
<div><button type="submit">${t('diag.check_now')}</button></div></form>`;
}
