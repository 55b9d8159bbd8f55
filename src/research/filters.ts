import type { Lang } from './explain.js';
import type { Outcome } from './journeys.js';
import type { SearchFilter } from './search.js';

// The search filters as people type them: trace and report options on the
// command line, the search form and /api/trace on the web. Parsed and checked
// here once; an error names the field neutrally and each caller shows it its
// own way (the CLI as "--rcpt", the web as "rcpt").

/** A filter value refused; `format` words it with the caller's names for the fields. */
export class FilterError extends Error {
  constructor(private readonly words: (name: (field: string) => string) => string) {
    super(words((field) => field));
  }

  format(name: (field: string) => string): string {
    return this.words(name);
  }
}

/** Most journeys one search returns (limit); beyond it, narrow the search. */
export const MAX_LIMIT = 100000;

export const OUTCOMES: readonly Outcome[] = ['delivered', 'rejected', 'tempfailed', 'incomplete', 'no_transaction'];

/** The fields that name what to look for; a search needs one of them. */
const WHAT = ['rcpt', 'domain', 'from', 'ip', 'ref', 'message-id'] as const;

/** "2026-11-27", "2026-11-27T10:00:00Z", or relative to now: "90m", "24h", "7d". */
export function parseTime(s: string, field: string): number {
  const rel = /^(\d+)([smhd])$/.exec(s);
  if (rel) {
    const mult = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[rel[2] as 's' | 'm' | 'h' | 'd'];
    return Date.now() - Number(rel[1]) * mult;
  }
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new FilterError((n) => `${n(field)} ${s}: expected a date (2026-11-27, 2026-11-27T10:00:00Z) or an age (90m, 24h, 7d)`);
  return t;
}

export function parseLang(v: string | undefined): Lang {
  if (v === undefined) return 'en';
  if (v !== 'en' && v !== 'de') throw new FilterError((n) => `${n('lang')} must be en or de, not ${JSON.stringify(v)}`);
  return v;
}

/** The search filter from its fields (rcpt, domain, from, ip, ref, message-id, since, until, as-of, outcome, limit). */
export function parseFilter(values: Record<string, string | boolean | undefined | string[]>): SearchFilter {
  const s = (k: string): string | undefined => (typeof values[k] === 'string' ? values[k] as string : undefined);
  if (!WHAT.some((k) => s(k))) {
    throw new FilterError((n) => `needs at least one of ${WHAT.map(n).join(', ')}`);
  }
  const outcome = s('outcome');
  const asOf = s('as-of') ? parseTime(s('as-of')!, 'as-of') : undefined;
  const until = s('until') ? parseTime(s('until')!, 'until') : asOf;
  if (asOf !== undefined && until !== undefined && until > asOf) throw new FilterError((n) => `${n('until')} must not be after ${n('as-of')}`);
  if (outcome !== undefined && !OUTCOMES.includes(outcome as Outcome)) throw new FilterError((n) => `${n('outcome')} must be one of ${OUTCOMES.join(', ')}`);
  const limitText = s('limit');
  const limit = limitText === undefined ? undefined : Number(limitText);
  if (limit !== undefined && !(/^[0-9]{1,6}$/.test(limitText!) && limit >= 1 && limit <= MAX_LIMIT)) {
    throw new FilterError((n) => `${n('limit')} must be a whole number from 1 to ${MAX_LIMIT}, not ${JSON.stringify(limitText)}`);
  }
  return {
    rcpt: s('rcpt'), domain: s('domain'), from: s('from'), ip: s('ip'), ref: s('ref'), messageId: s('message-id'),
    since: s('since') ? parseTime(s('since')!, 'since') : s('ref') ? undefined : (asOf ?? Date.now()) - 7 * 86400e3,
    until,
    now: asOf,
    outcome: outcome as Outcome | undefined,
    ...(limit !== undefined ? { limit } : {}),
  };
}
