// The greylisting state machine (RFC 6647 section 2.1), as a pure function
// of the stored rows: the SQLite store of one node (store.ts) and the
// PostgreSQL store of a cluster (pg-store.ts) only load the rows of a
// triplet and its client network, call decide(), and save what it says,
// inside one transaction that no other decision about the same client
// network can interleave with. So both stores decide alike by construction.
// All times are ms since the epoch from the injected clock.

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

export interface TripletRow { first_seen: number; last_seen: number; attempts: number; passes: number }
export interface ClientRow { passes: number; last_seen: number }

export interface GreylistDecision {
  result: GreylistResult;
  /** The client network's row after the decision: undefined = unchanged, null = delete it. */
  client?: ClientRow | null;
  /** The triplet's row after the decision: undefined = unchanged. */
  triplet?: TripletRow;
}

/** Decides one attempt of triplet `rows.triplet` from client network `rows.client` at `now`. */
export function decide(rows: { client: ClientRow | null; triplet: TripletRow | null }, now: number, p: GreylistPolicy): GreylistDecision {
  let client = rows.client;
  let clientWrite: ClientRow | null | undefined;
  if (client && now - client.last_seen > p.expiryMs) {
    // The network's allowance expired with its last message: it starts over.
    client = null;
    clientWrite = null;
  } else if (client && p.autoAllowAfter > 0 && client.passes >= p.autoAllowAfter) {
    const row = rows.triplet;
    return {
      result: {
        state: 'auto_allowed', pass: true, firstSeen: row?.first_seen ?? now, ageMs: row ? now - row.first_seen : 0,
        passes: row?.passes ?? 0, attempts: row?.attempts ?? 0, clientPasses: client.passes, waitMs: 0,
      },
      client: { passes: client.passes, last_seen: now },
    };
  }
  const clientPasses = client?.passes ?? 0;
  const row = rows.triplet;
  const fresh = !row
    || (row.passes > 0 && now - row.last_seen > p.expiryMs)
    || (row.passes === 0 && now - row.first_seen > p.retryWindowMs);
  if (fresh) {
    return {
      result: { state: 'new', pass: false, firstSeen: now, ageMs: 0, passes: 0, attempts: 1, clientPasses, waitMs: p.delayMs },
      ...(clientWrite === null ? { client: null } : {}),
      triplet: { first_seen: now, last_seen: now, attempts: 1, passes: 0 },
    };
  }
  const age = now - row.first_seen;
  if (row.passes === 0 && age < p.delayMs) {
    return {
      result: { state: 'too_early', pass: false, firstSeen: row.first_seen, ageMs: age, passes: 0, attempts: row.attempts + 1, clientPasses, waitMs: p.delayMs - age },
      ...(clientWrite === null ? { client: null } : {}),
      triplet: { first_seen: row.first_seen, last_seen: now, attempts: row.attempts + 1, passes: 0 },
    };
  }
  // Passes: a known triplet, or the first retry after the delay. Each pass
  // counts for the client network (automatic allowance).
  const bumped = { passes: clientPasses + 1, last_seen: now };
  return {
    result: {
      state: row.passes > 0 ? 'known' : 'retried', pass: true, firstSeen: row.first_seen, ageMs: age,
      passes: row.passes + 1, attempts: row.attempts + 1, clientPasses: bumped.passes, waitMs: 0,
    },
    client: bumped,
    triplet: { first_seen: row.first_seen, last_seen: now, attempts: row.attempts + 1, passes: row.passes + 1 },
  };
}

/** Rows nobody will ask about again: pending triplets first seen, passed ones and client networks last seen, before these times. */
export function pruneCutoffs(now: number, p: GreylistPolicy): { pendingBefore: number; passedBefore: number; clientBefore: number } {
  return { pendingBefore: now - p.retryWindowMs, passedBefore: now - p.expiryMs, clientBefore: now - p.expiryMs };
}

/** How often a store deletes old rows (by the injected clock). */
export const PRUNE_EVERY_MS = 60 * 60 * 1000;
