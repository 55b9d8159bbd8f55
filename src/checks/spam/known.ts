// What mailproof's own checks already judged for a message, so that the spam
// scanner (rspamd) need not check it, and look it up, again
// (scanners.spam.rspamd_skip). Only what an enforced check of ours decides:
// a check in dry-run decides nothing, so rspamd's own judgement (and its
// score) still counts then.
import type { ResolvedConfig } from '../../config/load.js';
import type { SkipChecks } from '../../scan/spam-types.js';
import type { CheckContext } from '../types.js';

/** Whether a check of an earlier stage judged this transaction (a verdict, not a skip; an error leaves none). */
function judged(ctx: CheckContext, check: string): boolean {
  const v = ctx.earlier.get(check);
  return v !== undefined && v.kind !== 'skip';
}

/**
 * The checks to skip in the scanner for one message; undefined when the
 * scanner is told nothing (not rspamd, or scanners.spam.rspamd_skip none).
 *
 * - SPF: the MAIL stage's check judged the sender (its verdict is there).
 * - DKIM, ARC, DMARC: checks.dmarc runs at DATA beside the spam check, so
 *   it is not judged yet: its being enforced is what counts, unless an
 *   allow-list allowed the client (checks.spam.scan_allowlisted scans its
 *   mail, but the DMARC check, bypassable, does not run for it).
 * - The client-address block lists: checks.dnsbl asked at least one block
 *   list for this session's client.
 */
export function alreadyChecked(cfg: ResolvedConfig): ((ctx: CheckContext) => SkipChecks) | undefined {
  if (cfg.scanners.spam.backend !== 'rspamd' || cfg.scanners.spam.rspamd_skip === 'none') return undefined;
  const c = cfg.checks;
  const spf = c.spf.mode === 'enforce';
  const dmarc = c.dmarc.mode === 'enforce';
  const dnsbl = c.dnsbl.mode === 'enforce' && c.dnsbl.zones.some((z) => z.type === 'block');
  return (ctx) => {
    const auth = dmarc && ![...ctx.earlier.values()].some((v) => v.kind === 'allow');
    return {
      spf: spf && judged(ctx, 'spf'),
      dkim: auth,
      arc: auth,
      dmarc: auth,
      rbl: dnsbl && judged(ctx, 'dnsbl'),
    };
  };
}
