// Recipient addresses on the public REF page. The ledger keeps an address as
// received (control bytes escaped as \xNN or \uNNNN, util/sanitize.ts
// logSafe); a reply text has it in its ASCII-safe form, every other
// character a "?" (asciiSafe). Both must be masked, so each character that
// is not printable ASCII, and each escape, matches either form.

const ESCAPE = /\\x[0-9a-f]{2}|\\u[0-9a-f]{4}/gy;

function looseSource(s: string): string {
  let out = '';
  for (let i = 0; i < s.length;) {
    ESCAPE.lastIndex = i;
    const esc = ESCAPE.exec(s);
    if (esc) {
      out += `(?:\\?|${esc[0].replace(/\\/g, '\\\\')})`;
      i += esc[0].length;
      continue;
    }
    const c = s[i]!;
    const code = c.charCodeAt(0);
    out += code >= 0x20 && code <= 0x7e ? c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&') : `(?:\\?|${c.replace(/[\\\]^-]/g, '\\$&')})`;
    i++;
  }
  return out;
}

/** Replaces every recipient address (and a bare local part of 3+ characters) in `text` with `placeholder`. */
export function maskRecipients(text: string, rcpts: string[], placeholder: string): string {
  let out = text;
  for (const r of rcpts) {
    if (!r) continue;
    out = out.replace(new RegExp(looseSource(r), 'gi'), placeholder);
    const local = r.slice(0, r.lastIndexOf('@'));
    // The bare mailbox name too, where it stands alone (a reply may quote just the local part).
    if (local.length >= 3) out = out.replace(new RegExp(`(?<![A-Za-z0-9._%+-])${looseSource(local)}(?![A-Za-z0-9_%+-])`, 'gi'), placeholder);
  }
  return out;
}
