// The field lists Postfix appends to its log lines, read so that a value a
// client chose cannot pass for another field (see fields.ts for the method).
//
// What Postfix writes, and what the reading relies on:
//
// - smtpd rejections and cleanup milter rejections end in
//     "TEXT;[ from=<S>][ to=<R>][ proto=P][ helo=<H>]"
//   each part written only when known (no sender before MAIL FROM, no HELO if
//   the client sent none, no recipient at DATA with several recipients, no
//   proto/helo for mail submitted locally). TEXT is the reply, which quotes
//   client input (the recipient, the HELO); H is the client's HELO argument,
//   which older Postfix versions log unfiltered (3.7 replaces most specials
//   by "?"); P is SMTP or ESMTP.
// - header/body_checks rejections by cleanup:
//     "header NAME: VALUE from CLIENT;FIELDS: TEXT" (FIELDS as above; VALUE
//   is message content; CLIENT is "name[addr]" or "local").
// - postscreen's own rejections always write all four fields, comma-separated:
//     "TEXT; from=<S>, to=<R>, proto=P, helo=<H>"
//   and postscreen logs S and R as the client sent them, quotes removed: any text.
// - Addresses S and R elsewhere are logged in Postfix's external form
//   (info_log_address_format = external, the default since Postfix 3.5): a
//   local part with specials is quoted ("a> to=<b"@example.com, with \" and
//   \\ escaped inside), and smtpd refuses domains with '<', '>', spaces or
//   quotes. So outside one leading quoted string an address has no '<', '>',
//   '"' or white space, and ">" can only end it. Logs written with the
//   internal form (Postfix before 3.5, or that setting changed) carry such
//   addresses unquoted and are read only where this still gives one reading.
//   Checked against Postfix 3.7.11 with hostile MAIL FROM, RCPT TO and HELO.
// - Delivery agents: "to=<R>, [orig_to=<O>, ]relay=X, [conn_use=N, ]delay=D,
//   delays=a/b/c/d, dsn=N.N.N, status=WORD (TEXT)", TEXT the remote reply.
// - qmgr: "from=<S>, size=N, nrcpt=N (queue active)" or
//   "from=<S>, status=expired, returned to sender": the tail is fixed, so S
//   is whatever lies between, whatever it contains.
import { countFields, readFields, type FieldSpec, type Fields } from './fields.js';

/** An address as Postfix logs it in external form (see above). */
export const LOGGED_ADDR = /^(?:"(?:[^"\\]|\\[\s\S])*")?[^"<>\s]*$/;
const PROTO = /^[A-Za-z0-9]{1,32}$/;

const TRAILER: readonly FieldSpec[] = [
  { key: 'from', open: ' from=<', close: '>', value: LOGGED_ADDR },
  { key: 'to', open: ' to=<', close: '>', value: LOGGED_ADDR },
  { key: 'proto', open: ' proto=', close: '', value: PROTO, stop: ' ' },
  { key: 'helo', open: ' helo=<', close: '>' },
];

const PS_TRAILER: readonly FieldSpec[] = [
  { key: 'from', open: ' from=<', close: '>', required: true },
  { key: 'to', open: ', to=<', close: '>', required: true },
  { key: 'proto', open: ', proto=', close: '', value: PROTO, required: true, stop: ',' },
  { key: 'helo', open: ', helo=<', close: '>', required: true },
];

export interface Trailer { text: string; from: string | null; to: string | null; proto: string | null; helo: string | null }
export type TrailerReading = { ok: true; trailer: Trailer } | { ok: false; reason: string };

/** At most this many ';' (or ': ') are tried as the start (or end) of a field list. */
const MAX_CANDIDATES = 64;

function positions(s: string, needle: string, from: number, to: number): number[] | null {
  const out: number[] = [];
  for (let i = s.indexOf(needle, from); i >= 0 && i < to; i = s.indexOf(needle, i + 1)) {
    out.push(i);
    if (out.length > MAX_CANDIDATES) return null;
  }
  return out;
}

/**
 * Splits "TEXT;FIELDS" at the one ';' after which the rest reads as the field
 * list; refuses when no ';' or more than one ';' gives a reading.
 * `prefixOk` vets the text before the ';' (header_checks want " from CLIENT"),
 * and with endsAt 'colon' the field list ends at one of the ": " after it
 * (header_checks put the reply there) instead of at the end of the line.
 */
function splitTrailer(s: string, specs: readonly FieldSpec[], endsAt: 'end' | 'colon', prefixOk?: (text: string) => boolean): { ok: true; trailer: Trailer; head: string } | { ok: false; reason: string } {
  const semis = positions(s, ';', 0, s.length);
  if (semis === null) return { ok: false, reason: 'ambiguous trailer' };
  let n = 0;
  let found: { trailer: Trailer; head: string } | null = null;
  for (const t of semis) {
    const head = s.slice(0, t);
    if (prefixOk && !prefixOk(head)) continue;
    const ends = endsAt === 'colon' ? positions(s, ': ', t + 1, s.length) : [s.length];
    if (ends === null) return { ok: false, reason: 'ambiguous trailer' };
    for (const e of ends) {
      const r = countFields(s, t + 1, e, specs);
      if (r === null) return { ok: false, reason: 'ambiguous trailer' };
      if (r.n === 0) continue;
      n += r.n;
      if (n > 1) return { ok: false, reason: 'ambiguous trailer' };
      const f = r.fields!;
      const text = endsAt === 'colon' ? s.slice(e + 2) : head;
      found = { head, trailer: { text, from: f.from ?? null, to: f.to ?? null, proto: f.proto ?? null, helo: f.helo ?? null } };
    }
  }
  return found ? { ok: true, ...found } : { ok: false, reason: 'no trailer' };
}

/** "REPLY TEXT; from=<S> to=<R> proto=P helo=<H>" (smtpd, cleanup milter-reject). */
export function smtpdTrailer(s: string): TrailerReading {
  const r = splitTrailer(s, TRAILER, 'end');
  return r.ok ? { ok: true, trailer: r.trailer } : r;
}

/** "REPLY TEXT; from=<S>, to=<R>, proto=P, helo=<H>" (postscreen). */
export function postscreenTrailer(s: string): TrailerReading {
  const r = splitTrailer(s, PS_TRAILER, 'end');
  return r.ok ? { ok: true, trailer: r.trailer } : r;
}

const CHECK_CLIENT = / from ([^ ]+)$/;

/**
 * "header Subject: x from host[ip]; from=<S> to=<R> proto=P helo=<H>: 5.7.1 text"
 * (header/body_checks in cleanup): the trailer's text is the reply after the
 * fields, `client` the "host[ip]" (or "local") before them.
 */
export function checksTrailer(s: string): { ok: true; trailer: Trailer; client: string } | { ok: false; reason: string } {
  const r = splitTrailer(s, TRAILER, 'colon', (head) => CHECK_CLIENT.test(head));
  if (!r.ok) return r;
  return { ok: true, trailer: r.trailer, client: CHECK_CLIENT.exec(r.head)![1]! };
}

const DELIVERY: readonly FieldSpec[] = [
  { key: 'to', open: 'to=<', close: '>', value: LOGGED_ADDR, required: true },
  { key: 'orig_to', open: ', orig_to=<', close: '>', value: LOGGED_ADDR },
  // "host[addr]:port", "none", "local", "private/dovecot-lmtp": never a comma or space.
  { key: 'relay', open: ', relay=', close: '', value: /^[^,\s]+$/, required: true, stop: ',' },
  { key: 'conn_use', open: ', conn_use=', close: '', value: /^\d+$/, stop: ',' },
  { key: 'delay', open: ', delay=', close: '', value: /^[0-9.]+$/, required: true, stop: ',' },
  { key: 'delays', open: ', delays=', close: '', value: /^[0-9./]+$/, required: true, stop: ',' },
  { key: 'dsn', open: ', dsn=', close: '', value: /^\d\.\d{1,3}\.\d{1,3}$/, required: true, stop: ',' },
  { key: 'status', open: ', status=', close: ')', value: /^\w+ \([\s\S]*$/, required: true },
];

export interface Delivery { to: string; origTo: string | null; relay: string; delay: string; delays: string; dsn: string; status: string; text: string }

/** "to=<R>, orig_to=<O>, relay=X, delay=D, delays=..., dsn=N.N.N, status=sent (TEXT)" (smtp, lmtp, local, ...). */
export function deliveryFields(s: string): { ok: true; d: Delivery } | { ok: false; reason: string } {
  const r = readFields(s, 0, s.length, DELIVERY);
  if (!r.ok) return { ok: false, reason: r.reason === 'ambiguous' ? 'ambiguous delivery line' : 'no delivery fields' };
  const f: Fields = r.fields;
  const st = f.status!;
  const sp = st.indexOf(' (');
  return { ok: true, d: { to: f.to!, origTo: f.orig_to ?? null, relay: f.relay!, delay: f.delay!, delays: f.delays!, dsn: f.dsn!, status: st.slice(0, sp), text: st.slice(sp + 2) } };
}

const QMGR_ACTIVE = />, size=(\d{1,15}), nrcpt=(\d{1,9}) \(queue active\)$/;
const QMGR_EXPIRED = />, (status=expired, returned to sender)$/;

/** qmgr's "from=<S>, size=N, nrcpt=N (queue active)" / "from=<S>, status=expired, ...": the fixed tail is matched at the end. */
export function qmgrFrom(s: string): { from: string; size: number | null; nrcpt: number | null; status: string | null } | null {
  if (!s.startsWith('from=<')) return null;
  let m = QMGR_ACTIVE.exec(s);
  if (m && m.index >= 6) return { from: s.slice(6, m.index), size: Number(m[1]), nrcpt: Number(m[2]), status: null };
  m = QMGR_EXPIRED.exec(s);
  if (m && m.index >= 6) return { from: s.slice(6, m.index), size: null, nrcpt: null, status: m[1]! };
  return null;
}
