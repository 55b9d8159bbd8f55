// The one place that opens the ledger's parts from the configuration: the
// journal a process writes to, the store research reads, and the store
// writer of the indexer and of log ingest. Research opens the store through
// openResearchStore, which first lets the store take in what the journal
// holds (read-your-writes), and says how far it is still behind.
import type { ResolvedConfig } from '../config/load.js';
import { convertLegacyLedger, type Conversion } from './convert.js';
import { catchUp } from './indexer.js';
import { JournalWriter } from './journal/index.js';
import { SqliteStoreReader } from './store/sqlite/reader.js';
import { SqliteStoreWriter } from './store/sqlite/writer.js';
import type { StoreLag, StoreWriter } from './store/types.js';

export type LedgerPaths = Pick<ResolvedConfig['paths'], 'journal' | 'store'>;

/** This process's journal stream (gateway worker, POP3 ...): one writer per stream. */
export function openJournal(cfg: ResolvedConfig, stream: string): Promise<JournalWriter> {
  return JournalWriter.open(cfg.paths.journal, cfg.node, stream, { segmentBytes: cfg.ledger.segment_mb * 1024 * 1024 });
}

/** The store's write side: the indexer, log ingest, prune, the conversion. */
export function openStoreWriter(paths: Pick<LedgerPaths, 'store'>): StoreWriter {
  return new SqliteStoreWriter(paths.store);
}

/** The store's read side, without catching up (research threads catch up per question: catchUpStore). */
export function openStoreReader(paths: Pick<LedgerPaths, 'store'>): SqliteStoreReader {
  return new SqliteStoreReader(paths.store);
}

/**
 * At start of `serve` (and of the commands that read the store): the store
 * exists, and a ledger of the previous format is converted into it.
 */
export function prepareStore(cfg: ResolvedConfig, opts: { quiet?: boolean } = {}): Conversion | null {
  const w = openStoreWriter(cfg.paths);
  try {
    return convertLegacyLedger(cfg.paths.legacyLedger, w, opts);
  } finally {
    w.close();
  }
}

export interface ResearchStore {
  reader: SqliteStoreReader;
  /** Streams whose newest events the store did not have in time (empty: it has everything the journal had). */
  lag: StoreLag[];
  close(): void;
}

/**
 * Brings the store up to what the journals hold now, for up to waitMs (the
 * indexer of a running `serve` may be doing it at the same time; the store's
 * write lock and positions keep that exact), and opens it for reading.
 */
export function catchUpStore(paths: LedgerPaths, waitMs: number): StoreLag[] {
  const w = openStoreWriter(paths);
  try {
    return catchUp(w, paths.journal, Date.now() + waitMs).lag;
  } finally {
    w.close();
  }
}

export function openResearchStore(cfg: Pick<ResolvedConfig, 'paths' | 'ledger'>, opts: { waitMs?: number } = {}): ResearchStore {
  const lag = catchUpStore(cfg.paths, opts.waitMs ?? cfg.ledger.research_wait_ms);
  const reader = openStoreReader(cfg.paths);
  return { reader, lag, close: () => reader.close() };
}

/** One line per stream the store is behind, for people. */
export function describeLag(lag: StoreLag[]): string[] {
  return lag.map((l) => l.silent_ms !== undefined
    ? `node ${l.node} (${l.stream}) has not reported its journal for ${Math.round(l.silent_ms / 1000)} s${l.events ? ` and the store is ${l.events} event(s) behind it` : ''}: the answer may miss its newest events`
    : `the store is ${l.events} event(s) behind the journal of node ${l.node} (${l.stream})${l.behind_ms ? `, last taken ${Math.round(l.behind_ms / 1000)} s ago` : ''}: the answer may miss them`);
}
