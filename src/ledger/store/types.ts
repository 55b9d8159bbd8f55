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
  /** Events numbered above `afterId` (at most `maxChunks` chunks of them) and the id to ask from next: metrics count what is new. */
  eventsAfter(afterId: number, maxChunks: number): Promise<{ events: StoredEvent[]; next: number; more: boolean }>;
  /** The highest event id handed out (0: none). */
  lastId(): Promise<number>;
}

/**
 * The write side every store has (the embedded SQLite one, a cluster's
 * PostgreSQL one): what the indexer, log ingest and the conversion use.
 * Everything inside one transaction() lands together or not at all, and
 * positions read inside it are the ones the rows commit with: that is what
 * makes indexing exactly-once with several writers taking turns.
 */
export interface StoreWriter {
  transaction<T>(fn: () => T): T;
  /** Adds events; inside transaction() only. */
  add(inputs: StoreInput[]): number;
  positions(): StorePosition[];
  setPosition(p: StorePosition): void;
  /** Log ingest's and the conversion's own positions and state. */
  state<T>(key: string): T | null;
  putState(key: string, value: unknown): void;
  /** Makes what was committed so far durable (the store may commit without syncing; journal segments are removed only after this). */
  makeDurable(): void;
  prune(olderThanMs: number): number;
  close(): void;
}
