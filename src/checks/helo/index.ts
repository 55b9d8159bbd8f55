import { isIP } from 'node:net';
import type { ResolvedConfig } from '../../config/load.js';
import { canonicalIp } from '../../dns/ip.js';
import { asciiSafe } from '../../util/sanitize.js';
import type { Check, Verdict } from '../types.js';

type Settings = ResolvedConfig['checks']['helo'];

/** The address a HELO names: "[192.0.2.1]", "[IPv6:2001:db8::1]" or a bare address; null for a name. */
export function heloAddress(helo: string): string | null {
  const lit = /^\[(?:IPv6:)?([^\]]+)\]$/i.exec(helo);
  const raw = lit ? lit[1]! : helo;
  return isIP(raw) ? canonicalIp(raw) : null;
}

const ADVICE = 'configure it to use its own fully qualified host name';

/**
 * HELO stage, local facts only (no DNS): the name a client gives must not be
 * an address other than its own, nor our own name, domain or address. Bad
 * syntax is helo_syntax's business.
 */
export function heloChecks(settings: Settings): Check[] {
  return [{
    name: 'helo',
    stage: 'helo',
    bypassable: true,
    run(ctx): Verdict {
      const helo = ctx.session.helo ?? '';
      const shown = asciiSafe(helo, 100);
      const client = canonicalIp(ctx.session.clientIp);
      const local = canonicalIp(ctx.session.localIp);
      const addr = heloAddress(helo);
      const evidence = { helo: shown, client_ip: client, local_ip: local, hostname: ctx.deps.hostname };
      const verdict = (action: 'reject' | 'flag', tag: string, reason: string, text: string): Verdict =>
        action === 'flag'
          ? { kind: 'flag', tag, reason, evidence }
          : { kind: 'reject', reply: { code: 550, enhanced: '5.7.1', text }, reason, evidence };
      if (addr !== null) {
        if (addr === client) return { kind: 'pass', evidence };
        if (addr === local) {
          return verdict(settings.claims_us, 'helo_claims_us', 'HELO claims our own address',
            `Your server introduced itself (HELO/EHLO) as ${shown}, which is our address, not yours; ${ADVICE}`);
        }
        return verdict(settings.address_mismatch, 'helo_address_mismatch', `HELO address ${addr} is not the client address ${client ?? ctx.session.clientIp}`,
          `Your server introduced itself (HELO/EHLO) as ${shown}, but connected from ${asciiSafe(client ?? ctx.session.clientIp, 45)}; ${ADVICE}`);
      }
      const name = helo.toLowerCase().replace(/\.$/, '');
      const ours = name === ctx.deps.hostname.toLowerCase().replace(/\.$/, '') || ctx.deps.domains.isLocalDomain(name);
      if (ours) {
        return verdict(settings.claims_us, 'helo_claims_us', 'HELO claims our own name',
          `Your server introduced itself (HELO/EHLO) as ${shown}, which is our own name, not yours; ${ADVICE}`);
      }
      return { kind: 'pass', evidence };
    },
  }];
}
