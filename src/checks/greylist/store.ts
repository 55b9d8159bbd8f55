// Greylisting state (greylist.sqlite in data_dir): the triplets seen and the
// client networks that earned automatic allowance. All times are ms since
// the epoch from the injected clock. Every decision is one IMMEDIATE
// transaction, so worker processes sharing the file never both count one retry.
import type Database from 'better-sqlite3';
import { openStateDb } from '../state.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS triplet (
  network TEXT NOT NULL,
  sender TEXT NOT NULL,
  rcpt TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  passes INTEGER NOT NULL,
  PRIMARY KEY (network, sender, rcpt)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS client (
  network TEXT PRIMARY KEY,
  passes INTEGER NOT NULL,
  last_seen INTEGER NOT NULL
) WITHOUT ROWID;
`;

export interface GreylistPolicy {
  delayMs: number;
  retryWindowMs: number;
  expiryMs: number;
  /** 0: never. */
  autoAllowAfter: number;
}

export interface Triplet { network: string; sender: string; rcpt: string }

export type GreylistState =
  /** First attempt (or one after the retry window or expiry): deferred. */
  | 'new'
  /** A retry before the delay ran out: deferred again. */
  | 'too_early'
  /** The first retry after the delay, within the window: passes, remembered. */
  | 'retried'
  /** A triplet that passed before and has not expired. */
  | 'known'
  /** The client network passed often enough: every triplet passes. */
  | 'auto_allowed';

export interface GreylistResult {
  state: GreylistState;
  pass: boolean;
  /** First attempt of this triplet (ms), as now stored. */
  firstSeen: number;
  /** now - firstSeen (ms). */
  ageMs: number;
  /** Messages that passed for this triplet (after this one). */
  passes: number;
  /** Attempts of this triplet in its current round, this one included. */
  attempts: number;
  /** Messages that passed for the client network (after this one). */
  clientPasses: number;
  /** For a deferral: ms until a retry passes. */
  waitMs: number;
}

interface TripletRow { first_seen: number; last_seen: number; attempts: number; passes: number }

/** How often old rows are deleted (by the injected clock). */
const PRUNE_EVERY_MS = 60 * 60 * 1000;

export class GreylistStore {
  private readonly db: Database.Database;
  private lastPrune = -Infinity;
  private readonly step: (t: Triplet, now: number) => GreylistResult;

  constructor(dataDir: string, private readonly p: GreylistPolicy) {
    this.db = openStateDb(dataDir, 'greylist.sqlite', SCHEMA);
    const getClient = this.db.prepare<[string], { passes: number; last_seen: number }>('SELECT passes, last_seen FROM client WHERE network = ?');
    const bumpClient = this.db.prepare<[string, number]>(
      'INSERT INTO client (network, passes, last_seen) VALUES (?, 1, ?) ON CONFLICT (network) DO UPDATE SET passes = passes + 1, last_seen = excluded.last_seen',
    );
    const touchClient = this.db.prepare<[number, string]>('UPDATE client SET last_seen = ? WHERE network = ?');
    const resetClient = this.db.prepare<[string]>('DELETE FROM client WHERE network = ?');
    const getTriplet = this.db.prepare<[string, string, string], TripletRow>(
      'SELECT first_seen, last_seen, attempts, passes FROM triplet WHERE network = ? AND sender = ? AND rcpt = ?',
    );
    const putTriplet = this.db.prepare<[string, string, string, number, number, number, number]>(
      `INSERT INTO triplet (network, sender, rcpt, first_seen, last_seen, attempts, passes) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (network, sender, rcpt) DO UPDATE SET first_seen = excluded.first_seen, last_seen = excluded.last_seen,
         attempts = excluded.attempts, passes = excluded.passes`,
    );
    const pass = (t: Triplet, now: number, row: TripletRow, state: GreylistState): GreylistResult => {
      putTriplet.run(t.network, t.sender, t.rcpt, row.first_seen, now, row.attempts + 1, row.passes + 1);
      bumpClient.run(t.network, now);
      const clientPasses = getClient.get(t.network)?.passes ?? 0;
      return { state, pass: true, firstSeen: row.first_seen, ageMs: now - row.first_seen, passes: row.passes + 1, attempts: row.attempts + 1, clientPasses, waitMs: 0 };
    };
    this.step = this.db.transaction((t: Triplet, now: number): GreylistResult => {
      const client = getClient.get(t.network);
      if (client && now - client.last_seen > p.expiryMs) {
        resetClient.run(t.network);
      } else if (client && p.autoAllowAfter > 0 && client.passes >= p.autoAllowAfter) {
        touchClient.run(now, t.network);
        const row = getTriplet.get(t.network, t.sender, t.rcpt);
        return {
          state: 'auto_allowed', pass: true, firstSeen: row?.first_seen ?? now, ageMs: row ? now - row.first_seen : 0,
          passes: row?.passes ?? 0, attempts: row?.attempts ?? 0, clientPasses: client.passes, waitMs: 0,
        };
      }
      const row = getTriplet.get(t.network, t.sender, t.rcpt);
      const fresh = !row
        || (row.passes > 0 && now - row.last_seen > p.expiryMs)
        || (row.passes === 0 && now - row.first_seen > p.retryWindowMs);
      if (fresh) {
        putTriplet.run(t.network, t.sender, t.rcpt, now, now, 1, 0);
        return { state: 'new', pass: false, firstSeen: now, ageMs: 0, passes: 0, attempts: 1, clientPasses: client?.passes ?? 0, waitMs: p.delayMs };
      }
      if (row.passes > 0) return pass(t, now, row, 'known');
      const age = now - row.first_seen;
      if (age < p.delayMs) {
        putTriplet.run(t.network, t.sender, t.rcpt, row.first_seen, now, row.attempts + 1, 0);
        return { state: 'too_early', pass: false, firstSeen: row.first_seen, ageMs: age, passes: 0, attempts: row.attempts + 1, clientPasses: client?.passes ?? 0, waitMs: p.delayMs - age };
      }
      return pass(t, now, row, 'retried');
    }).immediate as unknown as (t: Triplet, now: number) => GreylistResult;
  }

  check(t: Triplet, now: number): GreylistResult {
    if (now - this.lastPrune >= PRUNE_EVERY_MS) this.prune(now);
    return this.step(t, now);
  }

  /** Deletes triplets and client networks nobody will ask about again. */
  prune(now: number): number {
    this.lastPrune = now;
    const a = this.db.prepare('DELETE FROM triplet WHERE (passes = 0 AND first_seen < ?) OR (passes > 0 AND last_seen < ?)')
      .run(now - this.p.retryWindowMs, now - this.p.expiryMs).changes;
    const b = this.db.prepare('DELETE FROM client WHERE last_seen < ?').run(now - this.p.expiryMs).changes;
    return a + b;
  }

  close(): void {
    this.db.close();
  }
}
