import type { LedgerReader } from '../types.js';

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
}

/** What research reads: the events, and how far they are. */
export interface EventStore extends LedgerReader {
  positions(): StorePosition[];
}
