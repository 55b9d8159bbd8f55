import type { ResolvedConfig } from '../config/load.js';
import type { ClientIdentityFinding, SenderDomainFinding } from '../checks/findings.js';
import { checksOf } from '../checks/registry.js';
import { mxAddress } from '../checks/sender-domain/index.js';
import type { Check, CheckContext, CheckDeps, Verdict } from '../checks/types.js';
import { canonicalIp } from '../dns/ip.js';
import { isTemporaryFailure, isValidDnsName } from '../dns/types.js';
import type { Logger } from '../log/logger.js';
import { analyseSpf, SPF_LOOKUP_LIMIT, type SpfReport } from './spf-record.js';

// `mailproof check domain NAME | ip ADDR`: the sender-side diagnostics. The
// verdicts come from the gateway's own checks (checks/registry checksOf), run
// now on the same resolver, so a recheck shows exactly what the gateway
// would decide today beside what it recorded then. SPF structure and DMARC
// record are reported on top: the gateway evaluates them per message, a
// postmaster needs to see the record.

export interface Problem {
  /** Stable code; the diagnosis codes of docs/design.md where one fits. */
  code: string;
  severity: 'error' | 'warning';
  text: string;
}

export interface CheckOutcome {
  check: string;
  verdict: Verdict['kind'] | 'error';
  reason: string | null;
  /** What the gateway would answer ("550 5.1.8 ..."), without REF. */
  reply: string | null;
  evidence: Record<string, unknown> | null;
}

export interface MxHost {
  preference: number;
  exchange: string;
  is_ip: boolean;
  addresses: string[];
}

export interface DmarcReport {
  /** Where the record was found (_dmarc.<domain> or of the organizational domain). */
  name: string | null;
  record: string | null;
  policy: string | null;
  subdomain_policy: string | null;
  pct: number | null;
  rua: string | null;
  errors: string[];
}

export interface DomainDiagnosis {
  domain: string;
  checked_at: string;
  checks: CheckOutcome[];
  mx: MxHost[];
  spf: SpfReport;
  dmarc: DmarcReport;
  problems: Problem[];
}

export interface IpDiagnosis {
  ip: string;
  checked_at: string;
  checks: CheckOutcome[];
  ptr: string | null;
  problems: Problem[];
}

function context(deps: CheckDeps, stage: CheckContext['stage'], ip: string, mailFrom: string | null): CheckContext {
  return {
    stage, rcpt: null, message: null, flags: new Set(), earlier: new Map(), deps,
    session: { id: 'check', clientIp: ip, clientPort: 0, localIp: '127.0.0.1', localPort: 25, ptr: null, helo: null, tls: false },
    tx: mailFrom === null ? null : { ref: 'CHECK', mailFrom, declaredSize: null, rcpts: [] },
  };
}

async function runAll(checks: Check[], ctx: CheckContext): Promise<CheckOutcome[]> {
  const out: CheckOutcome[] = [];
  for (const c of checks) {
    try {
      const v = await c.run(ctx);
      out.push({
        check: c.name, verdict: v.kind,
        reason: 'reason' in v ? v.reason : 'why' in v ? v.why : null,
        reply: 'reply' in v ? `${v.reply.code} ${v.reply.enhanced} ${v.reply.text}` : null,
        evidence: v.evidence ?? null,
      });
    } catch (err) {
      out.push({ check: c.name, verdict: 'error', reason: (err as Error).message, reply: null, evidence: null });
    }
  }
  return out;
}

/** The finding a check recorded, typed by the check's findings (checks/findings.ts): a renamed one fails to compile below. */
function findingOf<F extends string>(o: CheckOutcome | undefined): F | undefined { return o?.evidence?.finding as F | undefined; }

/** Organizational domain without the Public Suffix List (none is installed): the last two labels; good enough to find a parent's DMARC record for most names. */
function orgDomain(domain: string): string {
  return domain.split('.').slice(-2).join('.');
}

async function dmarcOf(deps: CheckDeps, domain: string): Promise<DmarcReport> {
  const report: DmarcReport = { name: null, record: null, policy: null, subdomain_policy: null, pct: null, rua: null, errors: [] };
  // RFC 7489 section 6.6.3: the domain's own record, else the organizational domain's.
  for (const name of [...new Set([`_dmarc.${domain}`, `_dmarc.${orgDomain(domain)}`])]) {
    const txt = await deps.resolver.txt(name);
    if (isTemporaryFailure(txt)) { report.errors.push(`TXT lookup of ${name} failed: ${txt.rcode}`); return report; }
    const recs = txt.records.filter((r) => /^v=DMARC1\s*(;|$)/i.test(r));
    if (recs.length === 0) continue;
    report.name = name;
    if (recs.length > 1) report.errors.push(`${recs.length} DMARC records at ${name}: receivers ignore them all (RFC 7489 section 6.6.3)`);
    report.record = recs[0]!;
    const tags = new Map<string, string>();
    for (const part of report.record.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0) tags.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
    }
    const p = tags.get('p')?.toLowerCase() ?? null;
    if (!p || !['none', 'quarantine', 'reject'].includes(p)) report.errors.push(`p= must be none, quarantine or reject (RFC 7489 section 6.3), found ${p ?? 'nothing'}`);
    report.policy = p;
    report.subdomain_policy = tags.get('sp')?.toLowerCase() ?? null;
    const pct = tags.get('pct');
    report.pct = pct === undefined ? null : Number(pct);
    if (pct !== undefined && !(Number.isInteger(report.pct) && report.pct! >= 0 && report.pct! <= 100)) report.errors.push(`pct= must be 0-100, found ${pct}`);
    report.rua = tags.get('rua') ?? null;
    return report;
  }
  return report;
}

export async function checkDomain(cfg: ResolvedConfig, deps: CheckDeps, log: Logger, name: string): Promise<DomainDiagnosis> {
  const domain = name.toLowerCase().replace(/\.$/, '');
  if (!isValidDnsName(domain)) throw new Error(`not a domain name: ${JSON.stringify(name.slice(0, 100))}`);
  const problems: Problem[] = [];
  const checks = await runAll(checksOf('sender_domain', cfg, log), context(deps, 'mail', '127.0.0.1', `postmaster@${domain}`));
  const sd = checks.find((c) => c.check === 'sender_domain');
  const finding = findingOf<SenderDomainFinding>(sd);
  if (sd?.verdict === 'error') problems.push({ code: 'dns_failure', severity: 'error', text: sd.reason ?? 'DNS failure' });
  if (finding === 'nxdomain') problems.push({ code: 'sender_domain_unresolvable', severity: 'error', text: `${domain} does not exist in DNS` });
  if (finding === 'no_mail_host') problems.push({ code: 'sender_domain_unresolvable', severity: 'error', text: `${domain} has no MX, A or AAAA record: nobody can send replies or bounces to it` });
  if (finding === 'null_mx') problems.push({ code: 'null_mx', severity: 'warning', text: `${domain} has a null MX (RFC 7505): it receives no mail, and receivers refuse it as a sender` });
  if (finding === 'mx_is_ip' || finding === 'some_mx_is_ip') problems.push({ code: 'sender_mx_is_ip', severity: 'error', text: `an MX record of ${domain} names an IP address instead of a host name (RFC 5321 section 5.1); receivers refuse mail from it` });

  const mx: MxHost[] = [];
  const mxAnswer = await deps.resolver.mx(domain);
  for (const r of [...mxAnswer.records].sort((a, b) => a.preference - b.preference).slice(0, 20)) {
    if (r.exchange === '') continue;
    const ip = mxAddress(r.exchange);
    const host: MxHost = { preference: r.preference, exchange: r.exchange, is_ip: ip !== null, addresses: [] };
    if (ip === null && isValidDnsName(r.exchange)) {
      const [a, aaaa] = await Promise.all([deps.resolver.a(r.exchange), deps.resolver.aaaa(r.exchange)]);
      host.addresses = [...a.records, ...aaaa.records];
      if (host.addresses.length === 0 && !isTemporaryFailure(a) && !isTemporaryFailure(aaaa)) {
        problems.push({ code: 'mx_without_address', severity: 'error', text: `MX host ${r.exchange} has no A or AAAA record: mail to ${domain} cannot be delivered there` });
      }
    }
    mx.push(host);
  }

  const spf = await analyseSpf(deps.resolver, domain);
  if (spf.record === null && spf.records_found === 0) problems.push({ code: 'spf_missing', severity: 'warning', text: `${domain} publishes no SPF record; receivers cannot tell its servers from forgers` });
  if (spf.lookups > SPF_LOOKUP_LIMIT) problems.push({ code: 'spf_too_many_lookups', severity: 'error', text: `the SPF record needs ${spf.lookups} DNS lookups; the limit is ${SPF_LOOKUP_LIMIT} (RFC 7208 section 4.6.4), so receivers answer permerror` });
  for (const e of spf.errors.filter((x) => !/over the limit of 10/.test(x))) problems.push({ code: 'spf_invalid', severity: /SHOULD NOT|neutral/.test(e) ? 'warning' : 'error', text: `SPF: ${e}` });

  const dmarc = await dmarcOf(deps, domain);
  if (!dmarc.record) problems.push({ code: 'dmarc_missing', severity: 'warning', text: `${domain} publishes no DMARC record` });
  for (const e of dmarc.errors) problems.push({ code: 'dmarc_invalid', severity: 'error', text: `DMARC: ${e}` });

  return { domain, checked_at: new Date(deps.now()).toISOString(), checks, mx, spf, dmarc, problems };
}

export async function checkIp(cfg: ResolvedConfig, deps: CheckDeps, log: Logger, addr: string): Promise<IpDiagnosis> {
  const ip = canonicalIp(addr.trim());
  if (ip === null) throw new Error(`not an IP address: ${JSON.stringify(addr.slice(0, 100))}`);
  const ctx = context(deps, 'connect', ip, null);
  const checks = [
    ...(await runAll(checksOf('dnsbl', cfg, log), ctx)),
    ...(await runAll(checksOf('client_identity', cfg, log), ctx)),
  ];
  const problems: Problem[] = [];
  for (const c of checks) {
    if (c.verdict === 'error') problems.push({ code: 'dns_failure', severity: 'error', text: `${c.check}: ${c.reason ?? 'failed'}` });
    if (c.check === 'dnsbl' && (c.verdict === 'reject' || c.verdict === 'flag')) problems.push({ code: 'sender_ip_blocklisted', severity: 'error', text: c.reason ?? 'listed' });
    if (c.check === 'client_identity') {
      const f = findingOf<ClientIdentityFinding>(c);
      if (f === 'dynamic_name') problems.push({ code: 'sender_dynamic_ip', severity: 'error', text: c.reason ?? 'dynamic host name' });
      if (f === 'no_ptr') problems.push({ code: 'no_ptr', severity: 'error', text: c.reason ?? 'no PTR record' });
      if (f === 'no_fcrdns') problems.push({ code: 'no_fcrdns', severity: 'error', text: c.reason ?? 'PTR does not resolve back' });
    }
  }
  const ci = checks.find((c) => c.check === 'client_identity');
  const ptr = (ci?.evidence?.verified_name as string | null | undefined) ?? null;
  if (cfg.checks.dnsbl.zones.length === 0) problems.push({ code: 'no_dnsbl_configured', severity: 'warning', text: 'no DNSBL zones are configured (checks.dnsbl.zones): block lists were not asked' });
  return { ip, checked_at: new Date(deps.now()).toISOString(), checks, ptr, problems };
}
