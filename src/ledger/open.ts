// The one place that opens the ledger's parts from the configuration: the
// journal a process writes to, the store research reads (the embedded SQLite
// file, or a cluster's PostgreSQL), and the store writer of the indexer and
// of log ingest. Research opens the store through openResearchStore, which
// first lets the store take in what this node's journal holds
// (read-your-writes), and says how far it is still behind: for a cluster,
// also how far behind the other nodes are, as they last reported it.
import { isPostgresUrl, type ResolvedConfig } from '../config/load.js';
import { convertLegacyLedger, type Conversion } from './convert.js';
import { catchUp } from './indexer.js';
import { JournalWriter, listStreams } from './journal/index.js';
import type { ChunkReader } from './store/chunk-reader.js';
import { openPool, storeError, type PgTarget } from './store/pg/connect.js';
import { clusterLag } from './store/pg/lag.js';
import { migrate, type MigrateResult } from './store/pg/migrations.js';
import { openPgReader } from './store/pg/reader.js';
import { PgStoreWriter } from './store/pg/writer.js';
import { SqliteStoreReader } from './store/sqlite/reader.js';
import { SqliteStoreWriter } from './store/sqlite/writer.js';
import type { StoreLag, StoreWriter } from './store/types.js';

/**
 * Where the store is: a SQLite file, or a PostgreSQL URL with its password
 * file. `node`: whose journals a writer takes in (a cluster's writers of one
 * node take turns; the nodes write side by side).
 */
export interface StoreSpec { store: string; storePasswordFile?: string | null; node?: string }
export type LedgerPaths = StoreSpec & { journal: string };

export const isClusterStore = (spec: Pick<StoreSpec, 'store'>): boolean => isPostgresUrl(spec.store);

export function pgTargetOf(spec: StoreSpec): PgTarget {
  return { url: spec.store, passwordFile: spec.storePasswordFile ?? null };
}

/** The store spec of a configuration (this node's writes). */
export function storeSpecOf(cfg: Pick<ResolvedConfig, 'paths' | 'node'>): LedgerPaths {
  return { store: cfg.paths.store, storePasswordFile: cfg.paths.storePasswordFile, journal: cfg.paths.journal, node: cfg.node };
}

/** This process's journal stream (gateway worker, POP3 ...): one writer per stream. */
export function openJournal(cfg: ResolvedConfig, stream: string): Promise<JournalWriter> {
  return JournalWriter.open(cfg.paths.journal, cfg.node, stream, { segmentBytes: cfg.ledger.segment_mb * 1024 * 1024 });
}

/**
 * The store's write side: the indexer, log ingest, prune, the conversion.
 * `writer` names whose writes they are in a cluster store (default: the
 * journals of spec.node); `migrate`: a cluster store's schema is brought up
 * to date at the first contact (the indexer of `serve`).
 */
export function openStoreWriter(spec: StoreSpec, opts: { writer?: string; migrate?: boolean } = {}): StoreWriter {
  if (isClusterStore(spec)) return new PgStoreWriter(pgTargetOf(spec), { writer: opts.writer ?? `journals of ${spec.node ?? '?'}`, migrate: opts.migrate === true });
  return new SqliteStoreWriter(spec.store);
}

/** The store's read side, without catching up (research threads catch up per question: catchUpStore). `node`: whose chunks eventsAfter counts (a node's /metrics). */
export function openStoreReader(spec: StoreSpec, opts: { countNode?: string } = {}): ChunkReader {
  if (isClusterStore(spec)) return openPgReader(pgTargetOf(spec), opts.countNode !== undefined ? { node: opts.countNode } : {});
  return new SqliteStoreReader(spec.store);
}

/**
 * At start of `serve` (and of the commands that read the store): the store
 * exists, and a ledger of the previous format is converted into it.
 */
export async function prepareStore(cfg: ResolvedConfig, opts: { quiet?: boolean } = {}): Promise<Conversion | null> {
  const w = openStoreWriter(storeSpecOf(cfg), { migrate: true });
  try {
    return await convertLegacyLedger(cfg.paths.legacyLedger, w, opts);
  } finally {
    await w.close();
  }
}

/** A cluster store's schema brought to this version (serve at start, `mailproof migrate`). */
export async function migrateStore(spec: StoreSpec): Promise<MigrateResult | null> {
  if (!isClusterStore(spec)) return null;
  const pool = openPool(pgTargetOf(spec), { max: 1, application: 'mailproof migrate' });
  try {
    return await migrate(pool);
  } catch (err) {
    throw storeError(spec.store, err);
  } finally {
    await pool.end();
  }
}

export interface ResearchStore {
  reader: ChunkReader;
  /** Streams whose newest events the store did not have in time (empty: it has everything the journal had). */
  lag: StoreLag[];
  close(): Promise<void>;
}

/**
 * Brings the store up to what the journals hold now, for up to waitMs (the
 * indexer of a running `serve` may be doing it at the same time; the store's
 * write lock and positions keep that exact), and opens it for reading.
 */
export async function catchUpStore(paths: LedgerPaths, waitMs: number): Promise<StoreLag[]> {
  const w = openStoreWriter(paths);
  try {
    const local = (await catchUp(w, paths.journal, Date.now() + waitMs)).lag;
    if (!(w instanceof PgStoreWriter)) return local;
    // The other nodes, as they last reported their journals; this node's own
    // streams are the ones just caught up (its reports may be older).
    const mine = new Set(listStreams(paths.journal).map((s) => `${s.node}\u0000${s.stream}`));
    const others = (await clusterLag(w.pool).catch((err: unknown) => { throw storeError(paths.store, err); }))
      .filter((l) => !mine.has(`${l.node}\u0000${l.stream}`));
    return [...local, ...others];
  } finally {
    await w.close();
  }
}

export async function openResearchStore(cfg: Pick<ResolvedConfig, 'paths' | 'ledger' | 'node'>, opts: { waitMs?: number } = {}): Promise<ResearchStore> {
  const spec = storeSpecOf(cfg);
  const lag = await catchUpStore(spec, opts.waitMs ?? cfg.ledger.research_wait_ms);
  const reader = openStoreReader(spec);
  return { reader, lag, close: () => reader.close() };
}

/** One line per stream the store is behind, for people. */
export function describeLag(lag: StoreLag[]): string[] {
  return lag.map((l) => l.silent_ms !== undefined
    ? `node ${l.node} (${l.stream}) has not reported its journal for ${Math.round(l.silent_ms / 1000)} s${l.events ? ` and the store is ${l.events} event(s) behind it` : ''}: the answer may miss its newest events`
    : `the store is ${l.events} event(s) behind the journal of node ${l.node} (${l.stream})${l.behind_ms ? `, the oldest of them ${Math.round(l.behind_ms / 1000)} s old` : ''}: the answer may miss them`);
}
