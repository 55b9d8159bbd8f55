import cluster, { type Worker } from 'node:cluster';
import { LocalLimiter, type ConnectionLimiter } from '../net/limiter.js';

// With several worker processes the per-IP and total limits must hold for the
// node, not per process: the primary keeps the counts, workers ask it over
// the cluster IPC channel (a round trip of well under a millisecond). The
// rate check's counters travel the same channel (checks/rate/cluster.ts).

interface AcqMsg { mp: 'acq'; id: number; ip: string }
interface RelMsg { mp: 'rel'; ip: string }
interface AnsMsg { mp: 'ans'; id: number; result: 'ok' | 'total' | 'per_ip' }

export class WorkerLimiter implements ConnectionLimiter {
  private next = 1;
  private waiting = new Map<number, (r: 'ok' | 'total' | 'per_ip') => void>();

  constructor() {
    process.on('message', (m: AnsMsg) => {
      if (m && m.mp === 'ans') {
        this.waiting.get(m.id)?.('ok' === m.result ? 'ok' : m.result);
        this.waiting.delete(m.id);
      }
    });
  }

  acquire(ip: string): Promise<'ok' | 'total' | 'per_ip'> {
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      process.send!({ mp: 'acq', id, ip } satisfies AcqMsg);
    });
  }

  release(ip: string): void {
    process.send!({ mp: 'rel', ip } satisfies RelMsg);
  }
}

/** Primary side: one LocalLimiter for the node; a dead worker's slots are freed. */
export function servePrimaryLimiter(maxTotal: number, maxPerIp: number): void {
  const limiter = new LocalLimiter(maxTotal, maxPerIp);
  const held = new Map<Worker, Map<string, number>>();
  cluster.on('message', (worker: Worker, msg: { mp?: unknown } | null) => {
    // The rate check's messages share the channel (checks/rate/cluster.ts).
    if (!msg || typeof msg !== 'object' || (msg.mp !== 'acq' && msg.mp !== 'rel')) return;
    const m = msg as AcqMsg | RelMsg;
    const mine = held.get(worker) ?? new Map<string, number>();
    held.set(worker, mine);
    if (m.mp === 'acq') {
      const result = limiter.acquireSync(m.ip);
      if (result === 'ok') mine.set(m.ip, (mine.get(m.ip) ?? 0) + 1);
      worker.send({ mp: 'ans', id: m.id, result } satisfies AnsMsg);
    } else if (m.mp === 'rel') {
      const n = mine.get(m.ip) ?? 0;
      if (n > 0) {
        limiter.release(m.ip);
        if (n === 1) mine.delete(m.ip); else mine.set(m.ip, n - 1);
      }
    }
  });
  cluster.on('exit', (worker) => {
    for (const [ip, n] of held.get(worker) ?? []) for (let i = 0; i < n; i++) limiter.release(ip);
    held.delete(worker);
  });
}
