// The journal's write side: appends records to the newest segment of one
// stream, group-committed (one write, and one fdatasync if a durable append
// waits, for everything appended while the previous commit was in flight).
import type { LedgerEvent, LedgerWriter } from '../types.js';
import { fsIo, writeAll, type JournalIo } from './io.js';
import { StreamLock } from './lock.js';
import { segmentPath, streamDir } from './names.js';
import { encodePayload, encodeRecord, setSeq } from './record.js';
import { makeDirs, openNewest, type RecoverySummary } from './recover.js';

export interface JournalWriterOptions {
  /** A segment is closed before a write would take it past this size. */
  segmentBytes?: number;
  /** ... or once this long has passed since its first record. */
  segmentAgeMs?: number;
  /** Notes (durable: false) are synced at the latest this long after their write. */
  noteHoldMs?: number;
  /** false: never fsync (tests, benchmarks): a power cut loses what the OS had not written. */
  sync?: boolean;
  /** File operations; tests replace some to make them fail. */
  io?: Partial<JournalIo>;
}

export interface JournalStats {
  appends: number;
  records: number;
  writes: number;
  syncs: number;
  rolls: number;
  /** Commits whose waiters were rejected. */
  failures: number;
  /** Background syncs of notes that failed (no waiter was left to tell). */
  syncFailures: number;
}

interface Waiter { resolve: () => void; reject: (e: Error) => void }
interface Batch { recs: Buffer[]; bytes: number; firstSeq: number; durable: boolean; waiters: Waiter[] }

export class JournalWriter implements LedgerWriter {
  readonly stats: JournalStats = { appends: 0, records: 0, writes: 0, syncs: 0, rolls: 0, failures: 0, syncFailures: 0 };
  /** The last error of a background sync of notes, for the caller to log. */
  lastSyncError: Error | null = null;
  private pending: Batch | null = null;
  private busy = false;
  private idleWaiters: (() => void)[] = [];
  private unsynced = false;
  private syncWanted = false;
  private needTruncate = false;
  private noteTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private closing: Promise<void> | null = null;
  private readonly segmentBytes: number;
  private readonly segmentAgeMs: number;
  private readonly noteHoldMs: number;
  private readonly sync: boolean;

  private constructor(
    readonly name: string,
    private readonly sdir: string,
    private readonly io: JournalIo,
    private readonly lock: StreamLock,
    private fd: number,
    private segment: number,
    private end: number,
    private nextSeq: number,
    private firstWriteAt: number,
    /** What the open found and cut (for the caller to log). */
    readonly recovery: RecoverySummary,
    opts: JournalWriterOptions,
  ) {
    this.segmentBytes = opts.segmentBytes ?? 64 * 1024 * 1024;
    this.segmentAgeMs = opts.segmentAgeMs ?? 60 * 60 * 1000;
    this.noteHoldMs = opts.noteHoldMs ?? 20;
    this.sync = opts.sync ?? true;
  }

  static async open(dir: string, node: string, stream: string, opts: JournalWriterOptions = {}): Promise<JournalWriter> {
    const sdir = streamDir(dir, node, stream);
    const io: JournalIo = { ...fsIo, ...opts.io };
    const sync = opts.sync ?? true;
    await makeDirs(io, sdir, sync);
    const lock = StreamLock.acquire(sdir, stream);
    try {
      const s = await openNewest(io, sdir, sync);
      return new JournalWriter(`${node}/${stream}`, sdir, io, lock, s.fd, s.segment, s.end, s.nextSeq, s.firstWriteAt, s.recovery, opts);
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  /** The seq the next appended event gets. */
  get nextSequence(): number { return this.nextSeq; }

  append(events: LedgerEvent[], opts: { durable?: boolean } = {}): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`journal ${this.name} is closed`));
    if (events.length === 0) return Promise.resolve();
    let payloads: Buffer[];
    try {
      payloads = events.map(encodePayload);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    let b = this.pending;
    if (!b) b = this.pending = { recs: [], bytes: 0, firstSeq: this.nextSeq, durable: false, waiters: [] };
    // The seq is given here, in append order, and the record built outside the commit.
    for (const p of payloads) {
      const rec = encodeRecord(this.nextSeq++, p);
      b.recs.push(rec);
      b.bytes += rec.length;
    }
    if ((opts.durable ?? true) && this.sync) b.durable = true;
    this.stats.appends++;
    this.stats.records += events.length;
    const batch = b;
    return new Promise<void>((resolve, reject) => {
      batch.waiters.push({ resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.busy) return;
    this.busy = true;
    void this.run();
  }

  private async run(): Promise<void> {
    for (;;) {
      const batch = this.pending;
      if (batch) {
        this.pending = null;
        await this.commit(batch);
      } else if (this.syncWanted) {
        this.syncWanted = false;
        await this.syncNotes();
      } else {
        this.busy = false;
        for (const w of this.idleWaiters.splice(0)) w();
        return;
      }
    }
  }

  private async commit(batch: Batch): Promise<void> {
    let goodEnd = this.end;
    try {
      if (this.needTruncate) {
        await this.io.ftruncate(this.fd, this.end);
        this.needTruncate = false;
      }
      if (this.mustRoll(batch)) await this.roll(batch.firstSeq);
      goodEnd = this.end;
      await writeAll(this.io, this.fd, batch.recs, this.end);
      this.stats.writes++;
      this.end += batch.bytes;
      this.unsynced = true;
      if (this.firstWriteAt === 0) this.firstWriteAt = Date.now();
      if (batch.durable) await this.syncNow();
    } catch (err) {
      await this.cutBack(goodEnd);
      this.fail(batch, err as NodeJS.ErrnoException);
      return;
    }
    for (const w of batch.waiters) w.resolve();
    if (this.unsynced && this.sync && !this.noteTimer) {
      this.noteTimer = setTimeout(() => {
        this.noteTimer = null;
        this.syncWanted = true;
        this.kick();
      }, this.noteHoldMs);
      this.noteTimer.unref();
    }
  }

  private async syncNow(fd = this.fd): Promise<void> {
    await this.io.fdatasync(fd);
    this.stats.syncs++;
    this.unsynced = false;
  }

  private async syncNotes(): Promise<void> {
    if (!this.unsynced || this.fd < 0) return;
    try {
      await this.syncNow();
    } catch (err) {
      this.stats.syncFailures++;
      this.lastSyncError = err as Error;
    }
  }

  private mustRoll(batch: Batch): boolean {
    if (this.fd < 0) return true; // a roll failed half way: the new segment is still to be made
    if (this.end === 0) return false;
    return this.end + batch.bytes > this.segmentBytes || Date.now() - this.firstWriteAt >= this.segmentAgeMs;
  }

  // The old segment is synced before the new one exists, and the new one's
  // directory entry before any record in it is acknowledged: a reader (or
  // recovery) that finds segment N+1 may then trust N to be complete.
  private async roll(firstSeq: number): Promise<void> {
    if (this.fd >= 0) {
      if (this.unsynced && this.sync) await this.syncNow();
      const old = this.fd;
      this.fd = -1;
      await this.io.close(old);
    }
    const fd = await this.io.create(segmentPath(this.sdir, firstSeq));
    // Until its entry is durable the new segment is not used: the next
    // commit makes it again (emptied), so nothing is acknowledged in it before.
    try {
      if (this.sync) await this.io.fsyncDir(this.sdir);
    } catch (err) {
      await this.io.close(fd).catch(() => undefined);
      throw err;
    }
    this.fd = fd;
    this.segment = firstSeq;
    this.end = 0;
    this.firstWriteAt = 0;
    this.unsynced = false;
    this.stats.rolls++;
  }

  // No torn bytes may stay before the records written next: cut the file
  // back to the last good end now, or before the next write if that fails too.
  private async cutBack(goodEnd: number): Promise<void> {
    this.end = goodEnd;
    if (this.fd < 0) return;
    try {
      await this.io.ftruncate(this.fd, goodEnd);
      this.needTruncate = false;
    } catch {
      this.needTruncate = true;
    }
  }

  private fail(batch: Batch, err: NodeJS.ErrnoException): void {
    this.stats.failures++;
    // The failed batch's seqs are handed out again: the records appended
    // meanwhile move down, so the stream stays without gaps.
    this.nextSeq = batch.firstSeq;
    if (this.pending) {
      this.pending.firstSeq = this.nextSeq;
      for (const rec of this.pending.recs) setSeq(rec, this.nextSeq++);
    }
    const why = err.code && !err.message.startsWith(err.code) ? `${err.code}: ${err.message}` : err.message;
    const e = new Error(`journal ${this.name}: could not write ${batch.recs.length} event(s) to segment ${this.segment}: ${why}`, { cause: err });
    for (const w of batch.waiters) w.reject(e);
  }

  private idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Writes and syncs what was appended, then releases the stream. Appends after this reject. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.closing = (async () => {
      try {
        await this.idle();
        if (this.noteTimer) clearTimeout(this.noteTimer);
        this.noteTimer = null;
        if (this.fd >= 0) {
          const fd = this.fd;
          this.fd = -1;
          try {
            if (this.unsynced && this.sync) await this.syncNow(fd);
          } finally {
            await this.io.close(fd);
          }
        }
      } finally {
        this.lock.release();
      }
    })();
    return this.closing;
  }
}
