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
let queuedEvents = 0;
let lastDurable = true;
let immediate: NodeJS.Immediate | null = null;
let timer: NodeJS.Timeout | null = null;

// Notes wait this long for company. Every commit writes each page it touched
// to the WAL, and one message's events touch the same table and index pages:
// committed one note batch at a time, a 4 KiB message cost ~70 WAL pages
// (bench/RESULTS.md, findings 1 and 2). Held back a little, they share the
// next durable commit (or one of their own). What a crash of the process can
// lose is what it could lose before, less than NOTE_DELAY_MS of events no
// reply depended on; a durable append never waits for this timer.
const NOTE_DELAY_MS = 20;
// ... and never more than this many events queued.
const MAX_QUEUED_EVENTS = 2000;

function flush(): void {
  if (immediate) { clearImmediate(immediate); immediate = null; }
  if (timer) { clearTimeout(timer); timer = null; }
  const jobs = queue;
  queue = [];
  queuedEvents = 0;
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
  queuedEvents += msg.events.length;
  if (msg.durable || queuedEvents >= MAX_QUEUED_EVENTS) {
    // setImmediate runs after the pending port messages of this turn were
    // taken, so one commit covers all of them.
    immediate ??= setImmediate(flush);
  } else {
    timer ??= setTimeout(flush, NOTE_DELAY_MS);
  }
});
port.postMessage({ ready: true });
