// The field lists in Dovecot's log lines, read so that a value a client chose
// cannot pass for another field (see fields.ts for the method).
//
// What Dovecot 2.3 writes:
// - login processes (imap-login, pop3-login): "MESSAGE: user=<U>, method=M,
//   rip=IP, lip=IP, mpid=N, TLS, session=<ID>", the elements of
//   login_log_format_elements joined by ", " and left out when empty (the
//   user in 2.3.x even when empty). U is the name the client typed, sanitized
//   of control characters only: it may hold "> , rip=" and anything else.
//   The other elements are Dovecot's own (addresses, numbers, a session ID
//   in base64, a TLS state word). Two formats are common: the default since
//   2.1 ends with "session=<%{session}>"; 2.0's default ("user=<%u>
//   method=%m rip=%r lip=%l %c", still in many configurations) has no
//   session. A value that may be any text, followed by optional fields that
//   may end in '>', reads two ways (the user name could run on to the last
//   '>'), so the format is chosen per line by its end: a line ending in '>'
//   is read with the session required (only the session and the user close
//   with '>', and the user comes first), any other line without a session.
//   What that choice cannot tell apart: a configuration without the session
//   element, a login without a remote address (a local socket, where Dovecot
//   leaves rip out) and a user name ending in ", session=<x": that line would
//   read as a login with session x. Network logins always carry rip after
//   the user, which ends such a line in an address, not '>'.
// - the mail_log plugin: "EVENT: box=B, uid=N, msgid=M, size=N, vsize=N,
//   flags=(F), from=X, subject=Y", fields in that order, each only when
//   configured. B (a folder name), M, X and Y (message headers) are any text,
//   so the fields the ledger uses are required as the default mail_log_fields
//   (uid box msgid size) write them, and whatever follows size is one
//   uninterpreted tail: with from= and subject= both any text, no reading of
//   them could be unique.
// - LMTP/LDA: "msgid=M: saved mail to BOX", or "saved mail to BOX" without a
//   Message-ID; M and BOX are any text.
import { readFields, type FieldSpec, type Reading } from './fields.js';

const IP = /^[0-9A-Fa-f.:]{1,64}$/;

const LOGIN: readonly FieldSpec[] = [
  { key: 'user', open: 'user=<', close: '>' },
  { key: 'method', open: ', method=', close: '', value: /^[A-Za-z0-9_-]{1,40}$/, stop: ',' },
  { key: 'rip', open: ', rip=', close: '', value: IP, stop: ',' },
  { key: 'lip', open: ', lip=', close: '', value: IP, stop: ',' },
  { key: 'mpid', open: ', mpid=', close: '', value: /^\d{1,10}$/, stop: ',' },
  // %c: "secured", "TLS", "TLS handshaking" or "TLS: <the TLS library's error>",
  // since 2.3 followed by ", TLSv1.3 with cipher NAME (256/256 bits)". Dovecot's
  // and OpenSSL's text: never '=', '<' or '>'.
  { key: 'tls', open: ', ', close: '', value: /^(?:secured|TLS|TLS handshaking|TLS: [^=<>]*|TLS handshaking: [^=<>]*)(?:, TLSv[0-9.]+ with cipher [^=<>]*)?$/ },
];
const SESSION: FieldSpec = { key: 'session', open: ', session=<', close: '>', value: /^[A-Za-z0-9+/=_-]{0,64}$/, required: true };
const LOGIN_SESSION: readonly FieldSpec[] = [...LOGIN, SESSION];

/**
 * "user=<U>, method=..., rip=..., session=<...>" (or without the session, see
 * above) after a login process's message. A line with none of the elements
 * first (": rip=...") reads the same way, the user left out.
 */
export function loginFields(s: string): Reading {
  if (s.startsWith(', ')) s = s.slice(2);
  // The elements joined by ", " start with the first written; as read here each but the user opens with ", ".
  const t = s.startsWith('user=<') ? s : ', ' + s;
  return readFields(t, 0, t.length, t.endsWith('>') ? LOGIN_SESSION : LOGIN);
}

const DIGITS = /^\d{1,20}$/;
const MAIL_LOG: readonly FieldSpec[] = [
  { key: 'box', open: 'box=', close: '', required: true },
  { key: 'uid', open: ', uid=', close: '', value: DIGITS, required: true, stop: ',' },
  { key: 'msgid', open: ', msgid=', close: '', required: true },
  { key: 'size', open: ', size=', close: '', value: DIGITS, required: true, stop: ',' },
  // vsize=, flags=, from=, subject=: not used, not interpreted.
  { key: 'rest', open: ', ', close: '' },
];

/** The mail_log plugin's "box=INBOX, uid=1, msgid=<..>, size=..." after its event name. */
export function mailLogFields(s: string): Reading {
  return readFields(s, 0, s.length, MAIL_LOG);
}

const SAVED = ': saved mail to ';

/** "msgid=<M>: saved mail to BOX" / "saved mail to BOX" -> the two values; null when not that line, 'ambiguous' when it reads two ways. */
export function savedMail(s: string): { msgid: string | null; box: string } | null | 'ambiguous' {
  if (s.startsWith('saved mail to ')) return { msgid: null, box: s.slice(14) };
  if (!s.startsWith('msgid=')) return null;
  const i = s.indexOf(SAVED);
  if (i < 0) return null;
  // Both the Message-ID and the folder name may contain ": saved mail to ".
  if (s.indexOf(SAVED, i + 1) >= 0) return 'ambiguous';
  return { msgid: s.slice(6, i), box: s.slice(i + SAVED.length) };
}
