import { Worker } from 'node:worker_threads';
import type { LedgerEvent, LedgerWriter } from '../types.js';

interface Pending { resolve: () => void; reject: (e: Error) => void }

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
    // Notes appended before go first, in their own job: the port keeps the
    // order, so they land in the same or an earlier commit.
    this.postNotes();
    return this.post(events, true);
  }

  private post(events: LedgerEvent[], durable: boolean): Promise<void> {
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, events, durable });
    });
  }

  // Notes (events no reply waits for) of one event-loop turn travel as one
  // message: a session makes several per message, and each postMessage is a
  // structured clone plus a wake-up of the writer thread.
  private notes: LedgerEvent[] = [];
  private notesDone: Promise<void> | null = null;
  private notesSettle: { resolve: () => void; reject: (e: Error) => void } | null = null;

  private addNotes(events: LedgerEvent[]): Promise<void> {
    for (const e of events) this.notes.push(e);
    if (!this.notesDone) {
      this.notesDone = new Promise<void>((resolve, reject) => { this.notesSettle = { resolve, reject }; });
      setImmediate(() => this.postNotes());
    }
    return this.notesDone;
  }

  private postNotes(): void {
    if (!this.notesSettle) return;
    const settle = this.notesSettle;
    const events = this.notes;
    this.notes = [];
    this.notesDone = null;
    this.notesSettle = null;
    if (this.dead) { settle.reject(this.dead); return; }
    this.post(events, false).then(settle.resolve, settle.reject);
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
