// The store side of a one-shot ingest, in a thread of its own (threaded-ledger.ts
// says why): batches of events with the positions they lead to, one
// transaction each, in the order they come.
import { parentPort, workerData } from 'node:worker_threads';
import type { StoreSpec } from '../ledger/open.js';
import { openIngestWriter } from './ledger.js';
import type { LedgerEvent } from '../ledger/types.js';

export type StoreJob = { id: number; events: LedgerEvent[]; state: Array<[string, unknown]> } | { close: true };
export type StoreReply = { id: number; error?: string } | { closed: true };

const port = parentPort;
if (!port) throw new Error('store-thread must run as a worker thread');
const store = openIngestWriter((workerData as { store: string | StoreSpec }).store);

// Each answer goes out once its transaction has ended; the writer runs the
// transactions in the order the jobs came, and a close after all of them.
port.on('message', (job: StoreJob) => {
  void handle(job);
});

async function handle(job: StoreJob): Promise<void> {
  if ('close' in job) {
    await store.close();
    port!.postMessage({ closed: true } satisfies StoreReply);
    port!.close(); // nothing left to wait for: the thread ends
    return;
  }
  try {
    await store.transaction(async (tx) => {
      await tx.add(job.events.map((event) => ({ event })));
      for (const [k, v] of job.state) await tx.putState(k, v);
    });
    port!.postMessage({ id: job.id } satisfies StoreReply);
  } catch (err) {
    port!.postMessage({ id: job.id, error: (err as Error).message } satisfies StoreReply);
  }
}
