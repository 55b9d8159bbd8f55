import { isIP } from 'node:net';
import { isTemporaryFailure, isValidDnsName, type Resolver } from '../dns/types.js';

// SPF record diagnostics for `mailproof check domain`: syntax and the DNS
// lookup count of RFC 7208 section 4.6.4. mailauth evaluates SPF for the
// gateway but gives no account of a record's structure (terms, lookups
// counted, where the limit is exceeded), which is what a postmaster needs to
// fix a record; so the parsing here is our own, limited to what that report
// needs (macros are recognised, not expanded).

export interface SpfTerm {
  term: string;
  kind: 'mechanism' | 'modifier' | 'invalid';
  name: string;
  /** Counts against the limit of 10 DNS lookups. */
  lookup: boolean;
}

export interface SpfReport {
  domain: string;
  /** The v=spf1 record, or null when there is none. */
  record: string | null;
  /** More than one v=spf1 record is a permanent error (RFC 7208 section 4.5). */
  records_found: number;
  terms: SpfTerm[];
  /** DNS-querying terms over the whole tree of include: and redirect=. */
  lookups: number;
  /** Lookups that found nothing (RFC 7208 section 4.6.4: more than 2 SHOULD be a permerror). */
  void_lookups: number;
  errors: string[];
  /** The includes and redirect followed, with their own lookups, for the report. */
  children: SpfReport[];
}

export const SPF_LOOKUP_LIMIT = 10;
export const SPF_VOID_LIMIT = 2;
const MAX_DEPTH = 12;

const MECHANISM = /^([+\-~?]?)(all|include|a|mx|ptr|ip4|ip6|exists)(?:([:/])(.*))?$/i;
const MODIFIER = /^([a-z][a-z0-9_.-]*)=(.*)$/i;

function hasMacro(s: string): boolean { return s.includes('%'); }

/** Splits and classifies the terms of one record (RFC 7208 section 4.6.1 and 12 ABNF, simplified). */
export function parseSpf(record: string): { terms: SpfTerm[]; errors: string[] } {
  const errors: string[] = [];
  const terms: SpfTerm[] = [];
  const parts = record.trim().split(/ +/).slice(1);
  for (const term of parts) {
    const mod = MODIFIER.exec(term);
    const mech = MECHANISM.exec(term);
    if (mech) {
      const name = mech[2]!.toLowerCase();
      const sep = mech[3];
      const arg = mech[4] ?? '';
      let ok = true;
      switch (name) {
        case 'all': ok = sep === undefined; break;
        case 'include': case 'exists': ok = sep === ':' && arg.length > 0; break;
        case 'ip4': ok = sep === ':' && /^(\d{1,3}(\.\d{1,3}){3})(\/([0-9]|[12][0-9]|3[0-2]))?$/.test(arg) && isIP(arg.split('/')[0]!) === 4; break;
        case 'ip6': ok = sep === ':' && isIP(arg.split('/')[0]!) === 6 && (!arg.includes('/') || /\/([0-9]{1,2}|1[01][0-9]|12[0-8])$/.test(arg)); break;
        default: ok = sep === undefined || arg.length > 0; // a, mx, ptr: optional domain-spec and CIDR lengths
      }
      if (!ok) errors.push(`bad ${name} mechanism: ${term}`);
      terms.push({ term, kind: ok ? 'mechanism' : 'invalid', name, lookup: ['include', 'a', 'mx', 'ptr', 'exists'].includes(name) });
      if (name === 'ptr') errors.push('ptr mechanism used: RFC 7208 section 5.5 says it SHOULD NOT be (slow, unreliable)');
    } else if (mod) {
      const name = mod[1]!.toLowerCase();
      if ((name === 'redirect' || name === 'exp') && terms.some((t) => t.name === name)) errors.push(`${name}= given twice (RFC 7208 section 6)`);
      terms.push({ term, kind: 'modifier', name, lookup: name === 'redirect' });
    } else {
      errors.push(`unknown term: ${term.slice(0, 80)}`);
      terms.push({ term, kind: 'invalid', name: '', lookup: false });
    }
  }
  return { terms, errors };
}

function targetOf(t: SpfTerm, domain: string): string | null {
  if (t.name === 'include' || t.name === 'exists') return t.term.slice(t.term.indexOf(':') + 1);
  if (t.name === 'redirect') return t.term.slice(t.term.indexOf('=') + 1);
  if (t.name === 'a' || t.name === 'mx' || t.name === 'ptr') {
    const m = /^[+\-~?]?[a-z]+(?::([^/]+))?/i.exec(t.term);
    return m?.[1] ?? domain;
  }
  return null;
}

/**
 * Fetches the SPF record of `domain` and counts, over include: and redirect=,
 * the terms that cause DNS lookups (RFC 7208 section 4.6.4: at most 10).
 */
export async function analyseSpf(resolver: Resolver, domain: string, depth = 0, seen = new Set<string>()): Promise<SpfReport> {
  const report: SpfReport = { domain, record: null, records_found: 0, terms: [], lookups: 0, void_lookups: 0, errors: [], children: [] };
  const txt = await resolver.txt(domain);
  if (isTemporaryFailure(txt)) {
    report.errors.push(`TXT lookup of ${domain} failed: ${txt.rcode}`);
    return report;
  }
  const spf = txt.records.filter((r) => /^v=spf1( |$)/i.test(r));
  report.records_found = spf.length;
  if (spf.length === 0) {
    if (depth > 0) report.errors.push(`${domain} has no SPF record (an include: of it is a permerror, RFC 7208 section 5.2)`);
    return report;
  }
  if (spf.length > 1) report.errors.push(`${domain} has ${spf.length} SPF records: a permanent error (RFC 7208 section 4.5)`);
  report.record = spf[0]!;
  const { terms, errors } = parseSpf(report.record);
  report.terms = terms;
  report.errors.push(...errors);
  for (const t of terms) {
    if (!t.lookup || t.kind === 'invalid') continue;
    report.lookups++;
    const target = targetOf(t, domain);
    if (!target || hasMacro(target)) continue;
    const name = target.toLowerCase().replace(/\.$/, '');
    if (!isValidDnsName(name)) { report.errors.push(`not a domain name in ${t.term}`); continue; }
    if (t.name === 'include' || t.name === 'redirect') {
      if (seen.has(name) || depth >= MAX_DEPTH) { report.errors.push(`include loop or too deep at ${name}`); continue; }
      const child = await analyseSpf(resolver, name, depth + 1, new Set([...seen, domain]));
      report.children.push(child);
      // A broken include breaks the whole evaluation: its errors are ours.
      report.errors.push(...child.errors.map((e) => (e.includes(child.domain) ? e : `in ${child.domain}: ${e}`)));
      report.lookups += child.lookups;
      report.void_lookups += child.void_lookups;
    } else if (t.name === 'mx') {
      const mx = await resolver.mx(name);
      if (mx.records.length === 0 && !isTemporaryFailure(mx)) report.void_lookups++;
      // RFC 7208 section 4.6.4: an mx mechanism may look up at most 10 MX names.
      if (mx.records.length > 10) report.errors.push(`mx mechanism for ${name} has ${mx.records.length} MX hosts (limit 10)`);
    } else if (t.name === 'a' || t.name === 'exists') {
      const a = await resolver.a(name);
      if (a.records.length === 0 && !isTemporaryFailure(a)) report.void_lookups++;
    }
  }
  if (depth === 0) {
    if (report.lookups > SPF_LOOKUP_LIMIT) report.errors.push(`${report.lookups} DNS lookups: over the limit of ${SPF_LOOKUP_LIMIT} (RFC 7208 section 4.6.4), receivers answer permerror`);
    if (report.void_lookups > SPF_VOID_LIMIT) report.errors.push(`${report.void_lookups} lookups found nothing: over the limit of ${SPF_VOID_LIMIT} (RFC 7208 section 4.6.4)`);
    const all = terms.find((t) => t.name === 'all');
    if (!all && !terms.some((t) => t.name === 'redirect')) report.errors.push('no "all" mechanism and no redirect=: mail from anywhere else is neutral');
    if (all && /^\+?all$/i.test(all.term)) report.errors.push('"+all" allows every host in the world to send for this domain');
  }
  return report;
}
