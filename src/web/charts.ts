// Bar charts as inline SVG, rendered on the server: no script, no CDN, nothing
// the Content-Security-Policy (server.ts) would have to allow. A few
// rectangles and texts per row are all the overview needs, so no chart
// library: each would bring a script or a dependency for what is here a
// loop over rows.
//
// Horizontal bars, one row per day, domain or cause, each with its label and
// number above the bar: rows stay readable on a 390 px phone, where a column
// chart of 7 to 31 days would leave no room for a label per column.
//
// Scaling: the SVG is 100% wide and the bars are placed in percent of that
// width, while texts keep their pixel size. A viewBox would scale the texts
// with the width (half size on a phone); only the height is fixed, in pixels.
//
// Every value can come from the ledger (a domain, a client address, a sender
// domain: attacker-controlled). It reaches the markup only through html``,
// which escapes text and quoted attribute values alike; links are built with
// href(), which percent-encodes each query value. No style attributes (the
// CSP allows none): colours are presentation attributes, so the charts look
// right even without OVERVIEW_CSS.
import type { Outcome } from '../research/journeys.js';
import { html, type Html } from './html.js';

/** Fill and text colour per outcome: delivered green, rejected red, temporarily refused amber (striped), others grey. */
export const OUTCOME_FILL: Record<Outcome, { fill: string; text: string }> = {
  delivered: { fill: '#4caf50', text: '#111' },
  rejected: { fill: '#c62828', text: '#fff' },
  tempfailed: { fill: '#f5b301', text: '#111' },
  incomplete: { fill: '#b0b0b0', text: '#111' },
  no_transaction: { fill: '#d6d6d6', text: '#111' },
};

export interface Segment {
  tone: Outcome;
  value: number;
  /** Where a click goes (a search); null: no link. */
  href: string | null;
  /** Tooltip and accessible name of the segment's link. */
  title: string;
}

export interface BarRow {
  /** Wrapped onto up to three lines where it is long (cause titles are). */
  label: string;
  /** The label as a link (e.g. a domain's own overview). */
  href?: string | null;
  /** Tooltip of the label; defaults to the label (which may be shortened on screen). */
  title?: string;
  /** A second, grey line under the label (e.g. the domain of a cause). */
  sub?: string;
  /** The number(s) shown right of the label's first line, e.g. the row's total. */
  note: string;
  segments: Segment[];
}

/** Pixel sizes: a text line, the gap to the bar, the bar, the gap after it. */
const LINE = 16;
const BAR = { gap: 5, height: 18, after: 10 } as const;
/** Characters of a label line that fit on a 390 px phone at 13 px: the first line beside its number, the others alone. */
export const LABEL_CHARS = 34;
const MORE_CHARS = 42;
const MAX_LINES = 3;
/** Bars never thinner than this (percent), or a count of 1 among thousands would be invisible. */
const MIN_WIDTH = 0.6;

/** A text cut to `n` characters (the full text stays in the tooltip). */
export function shorten(s: string, n = LABEL_CHARS): string {
  const chars = [...s];
  return chars.length <= n ? s : `${chars.slice(0, n - 1).join('')}…`;
}

/** A label in lines at word boundaries: the first up to LABEL_CHARS, the rest up to MORE_CHARS, at most MAX_LINES (the last one shortened). */
export function wrap(s: string): string[] {
  const lines: string[] = [];
  let rest = s.trim();
  while (rest && lines.length < MAX_LINES) {
    const n = lines.length === 0 ? LABEL_CHARS : MORE_CHARS;
    if ([...rest].length <= n || lines.length === MAX_LINES - 1) { lines.push(shorten(rest, n)); break; }
    const head = [...rest].slice(0, n + 1).join('');
    const cut = head.lastIndexOf(' ');
    // No space to break at (a long domain name): cut it, as shorten does.
    if (cut <= 0) { lines.push(shorten(rest, n)); break; }
    lines.push(rest.slice(0, cut));
    rest = rest.slice(cut + 1).trim();
  }
  return lines;
}

function pct(x: number): string {
  return `${Math.round(x * 1000) / 1000}%`;
}

/** The diagonal stripes of "temporarily refused", so it differs from the others without colour too. */
function defs(id: string): Html {
  const a = OUTCOME_FILL.tempfailed.fill;
  return html`<defs><pattern id="${id}-tempfailed" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="${a}"/><rect width="2" height="6" fill="#c98a00"/></pattern></defs>`;
}

function fillOf(id: string, tone: Outcome): string {
  return tone === 'tempfailed' ? `url(#${id}-tempfailed)` : OUTCOME_FILL[tone].fill;
}

/** Text lines above a row's bar. */
function linesOf(r: BarRow): { label: string[]; sub: string | null } {
  return { label: wrap(r.label), sub: r.sub ? shorten(r.sub, MORE_CHARS) : null };
}

function heightOf(l: { label: string[]; sub: string | null }): number {
  return (l.label.length + (l.sub ? 1 : 0)) * LINE + BAR.gap + BAR.height + BAR.after;
}

/**
 * A horizontal stacked bar per row. `scale`: the value of a full-width bar
 * (default: the largest row), so rows compare. `id`: unique on the page
 * (the stripe pattern is referenced by it).
 */
export function barChart(rows: BarRow[], o: { id: string; label: string; scale?: number }): Html {
  const id = o.id.replace(/[^A-Za-z0-9-]/g, '-');
  const scale = Math.max(1, o.scale ?? Math.max(0, ...rows.map((r) => r.segments.reduce((n, s) => n + s.value, 0))));
  let y = 0;
  const parts: Html[] = [];
  for (const r of rows) {
    const l = linesOf(r);
    parts.push(html`<g transform="translate(0 ${y})">${row(r, l, id, scale)}</g>`);
    y += heightOf(l);
  }
  return html`<svg class="ov-chart" width="100%" height="${y}" aria-label="${o.label}">${defs(id)}
${parts}
</svg>`;
}

function row(r: BarRow, l: { label: string[]; sub: string | null }, id: string, scale: number): Html {
  const text = html`<text font-size="13" fill="#222">${l.label.map((s, i) => html`<tspan x="0" y="${13 + i * LINE}">${s}</tspan>`)}</text>`;
  const full = l.label.join(' ') !== r.label;
  const label = r.href
    ? html`<a href="${r.href}" class="ov-label"><title>${r.title ?? r.label}</title>${text}</a>`
    : r.title || full ? html`<g><title>${r.title ?? r.label}</title>${text}</g>` : text;
  const sub = l.sub !== null ? html`<text x="0" y="${13 + l.label.length * LINE}" font-size="12" fill="#555">${l.sub}</text>` : '';
  const barY = (l.label.length + (l.sub ? 1 : 0)) * LINE + BAR.gap;
  // The track: where a full bar would end, so an empty day still reads as a row.
  const track = html`<rect x="0" y="${barY}" width="100%" height="${BAR.height}" fill="#eee"/>`;
  let at = 0;
  const segs: Html[] = [];
  for (const s of r.segments) {
    if (s.value <= 0) continue;
    const w = (s.value / scale) * 100;
    const x = at;
    at += w;
    const width = Math.max(MIN_WIDTH, w);
    // The count inside the segment where it fits on a phone (about 2% of a 330 px bar per digit); else it is in the tooltip and the legend.
    const digits = String(s.value).length;
    const count = width >= digits * 2.4 + 1.6
      ? html`<text x="${pct(x + width / 2)}" y="${barY + 13}" font-size="12" text-anchor="middle" fill="${OUTCOME_FILL[s.tone].text}">${String(s.value)}</text>`
      : '';
    const shape = html`<title>${s.title}</title><rect x="${pct(x)}" y="${barY}" width="${pct(width)}" height="${BAR.height}" fill="${fillOf(id, s.tone)}" stroke="#fff" stroke-width="1"/>${count}`;
    segs.push(s.href ? html`<a href="${s.href}" class="ov-bar ov-${s.tone}">${shape}</a>` : html`<g class="ov-bar ov-${s.tone}">${shape}</g>`);
  }
  return html`${label}${sub}<text x="100%" y="13" font-size="13" text-anchor="end" fill="#222" font-weight="bold">${r.note}</text>${track}${segs}`;
}

/** The legend: a swatch and a text per outcome (the text carries the meaning; the swatch only ties it to the bars). */
export function legend(items: { tone: Outcome; text: string }[], id: string): Html {
  const pid = `${id.replace(/[^A-Za-z0-9-]/g, '-')}-key`;
  return html`<p class="ov-legend">${items.map((it) => html`<span class="ov-key"><svg width="14" height="14" aria-hidden="true">${it.tone === 'tempfailed' ? defs(pid) : ''}<rect width="14" height="14" fill="${fillOf(pid, it.tone)}"/></svg> ${it.text}</span> `)}</p>`;
}
