import type { ResolvedConfig } from '../../config/load.js';
import type { Reply } from '../../mail/reply.js';
import { clientNetwork } from '../../dns/ip.js';
import type { Logger } from '../../log/logger.js';
import { withFallback, type ClusterDb } from '../cluster-db.js';
import type { Check, CheckContext, Stage, Verdict } from '../types.js';
import cluster from 'node:cluster';
import { WorkerRateClient } from './cluster.js';
import { PgRateStore } from './pg-store.js';
import { MemoryRateStore, type RateResult } from './store.js';

type Settings = ResolvedConfig['checks']['rate'];

interface Limit {
  name: string;
  stage: Stage;
  limit: number;
  windowMs: number;
  reply: Reply;
  what: string;
}

/**
 * Connect stage: connections per client address in the last minute; mail
 * stage: transactions (MAIL FROM) per client address in the last hour. The
 * gateway applies both at the first RCPT (delayed rejection), so the
 * deferral is logged with sender and recipient. IPv6 clients count per /64
 * (one host usually owns the whole /64).
 *
 * Counts are per node and in memory (store.ts says why): in the process
 * itself, or with several worker processes in the primary, asked over IPC.
 * With scope cluster they are the cluster's, in PostgreSQL (pg-store.ts),
 * asked by every process itself; while PostgreSQL cannot be reached (or
 * answers too slowly) the node counts for itself. As with greylisting, that
 * is the better failure: refusing every client until PostgreSQL is back
 * would stop all mail, while counting per node lets a client spreading its
 * connections over the nodes get at most the limit from each, for as long as
 * the outage lasts.
 */
export function rateChecks(settings: Settings, log?: Logger): Check[] {
  const limits: Limit[] = [];
  if (settings.connections_per_minute > 0) {
    limits.push({
      name: 'rate', stage: 'connect', limit: settings.connections_per_minute, windowMs: 60_000, what: 'connections',
      // RFC 3463 4.7.1: not authorized now; a well-behaved MTA retries later.
      reply: { code: 451, enhanced: '4.7.1', text: 'Too many connections from your address in the last minute; please slow down and try again later' },
    });
  }
  if (settings.messages_per_hour > 0) {
    limits.push({
      name: 'rate', stage: 'mail', limit: settings.messages_per_hour, windowMs: 3_600_000, what: 'messages',
      reply: { code: 451, enhanced: '4.7.1', text: 'Too many messages from your address in the last hour; please slow down and try again later' },
    });
  }
  const local = new MemoryRateStore();
  const remote = cluster.isWorker ? new WorkerRateClient() : null;
  const forNode = (l: Limit, client: string, now: number): RateResult | Promise<RateResult> =>
    remote ? remote.hit(l.what, client, now, l.windowMs, l.limit) : local.hit(l.what, client, now, l.windowMs, l.limit);
  // One per cluster connection (one per process; tests play several nodes).
  const inCluster = new WeakMap<ClusterDb, PgRateStore>();
  const clusterFor = (db: ClusterDb): PgRateStore => {
    let s = inCluster.get(db);
    if (!s) {
      s = new PgRateStore(db, (err) => log?.warn({ err: err.message }, 'rate: deleting old counters in PostgreSQL failed'));
      inCluster.set(db, s);
    }
    return s;
  };
  const verdict = (l: Limit, client: string, r: RateResult, store?: string): Verdict => {
    const evidence = {
      client, counted: l.what, count: r.over ? r.count : r.count + 1, limit: l.limit, window_s: l.windowMs / 1000,
      oldest: r.oldest === null ? null : new Date(r.oldest).toISOString(),
      // Only with scope cluster: where this count comes from.
      ...(store ? { store } : {}),
    };
    if (!r.over) return { kind: 'pass', evidence };
    return {
      kind: 'tempfail', reply: l.reply, evidence,
      reason: `${r.count} ${l.what} from ${client} in the last ${l.windowMs / 1000} s, limit ${l.limit}`,
    };
  };
  return limits.map((l): Check => ({
    name: l.name,
    stage: l.stage,
    bypassable: true,
    // Above the cluster count's own timeout, which falls back to the node's count first.
    timeoutMs: 5000,
    run(ctx: CheckContext): Verdict | Promise<Verdict> {
      const client = clientNetwork(ctx.session.clientIp, 32, 64);
      const now = ctx.deps.now();
      const db = ctx.deps.cluster;
      if (settings.scope === 'cluster' && db) {
        return withFallback(db, () => clusterFor(db).hit(l.what, client, now, l.windowMs, l.limit), () => forNode(l, client, now), {
          health: ctx.deps.health, log, check: 'rate', instead: 'its own counts',
        }).then(({ value, cluster: viaCluster }) => verdict(l, client, value, viaCluster ? 'cluster' : 'node (PostgreSQL unreachable)'));
      }
      // scope cluster without a PostgreSQL store is a config error (config/load.ts); services without one count per node.
      const r = forNode(l, client, now);
      return r instanceof Promise ? r.then((x) => verdict(l, client, x)) : verdict(l, client, r);
    },
  }));
}
