// Greylisting state of one node (greylist.sqlite in data_dir): the triplets
// seen and the client networks that earned automatic allowance. decide.ts
// decides; this store loads and saves the rows. Every decision is one
// IMMEDIATE transaction, so worker processes sharing the file never both
// count one retry. With a cluster's PostgreSQL store it is the fallback
// while PostgreSQL cannot be reached (pg-store.ts).
import type Database from 'better-sqlite3';
import { openStateDb } from '../state.js';
import { decide, pruneCutoffs, PRUNE_EVERY_MS, type ClientRow, type GreylistPolicy, type GreylistResult, type Triplet, type TripletRow } from './decide.js';

export type { GreylistPolicy, GreylistResult, GreylistState, Triplet } from './decide.js';

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

export class GreylistStore {
  private readonly db: Database.Database;
  private lastPrune = -Infinity;
  private readonly step: (t: Triplet, now: number) => GreylistResult;

  constructor(dataDir: string, private readonly p: GreylistPolicy) {
    this.db = openStateDb(dataDir, 'greylist.sqlite', SCHEMA);
    const getClient = this.db.prepare<[string], ClientRow>('SELECT passes, last_seen FROM client WHERE network = ?');
    const putClient = this.db.prepare<[string, number, number]>(
      'INSERT INTO client (network, passes, last_seen) VALUES (?, ?, ?) ON CONFLICT (network) DO UPDATE SET passes = excluded.passes, last_seen = excluded.last_seen',
    );
    const deleteClient = this.db.prepare<[string]>('DELETE FROM client WHERE network = ?');
    const getTriplet = this.db.prepare<[string, string, string], TripletRow>(
      'SELECT first_seen, last_seen, attempts, passes FROM triplet WHERE network = ? AND sender = ? AND rcpt = ?',
    );
    const putTriplet = this.db.prepare<[string, string, string, number, number, number, number]>(
      `INSERT INTO triplet (network, sender, rcpt, first_seen, last_seen, attempts, passes) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (network, sender, rcpt) DO UPDATE SET first_seen = excluded.first_seen, last_seen = excluded.last_seen,
         attempts = excluded.attempts, passes = excluded.passes`,
    );
    this.step = this.db.transaction((t: Triplet, now: number): GreylistResult => {
      const d = decide({ client: getClient.get(t.network) ?? null, triplet: getTriplet.get(t.network, t.sender, t.rcpt) ?? null }, now, p);
      if (d.client === null) deleteClient.run(t.network);
      else if (d.client) putClient.run(t.network, d.client.passes, d.client.last_seen);
      if (d.triplet) putTriplet.run(t.network, t.sender, t.rcpt, d.triplet.first_seen, d.triplet.last_seen, d.triplet.attempts, d.triplet.passes);
      return d.result;
    }).immediate as unknown as (t: Triplet, now: number) => GreylistResult;
  }

  check(t: Triplet, now: number): GreylistResult {
    if (now - this.lastPrune >= PRUNE_EVERY_MS) this.prune(now);
    return this.step(t, now);
  }

  /** Deletes triplets and client networks nobody will ask about again. */
  prune(now: number): number {
    this.lastPrune = now;
    const c = pruneCutoffs(now, this.p);
    const a = this.db.prepare('DELETE FROM triplet WHERE (passes = 0 AND first_seen < ?) OR (passes > 0 AND last_seen < ?)')
      .run(c.pendingBefore, c.passedBefore).changes;
    const b = this.db.prepare('DELETE FROM client WHERE last_seen < ?').run(c.clientBefore).changes;
    return a + b;
  }

  close(): void {
    this.db.close();
  }
}
