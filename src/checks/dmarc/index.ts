// DKIM (RFC 6376), ARC (RFC 8617) and DMARC (RFC 7489) at DATA, through
// mailauth over our resolver. SPF is not evaluated again: the MAIL stage's
// result (ctx.earlier 'spf') is used, and only when the SPF check did not
// run (switched off, or it failed) is SPF evaluated here with the same inputs.
//
// Policy: a DMARC fail is rejected when the From: domain publishes p=reject
// (sp= for a subdomain); p=quarantine is flagged (header) by default. A
// passing ARC chain whose newest seal is from a trusted sealer
// (arc_trusted_sealers) overrides a fail: a mailing list or forwarder that
// breaks DKIM and SPF on the way vouches for what it received.
//
// Every message that gets here is given an Authentication-Results header
// (RFC 8601), whatever the verdict and in dry-run mode too.
import fs from 'node:fs';
import { arc as mailauthArc, dkimVerify, dmarc as mailauthDmarc, type ARCResult, type DKIMResult, type DMARCResult } from 'mailauth';
import type { ResolvedConfig } from '../../config/load.js';
import { DnsTrail, mailauthResolver, type MailauthResolver } from '../../dns/mailauth.js';
import { asciiSafe } from '../../util/sanitize.js';
import { evaluateSpf, spfFromEarlier, type SpfEvidence } from '../spf/index.js';
import type { Check, CheckContext, Evidence, Verdict } from '../types.js';

type Settings = ResolvedConfig['checks']['dmarc'];

export interface DkimEvidence {
  domain: string;
  selector: string | null;
  result: string;
  aligned: boolean;
  algorithm: string | null;
  comment: string | null;
  /** First 8 characters of b= (RFC 8601 header.b), to tell signatures apart. */
  b: string | null;
}

export interface AuthFacts {
  spf: SpfEvidence;
  /** Where the SPF result came from: the MAIL stage's check, or evaluated here. */
  spfSource: 'mail_stage' | 'dmarc_check';
  dkim: DkimEvidence[];
  headerFrom: string[];
  dmarc: DMARCResult | false;
  arc: { result: string; comment: string | null; i: number | false; sealer: string | null };
}

// ---- Authentication-Results (RFC 8601) ------------------------------------

/**
 * A pvalue (RFC 8601 section 2.2): an addr-spec or token as it is, anything
 * else as a quoted string with only printable ASCII. Values come from the
 * client (MAIL FROM, HELO, From:, DKIM d=/s=): nothing may break the header.
 */
export function pvalue(s: string): string {
  if (/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+(@[A-Za-z0-9.-]+)?$/.test(s) && s.length <= 254) return s;
  return `"${s.replace(/[^\x20-\x7e]/g, '?').replace(/["\\]/g, (c) => `\\${c}`).slice(0, 200)}"`;
}

/** A comment: printable ASCII without parentheses or backslashes. */
function comment(s: string | null | undefined): string {
  if (!s) return '';
  const c = s.replace(/[^\x20-\x7e]/g, '?').replace(/[()\\]/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 120);
  return c ? ` (${c})` : '';
}

/** The method result keywords of RFC 8601 section 2.7 (and 7489/8617); anything else is an error to us. */
function keyword(s: string | undefined, allowed: readonly string[], fallback: string): string {
  return s && allowed.includes(s) ? s : fallback;
}

const DKIM_RESULTS = ['none', 'pass', 'fail', 'policy', 'neutral', 'temperror', 'permerror'];
const SPF_RESULTS = ['none', 'neutral', 'pass', 'fail', 'softfail', 'temperror', 'permerror'];
const DMARC_RESULTS = ['none', 'pass', 'fail', 'temperror', 'permerror'];
const ARC_RESULTS = ['none', 'pass', 'fail'];

/** The header field, folded one method per line (LF + tab; the gateway keeps folded lines). */
export function authResultsHeader(authservId: string, f: AuthFacts): string {
  const parts: string[] = [];
  const spf = f.spf;
  const spfProp = spf.identity === 'helo' ? `smtp.helo=${pvalue(spf.helo ?? '')}` : `smtp.mailfrom=${pvalue(spf.sender)}`;
  parts.push(`spf=${keyword(spf.result, SPF_RESULTS, 'temperror')}${comment(`${spf.client_ip}`)} ${spfProp}`);
  if (f.dkim.length === 0) parts.push('dkim=none');
  for (const d of f.dkim) {
    const props = [`header.d=${pvalue(d.domain)}`];
    if (d.selector) props.push(`header.s=${pvalue(d.selector)}`);
    if (d.b) props.push(`header.b=${pvalue(d.b)}`);
    parts.push(`dkim=${keyword(d.result, DKIM_RESULTS, 'permerror')}${comment(d.comment)} ${props.join(' ')}`);
  }
  const dm = f.dmarc;
  if (dm) {
    const from = (dm.status.header as { from?: string } | undefined)?.from ?? dm.domain;
    const policy = dm.policy ? `p=${dm.policy}` : '';
    parts.push(`dmarc=${keyword(dm.status.result, DMARC_RESULTS, 'permerror')}${comment(policy)} header.from=${pvalue(String(from))}`);
  } else {
    parts.push(`dmarc=${f.headerFrom.length === 1 ? 'none' : 'permerror'}${f.headerFrom.length === 1 ? '' : comment(`${f.headerFrom.length} From: domains`)}`);
  }
  parts.push(`arc=${keyword(f.arc.result, ARC_RESULTS, 'fail')}${comment(f.arc.i ? `i=${f.arc.i}` : null)}`);
  return `Authentication-Results: ${pvalue(authservId)};\n\t${parts.join(';\n\t')}`;
}

// ---- evaluation -----------------------------------------------------------

function dkimEvidence(r: DKIMResult): DkimEvidence {
  const header = (r.status.header ?? {}) as { b?: unknown };
  return {
    domain: String(r.signingDomain ?? ''),
    selector: r.selector ? String(r.selector) : null,
    result: String(r.status.result),
    aligned: !!r.status.aligned,
    algorithm: r.algorithm ?? null,
    comment: r.status.comment ? String(r.status.comment) : null,
    b: typeof header.b === 'string' && header.b ? header.b : null,
  };
}

/** The sealer of the newest ARC set (its ARC-Seal d=). */
function newestSealer(arcData: unknown): string | null {
  const d = (arcData as { lastEntry?: { 'arc-seal'?: { parsed?: { d?: { value?: unknown } } } } } | undefined)
    ?.lastEntry?.['arc-seal']?.parsed?.d?.value;
  return typeof d === 'string' ? d.toLowerCase() : null;
}

export async function evaluate(ctx: CheckContext, settings: Settings, resolver: MailauthResolver): Promise<AuthFacts> {
  const msg = ctx.message!;
  const input = 'buffer' in msg.body ? msg.body.buffer : fs.createReadStream(msg.body.path);
  const mailFrom = ctx.tx?.mailFrom ?? '';
  const [dkim, earlierSpf] = await Promise.all([
    dkimVerify(input, { resolver: resolver as never, ...(mailFrom ? { sender: mailFrom } : {}), minBitLength: settings.min_key_bits }),
    Promise.resolve(spfFromEarlier(ctx)),
  ]);
  const spf = earlierSpf ?? await evaluateSpf(ctx.deps.resolver, {
    ip: ctx.session.clientIp, helo: ctx.session.helo, mailFrom, hostname: ctx.deps.hostname,
  });
  const arcData = (dkim as { arc?: unknown }).arc;
  let arcResult: ARCResult | null = null;
  if (arcData) arcResult = await mailauthArc(arcData as never, { resolver: resolver as never, minBitLength: settings.min_key_bits });
  const headerFrom = dkim.headerFrom ?? [];
  const results = dkim.results ?? [];
  const dmarc = headerFrom.length > 0
    ? await mailauthDmarc({
      headerFrom,
      // RFC 7489 section 3.1.2: SPF alignment uses the identity SPF checked
      // (MAIL FROM, or HELO for the null sender).
      spfDomains: spf.result === 'pass' ? [spf.domain] : [],
      dkimDomains: results.filter((r) => r.status.result === 'pass').map((r) => ({
        ...(r.id ? { id: r.id } : {}), domain: r.signingDomain, aligned: !!r.status.aligned, underSized: !!r.status.underSized,
      })),
      ...(arcResult ? { arcResult } : {}),
      resolver: resolver as never,
    })
    : false;
  return {
    spf,
    spfSource: earlierSpf ? 'mail_stage' : 'dmarc_check',
    // mailauth reports an unsigned message as one result "none" without a domain.
    dkim: results.filter((r) => r.signingDomain).map(dkimEvidence),
    headerFrom,
    dmarc,
    arc: {
      result: arcResult?.status.result ?? 'none',
      comment: arcResult?.status.comment ? String(arcResult.status.comment) : null,
      i: arcResult?.i ?? false,
      sealer: arcResult?.status.result === 'pass' ? newestSealer(arcData) : null,
    },
  };
}

export function dmarcVerdict(settings: Settings, f: AuthFacts, header: string, dns: unknown): Verdict {
  const dm = f.dmarc;
  const fromDomain = dm ? String((dm.status.header as { from?: string; d?: string } | undefined)?.d ?? dm.domain) : (f.headerFrom[0] ?? null);
  const evidence: Evidence = {
    spf: { result: f.spf.result, domain: f.spf.domain, identity: f.spf.identity, source: f.spfSource },
    dkim: f.dkim,
    header_from: f.headerFrom,
    dmarc: dm ? {
      result: dm.status.result, domain: fromDomain, org_domain: dm.domain, record: dm.rr ?? null,
      policy: dm.policy ?? null, p: dm.p ?? null, sp: dm.sp ?? null, pct: dm.pct ?? null,
      alignment: dm.alignment ?? null, ...(dm.error ? { error: dm.error } : {}),
    } : { result: 'none', why: f.headerFrom.length === 1 ? 'no DMARC check' : `${f.headerFrom.length} From: domains` },
    arc: f.arc,
    dns,
  };
  const headers = [header];
  const domain = asciiSafe(fromDomain ?? '', 100);
  const result = dm ? dm.status.result : 'none';
  // A DKIM key lookup that failed temporarily might have passed: not a fail yet.
  const temp = result === 'temperror' || (result === 'fail' && f.dkim.some((d) => d.result === 'temperror'));
  if (temp) {
    const reason = `DMARC temperror for ${fromDomain}: DNS lookup failed`;
    if (settings.temperror === 'tempfail') {
      return {
        kind: 'tempfail', reason, headers, evidence: { ...evidence, component: 'dns' },
        reply: { code: 451, enhanced: '4.7.0', text: `Temporary DNS error while checking DKIM and DMARC for ${domain}; please try again later` },
      };
    }
    return settings.temperror === 'flag' ? { kind: 'flag', tag: 'dmarc_temperror', reason, headers, evidence } : { kind: 'pass', headers, evidence };
  }
  if (!dm || result !== 'fail') return { kind: 'pass', headers, evidence };
  const policy = dm.policy === 'reject' || dm.policy === 'quarantine' ? dm.policy : 'none';
  if (policy === 'none') return { kind: 'flag', tag: 'dmarc_fail', reason: `DMARC fail for ${fromDomain} (p=none)`, headers, evidence };
  if (f.arc.result === 'pass' && f.arc.sealer && settings.arc_trusted_sealers.some((s) => s.toLowerCase() === f.arc.sealer)) {
    return {
      kind: 'flag', tag: 'dmarc_fail_arc_override', headers, evidence: { ...evidence, arc_override: f.arc.sealer },
      reason: `DMARC fail for ${fromDomain} (p=${policy}) overridden by the ARC seal of trusted ${f.arc.sealer}`,
    };
  }
  const reason = `DMARC fail for ${fromDomain} (p=${policy}): no aligned SPF pass or DKIM signature`;
  const action = policy === 'reject' ? settings.reject : settings.quarantine;
  if (action === 'reject') {
    return {
      kind: 'reject', reason, headers, evidence,
      reply: {
        code: 550, enhanced: '5.7.1',
        text: `DMARC policy of ${domain} says to ${policy === 'reject' ? 'reject' : 'quarantine'} mail that fails authentication: neither SPF nor a DKIM signature matches the From: domain (RFC 7489); the sender must sign with DKIM or send through a server in its SPF record`,
      },
    };
  }
  if (policy === 'quarantine') headers.push(`X-Mailproof-DMARC: quarantine (the DMARC policy of ${domain} asks to quarantine mail that fails authentication)`);
  return { kind: 'flag', tag: `dmarc_${policy}`, reason, headers, evidence };
}

export function dmarcChecks(settings: Settings, cfg: ResolvedConfig): Check[] {
  const timeoutMs = Math.min(60_000, Math.max(15_000, cfg.dns.timeout_ms * cfg.dns.attempts * 6));
  return [{
    name: 'dmarc',
    stage: 'data',
    bypassable: true,
    component: 'dns',
    timeoutMs,
    async run(ctx): Promise<Verdict> {
      if (!ctx.message) return { kind: 'skip', why: 'no message' };
      const trail = new DnsTrail();
      const f = await evaluate(ctx, settings, mailauthResolver(ctx.deps.resolver, trail));
      return dmarcVerdict(settings, f, authResultsHeader(ctx.deps.hostname, f), trail.toJSON());
    },
  }];
}
