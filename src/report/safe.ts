// Layout helpers of the text report; display hygiene is research's
// (research/display-safe.ts), re-exported for the renderers.
export { displaySafe } from '../research/display-safe.js';

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
