import type { ResolvedConfig } from '../../config/load.js';
import { clientNetwork } from '../../dns/ip.js';
import type { Logger } from '../../log/logger.js';
import { withFallback, type ClusterDb } from '../cluster-db.js';
import type { Check, CheckContext, Verdict } from '../types.js';
import type { GreylistPolicy, GreylistResult, Triplet } from './decide.js';
import { PgGreylistStore } from './pg-store.js';
import { GreylistStore } from './store.js';

type Settings = ResolvedConfig['checks']['greylist'];

/** Where a decision's state lives, as the evidence says. */
export type GreylistStoreName = 'local' | 'cluster' | 'local (PostgreSQL unreachable)';

export function policyOf(s: Settings): GreylistPolicy {
  return {
    delayMs: s.delay_s * 1000,
    retryWindowMs: s.retry_window_h * 3600 * 1000,
    expiryMs: s.expiry_days * 24 * 3600 * 1000,
    autoAllowAfter: s.auto_allow_after,
  };
}

/**
 * Rcpt stage: a (client network, sender, recipient) triplet not seen before is
 * deferred with 451 4.7.1; a retry after delay_s and within retry_window_h
 * passes, and the triplet then passes for expiry_days after its last message.
 * A real MTA retries, most spam software does not (RFC 6647 section 2.1).
 *
 * The state is the node's own (greylist.sqlite in data_dir), or with a
 * cluster's PostgreSQL store (ctx.deps.cluster) the cluster's, so that a
 * retry that lands on another MX node passes. While PostgreSQL cannot be
 * reached (or answers too slowly), the node decides with its local state.
 * That is the better of the two failures: deferring every new triplet
 * until PostgreSQL is back would hold up the mail of every sender not seen
 * before (for an outage of hours, beyond many senders' retry schedules),
 * while deciding locally costs only this: a sender whose attempts are
 * spread over the nodes during the outage, or whose first attempt fell in
 * it, is deferred once more. Greylisting is a delay, not a barrier.
 */
export function greylistChecks(settings: Settings, log?: Logger): Check[] {
  const policy = policyOf(settings);
  // One store per data directory (unit tests use several); opened on first use.
  const local = new Map<string, GreylistStore>();
  const localFor = (dir: string): GreylistStore => {
    let s = local.get(dir);
    if (!s) {
      s = new GreylistStore(dir, policy);
      local.set(dir, s);
    }
    return s;
  };
  // One per cluster connection (one per process; tests play several nodes).
  const cluster = new WeakMap<ClusterDb, PgGreylistStore>();
  const clusterFor = (db: ClusterDb): PgGreylistStore => {
    let s = cluster.get(db);
    if (!s) {
      s = new PgGreylistStore(db, policy, (err) => log?.warn({ err: err.message }, 'greylist: deleting old rows in PostgreSQL failed'));
      cluster.set(db, s);
    }
    return s;
  };

  const verdict = (triplet: Triplet, r: GreylistResult, store: GreylistStoreName): Verdict => {
    const evidence = {
      network: triplet.network, sender: triplet.sender, rcpt: triplet.rcpt,
      state: r.state,
      first_seen: new Date(r.firstSeen).toISOString(),
      age_s: Math.round(r.ageMs / 1000),
      attempts: r.attempts,
      passes: r.passes,
      client_passes: r.clientPasses,
      delay_s: settings.delay_s,
      store,
    };
    if (r.pass) return { kind: 'pass', evidence };
    const wait = Math.max(1, Math.ceil(r.waitMs / 1000));
    return {
      kind: 'tempfail',
      // RFC 3463 4.7.1: delivery not authorized, temporary; RFC 6647 section 2.1.
      reply: { code: 451, enhanced: '4.7.1', text: `Greylisted: please try again in ${wait} second${wait === 1 ? '' : 's'}` },
      reason: r.state === 'new' ? 'greylisted: first attempt of this triplet' : `greylisted: retry ${Math.round(r.ageMs / 1000)} s after the first attempt, before the delay of ${settings.delay_s} s`,
      evidence: { ...evidence, retry_in_s: wait },
    };
  };

  return [{
    name: 'greylist',
    stage: 'rcpt',
    bypassable: true,
    // Above the cluster decision's own timeout, which falls back to the local state first.
    timeoutMs: 5000,
    run(ctx: CheckContext): Verdict | Promise<Verdict> {
      if (!ctx.rcpt || !ctx.tx) return { kind: 'skip', why: 'no recipient' };
      const triplet = {
        network: clientNetwork(ctx.session.clientIp, settings.ipv4_prefix, settings.ipv6_prefix),
        // The null sender (bounces) is greylisted as the triplet with sender ''.
        sender: ctx.tx.mailFrom.toLowerCase(),
        rcpt: ctx.rcpt.toLowerCase(),
      };
      const now = ctx.deps.now();
      const db = ctx.deps.cluster;
      const here = (): GreylistResult => localFor(ctx.deps.dataDir).check(triplet, now);
      if (!db) return verdict(triplet, here(), 'local');
      return withFallback(db, () => clusterFor(db).check(triplet, now), here, {
        health: ctx.deps.health, log, check: 'greylist', instead: 'its local greylist',
      }).then(({ value, cluster: viaCluster }) => verdict(triplet, value, viaCluster ? 'cluster' : 'local (PostgreSQL unreachable)'));
    },
    close(): void {
      // A reload that changed these settings made a new check; the state stays in the file.
      for (const s of local.values()) s.close();
      local.clear();
    },
  }];
}
