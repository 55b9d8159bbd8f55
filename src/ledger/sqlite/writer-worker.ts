// The ledger's write thread. better-sqlite3 is synchronous, and a commit with
// synchronous=FULL waits for fsync; on the gateway's main thread that would
// stall every session for the length of a disk flush. Here it stalls nobody,
// and whatever arrives while one commit runs goes into the next one: group
// commit, one fsync for many events.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { applySchema, COLUMNS, openPragmas } from './schema.js';
import { toRow } from './row.js';
import type { LedgerEvent } from '../types.js';

interface Job { id: number; events: LedgerEvent[]; durable: boolean }

const port = parentPort;
if (!port) throw new Error('writer-worker must run as a worker thread');

const { path } = workerData as { path: string };
const db = new Database(path);
openPragmas(db);
applySchema(db);
const insert = db.prepare(
  `INSERT INTO events (${COLUMNS.join(',')}) VALUES (${COLUMNS.map((c) => '@' + c).join(',')})`,
);
const insertAll = db.transaction((jobs: Job[]) => {
  for (const job of jobs) for (const e of job.events) insert.run(toRow(e));
});

let queue: Job[] = [];
let lastDurable = true;
let immediate: NodeJS.Immediate | null = null;

// Notes arrive already gathered (the main thread holds them up to 20 ms,
// writer.ts), so every job is committed on the next turn: setImmediate runs
// after the port messages of this turn were taken, so one commit covers all
// of them.
function flush(): void {
  if (immediate) { clearImmediate(immediate); immediate = null; }
  const jobs = queue;
  queue = [];
  if (jobs.length === 0) return;
  try {
    // Only a batch that a reply waits for pays for an fsync. The others are
    // committed with synchronous=NORMAL (in WAL mode: no fsync); the next FULL
    // commit syncs the WAL up to and including them, so order is kept and
    // nothing a reply depended on can be lost.
    const durable = jobs.some((j) => j.durable);
    if (durable !== lastDurable) {
      db.pragma(`synchronous = ${durable ? 'FULL' : 'NORMAL'}`);
      lastDurable = durable;
    }
    insertAll(jobs);
    port!.postMessage({ ok: jobs.map((j) => j.id) });
  } catch (err) {
    port!.postMessage({ failed: jobs.map((j) => j.id), error: (err as Error).message });
  }
}

port.on('message', (msg: Job | { close: true }) => {
  if ('close' in msg) {
    flush();
    db.close();
    port.postMessage({ closed: true });
    return;
  }
  queue.push(msg);
  immediate ??= setImmediate(flush);
});
port.postMessage({ ready: true });
