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
//   in base64, a TLS state word). A value that may be any text, followed by
//   optional fields, reads two ways whenever those fields are there (the
//   user name could run on to the last '>'): the session ID, which Dovecot's
//   default elements always end with, is required, and lines from a
//   configuration without it are refused.
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
  // %c: "secured", "TLS", "TLS handshaking" or "TLS: <the TLS library's error>".
  { key: 'tls', open: ', ', close: '', value: /^(?:secured|TLS|TLS handshaking|TLS: [^=<>]*)$/ },
  { key: 'session', open: ', session=<', close: '>', value: /^[A-Za-z0-9+/=_-]{0,64}$/, required: true },
];

/** "user=<U>, method=..., rip=..., session=<...>" after a login process's message. */
export function loginFields(s: string): Reading {
  return readFields(s, 0, s.length, LOGIN);
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
