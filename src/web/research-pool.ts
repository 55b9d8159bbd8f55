// Research for `mailproof serve`, in worker threads. The web server shares its
// process with the SMTP gateway (smtp.workers=1, the default, puts the
// sessions on the same event loop), and research is synchronous SQLite plus
// CPU: a search over a busy domain or with an outcome filter takes seconds on
// a big ledger, and a PDF report some hundred milliseconds. On the main
// thread every SMTP session would stand still that long. Here the queries run
// on threads of their own, each with its own read-only connection (WAL lets
// them read while the gateway writes); the main thread only passes the
// question and the answer.
//
// Bounded: `threads` queries at once, `maxQueue` more waiting, and a query
// that runs longer than `timeoutMs` has its thread terminated (a replacement
// starts with the next job). Both refusals are ResearchUnavailable (HTTP 503).
// Hand-written: a pool of ~100 lines over node:worker_threads; the pool
// libraries on npm (piscina, workerpool) bring no per-job kill of a thread
// that is still working without restarting the whole pool.
import { Worker } from 'node:worker_threads';
import type { LedgerPaths } from '../ledger/open.js';
import type { Logger } from '../log/logger.js';
import type { Lang } from '../research/explain.js';
import type { ResearchSettings } from '../research/journeys.js';
import type { SearchFilter, SearchResult } from '../research/search.js';
import { ResearchUnavailable, type RenderedReport, type ReportOptions, type Research } from './research.js';
import type { ResearchJob, ResearchWorkerData } from './research-worker.js';
import type { Scope } from '../research/service.js';
import type { PublicView } from '../research/service.js';
import type { Overview, OverviewRequest } from '../research/overview.js';

export interface ResearchPoolOptions {
  ledger: LedgerPaths;
  waitMs: number;
  /** Configured mailboxes by domain (typo hints). */
  mailboxes: Record<string, string[]>;
  /** What the configuration tells research (cli/trace.ts researchSettings). */
  settings?: ResearchSettings;
  threads: number;
  maxQueue: number;
  timeoutMs: number;
  log?: Logger;
}

interface Waiting { job: ResearchJob; resolve: (v: unknown) => void; reject: (e: Error) => void }
interface Slot { worker: Worker; ready: boolean; busy: (Waiting & { id: number; timer: NodeJS.Timeout }) | null }

export class ResearchPool implements Research {
  private slots: Slot[] = [];
  private queue: Waiting[] = [];
  private nextId = 1;
  private closed = false;

  constructor(private readonly opts: ResearchPoolOptions) {}

  search(filter: SearchFilter, scope: Scope, lang: Lang): Promise<SearchResult> {
    return this.submit({ op: 'search', filter, scope, lang }) as Promise<SearchResult>;
  }

  journeysOfRef(ref: string, scope: Scope, lang: Lang, withMailboxes: boolean): Promise<SearchResult> {
    return this.submit({ op: 'ref', ref, scope, lang, withMailboxes }) as Promise<SearchResult>;
  }

  publicView(ref: string, lang: Lang): Promise<PublicView | null> {
    return this.submit({ op: 'public', ref, lang }) as Promise<PublicView | null>;
  }

  overview(req: OverviewRequest, scope: Scope, lang: Lang): Promise<Overview> {
    return this.submit({ op: 'overview', req, scope, lang }) as Promise<Overview>;
  }

  async report(result: SearchResult, opts: ReportOptions): Promise<RenderedReport> {
    const r = (await this.submit({ op: 'report', result, opts })) as { body: Uint8Array; contentType: string; filename: string };
    // A Buffer arrives as a plain Uint8Array (structured clone).
    return { ...r, body: Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength) };
  }

  /** Starts one thread now, so the first search does not wait for a thread to load (and a ledger that cannot be opened shows in the log at start). */
  warm(): void {
    if (!this.closed && this.slots.length === 0) this.spawn();
  }

  /** Threads running, and jobs waiting (for tests and logs). */
  get stats(): { threads: number; busy: number; queued: number } {
    return { threads: this.slots.length, busy: this.slots.filter((s) => s.busy).length, queued: this.queue.length };
  }

  private submit(job: ResearchJob): Promise<unknown> {
    if (this.closed) return Promise.reject(new ResearchUnavailable('the web server is shutting down'));
    const idle = this.slots.some((s) => !s.busy) || this.slots.length < this.opts.threads;
    if (!idle && this.queue.length >= this.opts.maxQueue) {
      this.opts.log?.warn({ threads: this.opts.threads, queued: this.queue.length }, 'research refused: all threads busy and the queue is full');
      return Promise.reject(new ResearchUnavailable('Research is busy; try again in a minute.'));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.pump();
    });
  }

  /** Hands waiting jobs to idle threads, and starts threads (up to the limit) for the rest. */
  private pump(): void {
    while (this.queue.length) {
      const slot = this.slots.find((s) => s.ready && !s.busy);
      if (!slot) break;
      const w = this.queue.shift()!;
      const id = this.nextId++;
      const timer = setTimeout(() => this.timeout(slot), this.opts.timeoutMs);
      slot.busy = { ...w, id, timer };
      slot.worker.postMessage({ id, job: w.job });
    }
    // A thread takes its first job once it says it is ready.
    let starting = this.slots.filter((s) => !s.ready).length;
    while (starting < this.queue.length && this.slots.length < this.opts.threads) {
      this.spawn();
      starting++;
    }
  }

  private spawn(): Slot {
    const data: ResearchWorkerData = { ledger: this.opts.ledger, waitMs: this.opts.waitMs, mailboxes: this.opts.mailboxes, settings: this.opts.settings ?? {} };
    const worker = new Worker(new URL('./research-worker.js', import.meta.url), { workerData: data });
    const slot: Slot = { worker, ready: false, busy: null };
    this.slots.push(slot);
    worker.on('message', (m: { ready?: true; id?: number; value?: unknown; error?: string }) => {
      if (m.ready) {
        slot.ready = true;
        this.pump();
        return;
      }
      const b = slot.busy;
      if (!b || b.id !== m.id) return;
      clearTimeout(b.timer);
      slot.busy = null;
      if (m.error !== undefined) b.reject(new Error(m.error));
      else b.resolve(m.value);
      this.pump();
    });
    // A thread that fails (cannot open the ledger, runs out of memory) takes
    // only its own job down; the next job starts a new one.
    worker.on('error', (err) => {
      this.opts.log?.error({ err: err.message }, 'research thread failed');
      this.drop(slot, err);
    });
    worker.on('exit', (code) => this.drop(slot, new Error(`research thread exited (${code})`)));
    return slot;
  }

  private drop(slot: Slot, err: Error): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    this.slots.splice(i, 1);
    const b = slot.busy;
    slot.busy = null;
    if (b) {
      clearTimeout(b.timer);
      b.reject(err);
    } else if (!slot.ready && this.queue.length && !this.closed) {
      // It died before taking a job (e.g. the ledger cannot be opened): tell
      // the waiting ones, rather than starting threads that die in a loop.
      for (const w of this.queue.splice(0)) w.reject(err);
    }
    if (!this.closed) this.pump();
  }

  private timeout(slot: Slot): void {
    const b = slot.busy;
    if (!b) return;
    this.opts.log?.warn({ timeout_s: this.opts.timeoutMs / 1000, op: b.job.op }, 'research query over its time: thread stopped');
    slot.busy = null;
    b.reject(new ResearchUnavailable('The query took too long; narrow the search (a shorter time window, a recipient instead of a domain).'));
    this.drop(slot, new Error('timeout'));
    void slot.worker.terminate();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.queue.splice(0)) w.reject(new ResearchUnavailable('the web server is shutting down'));
    const slots = this.slots.splice(0);
    for (const s of slots) {
      if (s.busy) { clearTimeout(s.busy.timer); s.busy.reject(new ResearchUnavailable('the web server is shutting down')); s.busy = null; }
    }
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}
