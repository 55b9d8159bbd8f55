// Rate counters of a cluster (checks.rate.scope = cluster), in its PostgreSQL
// (table rate_window, migration 2): the same exact sliding windows as the
// node's memory (store.ts slide()), one row per (kind, client) with the times
// of the counted events, never more than the limit.
//
// Concurrency: the first statement of a hit is an upsert that returns the
// row's times and leaves the row locked until COMMIT (ON CONFLICT DO UPDATE
// takes the row lock; a missing row is inserted, and a concurrent insert of
// the same key waits for it). So the hits of one client on several nodes
// run one after the other: two nodes never both take the last place in a
// window. Rows of clients quiet for a whole window are deleted every minute.
//
// The statements run under the ClusterDb's timeout; when it expires the
// check counts for the node instead (and the connection is closed, which
// rolls the transaction back).
import type pg from 'pg';
import type { ClusterDb } from '../cluster-db.js';
import { PRUNE_EVERY_MS, slide, type RateResult } from './store.js';

export class PgRateStore {
  private lastPrune = -Infinity;

  constructor(private readonly db: ClusterDb, private readonly onPruneError: (err: Error) => void = () => undefined) {}

  /** Counts one event of `kind` for `client` unless the client is at its limit in the cluster; throws ClusterUnavailable. */
  async hit(kind: string, client: string, now: number, windowMs: number, limit: number): Promise<RateResult> {
    if (now - this.lastPrune >= PRUNE_EVERY_MS) {
      this.lastPrune = now;
      this.prune(now).catch(this.onPruneError);
    }
    return this.db.transaction(async (c: pg.PoolClient) => {
      const row = (await c.query<{ times: string[] }>(
        `INSERT INTO rate_window (kind, client, times, expires) VALUES ($1, $2, '{}', 0)
         ON CONFLICT (kind, client) DO UPDATE SET expires = rate_window.expires RETURNING times`,
        [kind, client],
      )).rows[0]!;
      // bigint[] arrives as text; the times (ms) are far below 2^53.
      const before = row.times.map(Number);
      const { result, times } = slide(before, now, windowMs, limit);
      const changed = times.length !== before.length || times.some((t, i) => t !== before[i]);
      if (changed) {
        await c.query('UPDATE rate_window SET times = $3, expires = $4 WHERE kind = $1 AND client = $2',
          [kind, client, times, (times[times.length - 1] ?? now) + windowMs]);
      }
      return result;
    });
  }

  /** Deletes the rows of clients with nothing left in their window. */
  async prune(now: number): Promise<number> {
    this.lastPrune = now;
    return await this.db.maintenance('DELETE FROM rate_window WHERE expires <= $1', [now]);
  }
}
