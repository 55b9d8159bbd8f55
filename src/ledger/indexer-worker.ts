// The indexer's thread in `serve` (indexer-thread.ts starts it): takes this
// node's journals into the store (the embedded SQLite one, or ships them to a
// cluster's PostgreSQL). Store writes and file reads, off the event loop
// that carries the SMTP sessions. One round at a time: each schedules the
// next when it has ended. While the store cannot be written (PostgreSQL
// down) the journal keeps everything; the thread tries again with a growing
// pause, and keeps telling what it knows (indexer/state.json: status and
// /metrics) from the positions it last saw.
import { parentPort, workerData } from 'node:worker_threads';
import { indexBatch, journalHeads, lagOf, removeIndexedSegments } from './indexer.js';
import { openStoreWriter, type LedgerPaths } from './open.js';
import { writeShipState, type ShipState } from './ship-state.js';
import { describeTarget } from './store/pg/connect.js';
import { PgStoreWriter } from './store/pg/writer.js';
import type { StorePosition } from './store/types.js';

export interface IndexerWorkerData extends LedgerPaths {
  node: string;
  dataDir: string;
  keepMs: number;
  pollMs: number;
  cleanEveryMs: number;
}
export type IndexerMessage =
  | { type: 'damage'; damage: unknown }
  | { type: 'indexed'; events: number; ms: number }
  | { type: 'removed'; segments: number }
  | { type: 'error'; error: string }
  | { type: 'recovered'; downMs: number }
  | { type: 'stopped' };

/** Longest pause between tries while the store fails. */
const MAX_BACKOFF_MS = 10_000;
/** How often a cluster node reports its journals' heads when nothing changes (lag.ts: silent after a minute). */
const REPORT_EVERY_MS = 5_000;
/** How often the state file is written at most. */
const STATE_EVERY_MS = 1_000;

const port = parentPort;
if (!port) throw new Error('indexer-worker must run as a worker thread');
const data = workerData as IndexerWorkerData;
const store = openStoreWriter(data, { migrate: true });
const cluster = store instanceof PgStoreWriter ? store : null;
let stopping = false;
let lastClean = 0;
let timer: NodeJS.Timeout | null = null;
/** The round under way (or the last one): a stop waits for it before the last batches. */
let running: Promise<void> = Promise.resolve();
let failures = 0;
let lastReport = 0;
let lastReported = '';
let lastState = 0;
/** The positions as last read from the store: the backlog is told from them while it is unreachable. */
let known: StorePosition[] = [];
const state: ShipState = {
  node: data.node, store: cluster ? 'postgres' : 'sqlite', target: cluster ? describeTarget(data.store) : data.store,
  pid: process.pid, written: 0, up: true, since: Date.now(), last_error: null, backlog: [], last_shipped: null,
};

const post = (m: IndexerMessage): void => port.postMessage(m);

function saveState(force = false): void {
  const now = Date.now();
  if (!force && now - lastState < STATE_EVERY_MS) return;
  lastState = now;
  try {
    writeShipState(data.dataDir, { ...state, written: now });
  } catch { /* the data directory is the gateway's concern; status then shows nothing */ }
}

function schedule(ms: number): void {
  timer = setTimeout(() => {
    timer = null;
    running = round();
  }, ms);
}

/** This node's journal heads to the cluster store, when they changed or every REPORT_EVERY_MS. */
async function report(stopped = false): Promise<void> {
  if (!cluster) return;
  const heads = journalHeads(known, data.journal).filter((h) => h.node === data.node);
  const key = JSON.stringify(heads.map((h) => [h.stream, h.seq]));
  if (!stopped && key === lastReported && Date.now() - lastReport < REPORT_EVERY_MS) return;
  const oldest = new Map(state.backlog.map((b) => [b.stream, Date.now() - b.behind_ms]));
  await cluster.reportHeads(heads.map((h) => ({ node: h.node, stream: h.stream, seq: h.seq, ts: h.seq > h.have ? oldest.get(h.stream) ?? null : null })), { stopped });
  lastReported = key;
  lastReport = Date.now();
}

async function round(): Promise<void> {
  let more = false;
  try {
    known = await store.positions();
    const lag = await lagOf({ positions: async () => known }, data.journal);
    if (lag.length > 0) {
      const t0 = Date.now();
      const r = await indexBatch(store, data.journal);
      for (const d of r.damage) post({ type: 'damage', damage: d });
      if (r.events) {
        post({ type: 'indexed', events: r.events, ms: Date.now() - t0 });
        state.last_shipped = Date.now();
      }
      more = r.more;
      known = await store.positions();
    }
    await report();
    if (Date.now() - lastClean >= data.cleanEveryMs) {
      lastClean = Date.now();
      const segments = await removeIndexedSegments(store, data.journal, data.keepMs);
      if (segments) post({ type: 'removed', segments });
    }
    if (!state.up) post({ type: 'recovered', downMs: Date.now() - state.since });
    if (!state.up) { state.up = true; state.since = Date.now(); }
    failures = 0;
  } catch (err) {
    const reason = (err as Error).message;
    post({ type: 'error', error: reason });
    if (state.up) { state.up = false; state.since = Date.now(); }
    state.last_error = { at: Date.now(), reason: reason.slice(0, 300) };
    failures++;
  }
  try {
    state.backlog = (await lagOf({ positions: async () => known }, data.journal)).filter((l) => l.node === data.node)
      .map((l) => ({ stream: l.stream, events: l.events, behind_ms: l.behind_ms }));
  } catch { /* a journal being rolled: next round */ }
  saveState(!state.up || more);
  // A stop that came during the round takes over from here.
  if (stopping) return;
  schedule(failures ? Math.min(MAX_BACKOFF_MS, data.pollMs * 2 ** Math.min(failures, 6)) : more ? 0 : data.pollMs);
}

async function stop(): Promise<void> {
  stopping = true;
  if (timer) clearTimeout(timer);
  await running;
  try {
    // What came in up to the stop goes into the store before the thread ends.
    for (let i = 0; i < 100 && (await indexBatch(store, data.journal)).more; i++);
    known = await store.positions();
    // A node that stopped with nothing left to ship is no gap in the cluster's answers.
    await report((await lagOf({ positions: async () => known }, data.journal)).every((l) => l.node !== data.node));
  } catch (err) {
    post({ type: 'error', error: (err as Error).message });
  }
  try {
    await store.close();
  } catch (err) {
    post({ type: 'error', error: (err as Error).message });
  }
  post({ type: 'stopped' });
}

port.on('message', (msg: { stop?: true }) => {
  if (!msg.stop || stopping) return;
  void stop();
});
running = round();
