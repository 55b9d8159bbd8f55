import { REF_PATTERN } from '../mail/ref.js';
import type { Lang } from './explain.js';
import type { Outcome } from './journeys.js';
import type { SearchFilter } from './search.js';

// The search filters as people type them: trace and report options on the
// command line, the search form and /api/trace on the web. Parsed and checked
// here once. An error has a machine code with its parameters; its English
// message names the fields neutrally and each caller shows it its own way
// (the CLI as "--rcpt", the API as "rcpt"); filterErrorText says it in words
// for a person at the search form, in German or English.

export type FilterErrorCode = 'no_criteria' | 'bad_time' | 'bad_lang' | 'until_after_as_of' | 'bad_outcome' | 'bad_limit' | 'bad_ref';

/** A filter value refused; `format` words it with the caller's names for the fields. */
export class FilterError extends Error {
  constructor(
    readonly code: FilterErrorCode,
    /** The refused value and the field it was in (field, value), as typed. */
    readonly params: Readonly<Record<string, string>>,
    private readonly words: (name: (field: string) => string) => string,
  ) {
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
  if (Number.isNaN(t)) throw new FilterError('bad_time', { field, value: s }, (n) => `${n(field)} ${s}: expected a date (2026-11-27, 2026-11-27T10:00:00Z) or an age (90m, 24h, 7d)`);
  return t;
}

export function parseLang(v: string | undefined): Lang {
  if (v === undefined) return 'en';
  if (v !== 'en' && v !== 'de') throw new FilterError('bad_lang', { field: 'lang', value: v }, (n) => `${n('lang')} must be en or de, not ${JSON.stringify(v)}`);
  return v;
}

/**
 * Journey keys that are no REF of ours but name a journey all the same:
 * an ingested Postfix transaction ("pf:node:queue-id:time"), a session
 * without a transaction ("session:..."), a mailbox-only group ("mid:...").
 */
const OTHER_KEY = /^(?:pf|session|mid):\S{1,300}$/;

/**
 * A REF as typed: spaces and dashes a reader may add go, lower case is
 * upper case, and the letters Crockford base32 leaves out read as the
 * digits they look like (O as 0, I and L as 1), so a REF read over the
 * phone still matches. null when it is no REF at all.
 */
export function normalizeRef(v: string): string | null {
  const t = v.trim();
  if (OTHER_KEY.test(t)) return t;
  const ref = t.replace(/[\s-]/g, '').toUpperCase().replace(/O/g, '0').replace(/[IL]/g, '1');
  return REF_PATTERN.test(ref) ? ref : null;
}

/** The search filter from its fields (rcpt, domain, from, ip, ref, message-id, since, until, as-of, outcome, limit). */
export function parseFilter(values: Record<string, string | boolean | undefined | string[]>): SearchFilter {
  const s = (k: string): string | undefined => (typeof values[k] === 'string' ? values[k] as string : undefined);
  if (!WHAT.some((k) => s(k))) {
    throw new FilterError('no_criteria', {}, (n) => `needs at least one of ${WHAT.map(n).join(', ')}`);
  }
  const typedRef = s('ref');
  const ref = typedRef === undefined || typedRef === '' ? typedRef : normalizeRef(typedRef);
  if (ref === null) {
    // A REF cut short or with a typo would otherwise find nothing, and "0 journeys" reads as "never arrived".
    throw new FilterError('bad_ref', { field: 'ref', value: typedRef! }, (n) => `${n('ref')} ${JSON.stringify(typedRef)} is not a REF: a REF has 12 letters and digits, like 7KQ2M9XJ4P1A`);
  }
  const outcome = s('outcome');
  const asOf = s('as-of') ? parseTime(s('as-of')!, 'as-of') : undefined;
  const until = s('until') ? parseTime(s('until')!, 'until') : asOf;
  if (asOf !== undefined && until !== undefined && until > asOf) throw new FilterError('until_after_as_of', {}, (n) => `${n('until')} must not be after ${n('as-of')}`);
  if (outcome !== undefined && !OUTCOMES.includes(outcome as Outcome)) throw new FilterError('bad_outcome', { field: 'outcome', value: outcome }, (n) => `${n('outcome')} must be one of ${OUTCOMES.join(', ')}`);
  const limitText = s('limit');
  const limit = limitText === undefined ? undefined : Number(limitText);
  if (limit !== undefined && !(/^[0-9]{1,6}$/.test(limitText!) && limit >= 1 && limit <= MAX_LIMIT)) {
    throw new FilterError('bad_limit', { field: 'limit', value: limitText! }, (n) => `${n('limit')} must be a whole number from 1 to ${MAX_LIMIT}, not ${JSON.stringify(limitText)}`);
  }
  return {
    rcpt: s('rcpt'), domain: s('domain'), from: s('from'), ip: s('ip'), ref, messageId: s('message-id'),
    since: s('since') ? parseTime(s('since')!, 'since') : ref ? undefined : (asOf ?? Date.now()) - 7 * 86400e3,
    until,
    now: asOf,
    outcome: outcome as Outcome | undefined,
    ...(s('subject') ? { subject: s('subject') } : {}),
    ...(limit !== undefined ? { limit } : {}),
  };
}

/** The fields as the search form names them. */
const FIELD_WORDS: Record<Lang, Record<string, string>> = {
  en: { since: 'From', until: 'Until', 'as-of': 'As of', lang: 'Language', outcome: 'Outcome', limit: 'Number of results', ref: 'REF' },
  de: { since: 'Von', until: 'Bis', 'as-of': 'Stand', lang: 'Sprache', outcome: 'Ergebnis', limit: 'Anzahl der Ergebnisse', ref: 'REF' },
};

const OUTCOME_WORDS: Record<Lang, Record<Outcome, string>> = {
  en: { delivered: 'delivered', rejected: 'rejected', tempfailed: 'temporarily refused', incomplete: 'not completed', no_transaction: 'no message sent' },
  de: { delivered: 'zugestellt', rejected: 'abgelehnt', tempfailed: 'vorübergehend abgewiesen', incomplete: 'nicht abgeschlossen', no_transaction: 'keine Nachricht gesendet' },
};

/** A filter error in words for a person at the search form, in German or English (the English `message` stays for the CLI and the API). */
export function filterErrorText(err: FilterError, lang: Lang): string {
  const de = lang === 'de';
  const field = FIELD_WORDS[lang][err.params.field ?? ''] ?? err.params.field ?? '';
  const value = err.params.value ?? '';
  switch (err.code) {
    case 'no_criteria':
      return de
        ? 'Geben Sie mindestens einen Empfänger, eine Empfänger-Domain, einen Absender, eine IP-Adresse, eine REF oder eine Message-ID an.'
        : 'Enter at least a recipient, a recipient domain, a sender, an IP address, a REF or a Message-ID.';
    case 'bad_time':
      return de
        ? `„${value}“ im Feld ${field} ist keine Zeitangabe. Geben Sie ein Datum an (2026-11-27 oder 2026-11-27T10:00:00Z) oder ein Alter (90m, 24h, 7d).`
        : `"${value}" in the field ${field} is not a time. Enter a date (2026-11-27 or 2026-11-27T10:00:00Z) or an age (90m, 24h, 7d).`;
    case 'bad_lang':
      return de ? 'Als Sprache gibt es Deutsch (de) und Englisch (en).' : 'The language can be English (en) or German (de).';
    case 'until_after_as_of':
      return de ? `Das Feld ${FIELD_WORDS.de.until} darf nicht nach dem Feld ${FIELD_WORDS.de['as-of']} liegen.` : `The field ${FIELD_WORDS.en.until} must not be later than the field ${FIELD_WORDS.en['as-of']}.`;
    case 'bad_outcome':
      return de
        ? `Als Ergebnis gibt es: ${OUTCOMES.map((o) => OUTCOME_WORDS.de[o]).join(', ')}.`
        : `The outcome can be: ${OUTCOMES.map((o) => OUTCOME_WORDS.en[o]).join(', ')}.`;
    case 'bad_limit':
      return de ? `Die Anzahl der Ergebnisse muss eine ganze Zahl von 1 bis ${MAX_LIMIT} sein.` : `The number of results must be a whole number from 1 to ${MAX_LIMIT}.`;
    case 'bad_ref':
      return de
        ? 'Eine REF hat 12 Buchstaben und Ziffern, etwa 7KQ2M9XJ4P1A; prüfen Sie, ob sie vollständig abgeschrieben wurde.'
        : 'A REF has 12 letters and digits, like 7KQ2M9XJ4P1A; check that it was copied completely.';
  }
}
