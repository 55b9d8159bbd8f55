import type { Check, Verdict } from '../types.js';

// Every way a recipient address has been used to make an MX relay mail to
// somewhere else. An MX delivers to its own mailboxes only.
//   @local:user@other   source route: RFC 5321 section 4.1.1.3 says to ignore
//                       the route, so the destination is user@other
//   user%other@local    the "percent hack" (RFC 1123 section 5.2.16)
//   other!user@local    UUCP bang path
//   "user@other"@local  a quoted local part hiding another address
const DENIED = {
  code: 550,
  enhanced: '5.7.1',
  text: 'Relaying denied: this server accepts mail only for the domains it hosts',
} as const;

export function destinationOf(address: string): { local: string; domain: string } | null {
  let a = address;
  // Strip a source route ("@a,@b:user@dom"); RFC 5321 section 4.1.1.3 / Appendix C.
  if (a.startsWith('@')) {
    const colon = a.indexOf(':');
    if (colon < 0) return null;
    a = a.slice(colon + 1);
  }
  const at = a.lastIndexOf('@');
  if (at <= 0 || at === a.length - 1) return null;
  return { local: a.slice(0, at), domain: a.slice(at + 1).toLowerCase() };
}

export const relayCheck: Check = {
  name: 'relay',
  stage: 'rcpt',
  bypassable: false,
  run(ctx): Verdict {
    const rcpt = ctx.rcpt ?? '';
    const dest = destinationOf(rcpt);
    if (!dest) return { kind: 'reject', reply: DENIED, reason: 'recipient has no domain', evidence: { rcpt } };
    if (!ctx.deps.domains.isLocalDomain(dest.domain)) {
      return { kind: 'reject', reply: DENIED, reason: `domain ${dest.domain} is not local`, evidence: { domain: dest.domain } };
    }
    // A local domain, but the local part routes elsewhere.
    const local = dest.local.replace(/^"(.*)"$/s, '$1');
    for (const [ch, trick] of [['%', 'percent hack'], ['!', 'bang path'], ['@', 'quoted address'], [':', 'source route']] as const) {
      if (local.includes(ch)) {
        return { kind: 'reject', reply: DENIED, reason: `${trick} in local part`, evidence: { local_part: dest.local } };
      }
    }
    if (rcpt.startsWith('@')) {
      // A source route to a local mailbox is harmless; RFC 5321 says ignore it.
      return { kind: 'pass', evidence: { source_route_ignored: true } };
    }
    return { kind: 'pass' };
  },
};
