// A mail address as the gateway, the checks, delivery and POP3 share it:
// a mailbox is a local part in a domain. Kept below them all (with the reply
// and the REF), so none of them imports another for it.

export interface Mailbox {
  domain: string;
  local: string;
}

/**
 * "local@domain" split at the last "@" (a quoted local part may hold one,
 * RFC 5321 section 4.1.2), both lower-cased; null without an "@".
 */
export function splitAddress(address: string): Mailbox | null {
  const at = address.lastIndexOf('@');
  if (at < 0) return null;
  return { local: address.slice(0, at).toLowerCase(), domain: address.slice(at + 1).toLowerCase() };
}
