// Small pieces every page uses: times in the viewer's zone and language,
// the outcome as a word with its colour, addresses that wrap at sensible
// points on a phone.
import type { Lang } from '../../research/explain.js';
import { Html, html } from '../html.js';
import type { T, TextKey } from '../i18n/index.js';

/** How a page shows things: its language, texts, time zone, and whether the viewer is staff. */
export interface ViewContext {
  lang: Lang;
  t: T;
  timeZone: string;
  staff: boolean;
}

const LOCALE: Record<Lang, string> = { en: 'en-GB', de: 'de-DE' };
const formats = new Map<string, Intl.DateTimeFormat>();

function formatter(lang: Lang, timeZone: string, seconds: boolean): Intl.DateTimeFormat {
  const key = `${lang}|${timeZone}|${seconds}`;
  let f = formats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(LOCALE[lang], {
      timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
      ...(seconds ? { second: '2-digit' } : {}), hourCycle: 'h23', timeZoneName: 'short',
    });
    formats.set(key, f);
  }
  return f;
}

/** "05.12.2026, 14:03 MEZ" / "05/12/2026, 14:03 CET" in the page's zone. */
export function timeText(at: number | string, ctx: Pick<ViewContext, 'lang' | 'timeZone'>, seconds = false): string {
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return String(at);
  return formatter(ctx.lang, ctx.timeZone, seconds).format(d);
}

/** A <time> element: the text in the page's zone, the exact instant in the attribute (the browser's script re-renders it in its own zone). */
export function timeCell(at: number | string, ctx: Pick<ViewContext, 'lang' | 'timeZone'>, seconds = false): Html {
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return html`${String(at)}`;
  return html`<time datetime="${d.toISOString()}"${seconds ? new Html(' data-seconds') : ''}>${timeText(d.getTime(), ctx, seconds)}</time>`;
}

const OUTCOME_KEYS: Record<string, TextKey> = {
  delivered: 'outcome.delivered', rejected: 'outcome.rejected', tempfailed: 'outcome.tempfailed',
  incomplete: 'outcome.incomplete', no_transaction: 'outcome.no_transaction',
};

export function outcomeWord(o: string, t: T): string {
  const k = OUTCOME_KEYS[o];
  return k ? t(k) : o;
}

/** The outcome as a word in its colour (the word carries it; colour only helps). */
export function outcomeBadge(o: string, t: T): Html {
  const tone = o === 'delivered' ? 'ok' : o === 'rejected' ? 'bad' : o === 'tempfailed' ? 'warn' : 'neutral';
  return html`<span class="badge tone-${tone}">${outcomeWord(o, t)}</span>`;
}

/** An address or host name with break opportunities after "@" and before dots, so a narrow column wraps there and not letter by letter. */
export function addr(v: string | null | undefined): Html {
  if (!v) return html``;
  const s = v.length > 320 ? v.slice(0, 320) + '…' : v;
  const parts = s.split(/(?<=@)|(?=\.)/);
  return html`<span class="addr">${parts.map((p, i) => html`${i ? new Html('<wbr>') : ''}${p}`)}</span>`;
}

/** The sender as shown: the null sender in words. */
export function senderText(from: string | null | undefined, t: T): Html {
  if (from === '') return html`<span class="muted">${t('journey.null_sender')}</span>`;
  return addr(from);
}
