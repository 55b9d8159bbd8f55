// The indexer's thread in `serve` (indexer-thread.ts starts it). Synchronous
// SQLite and file reads, off the event loop that carries the SMTP sessions.
import { parentPort, workerData } from 'node:worker_threads';
import { indexBatch, lagOf, removeIndexedSegments } from './indexer.js';
import { openStoreWriter } from './open.js';

export interface IndexerWorkerData { store: string; journal: string; keepMs: number; pollMs: number; cleanEveryMs: number }
export type IndexerMessage =
  | { type: 'damage'; damage: unknown }
  | { type: 'indexed'; events: number; ms: number }
  | { type: 'removed'; segments: number }
  | { type: 'error'; error: string }
  | { type: 'stopped' };

const port = parentPort;
if (!port) throw new Error('indexer-worker must run as a worker thread');
const data = workerData as IndexerWorkerData;
const store = openStoreWriter(data);
let stopping = false;
let lastClean = 0;
let timer: NodeJS.Timeout | null = null;

function round(): void {
  timer = null;
  if (stopping) return;
  let more = false;
  try {
    if (lagOf(store, data.journal).length > 0) {
      const t0 = Date.now();
      const r = indexBatch(store, data.journal);
      for (const d of r.damage) port!.postMessage({ type: 'damage', damage: d } satisfies IndexerMessage);
      if (r.events) port!.postMessage({ type: 'indexed', events: r.events, ms: Date.now() - t0 } satisfies IndexerMessage);
      more = r.more;
    }
    if (Date.now() - lastClean >= data.cleanEveryMs) {
      lastClean = Date.now();
      const segments = removeIndexedSegments(store, data.journal, data.keepMs);
      if (segments) port!.postMessage({ type: 'removed', segments } satisfies IndexerMessage);
    }
  } catch (err) {
    port!.postMessage({ type: 'error', error: (err as Error).message } satisfies IndexerMessage);
  }
  timer = setTimeout(round, more ? 0 : data.pollMs);
}

port.on('message', (msg: { stop?: true }) => {
  if (!msg.stop) return;
  stopping = true;
  if (timer) clearTimeout(timer);
  try {
    // What came in up to the stop goes into the store before the thread ends.
    for (let i = 0; i < 100 && indexBatch(store, data.journal).more; i++);
  } catch (err) {
    port.postMessage({ type: 'error', error: (err as Error).message } satisfies IndexerMessage);
  }
  store.close();
  port.postMessage({ type: 'stopped' } satisfies IndexerMessage);
});
round();
