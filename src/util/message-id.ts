/**
 * One spelling of a Message-ID for the ledger, whoever saw it: the header
 * field's msg-id without its angle brackets (RFC 5322 section 3.6.4), as
 * Postfix's cleanup and Dovecot's mail_log print it bare or bracketed. The
 * gateway, the POP3 server, the ingesters and the search all go through
 * here, so a message is found and joined by its Message-ID across sources.
 */
export function normalizeMessageId(raw: string | null | undefined): string | null {
  if (!raw) return null;
  let id = raw.trim();
  if (id.startsWith('<') && id.endsWith('>')) id = id.slice(1, -1).trim();
  id = id.slice(0, 998);
  return id.length ? id : null;
}
