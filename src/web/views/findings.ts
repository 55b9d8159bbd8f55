// A finding as a card, and the short words of a journey for lists.
import type { Finding, Lang } from '../../research/explain.js';
import { subjectOf, type ExplainedJourney } from '../../research/search.js';
import { causeText } from '../../research/verdict.js';
import { html, type Html } from '../html.js';
import type { TextKey } from '../i18n/index.js';
import type { ViewContext } from './format.js';

export function toneOf(outcome: string): 'ok' | 'bad' | 'warn' | 'neutral' {
  return outcome === 'delivered' ? 'ok' : outcome === 'rejected' ? 'bad' : outcome === 'tempfailed' ? 'warn' : 'neutral';
}

const SIDE_KEYS: Record<string, TextKey> = { sender: 'finding.side_sender', recipient: 'finding.side_recipient', none: 'finding.side_none' };

export function findingBlock(f: Omit<Finding, 'evidence'> & { evidence?: number[] }, ctx: ViewContext, extra?: Html): Html {
  const { t } = ctx;
  return html`<div class="finding side-${f.side}"><strong>${f.title}</strong> <span class="side">${t(SIDE_KEYS[f.side] ?? 'finding.side_none')}${ctx.staff ? html` · <code>${f.code}</code>` : ''}</span>
<p class="what">${f.what}</p><p class="action"><em>${t('finding.what_to_do')}</em> ${f.action}</p>${extra ?? ''}</div>`;
}

export { subjectOf };

/** The cause in a few words for a list row ("on block list Spamhaus ZEN", "virus in Rechnung.docm"). */
export function causeOf(j: ExplainedJourney, lang: Lang): string {
  return causeText(j, lang);
}
