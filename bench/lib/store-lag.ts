// How far a mailproof instance's store is behind its journal, read from
// outside the server: lagOf over the store's positions through a reader (a
// writer would take the write lock the server's indexer needs; lagOf needs
// positions only) and the journal's segments as they are on disk. The
// benchmark measures the indexer, so it must not do the indexer's work for
// it. The store is the embedded SQLite file or a cluster's PostgreSQL (its
// positions of this node's streams, which the node's shipper commits).
import Database from 'better-sqlite3';
import { journalHeads, lagOf } from '../../src/ledger/indexer.js';
import { readStream, START, type Position } from '../../src/ledger/journal/index.js';
import { isClusterStore, openStoreReader, type StoreSpec } from '../../src/ledger/open.js';
import type { ChunkReader } from '../../src/ledger/store/chunk-reader.js';
import { decodeChunk } from '../../src/ledger/store/codec.js';
import type { StoredEvent } from '../../src/ledger/types.js';

export interface LagSample {
  /** Records in the journal that the store does not have yet (all streams). */
  events: number;
  /** Age of the oldest of them (now - its event time), ms; 0 when the store has everything. */
  ms: number;
  /** Streams that are behind. */
  streams: number;
}

export class StoreWatch {
  private reader: ChunkReader | null = null;
  private raw: Database.Database | null = null;
  /** Store id of the newest chunk counted so far (chunks are never rewritten; ids only grow); for PostgreSQL the newest event id. */
  private lastChunk = 0;
  private kinds = new Map<string, number>();

  readonly spec: StoreSpec;

  constructor(store: string | StoreSpec, readonly journal: string) {
    this.spec = typeof store === 'string' ? { store } : store;
  }

  private open(): ChunkReader {
    this.reader ??= openStoreReader(this.spec);
    return this.reader;
  }

  /** The lag now: lagOf (what serve's indexer and research go by), plus the age of the oldest record missing. */
  async lag(now = Date.now()): Promise<LagSample> {
    // One read of the positions serves lagOf and the ages below.
    const positions = await this.open().positions();
    const behind = await lagOf({ positions: async () => positions }, this.journal, now);
    const out: LagSample = { events: 0, ms: 0, streams: behind.length };
    if (behind.length === 0) return out;
    const have = new Map(positions.map((p) => [`${p.node}\u0000${p.stream}`, p]));
    for (const l of behind) {
      out.events += l.events;
      const p = have.get(`${l.node}\u0000${l.stream}`);
      const from: Position = p ? { seq: p.seq, segment: p.segment, offset: p.offset } : START;
      // The first record the store lacks: its event time says how old the lag is.
      const first = readStream(this.journal, l.node, l.stream, from, { maxRecords: 1 }).records[0];
      if (first) out.ms = Math.max(out.ms, now - first.event.ts);
    }
    return out;
  }

  /** Records the journal holds (all streams, by their sequence numbers): what the shipper has to take in. */
  async journalRecords(): Promise<number> {
    return journalHeads(await this.open().positions(), this.journal).reduce((n, h) => n + h.seq, 0);
  }

  /**
   * Waits until the store has every record the journal had when called;
   * returns how long that took (ms). Throws after timeoutMs.
   */
  async caughtUp(timeoutMs: number, pollMs = 10): Promise<number> {
    const t0 = Date.now();
    for (;;) {
      if ((await this.lag()).events === 0) return Date.now() - t0;
      if (Date.now() - t0 > timeoutMs) throw new Error(`the store did not catch up with the journal in ${timeoutMs} ms (${JSON.stringify(await this.lag())})`);
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  /**
   * Events of one kind in the store. Counted incrementally: only the chunks
   * added since the last call are decoded (the chunks_first index orders
   * them as the store took them), so a check between runs costs the run's
   * events, not the whole store's.
   */
  async count(kind: string): Promise<number> {
    if (isClusterStore(this.spec)) {
      // The store's own "what is new" (ids grow with every batch of this node's
      // writer), in one page: eventsAfter goes on from the highest event id it
      // saw, and a page that ends inside a batch (a session's chunk holds ids
      // above the first ids of chunks not read yet) would skip those.
      const r = await this.open().eventsAfter(this.lastChunk, 10_000_000);
      for (const e of r.events) this.kinds.set(e.kind, (this.kinds.get(e.kind) ?? 0) + 1);
      this.lastChunk = r.next;
      return this.kinds.get(kind) ?? 0;
    }
    this.open();
    this.raw ??= new Database(this.spec.store, { readonly: true, fileMustExist: true });
    this.raw.pragma('busy_timeout = 10000');
    const rows = this.raw.prepare('SELECT first_id, codec, body FROM chunks WHERE first_id > ? ORDER BY first_id').raw(true).all(this.lastChunk) as [number, number, Buffer][];
    for (const [first, codec, body] of rows) {
      for (const e of decodeChunk(body, codec)) this.kinds.set(e.kind, (this.kinds.get(e.kind) ?? 0) + 1);
      this.lastChunk = Math.max(this.lastChunk, first);
    }
    return this.kinds.get(kind) ?? 0;
  }

  /** Every event in the store (for figures taken once, at the end). */
  async *events(): AsyncGenerator<StoredEvent> {
    yield* this.open().all();
  }

  async close(): Promise<void> {
    const reader = this.reader;
    this.reader = null;
    this.raw?.close();
    this.raw = null;
    await reader?.close();
  }
}
