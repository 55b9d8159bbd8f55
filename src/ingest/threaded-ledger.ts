// A one-shot ingest on two cores: this thread reads and parses, a store
// thread (store-thread.ts) encodes and writes the batch before. Parsing and
// storing each take about half of an ingest's time (bench/RESULTS.md), so
// overlapping them nearly halves it; moving a batch's events to the other
// thread (a structured clone) costs a fraction of what it saves. At most
// two batches are on their way, so memory stays bounded. Each batch is
// committed with its positions, in order: a crash loses only batches not
// yet committed, and their lines are read again next time.
import { Worker } from 'node:worker_threads';
import type { StoreSpec } from '../ledger/open.js';
import { openIngestWriter } from './ledger.js';
import type { StoreWriter } from '../ledger/store/types.js';
import type { LedgerEvent } from '../ledger/types.js';
import type { StoreJob, StoreReply } from './store-thread.js';

const MAX_IN_FLIGHT = 2;

export class ThreadedIngestLedger {
  private worker: Worker;
  private pending: LedgerEvent[] = [];
  private waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private inFlight: Promise<void>[] = [];
  private nextId = 1;
  private failed: Error | null = null;
  private readonly initial: StoreWriter;

  constructor(store: string | StoreSpec) {
    // The saved positions are read here, before the thread writes anything.
    this.initial = openIngestWriter(store);
    this.worker = new Worker(new URL('./store-thread.js', import.meta.url), { workerData: { store } });
    this.worker.on('message', (m: StoreReply) => {
      if ('closed' in m) return;
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.error) {
        this.failed ??= new Error(m.error);
        w?.reject(new Error(m.error));
      } else {
        w?.resolve();
      }
    });
    this.worker.on('error', (err) => {
      this.failed ??= err;
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    });
  }

  /** A saved position or parser state (null: none), as committed. */
  state<T>(key: string): Promise<T | null> {
    return this.initial.transaction((tx) => tx.state<T>(key));
  }

  add(e: LedgerEvent): void {
    this.pending.push(e);
  }

  flush(): void {}

  /** Hands the batch and its positions to the store thread; resolves when it is committed. */
  commit(state: Array<[string, unknown]>): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    const done = new Promise<void>((resolve, reject) => { this.waiting.set(id, { resolve, reject }); });
    this.worker.postMessage({ id, events: this.pending, state } satisfies StoreJob);
    this.pending = [];
    this.inFlight.push(done);
    done.then(() => { this.inFlight = this.inFlight.filter((p) => p !== done); }, () => undefined);
    return done;
  }

  /** Waits until at most `max` batches are on their way (the first error is thrown here). */
  async drain(max = MAX_IN_FLIGHT - 1): Promise<void> {
    while (this.inFlight.length > max) await this.inFlight[0];
    if (this.failed) throw this.failed;
  }

  rollback(): void {
    this.pending = [];
  }

  finish(): void {}

  async close(): Promise<void> {
    this.pending = [];
    await Promise.allSettled(this.inFlight);
    await this.initial.close();
    await new Promise<void>((resolve) => {
      this.worker.once('exit', () => resolve());
      this.worker.postMessage({ close: true } satisfies StoreJob);
      setTimeout(() => { void this.worker.terminate(); }, 10_000).unref();
    });
  }
}
