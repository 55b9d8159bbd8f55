// SPF (RFC 7208) at MAIL, evaluated by mailauth over our resolver (so every
// lookup goes through the configured DNS servers and cache, and its answer
// with TTL becomes evidence). The identity is the MAIL FROM domain; for the
// null sender it is the HELO name (RFC 7208 section 2.4: "postmaster@" the
// HELO domain). The result stays in the verdict's evidence for DMARC at DATA.
import { isIP } from 'node:net';
import { spf as mailauthSpf } from 'mailauth';
import type { ResolvedConfig } from '../../config/load.js';
import { DnsTrail, mailauthResolver } from '../../dns/mailauth.js';
import type { Resolver } from '../../dns/types.js';
import { asciiSafe } from '../../util/sanitize.js';
import type { Check, CheckContext, Verdict } from '../types.js';

type Settings = ResolvedConfig['checks']['spf'];

export type SpfResult = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'permerror' | 'temperror';
const RESULTS: readonly string[] = ['pass', 'fail', 'softfail', 'neutral', 'none', 'permerror', 'temperror'];

/** What the SPF evaluation found; the SPF check's evidence, read again by DMARC. */
export interface SpfEvidence {
  result: SpfResult;
  /** Which identity was checked: the MAIL FROM domain, or the HELO name for the null sender. */
  identity: 'mailfrom' | 'helo';
  /** The domain whose record was evaluated. */
  domain: string;
  /** The address the check ran for (postmaster@HELO for the null sender). */
  sender: string;
  client_ip: string;
  helo: string | null;
  /** The SPF record (TXT) evaluated, as published. */
  record: string | null;
  /** mailauth's explanation, e.g. which lookup failed or why the record is broken. */
  comment: string | null;
  /** DNS lookups counted against the RFC 7208 section 4.6.4 limit of 10. */
  lookups: unknown;
  /** Every DNS answer the evaluation got, with TTLs. */
  dns: unknown;
}

/** A dual-stack listener shows IPv4 clients as ::ffff:a.b.c.d. */
export function plainIp(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m ? m[1]! : ip;
}

/** Runs SPF for the session's client IP, HELO and MAIL FROM. */
export async function evaluateSpf(resolver: Resolver, o: { ip: string; helo: string | null; mailFrom: string; hostname: string }): Promise<SpfEvidence> {
  const ip = plainIp(o.ip);
  const helo = o.helo;
  const identity = o.mailFrom === '' ? 'helo' : 'mailfrom';
  const sender = identity === 'helo' ? `postmaster@${helo ?? ''}` : o.mailFrom;
  const domain = sender.slice(sender.lastIndexOf('@') + 1).toLowerCase();
  const base = { identity, domain, sender, client_ip: ip, helo, record: null, lookups: null } as const;
  if (!domain || !isIP(ip)) {
    return { ...base, result: 'none', comment: 'no domain to check', dns: [] };
  }
  const trail = new DnsTrail();
  const r = await mailauthSpf({
    sender,
    ip,
    // mailauth wants the HELO name; an address literal is no domain (section 2.3).
    ...(helo ? { helo } : {}),
    mta: o.hostname,
    resolver: mailauthResolver(resolver, trail) as never,
  });
  const result = (RESULTS.includes(r.status.result) ? r.status.result : 'temperror') as SpfResult;
  return {
    ...base,
    result,
    domain: r.domain || domain,
    record: r.rr ?? null,
    comment: r.status.comment ?? null,
    lookups: r.lookups ?? null,
    dns: trail.toJSON(),
  };
}

/** The SPF result the MAIL stage found, if the SPF check ran (enforced or dry-run). */
export function spfFromEarlier(ctx: CheckContext): SpfEvidence | null {
  const v = ctx.earlier.get('spf');
  const e = v?.evidence as Partial<SpfEvidence> | undefined;
  if (!e || typeof e.result !== 'string' || !RESULTS.includes(e.result) || typeof e.domain !== 'string') return null;
  return e as SpfEvidence;
}

export function spfVerdict(settings: Settings, e: SpfEvidence): Verdict {
  const evidence = { ...e };
  const domain = asciiSafe(e.domain, 100);
  const ip = asciiSafe(e.client_ip, 45);
  const act = (action: 'reject' | 'flag' | 'pass', reject: Verdict, reason: string): Verdict =>
    action === 'reject' ? reject : action === 'flag' ? { kind: 'flag', tag: `spf_${e.result}`, reason, evidence } : { kind: 'pass', evidence };
  switch (e.result) {
    case 'pass':
    case 'none':
    case 'neutral':
      return { kind: 'pass', evidence };
    case 'fail': {
      const reason = `SPF fail: ${e.domain} does not allow ${e.client_ip}`;
      return act(settings.fail, {
        kind: 'reject', reason, evidence,
        // RFC 7372 section 3.2: X.7.23 SPF validation failed.
        reply: { code: 550, enhanced: '5.7.23', text: `SPF check failed: ${domain} does not allow ${ip} to send its mail (RFC 7208); send through a server listed in its SPF record or fix the record` },
      }, reason);
    }
    case 'softfail': {
      const reason = `SPF softfail: ${e.domain} does not designate ${e.client_ip}`;
      return act(settings.softfail, {
        kind: 'reject', reason, evidence,
        reply: { code: 550, enhanced: '5.7.23', text: `SPF check failed (softfail): ${domain} does not designate ${ip} as a permitted sender (RFC 7208); send through a server listed in its SPF record or fix the record` },
      }, reason);
    }
    case 'permerror': {
      const reason = `SPF permerror: the SPF record of ${e.domain} is broken`;
      return act(settings.permerror, {
        kind: 'reject', reason, evidence,
        // RFC 7372 section 3.2: X.7.24 SPF validation error.
        reply: { code: 550, enhanced: '5.7.24', text: `The SPF record of ${domain} has a permanent error (RFC 7208 section 2.6.7); its owner must fix the record` },
      }, reason);
    }
    case 'temperror': {
      const reason = `SPF temperror: DNS lookup failed for ${e.domain}`;
      if (settings.temperror === 'tempfail') {
        return {
          kind: 'tempfail', reason, evidence: { ...evidence, component: 'dns' },
          reply: { code: 451, enhanced: '4.7.24', text: `Temporary DNS error while checking the SPF record of ${domain}; please try again later` },
        };
      }
      return settings.temperror === 'flag' ? { kind: 'flag', tag: 'spf_temperror', reason, evidence } : { kind: 'pass', evidence };
    }
    default: {
      const never: never = e.result;
      return never;
    }
  }
}

export function spfChecks(settings: Settings, cfg: ResolvedConfig): Check[] {
  // Up to 10 counted lookups plus MX/PTR sub-lookups, each with the resolver's retries.
  const timeoutMs = Math.min(60_000, Math.max(10_000, cfg.dns.timeout_ms * cfg.dns.attempts * 4));
  return [{
    name: 'spf',
    stage: 'mail',
    bypassable: true,
    component: 'dns',
    timeoutMs,
    async run(ctx): Promise<Verdict> {
      if (!ctx.tx) return { kind: 'skip', why: 'no transaction' };
      const e = await evaluateSpf(ctx.deps.resolver, {
        ip: ctx.session.clientIp, helo: ctx.session.helo, mailFrom: ctx.tx.mailFrom, hostname: ctx.deps.hostname,
      });
      return spfVerdict(settings, e);
    },
  }];
}
