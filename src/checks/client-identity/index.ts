import type { ResolvedConfig } from '../../config/load.js';
import { canonicalIp } from '../../dns/ip.js';
import { isTemporaryFailure, isValidDnsName, type DnsAnswer } from '../../dns/types.js';
import { asciiSafe } from '../../util/sanitize.js';
import { answerEvidence, lookupBudgetMs, type AnswerEvidence } from '../dns-evidence.js';
import { ComponentError, type Check, type Verdict } from '../types.js';
import { genericName } from './generic.js';
import type { ClientIdentityFinding } from '../findings.js';

type Settings = ResolvedConfig['checks']['client_identity'];

/** PTR names whose forward lookups are followed (a PTR RRset is rarely longer). */
const MAX_NAMES = 5;

interface Forward {
  name: string;
  a: AnswerEvidence | null;
  aaaa: AnswerEvidence | null;
  confirms: boolean;
}

function tempfail(e: DnsAnswer<unknown>): string {
  return `${e.type} ${e.name}: ${e.rcode}${e.detail ? ` (${e.detail})` : ''}`;
}

/**
 * Connect stage: who the client says it is in DNS. The PTR of its address,
 * forward confirmation (a PTR name whose A/AAAA holds the address: FCrDNS,
 * RFC 8601 "iprev"), and whether that name is a generic one from an access
 * provider's pool, the mark of a server sending straight from a dynamic DSL
 * or cable address (docs/design.md, "The classic findings"). Returns `ptr`: the confirmed name
 * or null. A temporary DNS failure is a ComponentError (4xx), never a verdict.
 */
export function clientIdentityChecks(settings: Settings, cfg: Pick<ResolvedConfig, 'dns'>): Check[] {
  const extra = settings.dynamic_patterns.map((p) => new RegExp(p, 'i'));
  return [{
    name: 'client_identity',
    stage: 'connect',
    bypassable: true,
    component: 'dns',
    timeoutMs: 2 * lookupBudgetMs(cfg),
    async run(ctx): Promise<Verdict> {
      const ip = canonicalIp(ctx.session.clientIp);
      if (ip === null) return { kind: 'skip', why: 'client address is not an IP address' };
      const ptr = await ctx.deps.resolver.ptr(ip);
      if (isTemporaryFailure(ptr)) throw new ComponentError('dns', `PTR lookup failed: ${tempfail(ptr)}`);
      const names = [...new Set(ptr.records.map((n) => n.toLowerCase().replace(/\.$/, '')))].filter(isValidDnsName).slice(0, MAX_NAMES);
      const v6 = ip.includes(':');
      const forwards: Forward[] = await Promise.all(names.map(async (name): Promise<Forward> => {
        const [a, aaaa] = await Promise.all([
          v6 ? null : ctx.deps.resolver.a(name),
          v6 ? ctx.deps.resolver.aaaa(name) : null,
        ]);
        const ans = (a ?? aaaa)!;
        if (isTemporaryFailure(ans)) throw new ComponentError('dns', `forward lookup of the PTR name failed: ${tempfail(ans)}`);
        const confirms = ans.records.some((r) => canonicalIp(r) === ip);
        return { name, a: a ? answerEvidence(a) : null, aaaa: aaaa ? answerEvidence(aaaa) : null, confirms };
      }));
      const verified = forwards.find((f) => f.confirms)?.name ?? null;
      const evidence: Record<string, unknown> = {
        client_ip: ip,
        ptr: answerEvidence(ptr),
        forward: forwards.map((f) => ({ name: f.name, confirms: f.confirms, ...(f.a ? { a: f.a } : {}), ...(f.aaaa ? { aaaa: f.aaaa } : {}) })),
        verified_name: verified,
      };
      const safeIp = asciiSafe(ip, 45);

      if (names.length === 0) {
        evidence.finding = 'no_ptr' satisfies ClientIdentityFinding;
        const reason = `client address has no PTR record (${ptr.rcode})`;
        if (settings.no_ptr === 'flag') return { kind: 'flag', tag: 'no_ptr', reason, evidence, ptr: null };
        const temp = settings.no_ptr === 'tempfail';
        return {
          kind: temp ? 'tempfail' : 'reject',
          // RFC 7372 section 3.3: X.7.25 reverse DNS validation failed.
          reply: { code: temp ? 450 : 550, enhanced: temp ? '4.7.25' : '5.7.25', text: `Your server's address ${safeIp} has no host name in DNS (PTR record); have your provider set one that resolves back to the address, or send through your provider's mail server` },
          reason, evidence, ptr: null,
        };
      }

      // The confirmed name speaks for the client; without one, the first PTR name.
      const shown = verified ?? names[0]!;
      const generic = genericName(shown, ip, extra);
      if (generic) {
        evidence.finding = 'dynamic_name' satisfies ClientIdentityFinding;
        evidence.generic = generic.why;
        const reason = `client host name ${shown} looks generic/dynamic: ${generic.why.join(', ')}`;
        if (settings.dynamic === 'flag') return { kind: 'flag', tag: 'dynamic_ptr', reason, evidence, ptr: verified };
        return {
          kind: 'reject',
          reply: { code: 550, enhanced: '5.7.1', text: `Your server's address ${safeIp} has the generic host name ${asciiSafe(shown, 120)}, typical of dynamic/end-user addresses; send through your provider's mail server` },
          reason, evidence, ptr: verified,
        };
      }

      if (!verified) {
        evidence.finding = 'no_fcrdns' satisfies ClientIdentityFinding;
        const reason = `PTR name ${shown} does not resolve back to the client address`;
        if (settings.no_fcrdns === 'flag') return { kind: 'flag', tag: 'no_fcrdns', reason, evidence, ptr: null };
        const temp = settings.no_fcrdns === 'tempfail';
        return {
          kind: temp ? 'tempfail' : 'reject',
          reply: { code: temp ? 450 : 550, enhanced: temp ? '4.7.25' : '5.7.25', text: `Your server's host name ${asciiSafe(shown, 120)} (PTR of ${safeIp}) does not resolve back to that address; have your provider fix the PTR or the A record` },
          reason, evidence, ptr: null,
        };
      }
      return { kind: 'pass', evidence, ptr: verified };
    },
  }];
}
