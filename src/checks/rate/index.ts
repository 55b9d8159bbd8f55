import type { ResolvedConfig } from '../../config/load.js';
import type { Reply } from '../../mail/reply.js';
import { clientNetwork } from '../../dns/ip.js';
import type { Check, CheckContext, Stage, Verdict } from '../types.js';
import cluster from 'node:cluster';
import { WorkerRateClient } from './cluster.js';
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
 */
export function rateChecks(settings: Settings): Check[] {
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
  const verdict = (l: Limit, client: string, r: RateResult): Verdict => {
    const evidence = {
      client, counted: l.what, count: r.over ? r.count : r.count + 1, limit: l.limit, window_s: l.windowMs / 1000,
      oldest: r.oldest === null ? null : new Date(r.oldest).toISOString(),
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
    timeoutMs: 5000,
    run(ctx: CheckContext): Verdict | Promise<Verdict> {
      const client = clientNetwork(ctx.session.clientIp, 32, 64);
      const now = ctx.deps.now();
      if (remote) return remote.hit(l.what, client, now, l.windowMs, l.limit).then((r) => verdict(l, client, r));
      return verdict(l, client, local.hit(l.what, client, now, l.windowMs, l.limit));
    },
  }));
}
