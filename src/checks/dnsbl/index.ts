import { isIP } from 'node:net';
import type { ResolvedConfig } from '../../config/load.js';
import { canonicalIp, dnsblName } from '../../dns/ip.js';
import { isTemporaryFailure } from '../../dns/types.js';
import { asciiSafe } from '../../util/sanitize.js';
import { answerEvidence, lookupBudgetMs, type AnswerEvidence } from '../dns-evidence.js';
import { ComponentError, type Check, type Verdict } from '../types.js';

type Settings = ResolvedConfig['checks']['dnsbl'];
type ZoneSettings = Settings['zones'][number];

export interface Listing {
  code: string;
  meaning: string;
  advice: string;
}

interface CodeRule {
  from: number;
  to: number;
  meaning: string;
  advice: string | null;
}

export interface ZoneResult {
  zone: string;
  name: string;
  type: 'block' | 'allow';
  weight: number;
  query: string;
  answer: AnswerEvidence;
  /** A temporary failure of this list: it said nothing either way. */
  failed: boolean;
  listings: Listing[];
  /** Answers that are no listing: list error codes (127.255.255.x), unknown codes. */
  ignored: Array<{ code: string; why: string }>;
}

function ipv4Number(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

function defaultAdvice(meaning: string): string {
  // Spamhaus PBL and its kind: the address should not send mail directly at all.
  if (/dynamic|end-user|dial|residential|consumer|\bPBL\b/i.test(meaning)) return 'send through your provider\'s mail server';
  return 'ask the list\'s operator to remove it once the cause is fixed';
}

function rules(z: ZoneSettings): CodeRule[] {
  return Object.entries(z.codes).map(([code, m]) => {
    const [a, b] = code.split('-') as [string, string | undefined];
    const meaning = typeof m === 'string' ? m : m.meaning;
    const advice = typeof m === 'string' ? null : (m.advice ?? null);
    return { from: ipv4Number(a), to: ipv4Number(b ?? a), meaning, advice };
  });
}

/**
 * What the answers of one list mean. RFC 5782 section 2.3: answers are in
 * 127.0.0.0/8. Spamhaus answers 127.255.255.252-255 for errors (a query
 * through a public resolver, an over-limit user): no listing, whatever the map
 * says. With a code map, only its codes are listings.
 */
export function interpret(z: ZoneSettings, records: string[]): { listings: Listing[]; ignored: Array<{ code: string; why: string }> } {
  const map = rules(z);
  const listings: Listing[] = [];
  const ignored: Array<{ code: string; why: string }> = [];
  for (const code of records) {
    if (isIP(code) !== 4 || !code.startsWith('127.')) {
      ignored.push({ code, why: 'not a 127.0.0.0/8 answer' });
      continue;
    }
    if (code.startsWith('127.255.255.')) {
      ignored.push({ code, why: 'list error code (query refused or blocked), not a listing' });
      continue;
    }
    if (map.length === 0) {
      listings.push({ code, meaning: 'listed', advice: defaultAdvice('') });
      continue;
    }
    const n = ipv4Number(code);
    const rule = map.find((r) => n >= r.from && n <= r.to);
    if (!rule) {
      ignored.push({ code, why: 'unknown return code, not a listing' });
      continue;
    }
    listings.push({ code, meaning: rule.meaning, advice: rule.advice ?? defaultAdvice(rule.meaning) });
  }
  return { listings, ignored };
}

function displayName(z: ZoneSettings): string {
  return z.name ?? z.zone.replace(/\.$/, '').toLowerCase();
}

/** The reply text for the block lists that list the client (heaviest first). */
export function rejectText(ip: string, hits: ZoneResult[]): string {
  const parts = hits.slice(0, 2).map((h) => {
    const meanings = [...new Set(h.listings.map((l) => l.meaning))].slice(0, 2);
    return `on ${h.name}${meanings.some((m) => m !== 'listed') ? ` as ${meanings.filter((m) => m !== 'listed').join(' and ')}` : ''}`;
  });
  const advice = hits[0]?.listings[0]?.advice ?? defaultAdvice('');
  return asciiSafe(`Your server's address ${ip} is listed ${parts.join(' and ')}; ${advice}`, 400);
}

/**
 * Connect stage: the client address on DNS block- and allow-lists, all asked
 * at once. An allow-list listing allows (skips the bypassable rest); block
 * listings add their weights, and at reject_score the client is refused
 * (554 5.7.1, applied at RCPT by the gateway). A list that fails is in the
 * evidence and says nothing; if every list fails, DNS is down.
 */
export function dnsblChecks(settings: Settings, cfg: Pick<ResolvedConfig, 'dns'>): Check[] {
  if (settings.zones.length === 0) return [];
  const zones = settings.zones;
  return [{
    name: 'dnsbl',
    stage: 'connect',
    bypassable: true,
    component: 'dns',
    timeoutMs: lookupBudgetMs(cfg),
    async run(ctx): Promise<Verdict> {
      const ip = canonicalIp(ctx.session.clientIp);
      if (ip === null) return { kind: 'skip', why: 'client address is not an IP address' };
      const results: ZoneResult[] = await Promise.all(zones.map(async (z): Promise<ZoneResult> => {
        const query = dnsblName(ip, z.zone);
        const a = await ctx.deps.resolver.a(query);
        const failed = isTemporaryFailure(a);
        const { listings, ignored } = failed ? { listings: [], ignored: [] } : interpret(z, a.records);
        return { zone: z.zone.replace(/\.$/, '').toLowerCase(), name: displayName(z), type: z.type, weight: z.weight, query, answer: answerEvidence(a), failed, listings, ignored };
      }));
      const evidence = { client_ip: ip, zones: results };
      if (results.every((r) => r.failed)) {
        throw new ComponentError('dns', `every DNSBL lookup failed: ${results.map((r) => `${r.zone} ${r.answer.rcode}`).join(', ')}`);
      }
      const allowed = results.find((r) => r.type === 'allow' && r.listings.length > 0);
      if (allowed) {
        return { kind: 'allow', reason: `client address is on the allow-list ${allowed.name} (${allowed.listings.map((l) => l.code).join(', ')})`, evidence };
      }
      const hits = results.filter((r) => r.type === 'block' && r.listings.length > 0).sort((a, b) => b.weight - a.weight);
      if (hits.length === 0) return { kind: 'pass', evidence };
      const score = hits.reduce((s, h) => s + h.weight, 0);
      const summary = hits.map((h) => `${h.name} ${h.listings.map((l) => l.code).join(',')}`).join('; ');
      if (score >= settings.reject_score) {
        return {
          kind: 'reject',
          reply: { code: 554, enhanced: '5.7.1', text: rejectText(ip, hits) },
          reason: `client address on DNS block list: ${summary} (score ${score}, reject at ${settings.reject_score})`,
          evidence: { ...evidence, score, reject_score: settings.reject_score },
        };
      }
      return { kind: 'flag', tag: 'dnsbl', reason: `client address on DNS block list: ${summary} (score ${score}, under ${settings.reject_score})`, evidence: { ...evidence, score, reject_score: settings.reject_score } };
    },
  }];
}
