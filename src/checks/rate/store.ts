// Rate counters for the node (rate.sqlite in data_dir): one row per counted
// event, so a window is exact (sliding, not fixed buckets). Worker processes
// share the file, so a limit holds for the node, not per process. A client
// over its limit is not counted further: rows per client stay at most the
// limit per window, whatever a flood does.
import type Database from 'better-sqlite3';
import { openStateDb } from '../state.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS hit (
  kind TEXT NOT NULL,
  client TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS hit_by_client ON hit (kind, client, at);
CREATE INDEX IF NOT EXISTS hit_by_time ON hit (at);
`;

export interface RateResult {
  /** Events in the window before this one. */
  count: number;
  limit: number;
  windowMs: number;
  over: boolean;
  /** Oldest counted event in the window (ms), null when none. */
  oldest: number | null;
}

const PRUNE_EVERY_MS = 60 * 1000;

export class RateStore {
  private readonly db: Database.Database;
  private lastPrune = -Infinity;
  private readonly step: (kind: string, client: string, now: number, windowMs: number, limit: number) => RateResult;
  /** The longest window in use: older rows are pruned. */
  private longest = 0;

  constructor(dataDir: string) {
    this.db = openStateDb(dataDir, 'rate.sqlite', SCHEMA);
    const count = this.db.prepare<[string, string, number], { n: number; oldest: number | null }>(
      'SELECT count(*) AS n, min(at) AS oldest FROM hit WHERE kind = ? AND client = ? AND at > ?',
    );
    const add = this.db.prepare<[string, string, number]>('INSERT INTO hit (kind, client, at) VALUES (?, ?, ?)');
    this.step = this.db.transaction((kind: string, client: string, now: number, windowMs: number, limit: number): RateResult => {
      const { n, oldest } = count.get(kind, client, now - windowMs) ?? { n: 0, oldest: null };
      const over = n >= limit;
      if (!over) add.run(kind, client, now);
      return { count: n, limit, windowMs, over, oldest };
    }).immediate as unknown as RateStore['step'];
  }

  /** Counts one event of `kind` for `client` unless the client is already at its limit. */
  hit(kind: string, client: string, now: number, windowMs: number, limit: number): RateResult {
    this.longest = Math.max(this.longest, windowMs);
    if (now - this.lastPrune >= PRUNE_EVERY_MS) this.prune(now);
    return this.step(kind, client, now, windowMs, limit);
  }

  prune(now: number): number {
    this.lastPrune = now;
    return this.db.prepare('DELETE FROM hit WHERE at <= ?').run(now - this.longest).changes;
  }

  close(): void {
    this.db.close();
  }
}
