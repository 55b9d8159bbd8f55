import { isIP } from 'node:net';
import type { ResolvedConfig } from '../../config/load.js';
import { isTemporaryFailure, isValidDnsName, type DnsAnswer } from '../../dns/types.js';
import { asciiSafe } from '../../util/sanitize.js';
import { answerEvidence, lookupBudgetMs } from '../dns-evidence.js';
import { ComponentError, type Check, type Verdict } from '../types.js';
import type { SenderDomainFinding } from '../findings.js';

type Settings = ResolvedConfig['checks']['sender_domain'];

/** The address an MX exchange names instead of a host ("192.0.2.1", "[192.0.2.1]"), or null. */
export function mxAddress(exchange: string): string | null {
  const m = /^\[(?:IPv6:)?([^\]]+)\]$/i.exec(exchange);
  const raw = m ? m[1]! : exchange;
  return isIP(raw) ? raw : null;
}

function failed(a: DnsAnswer<unknown>): ComponentError {
  return new ComponentError('dns', `${a.type} lookup of the sender domain failed: ${a.name} ${a.rcode}${a.detail ? ` (${a.detail})` : ''}`);
}

/**
 * MAIL stage: the sender domain must be able to take replies and bounces
 * (RFC 5321 section 5.1: its MX, else its A/AAAA as implicit MX). Refused:
 * a domain that does not exist, one without any of these records, a null MX
 * (RFC 7505: it says it receives no mail) and, with its own reason, an MX
 * that is an IP address instead of a host name, a frequent provider mistake.
 * A temporary DNS failure is a ComponentError (4xx), never a 5xx.
 */
export function senderDomainChecks(settings: Settings, cfg: Pick<ResolvedConfig, 'dns'>): Check[] {
  return [{
    name: 'sender_domain',
    stage: 'mail',
    bypassable: true,
    component: 'dns',
    timeoutMs: 2 * lookupBudgetMs(cfg),
    async run(ctx): Promise<Verdict> {
      const from = ctx.tx?.mailFrom ?? '';
      if (from === '') return { kind: 'skip', why: 'null sender' };
      const at = from.lastIndexOf('@');
      if (at < 0) return { kind: 'skip', why: 'sender address has no domain' };
      const domain = from.slice(at + 1).toLowerCase().replace(/\.$/, '');
      if (domain.startsWith('[')) return { kind: 'skip', why: 'sender domain is an address literal' };
      const shown = asciiSafe(domain, 100);
      if (!isValidDnsName(domain)) {
        return {
          kind: 'reject',
          reply: { code: 550, enhanced: '5.1.7', text: `The sender domain ${shown} is not a valid domain name; use a valid sender address` },
          reason: 'sender domain is not a valid DNS name',
          evidence: { domain: shown },
        };
      }
      const mx = await ctx.deps.resolver.mx(domain);
      if (isTemporaryFailure(mx)) throw failed(mx);
      const evidence: Record<string, unknown> = { domain, mx: answerEvidence(mx) };
      if (mx.rcode === 'NXDOMAIN') {
        evidence.finding = 'nxdomain' satisfies SenderDomainFinding;
        return {
          kind: 'reject',
          reply: { code: 550, enhanced: '5.1.8', text: `The sender domain ${shown} does not exist in DNS; use a valid sender address` },
          reason: 'sender domain does not exist (NXDOMAIN)', evidence,
        };
      }
      if (mx.records.length > 0) {
        // RFC 7505 section 3: a null MX is "MX 0 ." (exchange ''); the domain sends, but takes no mail.
        if (mx.records.some((r) => r.exchange === '')) {
          evidence.finding = 'null_mx' satisfies SenderDomainFinding;
          return {
            kind: 'reject',
            // RFC 7505 section 4.3 / RFC 7372 section 3.5: 550 5.7.27 sender address has null MX.
            reply: { code: 550, enhanced: '5.7.27', text: `The sender domain ${shown} says it receives no mail (null MX, RFC 7505), so it cannot get replies; use a sender address that can receive mail` },
            reason: 'sender domain has a null MX', evidence,
          };
        }
        const ips = mx.records.map((r) => mxAddress(r.exchange));
        if (ips.every((a) => a !== null)) {
          evidence.finding = 'mx_is_ip' satisfies SenderDomainFinding;
          const first = asciiSafe(ips[0]!, 45);
          const reason = `the MX of the sender domain is an IP address (${ips.join(', ')}) instead of a host name`;
          if (settings.mx_is_ip === 'flag') return { kind: 'flag', tag: 'sender_mx_is_ip', reason, evidence };
          const temp = settings.mx_is_ip === 'tempfail';
          return {
            kind: temp ? 'tempfail' : 'reject',
            reply: {
              code: temp ? 450 : 550, enhanced: temp ? '4.1.8' : '5.1.8',
              text: `The MX record of ${shown} points to an IP address (${first}) instead of a host name (RFC 5321 section 5.1); ask your mail provider to fix the MX record`,
            },
            reason, evidence,
          };
        }
        if (ips.some((a) => a !== null)) {
          evidence.finding = 'some_mx_is_ip' satisfies SenderDomainFinding;
          return { kind: 'flag', tag: 'sender_mx_is_ip', reason: `an MX of the sender domain is an IP address (${ips.filter(Boolean).join(', ')}); others are host names`, evidence };
        }
        return { kind: 'pass', evidence };
      }
      // NODATA: no MX, so the domain's own address is the implicit MX (RFC 5321 section 5.1).
      const [a, aaaa] = await Promise.all([ctx.deps.resolver.a(domain), ctx.deps.resolver.aaaa(domain)]);
      evidence.a = answerEvidence(a);
      evidence.aaaa = answerEvidence(aaaa);
      if (a.records.length > 0 || aaaa.records.length > 0) {
        evidence.finding = 'implicit_mx' satisfies SenderDomainFinding;
        return { kind: 'pass', evidence };
      }
      if (isTemporaryFailure(a)) throw failed(a);
      if (isTemporaryFailure(aaaa)) throw failed(aaaa);
      evidence.finding = 'no_mail_host' satisfies SenderDomainFinding;
      return {
        kind: 'reject',
        reply: { code: 550, enhanced: '5.1.8', text: `The sender domain ${shown} has no mail server in DNS (no MX, A or AAAA record), so it cannot get replies; use a valid sender address` },
        reason: 'sender domain has no MX, A or AAAA record', evidence,
      };
    },
  }];
}
