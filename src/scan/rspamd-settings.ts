// What rspamd is told not to check again for one message, because
// mailproof's own checks did it: rspamd's per-request settings (the
// Settings header of its HTTP protocol, JSON), which rspamd 3.4 honours:
// a disabled group or symbol is not run, and its lookups are not made
// (test/e2e/61-spam/rspamd-skip.test.ts shows it with rspamd's DNS queries).
import type { SkipChecks } from './spam-types.js';

/**
 * The symbols of rspamd's stock `rbl` rules (rspamd 3.4, modules.d/rbl.conf)
 * that look up the client's address (checks 'from' and 'received'):
 * disabling one of them in the Settings header stops its rule and its
 * lookups. The group "rbl" would be shorter but, in rspamd 3.4, also stops
 * the URL and domain lists (SURBL, URIBL, DBL) of the same module, which
 * mailproof does not check; so the rules are named. A name rspamd does not
 * know is ignored. scanners.spam.rspamd_rbl_symbols replaces the list.
 */
export const RSPAMD_RBL_SYMBOLS: readonly string[] = [
  'RBL_SPAMHAUS', 'MAILSPIKE', 'RBL_SENDERSCORE', 'RBL_SEM', 'RBL_SEM_IPV6', 'RCVD_IN_DNSWL',
  'RBL_VIRUSFREE_UNKNOWN', 'RBL_NIXSPAM', 'RBL_BLOCKLISTDE',
];

/**
 * rspamd's per-request settings (the Settings header, JSON) that keep it
 * from repeating checks mailproof made; null when there is nothing to skip.
 * Tested against rspamd 3.4 (test/e2e/61-spam): disabling a group disables
 * its symbols and, through them, the callback that does the lookups (SPF_CHECK,
 * DKIM_CHECK, ARC_CHECK, DMARC_CHECK), so none of its DNS queries are made.
 */
export function rspamdSettings(skip: SkipChecks | undefined, rblSymbols: readonly string[] = RSPAMD_RBL_SYMBOLS): string | null {
  if (!skip) return null;
  const groups = (['spf', 'dkim', 'arc', 'dmarc'] as const).filter((g) => skip[g]);
  const symbols = skip.rbl ? rblSymbols : [];
  if (groups.length === 0 && symbols.length === 0) return null;
  return JSON.stringify({
    ...(groups.length ? { groups_disabled: groups } : {}),
    ...(symbols.length ? { symbols_disabled: symbols } : {}),
  });
}

