// Everything a client sends is attacker-controlled. These helpers make such a
// value safe to put into a reply, a header or a log line: no CR, LF or other
// control byte can get through, and length is bounded.

// C0 and C1 controls, and the invisible format characters that reorder or
// hide text when a log line is shown (Unicode bidi controls such as U+202E
// "right-to-left override", zero-width marks, line and paragraph separators):
// a HELO or subject with them can make a log line read as something else.
const CONTROL = /[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

function needsEscape(c: number): boolean {
  return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x061c || (c >= 0x200b && c <= 0x200f) ||
    (c >= 0x2028 && c <= 0x202e) || (c >= 0x2060 && c <= 0x2069) || c === 0xfeff;
}
const NON_PRINTABLE_ASCII = /[^\x20-\x7e]/g;

/** For SMTP replies and headers: printable ASCII only (docs/design.md "Reply texts"). */
export function asciiSafe(value: string, max = 200): string {
  const s = value.replace(NON_PRINTABLE_ASCII, '?');
  return s.length > max ? s.slice(0, max) + '...' : s;
}

/** For log lines and the ledger: keeps UTF-8, escapes control and invisible format characters (\x1b, \u202e), bounds length. */
export function logSafe(value: string, max = 1000): string {
  // Fast path (ingest calls this for every address and reply text): most
  // values have no control byte, and a char loop costs far less than a replace.
  let clean = true;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && needsEscape(c))) { clean = false; break; }
  }
  if (clean) return value.length > max ? value.slice(0, max) + '...' : value;
  const s = value.replace(CONTROL, (c) => {
    const n = c.charCodeAt(0);
    return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
  });
  return s.length > max ? s.slice(0, max) + '...' : s;
}
