// Greylisting state of a cluster, in its PostgreSQL (tables greylist_triplet
// and greylist_client, migration 2): a sender deferred by one node passes
// when its retry lands on another. decide.ts decides, exactly as for the
// SQLite store of a single node; this store loads and saves the rows.
//
// Concurrency: the nodes decide about the same client network at the same
// time (a sender pool retries several recipients at once, through several
// MX nodes). Each decision takes a transaction-level advisory lock on its
// client network before it reads, so the decisions about one network run one
// after the other and none reads rows another is about to change: two first
// attempts count once, two retries bump the network's passes twice. Row
// locks (INSERT ... ON CONFLICT DO NOTHING, then SELECT ... FOR UPDATE) need
// a row to lock: every client network that ever tried, most of them spam
// sources that never retry, would get a placeholder row with 0 passes that
// the store then treats as absent. SERIALIZABLE would turn exactly these
// bursts into serialization failures and retries, each one more round trip
// on the SMTP path.
// The lock is one of PostgreSQL's single-bigint advisory locks (a hash of
// the network); the store's own locks use the two-integer form, a separate
// key space. A hash collision only makes two networks wait for each other.
//
// The statements run under the ClusterDb's timeout: when it expires the
// check decides from the node's local state instead, and the connection is
// closed, which rolls the transaction back. One whose COMMIT was already on
// its way may still have counted in the cluster: the attempt did happen.
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { ClusterDb } from '../cluster-db.js';
import { decide, pruneCutoffs, PRUNE_EVERY_MS, type ClientRow, type GreylistDecision, type GreylistPolicy, type GreylistResult, type Triplet, type TripletRow } from './decide.js';

/** The advisory lock of a client network's decisions (a signed 64-bit integer, as SQL text). */
export function lockKey(network: string): string {
  return createHash('sha256').update(`mailproof greylist ${network}`).digest().readBigInt64BE(0).toString();
}

interface Rows {
  c_passes: number | null;
  c_last_seen: number | null;
  first_seen: number | null;
  last_seen: number | null;
  attempts: number | null;
  passes: number | null;
}

/** One statement for a decision's writes (a data-modifying CTE for the first when there are two). */
function writes(t: Triplet, d: GreylistDecision): { sql: string; params: unknown[] } | null {
  const params: unknown[] = [];
  const $ = (v: unknown): string => `$${params.push(v)}`;
  const parts: string[] = [];
  if (d.client === null) parts.push(`DELETE FROM greylist_client WHERE network = ${$(t.network)}`);
  else if (d.client) {
    parts.push(`INSERT INTO greylist_client (network, passes, last_seen) VALUES (${$(t.network)}, ${$(d.client.passes)}, ${$(d.client.last_seen)})
      ON CONFLICT (network) DO UPDATE SET passes = excluded.passes, last_seen = excluded.last_seen`);
  }
  if (d.triplet) {
    const r = d.triplet;
    parts.push(`INSERT INTO greylist_triplet (network, sender, rcpt, first_seen, last_seen, attempts, passes)
      VALUES (${$(t.network)}, ${$(t.sender)}, ${$(t.rcpt)}, ${$(r.first_seen)}, ${$(r.last_seen)}, ${$(r.attempts)}, ${$(r.passes)})
      ON CONFLICT (network, sender, rcpt) DO UPDATE SET first_seen = excluded.first_seen, last_seen = excluded.last_seen,
        attempts = excluded.attempts, passes = excluded.passes`);
  }
  if (parts.length === 0) return null;
  return { sql: parts.length === 1 ? parts[0]! : `WITH w AS (${parts[0]}) ${parts[1]}`, params };
}

export class PgGreylistStore {
  private lastPrune = -Infinity;

  constructor(private readonly db: ClusterDb, private readonly p: GreylistPolicy, private readonly onPruneError: (err: Error) => void = () => undefined) {}

  /** One decision; throws ClusterUnavailable when PostgreSQL fails or is too slow. */
  async check(t: Triplet, now: number): Promise<GreylistResult> {
    if (now - this.lastPrune >= PRUNE_EVERY_MS) {
      // Outside the decision: pruning is no reason to keep a client waiting.
      this.lastPrune = now;
      this.prune(now).catch(this.onPruneError);
    }
    return this.db.transaction(async (c: pg.PoolClient) => {
      // Its own statement: the rows read next must be read after the lock is granted (READ COMMITTED takes a snapshot per statement).
      await c.query(`SELECT pg_advisory_xact_lock(${lockKey(t.network)})`);
      const r = (await c.query<Rows>(
        `SELECT c.passes AS c_passes, c.last_seen AS c_last_seen, t.first_seen, t.last_seen, t.attempts, t.passes
         FROM (SELECT 1) one
         LEFT JOIN greylist_client c ON c.network = $1
         LEFT JOIN greylist_triplet t ON t.network = $1 AND t.sender = $2 AND t.rcpt = $3`,
        [t.network, t.sender, t.rcpt],
      )).rows[0]!;
      const client: ClientRow | null = r.c_passes === null ? null : { passes: r.c_passes, last_seen: r.c_last_seen! };
      const triplet: TripletRow | null = r.first_seen === null ? null : { first_seen: r.first_seen, last_seen: r.last_seen!, attempts: r.attempts!, passes: r.passes! };
      const d = decide({ client, triplet }, now, this.p);
      const w = writes(t, d);
      if (w) await c.query(w.sql, w.params);
      return d.result;
    });
  }

  /** Deletes triplets and client networks nobody will ask about again (the same rule as the SQLite store). */
  async prune(now: number): Promise<number> {
    this.lastPrune = now;
    const c = pruneCutoffs(now, this.p);
    return await this.db.maintenance(
      `WITH a AS (DELETE FROM greylist_triplet WHERE (passes = 0 AND first_seen < $1) OR (passes > 0 AND last_seen < $2) RETURNING 1),
            b AS (DELETE FROM greylist_client WHERE last_seen < $3 RETURNING 1)
       SELECT 1 FROM a UNION ALL SELECT 1 FROM b`,
      [c.pendingBefore, c.passedBefore, c.clientBefore],
    );
  }
}
