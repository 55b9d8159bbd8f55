import type { LedgerEvent, LedgerReader, StoredEvent } from '../types.js';

/** One event for a store, with the journal record it came from (absent for ingested and converted events). */
export interface StoreInput {
  event: LedgerEvent;
  stream?: string;
  seq?: number;
}

/** How far one journal stream is in a store. */
export interface StorePosition {
  node: string;
  stream: string;
  /** The last record (sequence number) the store has. */
  seq: number;
  /** Where the next record starts: segment (its first seq) and byte offset. */
  segment: number;
  offset: number;
  /** Time of the newest event taken from the stream. */
  last_ts: number | null;
  /** When the position last moved (ms since the epoch). */
  updated: number;
}

/** How far a store is behind the journals, per stream that is behind. */
export interface StoreLag {
  node: string;
  stream: string;
  /** Records in the journal that the store does not have yet. */
  events: number;
  /** Age of the oldest of them, in ms (0 when unknown). */
  behind_ms: number;
  /**
   * A cluster node that has not reported its journals for this long (ms)
   * while it was not stopped: it may hold events the store does not know of
   * (`events` counts only those it reported).
   */
  silent_ms?: number;
}

/** What research reads: the events, and how far they are. */
export interface EventStore extends LedgerReader {
  positions(): Promise<StorePosition[]>;
  /** Events of the chunks after a cursor (a chunk's first id; at most `maxChunks` chunks) and the cursor to ask from next: metrics count what is new. */
  eventsAfter(afterId: number, maxChunks: number): Promise<{ events: StoredEvent[]; next: number; more: boolean }>;
  /** The highest event id handed out (0: none). */
  lastId(): Promise<number>;
}

/**
 * What one write transaction may do. Everything done through it lands
 * together or not at all. Valid only while the function given to
 * StoreWriter.transaction() runs: a transaction object kept beyond that
 * refuses (its store has committed or rolled back).
 */
export interface StoreTx {
  /** The positions as this transaction sees them (another writer cannot move them until it ends). */
  positions(): Promise<StorePosition[]>;
  /** Adds events; returns how many. */
  add(inputs: StoreInput[]): Promise<number>;
  /** Moves one journal stream's position (with the events taken from it, in this transaction). */
  setPosition(p: StorePosition): Promise<void>;
  /** Log ingest's and the conversion's own positions and state (null: none saved under the key). */
  state<T>(key: string): Promise<T | null>;
  putState(key: string, value: unknown): Promise<void>;
}

/**
 * The write side every store has (the embedded SQLite one, a cluster's
 * PostgreSQL one): what the indexer, log ingest and the conversion use.
 * Asynchronous, since a cluster store's client is. Positions read inside a
 * transaction are the ones its rows commit with: that is what makes
 * indexing exactly-once with several writers taking turns.
 */
export interface StoreWriter {
  /**
   * Runs fn as one write transaction; transactions of one writer object run
   * one after another (never interleaved). On a throw, nothing of it lands
   * and the error propagates. fn must not call transaction() of the same
   * writer: that one waits for fn to end, which never comes.
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  /** The positions as committed (after the transactions of this writer already asked for). */
  positions(): Promise<StorePosition[]>;
  /** Makes what was committed so far durable (the store may commit without syncing; journal segments are removed only after this). */
  makeDurable(): Promise<void>;
  /** Removes sessions whose newest event is older than the cutoff (ms since the epoch); returns the number of events removed. */
  prune(olderThanMs: number): Promise<number>;
  /** Closes the store once the transactions already asked for have ended. */
  close(): Promise<void>;
}
