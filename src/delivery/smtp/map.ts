// Downstream replies (Dovecot LMTP, a downstream SMTP server) turned into our
// own replies. The downstream text is never passed on: it is untrusted, may
// name internals (paths, user ids) and has its own format. The sender gets
// our text with our REF; the ledger keeps the downstream line, cleaned.
import { logSafe } from '../../util/sanitize.js';
import type { EnhancedCode, Reply } from '../../mail/reply.js';
import { asciiSafe } from '../../util/sanitize.js';
import type { DownstreamReply } from '../types.js';

/** Parses "550 5.1.1 <x@y> User doesn't exist" (last line of a multi-line reply counts for the code). */
export function parseReply(line: string | null | undefined): DownstreamReply {
  const s = String(line ?? '');
  const m = /^([2-5]\d\d)[ -]?(?:([245]\.\d{1,3}\.\d{1,3})\s)?(.*)$/s.exec(s.trim());
  if (!m) return { code: null, enhanced: null, text: logSafe(s, 300) };
  return { code: Number(m[1]), enhanced: m[2] ?? null, text: logSafe(m[3] ?? '', 300) };
}

/** The downstream line as the ledger keeps it: one line, ASCII, bounded. */
export function ledgerLine(r: DownstreamReply): string {
  return logSafe([r.code ?? '', r.enhanced ?? '', r.text].filter((x) => x !== '').join(' '), 300);
}

/** RFC 3463 4.4.1: no answer from host; the sender should retry. */
export function unreachable(): Reply {
  return { code: 451, enhanced: '4.4.1', text: 'The mailbox server is not reachable right now; please try again later' };
}

/**
 * Our reply for a downstream refusal of one recipient. The enhanced code
 * (RFC 3463) says what kind of problem it is; we keep its class and subject
 * where we know them and choose our own text.
 */
export function mapRefusal(r: DownstreamReply, address: string): Reply {
  const addr = asciiSafe(address, 120);
  const temporary = r.code === null || r.code < 500;
  const enh = r.enhanced && r.enhanced[0] === (temporary ? '4' : '5') ? r.enhanced : null;
  const sub = enh ? enh.slice(2) : null;
  if (sub === '1.1' && !temporary) {
    return { code: 550, enhanced: '5.1.1', text: `No such mailbox <${addr}> here; please check the address for typos` };
  }
  if (sub === '2.2') {
    // RFC 3463 X.2.2: mailbox full. Dovecot says 552 5.2.2, or 452 4.2.2 with quota_full_tempfail.
    return temporary
      ? { code: 452, enhanced: '4.2.2', text: `The mailbox <${addr}> is full; please try again later` }
      : { code: 552, enhanced: '5.2.2', text: `The mailbox <${addr}> is full` };
  }
  if (temporary) {
    return { code: 451, enhanced: (enh as EnhancedCode | null) ?? '4.3.0', text: `Temporary problem delivering to <${addr}>; please try again later` };
  }
  return { code: 550, enhanced: (enh as EnhancedCode | null) ?? '5.0.0', text: `The mailbox server refused the message for <${addr}>` };
}
