// Display hygiene for client-sent values in research's words (event texts,
// explanations) and so in a customer report. A subject, an
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
