// Rate counters: exact sliding windows, in memory. One store per node: a
// single process keeps its own; with several worker processes (smtp.workers)
// the primary keeps it and the workers ask over the cluster IPC channel
// (cluster.ts carries the messages), so the limits hold for the node.
//
// Why not a SQLite file shared by the workers: better-sqlite3 is synchronous,
// and a worker that waits for another process's write lock (busy_timeout)
// stops its whole event loop; on a loaded machine the holder is often not
// running, and every session of that worker stalled for up to a second
// (measured with bench/run.sh). The price of memory: counts restart with the
// process, which for windows of a minute and an hour is acceptable.
//
// With checks.rate.scope = cluster the counts are the cluster's, in its
// PostgreSQL (pg-store.ts); the node's counters here are then what the node
// falls back to while PostgreSQL cannot be reached.

export interface RateResult {
  /** Events in the window before this one. */
  count: number;
  limit: number;
  windowMs: number;
  over: boolean;
  /** Oldest counted event in the window (ms), null when none. */
  oldest: number | null;
}

/** How often old counters are forgotten (by the injected clock). */
export const PRUNE_EVERY_MS = 60 * 1000;

/**
 * One event of a client at `now` against its window: `times` are its counted
 * events, oldest first. Returns the result and the times to keep (never more
 * than the limit). Refused attempts are not counted: a client at its limit
 * cannot grow its list. The node's memory and the cluster's PostgreSQL
 * (pg-store.ts) both count with this.
 */
export function slide(times: readonly number[], now: number, windowMs: number, limit: number): { result: RateResult; times: number[] } {
  let drop = 0;
  while (drop < times.length && times[drop]! <= now - windowMs) drop++;
  const kept = times.slice(drop);
  const count = kept.length;
  const over = count >= limit;
  const oldest = kept[0] ?? null;
  if (!over) kept.push(now);
  return { result: { count, limit, windowMs, over, oldest }, times: kept };
}

export class MemoryRateStore {
  /** kind + client -> times of the counted events, oldest first; never more than the limit. */
  private readonly hits = new Map<string, number[]>();
  private lastPrune = -Infinity;
  private longest = 0;

  /** Counts one event of `kind` for `client` unless the client is already at its limit. */
  hit(kind: string, client: string, now: number, windowMs: number, limit: number): RateResult {
    this.longest = Math.max(this.longest, windowMs);
    if (now - this.lastPrune >= PRUNE_EVERY_MS) this.prune(now);
    const key = `${kind} ${client}`;
    const { result, times } = slide(this.hits.get(key) ?? [], now, windowMs, limit);
    if (times.length) this.hits.set(key, times);
    else this.hits.delete(key);
    return result;
  }

  /** Forgets clients with nothing in the longest window. */
  prune(now: number): void {
    this.lastPrune = now;
    for (const [key, times] of this.hits) {
      if (times.length === 0 || times[times.length - 1]! <= now - this.longest) this.hits.delete(key);
    }
  }

  get size(): number {
    return this.hits.size;
  }
}
