// The indexer's thread in `serve` (indexer-thread.ts starts it). Store
// writes and file reads, off the event loop that carries the SMTP sessions.
// One round at a time: each schedules the next when it has ended.
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
/** The round under way (or the last one): a stop waits for it before the last batches. */
let running: Promise<void> = Promise.resolve();

const post = (m: IndexerMessage): void => port.postMessage(m);
const errorOf = (err: unknown): IndexerMessage => ({ type: 'error', error: (err as Error).message });

function schedule(ms: number): void {
  timer = setTimeout(() => {
    timer = null;
    running = round();
  }, ms);
}

async function round(): Promise<void> {
  let more = false;
  try {
    if ((await lagOf(store, data.journal)).length > 0) {
      const t0 = Date.now();
      const r = await indexBatch(store, data.journal);
      for (const d of r.damage) post({ type: 'damage', damage: d });
      if (r.events) post({ type: 'indexed', events: r.events, ms: Date.now() - t0 });
      more = r.more;
    }
    if (Date.now() - lastClean >= data.cleanEveryMs) {
      lastClean = Date.now();
      const segments = await removeIndexedSegments(store, data.journal, data.keepMs);
      if (segments) post({ type: 'removed', segments });
    }
  } catch (err) {
    post(errorOf(err));
  }
  // A stop that came during the round takes over from here.
  if (!stopping) schedule(more ? 0 : data.pollMs);
}

async function stop(): Promise<void> {
  stopping = true;
  if (timer) clearTimeout(timer);
  await running;
  try {
    // What came in up to the stop goes into the store before the thread ends.
    for (let i = 0; i < 100 && (await indexBatch(store, data.journal)).more; i++);
  } catch (err) {
    post(errorOf(err));
  }
  try {
    await store.close();
  } catch (err) {
    post(errorOf(err));
  }
  post({ type: 'stopped' });
}

port.on('message', (msg: { stop?: true }) => {
  if (!msg.stop || stopping) return;
  void stop();
});
running = round();
