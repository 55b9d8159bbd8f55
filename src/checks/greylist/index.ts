import type { ResolvedConfig } from '../../config/load.js';
import { clientNetwork } from '../../dns/ip.js';
import type { Check, CheckContext, Verdict } from '../types.js';
import { GreylistStore, type GreylistPolicy } from './store.js';

type Settings = ResolvedConfig['checks']['greylist'];

export function policyOf(s: Settings): GreylistPolicy {
  return {
    delayMs: s.delay_s * 1000,
    retryWindowMs: s.retry_window_h * 3600 * 1000,
    expiryMs: s.expiry_days * 24 * 3600 * 1000,
    autoAllowAfter: s.auto_allow_after,
  };
}

/**
 * Rcpt stage: a (client network, sender, recipient) triplet not seen before is
 * deferred with 451 4.7.1; a retry after delay_s and within retry_window_h
 * passes, and the triplet then passes for expiry_days after its last message.
 * A real MTA retries, most spam software does not.
 */
export function greylistChecks(settings: Settings): Check[] {
  const policy = policyOf(settings);
  // One store per data directory (unit tests use several); opened on first use.
  const stores = new Map<string, GreylistStore>();
  const storeFor = (dir: string): GreylistStore => {
    let s = stores.get(dir);
    if (!s) {
      s = new GreylistStore(dir, policy);
      stores.set(dir, s);
    }
    return s;
  };
  return [{
    name: 'greylist',
    stage: 'rcpt',
    bypassable: true,
    run(ctx: CheckContext): Verdict {
      if (!ctx.rcpt || !ctx.tx) return { kind: 'skip', why: 'no recipient' };
      const triplet = {
        network: clientNetwork(ctx.session.clientIp, settings.ipv4_prefix, settings.ipv6_prefix),
        // The null sender (bounces) is greylisted as the triplet with sender ''.
        sender: ctx.tx.mailFrom.toLowerCase(),
        rcpt: ctx.rcpt.toLowerCase(),
      };
      const store = storeFor(ctx.deps.dataDir);
      const now = ctx.deps.now();
      const r = store.check(triplet, now);
      const evidence = {
        network: triplet.network, sender: triplet.sender, rcpt: triplet.rcpt,
        state: r.state,
        first_seen: new Date(r.firstSeen).toISOString(),
        age_s: Math.round(r.ageMs / 1000),
        attempts: r.attempts,
        passes: r.passes,
        client_passes: r.clientPasses,
        delay_s: settings.delay_s,
      };
      if (r.pass) return { kind: 'pass', evidence };
      const wait = Math.max(1, Math.ceil(r.waitMs / 1000));
      return {
        kind: 'tempfail',
        // RFC 3463 4.7.1: delivery not authorized, temporary; RFC 6647 section 2.1.
        reply: { code: 451, enhanced: '4.7.1', text: `Greylisted: please try again in ${wait} second${wait === 1 ? '' : 's'}` },
        reason: r.state === 'new' ? 'greylisted: first attempt of this triplet' : `greylisted: retry ${Math.round(r.ageMs / 1000)} s after the first attempt, before the delay of ${settings.delay_s} s`,
        evidence: { ...evidence, retry_in_s: wait },
      };
    },
  }];
}
