// Where ingest writes: straight into the store (ledger/store), not through
// the journal. A log file is already a durable record with positions of its
// own; what the journal gives the gateway (durable before a reply) ingest
// does not need. The read positions and the parsers' open state live in the
// store and are committed in the same transaction as the events they led
// to, so a crash between batches repeats nothing and loses nothing.
import { openStoreWriter, type StoreSpec } from '../ledger/open.js';
import type { StoreInput, StoreWriter } from '../ledger/store/types.js';
import type { LedgerEvent } from '../ledger/types.js';

/** Ingest's writer: a store file, or a store spec (a cluster's PostgreSQL); ingests take turns in a cluster store. */
export function openIngestWriter(store: string | StoreSpec): StoreWriter {
  return openStoreWriter(typeof store === 'string' ? { store } : store, { writer: 'ingest', migrate: true });
}

export class IngestLedger {
  private store: StoreWriter;
  private pending: StoreInput[] = [];

  /** bulk: a one-shot ingest (kept for the callers; the store needs no bulk mode: it keeps one index entry per session and term). */
  constructor(store: string | StoreSpec, _opts: { bulk?: boolean } = {}) {
    this.store = openIngestWriter(store);
  }

  /** A saved position or parser state (null: none), as committed. */
  state<T>(key: string): Promise<T | null> {
    return this.store.transaction((tx) => tx.state<T>(key));
  }

  /**
   * Queues one event; never touches the database, so it cannot throw a
   * database error into a parser (whose errors count as lines not
   * understood). commit() writes what is queued.
   */
  add(e: LedgerEvent): void {
    this.pending.push({ event: e });
  }

  /** Nothing to do: a batch goes to the store whole, at commit(), where its sessions are grouped into chunks. */
  flush(): void {}

  /**
   * Writes the batch and the positions/parser state in one transaction:
   * events and the state they lead to land together or not at all.
   */
  async commit(state: Array<[string, unknown]>): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    await this.store.transaction(async (tx) => {
      await tx.add(batch);
      for (const [k, v] of state) await tx.putState(k, v);
    });
  }

  /** Drops the open batch; the saved positions still point before it. */
  rollback(): void {
    this.pending = [];
  }

  finish(): void {}

  async close(): Promise<void> {
    this.rollback();
    await this.store.close();
  }
}
