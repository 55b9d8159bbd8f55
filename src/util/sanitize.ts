// Everything a client sends is attacker-controlled. These helpers make such a
// value safe to put into a reply, a header or a log line: no CR, LF or other
// control byte can get through, and length is bounded.

const CONTROL = /[\x00-\x1f\x7f]/g;
const NON_PRINTABLE_ASCII = /[^\x20-\x7e]/g;

/** For SMTP replies and headers: printable ASCII only (DESIGN.md "Reply texts"). */
export function asciiSafe(value: string, max = 200): string {
  const s = value.replace(NON_PRINTABLE_ASCII, '?');
  return s.length > max ? s.slice(0, max) + '...' : s;
}

/** For log lines and the ledger: keeps UTF-8, drops control bytes, bounds length. */
export function logSafe(value: string, max = 1000): string {
  // Fast path (ingest calls this for every address and reply text): most
  // values have no control byte, and a char loop costs far less than a replace.
  let clean = true;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) { clean = false; break; }
  }
  if (clean) return value.length > max ? value.slice(0, max) + '...' : value;
  const s = value.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return s.length > max ? s.slice(0, max) + '...' : s;
}
