import { isIP } from 'node:net';
import type { Check, Verdict } from '../types.js';

// RFC 5321 section 4.1.1.1: EHLO takes a domain or an address literal
// (section 4.1.3: "[192.0.2.1]" or "[IPv6:2001:db8::1]").
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

export function heloShape(name: string): 'fqdn' | 'single_label' | 'address_literal' | 'bare_ip' | 'invalid' {
  const lit = /^\[(?:IPv6:)?([^\]]+)\]$/i.exec(name);
  if (lit) {
    const ip = lit[1]!;
    const v6 = name.toLowerCase().startsWith('[ipv6:');
    return (v6 ? isIP(ip) === 6 : isIP(ip) === 4) ? 'address_literal' : 'invalid';
  }
  if (isIP(name)) return 'bare_ip';
  const host = name.endsWith('.') ? name.slice(0, -1) : name;
  if (host.length === 0 || host.length > 253) return 'invalid';
  const labels = host.split('.');
  // Underscores appear in real Windows machine names; still not a host name.
  if (!labels.every((l) => LABEL.test(l))) return 'invalid';
  if (labels.length === 1) return 'single_label';
  // A top-level label of digits only is no host name (RFC 1123 section 2.1).
  if (/^\d+$/.test(labels[labels.length - 1]!)) return 'invalid';
  return 'fqdn';
}

export const heloSyntaxCheck: Check = {
  name: 'helo_syntax',
  stage: 'helo',
  // Protocol conformance (RFC 5321 section 4.1.1.1), not reputation: an
  // allow-listed client is held to it too.
  bypassable: false,
  run(ctx): Verdict {
    const helo = ctx.session.helo ?? '';
    const shape = heloShape(helo);
    switch (shape) {
      case 'fqdn':
      case 'address_literal':
        return { kind: 'pass', evidence: { shape } };
      case 'single_label':
      case 'bare_ip':
        // Common from badly configured but legitimate servers: note it, let
        // the content and DNS checks decide.
        return { kind: 'flag', tag: `helo_${shape}`, reason: `HELO name is a ${shape.replace('_', ' ')}`, evidence: { shape } };
      case 'invalid':
        return {
          kind: 'reject',
          reply: { code: 501, enhanced: '5.5.2', text: 'Your server introduced itself (HELO/EHLO) with an invalid host name; configure it to use its fully qualified host name' },
          reason: 'invalid HELO name',
          evidence: { shape },
        };
      default: {
        const never: never = shape;
        return never;
      }
    }
  },
};
