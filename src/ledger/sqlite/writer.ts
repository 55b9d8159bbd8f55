import { Worker } from 'node:worker_threads';
import type { LedgerEvent, LedgerWriter } from '../types.js';

interface Pending { resolve: () => void; reject: (e: Error) => void }

const NOTE_HOLD_MS = 20;
// ... and never more than this many held.
const MAX_HELD_NOTES = 2000;

/**
 * Durable, group-committed appends through a dedicated thread (see
 * writer-worker.ts for why a thread). append() resolves only after the commit
 * (and its fsync) returned.
 */
export class SqliteLedgerWriter implements LedgerWriter {
  private worker: Worker;
  private pending = new Map<number, Pending>();
  private nextId = 1;
  private dead: Error | null = null;
  private closing: Promise<void> | null = null;
  readonly ready: Promise<void>;

  constructor(private readonly path: string) {
    this.worker = new Worker(new URL('./writer-worker.js', import.meta.url), { workerData: { path } });
    let onReady!: () => void;
    let onFail!: (e: Error) => void;
    this.ready = new Promise<void>((res, rej) => { onReady = res; onFail = rej; });
    this.worker.on('message', (msg: { ready?: true; ok?: number[]; failed?: number[]; error?: string; closed?: true }) => {
      if (msg.ready) onReady();
      for (const id of msg.ok ?? []) { this.pending.get(id)?.resolve(); this.pending.delete(id); }
      for (const id of msg.failed ?? []) {
        this.pending.get(id)?.reject(new Error(`ledger write failed: ${msg.error ?? 'unknown'}`));
        this.pending.delete(id);
      }
    });
    this.worker.on('error', (err) => {
      this.dead = err;
      onFail(err);
      this.failAll(err);
    });
    this.worker.on('exit', (code) => {
      const err = this.dead ?? new Error(`ledger writer exited (${code})`);
      this.dead = err;
      this.failAll(err);
    });
    // A ready-promise nobody awaits must not become an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  append(events: LedgerEvent[], opts: { durable?: boolean } = {}): Promise<void> {
    const durable = opts.durable ?? true;
    if (events.length === 0) return Promise.resolve();
    if (this.dead) return Promise.reject(this.dead);
    if (this.closing) return Promise.reject(new Error('ledger is closing'));
    if (!durable) return this.addNotes(events);
    // The notes held so far ride along, first: same commit, append order kept.
    const notes = this.takeNotes();
    if (!notes) return this.post(events, true);
    const done = this.post(notes.events.concat(events), true);
    done.then(notes.resolve, notes.reject);
    return done;
  }

  private post(events: LedgerEvent[], durable: boolean): Promise<void> {
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, events, durable });
    });
  }

  // Notes (events no reply waits for) are held here up to NOTE_HOLD_MS and
  // then travel as one message, or sooner with the next durable append. A
  // session makes several notes per message, one per SMTP command, and each
  // postMessage is a structured clone plus a wake-up of the writer thread
  // (which this VM charges dearly for, bench/RESULTS.md). Held together they
  // also share a commit: every commit writes each page it touched to the WAL,
  // and one message's events touch the same table and index pages. What a
  // crash can lose is less than NOTE_HOLD_MS of events no reply depended on;
  // a durable append never waits for this timer.
  private notes: { events: LedgerEvent[]; done: Promise<void>; resolve: () => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | null = null;

  private addNotes(events: LedgerEvent[]): Promise<void> {
    if (!this.notes) {
      let resolve!: () => void;
      let reject!: (e: Error) => void;
      const done = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
      this.notes = { events: [], done, resolve, reject, timer: setTimeout(() => this.postNotes(), NOTE_HOLD_MS) };
    }
    const batch = this.notes;
    for (const e of events) batch.events.push(e);
    if (batch.events.length >= MAX_HELD_NOTES) this.postNotes();
    return batch.done;
  }

  private takeNotes(): SqliteLedgerWriter['notes'] {
    const batch = this.notes;
    if (batch) clearTimeout(batch.timer);
    this.notes = null;
    return batch;
  }

  private postNotes(): void {
    const batch = this.takeNotes();
    if (!batch) return;
    if (this.dead) { batch.reject(this.dead); return; }
    this.post(batch.events, false).then(batch.resolve, batch.reject);
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.postNotes();
    if (this.dead) return Promise.resolve();
    this.closing = new Promise<void>((resolve) => {
      this.worker.on('message', (msg: { closed?: true }) => {
        if (msg.closed) void this.worker.terminate().then(() => resolve());
      });
      this.worker.once('exit', () => resolve());
      this.worker.postMessage({ close: true });
    });
    return this.closing;
  }
}
