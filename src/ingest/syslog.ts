// Syslog line framing and timestamps, written by hand: no installed library
// parses both the classic BSD format (RFC 3164 section 4.1.2: "Mmm dd
// hh:mm:ss", no year, no zone) and RFC 5424 / RFC 3339 stamps at the rate
// ingest needs (hundreds of thousands of lines per second).

export interface SyslogLine {
  /** Milliseconds since the epoch. */
  ts: number;
  /** The host field; null when the format has none (Dovecot's own log_path file). */
  host: string | null;
  /** "postfix/smtpd", "dovecot", "imap-login" ... */
  program: string;
  pid: string | null;
  /** The text after "program[pid]: ". */
  msg: string;
}

const MONTHS: Record<string, number> = {
  Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11,
};

const DAY = 86400e3;

/**
 * Infers the year of classic syslog stamps, which have none (RFC 3164 section
 * 4.1.2). The first line gets the latest year that does not put it more than a
 * day after the reference time (the file's modification time, or now); every
 * later line the year that puts it closest to the line before, so Dec 31 ->
 * Jan 1 moves into the next year and a slightly out-of-order Jan -> Dec line
 * moves back. Times are the ingesting machine's local time, as syslog wrote them.
 */
export class YearInference {
  private last: number | null = null;

  constructor(private readonly reference: number, private readonly fixedYear: number | null = null) {}

  /** For persisted state: the previous line's time. */
  get lastTs(): number | null { return this.last; }
  set lastTs(v: number | null) { this.last = v; }

  // Lines come in order: most share the previous line's hour, whose start
  // (in local time, DST included) is computed once.
  private hourKey = -1;
  private hourStart = 0;

  resolve(month: number, day: number, h: number, m: number, s: number, ms: number): number {
    const rest = m * 60e3 + s * 1e3 + ms;
    const key = (month * 32 + day) * 24 + h;
    if (key === this.hourKey && this.last !== null) {
      this.last = this.hourStart + rest;
      return this.last;
    }
    const at = (y: number): number => new Date(y, month, day, h).getTime() + rest;
    let ts: number;
    if (this.last === null) {
      if (this.fixedYear !== null) ts = at(this.fixedYear);
      else {
        const y = new Date(this.reference).getFullYear();
        ts = at(y);
        if (ts > this.reference + DAY) ts = at(y - 1);
      }
    } else {
      const y = new Date(this.last).getFullYear();
      ts = at(y);
      const next = at(y + 1);
      const prev = at(y - 1);
      if (Math.abs(next - this.last) < Math.abs(ts - this.last)) ts = next;
      else if (Math.abs(prev - this.last) < Math.abs(ts - this.last)) ts = prev;
    }
    this.hourKey = key;
    this.hourStart = ts - rest;
    this.last = ts;
    return ts;
  }
}

const d2 = (s: string, i: number): number => (s.charCodeAt(i) - 48) * 10 + (s.charCodeAt(i + 1) - 48);
const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/**
 * Parses "2026-11-27T10:24:28[.frac](Z|+hh:mm)" (RFC 3339 section 5.6, rsyslog's
 * high-precision template) at position i, and the zoneless forms Dovecot's
 * log_timestamp writes ("%Y-%m-%d %H:%M:%S ", or with a "T"): those are local
 * time, like classic syslog stamps. Returns [ts, end] or null.
 */
function rfc3339(s: string, i: number): [number, number] | null {
  if (s.length < i + 20 || s[i + 4] !== '-' || s[i + 7] !== '-' || (s[i + 10] !== 'T' && s[i + 10] !== ' ') || s[i + 13] !== ':' || s[i + 16] !== ':') return null;
  let end = s.indexOf(' ', i + 19);
  if (end < 0) return null;
  // Date.parse reads "YYYY-MM-DDTHH:MM:SS" without a zone as local time (ECMA-262 Date Time String Format).
  const stamp = s[i + 10] === ' ' ? `${s.slice(i, i + 10)}T${s.slice(i + 11, end)}` : s.slice(i, end);
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?$/.test(stamp)) return null;
  const t = Date.parse(stamp.replace(',', '.'));
  if (Number.isNaN(t)) return null;
  // Date.parse keeps milliseconds only; finer fractions are dropped.
  end += 1;
  return [t, end];
}

/**
 * daemontools multilog's "@4000000068a1b2c3" + 8 hex digits of nanoseconds
 * (tai64n): the TAI64 label 2^62 + seconds. multilog labels UTC + 10 s (the
 * TAI - UTC offset of 1970, its libtai convention, leap seconds not counted),
 * as tai64nlocal subtracts them again. Returns [ts, end] or null.
 */
function tai64n(s: string, i: number): [number, number] | null {
  if (s.length < i + 26 || s[i] !== '@' || s[i + 25] !== ' ') return null;
  const hex = s.slice(i + 1, i + 25);
  if (!/^[0-9a-fA-F]{24}$/.test(hex) || hex.slice(0, 8) !== '40000000') return null;
  const secs = parseInt(hex.slice(8, 16), 16) - 10;
  const nanos = parseInt(hex.slice(16, 24), 16);
  if (nanos >= 1e9) return null;
  return [secs * 1000 + Math.floor(nanos / 1e6), i + 26];
}

/**
 * Splits one line into stamp, host, program, pid and message. Accepts
 *  - classic: "Nov 27 10:24:28 host prog[pid]: msg" (also "Nov  7", "Nov 7", ".123456" fractions, and no host
 *    for Dovecot's log_path files "Nov 27 10:24:28 imap-login: Info: ...")
 *  - RFC 3339 (rsyslog's high-precision template): "2026-11-27T10:24:28.123+01:00 host prog[pid]: msg",
 *    and Dovecot's log_timestamp "2026-11-27 10:24:28 " / "2026-11-27T10:24:28 " (local time)
 *  - multilog (tai64n): "@4000000068a1b2c30a1b2c3d imap-login: Info: ..."
 *  - RFC 5424 section 6: "<PRI>1 STAMP HOST APP PROCID MSGID SD MSG"
 * Returns null for anything else.
 */
export function parseSyslog(line: string, years: YearInference): SyslogLine | null {
  let ts: number;
  let p: number;
  const c0 = line.charCodeAt(0);
  if (c0 === 60 /* < */) return parse5424(line);
  if (isDigit(c0)) {
    const r = rfc3339(line, 0);
    if (!r) return null;
    [ts, p] = r;
  } else if (c0 === 64 /* @ */) {
    const r = tai64n(line, 0);
    if (!r) return null;
    [ts, p] = r;
  } else {
    // "Mmm dd" with the day space-padded ("Mar  7", RFC 3164 section 4.1.2),
    // or not padded ("Mar 7": some syslog daemons and templates write that).
    const month = MONTHS[line.slice(0, 3)];
    if (month === undefined || line.charCodeAt(3) !== 32 || line.length < 15) return null;
    let q = line.charCodeAt(4) === 32 ? 5 : 4;
    let day = 0;
    const d0 = q;
    while (q < d0 + 2 && isDigit(line.charCodeAt(q))) day = day * 10 + line.charCodeAt(q++) - 48;
    if (q === d0 || line[q] !== ' ' || line[q + 3] !== ':' || line[q + 6] !== ':' || !(day >= 1 && day <= 31)) return null;
    const h = d2(line, q + 1), m = d2(line, q + 4), s = d2(line, q + 7);
    if (!(h >= 0 && h < 24 && m >= 0 && m < 60 && s >= 0 && s < 61)) return null;
    p = q + 9;
    let ms = 0;
    if (line[p] === '.') {
      let e = p + 1;
      while (e < line.length && isDigit(line.charCodeAt(e))) e++;
      ms = Math.floor(Number('0.' + line.slice(p + 1, e)) * 1000) || 0;
      p = e;
    }
    if (line[p] !== ' ') return null;
    p += 1;
    ts = years.resolve(month, day, h, m, s, ms);
  }
  return tagAndMessage(line, p, ts);
}

/** "host prog[pid]: msg" or (no host) "prog: msg" from position p. */
function tagAndMessage(line: string, p: number, ts: number): SyslogLine | null {
  const sp = line.indexOf(' ', p);
  if (sp < 0) return null;
  let host: string | null = line.slice(p, sp);
  let tagStart = sp + 1;
  // No host field: the first word is already the tag ("imap-login:" or "lmtp(u)<1><S>:").
  if (host.endsWith(':')) { host = null; tagStart = p; }
  const colon = line.indexOf(': ', tagStart);
  let tagEnd = colon;
  if (colon < 0) {
    if (!line.endsWith(':')) return null;
    tagEnd = line.length - 1;
  }
  const tag = line.slice(tagStart, tagEnd);
  if (tag.length === 0 || tag.length > 256) return null;
  const msg = colon < 0 ? '' : line.slice(colon + 2);
  const br = tag.indexOf('[');
  if (br > 0 && tag.endsWith(']')) {
    return { ts, host, program: tag.slice(0, br), pid: tag.slice(br + 1, -1), msg };
  }
  return { ts, host, program: tag, pid: null, msg };
}

function parse5424(line: string): SyslogLine | null {
  const gt = line.indexOf('>');
  if (gt < 2 || gt > 4 || line[gt + 1] !== '1' || line[gt + 2] !== ' ') return null;
  let p = gt + 3;
  const r = rfc3339(line, p);
  if (!r) return null;
  const ts = r[0];
  p = r[1];
  const fields: string[] = [];
  for (let i = 0; i < 4; i++) { // HOSTNAME APP-NAME PROCID MSGID (RFC 5424 section 6.2)
    const sp = line.indexOf(' ', p);
    if (sp < 0) return null;
    fields.push(line.slice(p, sp));
    p = sp + 1;
  }
  // Structured data: "-" or one or more [..] elements (RFC 5424 section 6.3).
  if (line[p] === '-') p += 2;
  else if (line[p] === '[') {
    let depth = 0;
    for (; p < line.length; p++) {
      const ch = line[p];
      if (ch === '\\') { p++; continue; }
      if (ch === '[') depth++;
      else if (ch === ']') { depth--; if (depth === 0 && line[p + 1] !== '[') { p += 2; break; } }
    }
  } else return null;
  let msg = line.slice(p);
  if (msg.charCodeAt(0) === 0xfeff) msg = msg.slice(1); // the BOM of RFC 5424 section 6.4
  const [host, app, procid] = fields as [string, string, string];
  return { ts, host: host === '-' ? null : host, program: app, pid: procid === '-' ? null : procid, msg };
}
