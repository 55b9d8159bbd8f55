// The public reference page, read by the sender (our SMTP reply links it):
// what happened to the message, in the sender's words, and what to do.
import type { PublicView } from '../../research/service.js';
import { html, type Html } from '../html.js';
import { outcomeBadge, timeCell, type ViewContext } from './format.js';

export function publicPage(v: PublicView, ctx: ViewContext): Html {
  const { t } = ctx;
  return html`${v.verdicts.map((x) => html`<section class="verdict tone-${x.tone}"><p class="headline">${x.headline}</p></section>`)}
<p>${t('public.reference')} <code>${v.ref}</code></p>
<table class="facts"><tbody><tr><th>${t('public.time')}</th><td>${timeCell(v.at, ctx, true)}</td></tr>
<tr><th>${t('public.server')}</th><td>${v.client_ip ?? t('facts.unknown')}</td></tr>
<tr><th>${t('public.outcome')}</th><td>${v.outcome.split(', ').map((o, i) => html`${i ? ' ' : ''}${outcomeBadge(o, t)}`)}</td></tr>
${v.replies.map((r) => html`<tr><th>${t('public.answered')}</th><td class="text">${r}</td></tr>`)}</tbody></table>
${v.explanations.map((x) => html`<div class="finding"><strong>${x.title}</strong><p class="what">${x.what}</p><p class="action"><em>${t('public.how_to_fix')}</em> ${x.action}</p></div>`)}
${v.links.length ? html`<p>${t('public.lookup')} ${v.links.map((l, i) => html`${i ? ', ' : ''}<a href="${l.url}" rel="noopener noreferrer">${l.name}</a>`)}</p>` : ''}`;
}
