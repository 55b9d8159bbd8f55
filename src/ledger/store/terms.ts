// What a store indexes: not every column of every event, but the terms that
// research finds journeys by (recipient, domain, sender domain, client IP,
// REF, Message-ID), once per session and term. A session of a dozen events
// gets about seven index entries instead of eight per event.
import type { LedgerEvent } from '../types.js';

/** Longer values are cut to this in the index (and in every lookup the same way). */
const MAX_TERM = 320;
const cut = (s: string): string => (s.length > MAX_TERM ? s.slice(0, MAX_TERM) : s);

export const term = {
  rcpt: (v: string): string => cut('r:' + v.toLowerCase()),
  rcptDomain: (v: string): string => cut('d:' + v.toLowerCase()),
  fromDomain: (v: string): string => cut('f:' + v.toLowerCase()),
  ip: (v: string): string => cut('i:' + v),
  ref: (v: string): string => cut('x:' + v),
  messageId: (v: string): string => cut('m:' + v),
  /** Mailbox access (POP3, IMAP, folder moves) by mailbox: "was it fetched?" without reading the mailbox's deliveries. */
  access: (v: string): string => cut('a:' + v.toLowerCase()),
  /** Recipients refused as unknown, by domain (near misses). */
  unknown: (domain: string): string => cut('u:' + domain.toLowerCase()),
  /** Sessions that began no transaction: all, by client IP, by a host domain of their HELO or PTR name. */
  quiet: 'q:',
  quietIp: (v: string): string => cut('qi:' + v),
  quietHost: (v: string): string => cut('qh:' + v.toLowerCase().replace(/\.$/, '')),
  /**
   * A chunk's session (by sessionKey). Only a store without a table of
   * sessions indexes it (the PostgreSQL one: a chunk is found by its
   * session's id and a time, and this term gives the time).
   */
  session: (key: string): string => cut('s:' + key),
};

export function domainOf(addr: string | null | undefined): string | null {
  if (!addr) return null;
  const at = addr.lastIndexOf('@');
  return at >= 0 ? addr.slice(at + 1).toLowerCase() : null;
}

/**
 * The end of an SMTP session that began no transaction (no MAIL FROM): our
 * gateway counts the session's transactions; an ingested Postfix session
 * lists its commands (no "mail=" when MAIL never came).
 */
export function isQuietClose(e: LedgerEvent): boolean {
  if (e.kind !== 'session.close') return false;
  const d = e.details;
  if (!d) return false;
  if (d.transactions === 0) return true;
  const commands = d.commands;
  return e.source === 'postfix' && typeof commands === 'object' && commands !== null && !Array.isArray(commands)
    && (commands as Record<string, unknown>).mail === undefined;
}

/** A host name and every parent domain of it, at most 10 labels deep: "a.b.example.org" gives a.b.example.org, b.example.org, example.org, org. */
function suffixes(host: string): string[] {
  const labels = host.toLowerCase().replace(/\.$/, '').split('.').filter(Boolean);
  const out: string[] = [];
  for (let i = Math.max(0, labels.length - 10); i < labels.length; i++) out.push(labels.slice(i).join('.'));
  return out;
}

/** The terms one event adds to its session's entries. */
/** The kinds indexed by mailbox (term.access). */
export const ACCESS_KINDS: ReadonlySet<string> = new Set(['pop3.login', 'pop3.logout', 'pop3.retr', 'pop3.dele', 'imap.login', 'imap.logout', 'imap.expunge', 'mailbox.copy']);

export function termsOf(e: LedgerEvent, out: Set<string>): void {
  if (e.rcpt) {
    out.add(term.rcpt(e.rcpt));
    if (ACCESS_KINDS.has(e.kind)) out.add(term.access(e.rcpt));
    const d = domainOf(e.rcpt);
    if (d) out.add(term.rcptDomain(d));
    // RFC 3463: X.1.1 bad destination mailbox address.
    if (d && e.kind === 'rcpt.rejected' && (e.check_name === 'recipient' || e.enhanced_code === '5.1.1')) out.add(term.unknown(d));
  }
  const fd = domainOf(e.mail_from);
  if (fd) out.add(term.fromDomain(fd));
  if (e.client_ip) out.add(term.ip(e.client_ip));
  if (e.ref) out.add(term.ref(e.ref));
  if (e.message_id) out.add(term.messageId(e.message_id));
  if (isQuietClose(e)) {
    out.add(term.quiet);
    if (e.client_ip) out.add(term.quietIp(e.client_ip));
    for (const h of [e.helo, e.client_ptr]) if (h) for (const s of suffixes(h)) out.add(term.quietHost(s));
  }
}
