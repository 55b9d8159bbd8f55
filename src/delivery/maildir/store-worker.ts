// The Maildir's write thread. One delivery is about ten file system calls
// (open, write, fsync, close, rename, and open, fsync, close of new/). Made
// with fs/promises, each is its own trip through libuv's thread pool: a
// hand-off to a pool thread and a wake-up of the main thread, about twenty
// thread switches per message. Here the whole delivery is one job, done with
// the plain synchronous calls, and a round of jobs shares the fsync of each
// new/ directory (group commit, as the ledger's writer does for its WAL).
// Hand-written: no library does a Maildir delivery as one unit of work.
import fs from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { StoreJob, StoreReply } from './store-protocol.js';

const port = parentPort;
if (!port) throw new Error('store-worker must run as a worker thread');

function writeFirst(file: string, job: StoreJob): void {
  const fd = fs.openSync(file, 'wx', 0o600);
  try {
    let parts = job.parts.filter((p) => p.length > 0);
    // writev may write less than asked (a signal, a full disk that frees up):
    // go on from where it stopped.
    while (parts.length) {
      let n = fs.writevSync(fd, parts);
      const rest: Uint8Array[] = [];
      for (const p of parts) {
        if (n >= p.length) { n -= p.length; continue; }
        rest.push(n > 0 ? p.subarray(n) : p);
        n = 0;
      }
      parts = rest;
    }
    if (job.spool !== null) {
      const src = fs.openSync(job.spool, 'r');
      try {
        const buf = Buffer.allocUnsafe(256 * 1024);
        for (;;) {
          const got = fs.readSync(src, buf, 0, buf.length, null);
          if (got === 0) break;
          let off = 0;
          while (off < got) off += fs.writeSync(fd, buf, off, got - off);
        }
      } finally {
        fs.closeSync(src);
      }
    }
    if (job.fsync) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** A further copy of the same content: a hard link where possible, else a copy. */
function linkOrCopy(from: string, to: string, doFsync: boolean): void {
  try {
    fs.linkSync(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw err;
    fs.copyFileSync(from, to, fs.constants.COPYFILE_EXCL);
    if (doFsync) {
      const fd = fs.openSync(to, 'r+');
      try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
    }
  }
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
}

function unlinkQuietly(file: string): void {
  try { fs.unlinkSync(file); } catch { /* already gone, or never made */ }
}

interface Done { job: StoreJob; finals: string[]; error: NodeJS.ErrnoException | null }

/** Writes and renames; the directory fsync comes after, once per round. */
function place(job: StoreJob): Done {
  const finals: string[] = [];
  const tmps: string[] = [];
  try {
    for (const p of job.places) {
      // Listed before it exists: a write that fails half-way (ENOSPC) must
      // still be cleaned up.
      tmps.push(p.tmp);
      if (tmps.length === 1) writeFirst(p.tmp, job);
      else linkOrCopy(job.places[0]!.tmp, p.tmp, job.fsync);
    }
    for (const p of job.places) {
      fs.renameSync(p.tmp, p.final);
      finals.push(p.final);
    }
    return { job, finals, error: null };
  } catch (err) {
    // All or none: take back what was already put into new/, and the tmp files.
    for (const f of [...finals, ...tmps]) unlinkQuietly(f);
    return { job, finals, error: err as NodeJS.ErrnoException };
  }
}

let queue: StoreJob[] = [];
let scheduled = false;

function round(): void {
  scheduled = false;
  const jobs = queue;
  queue = [];
  const done = jobs.map(place);
  // Every new/ that had a rename (or an undone rename) this round, once.
  const failedDirs = new Map<string, NodeJS.ErrnoException>();
  const dirs = new Set<string>();
  for (const d of done) if (d.job.fsync && d.finals.length) for (const p of d.job.places) dirs.add(p.newDir);
  for (const dir of dirs) {
    try { fsyncDir(dir); } catch (err) { failedDirs.set(dir, err as NodeJS.ErrnoException); }
  }
  for (const d of done) {
    if (d.error) continue;
    const bad = d.job.places.map((p) => failedDirs.get(p.newDir)).find((e) => e);
    if (!bad) continue;
    // Not durable, so not delivered: take it back, as for any other failure.
    for (const f of d.finals) unlinkQuietly(f);
    for (const p of d.job.places) { try { fsyncDir(p.newDir); } catch { /* best effort */ } }
    d.error = bad;
  }
  for (const d of done) {
    const reply: StoreReply = d.error
      ? { id: d.job.id, error: { code: d.error.code ?? 'error', message: d.error.message } }
      : { id: d.job.id };
    port!.postMessage(reply);
  }
}

port.on('message', (job: StoreJob) => {
  queue.push(job);
  if (!scheduled) {
    scheduled = true;
    // After the port messages already waiting: they join this round.
    setImmediate(round);
  }
});
