import cluster, { type Worker } from 'node:cluster';
import { MemoryRateStore, type RateResult } from './store.js';

// With several worker processes the rate limits must hold for the node, not
// per process: the primary keeps the counters, workers ask it over the
// cluster IPC channel, beside the connection limits (smtp/cluster-limiter.ts).
// Here, with the check, so the check imports nothing of the session.

interface RateMsg { mp: 'rate'; id: number; kind: string; client: string; now: number; windowMs: number; limit: number }
interface RateAnsMsg { mp: 'rateans'; id: number; result: RateResult }

/** Worker side of the node's rate counters. */
export class WorkerRateClient {
  private next = 1;
  private waiting = new Map<number, (r: RateResult) => void>();

  constructor() {
    process.on('message', (m: RateAnsMsg) => {
      if (m && m.mp === 'rateans') {
        this.waiting.get(m.id)?.(m.result);
        this.waiting.delete(m.id);
      }
    });
  }

  hit(kind: string, client: string, now: number, windowMs: number, limit: number): Promise<RateResult> {
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      process.send!({ mp: 'rate', id, kind, client, now, windowMs, limit } satisfies RateMsg);
    });
  }
}

/** Primary side: the node's rate counters, answering the workers. */
export function serveRatePrimary(): void {
  const rates = new MemoryRateStore();
  cluster.on('message', (worker: Worker, m: RateMsg | { mp?: unknown }) => {
    if (!m || typeof m !== 'object' || m.mp !== 'rate') return;
    const r = m as RateMsg;
    worker.send({ mp: 'rateans', id: r.id, result: rates.hit(r.kind, r.client, r.now, r.windowMs, r.limit) } satisfies RateAnsMsg);
  });
}
