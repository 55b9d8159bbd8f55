// Display hygiene for client-sent values in a customer report. A subject, an
// address or a HELO name is whatever the sender's server chose to send; in a
// report it must stay one value in one place:
//  - C0/C1 control bytes (CR, LF, ESC, NEL ...) and the Unicode line and
//    paragraph separators would start a new line in the text report (a forged
//    "Cause:" line) or move the terminal's cursor;
//  - bidi overrides and isolates (Trojan Source, CVE-2021-42574) would show
//    "moc.elpmaxe" as "example.com", or reorder the lines around them;
//  - lone surrogates are not text and make font shaping throw.
// They are shown as visible escapes (\x0d, \u202e) so support staff see that
// the sender sent them. The ledger already escapes C0 controls in most fields
// (util/sanitize logSafe); this is the renderer's own line of defence for
// everything else, ingested lines included. HTML escaping is html.ts's job.

const UNSAFE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function escapeChar(c: string): string {
  const n = c.charCodeAt(0);
  if (n >= 0xd800 && n <= 0xdfff) return '\ufffd';
  return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
}

/** One client-sent value for display: no line breaks, no direction overrides, at most `max` characters (code points). */
export function displaySafe(value: string | null | undefined, max = 300): string {
  if (value === null || value === undefined) return '';
  const s = value.replace(UNSAFE, escapeChar);
  const cps = Array.from(s);
  return cps.length > max ? cps.slice(0, max).join('') + '…' : s;
}

/** Words of the given length at most: long unbroken strings (a 300-character local part) get break points. */
export function chunkWords(text: string, width: number): string[] {
  const out: string[] = [];
  for (const w of text.split(/ +/)) {
    if (w === '') continue;
    const cps = Array.from(w);
    for (let i = 0; i < cps.length; i += width) out.push(cps.slice(i, i + width).join(''));
  }
  return out;
}

/**
 * Word wrap to `width` columns (one column per code point: the report's own
 * texts are Latin; wide CJK characters in a hostile subject overrun a little,
 * never into another line). Words longer than a line are cut.
 */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let cur = '';
  let curLen = 0;
  for (const w of chunkWords(text, width)) {
    const len = Array.from(w).length;
    if (curLen === 0) { cur = w; curLen = len; continue; }
    if (curLen + 1 + len <= width) { cur += ' ' + w; curLen += 1 + len; continue; }
    lines.push(cur);
    cur = w;
    curLen = len;
  }
  if (curLen > 0 || lines.length === 0) lines.push(cur);
  return lines;
}
