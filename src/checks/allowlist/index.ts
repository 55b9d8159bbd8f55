import type { ResolvedConfig } from '../../config/load.js';
import { blockListOf, inList } from '../../util/cidr.js';
import type { Check, Verdict } from '../types.js';

/**
 * Connect stage: a client in checks.allowlist.networks is allowed, which
 * skips every bypassable check after it (DNSBL, identity, content ...). The
 * relay and recipient checks are not bypassable: an allowed client still
 * cannot relay.
 */
export function allowlistChecks(settings: ResolvedConfig['checks']['allowlist']): Check[] {
  if (settings.networks.length === 0) return [];
  const list = blockListOf(settings.networks);
  return [{
    name: 'allowlist',
    stage: 'connect',
    bypassable: false,
    run(ctx): Verdict {
      if (inList(list, ctx.session.clientIp)) {
        return { kind: 'allow', reason: 'client network is allow-listed', evidence: { client_ip: ctx.session.clientIp, networks: settings.networks } };
      }
      return { kind: 'pass' };
    },
  }];
}
