// Where one decoded MIME part (or an unpacked archive entry) lives while the
// content checks look at it: in memory while it is small, in a temporary
// file once it is not. A message of 25 MiB is spooled to disk on arrival
// (smtp/collect.ts); its parts must not come back into memory whole, or a
// hundred such messages at once need gigabytes.
//
// Two caps: bytes held per part (beyond them the part goes to a file), and
// bytes held by all parts of all messages in the process (a shared budget:
// when it is used up, parts go to a file from their first byte). Either way
// the checks see the same bytes; only where they are differs.
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/** A decoded part: its bytes in memory, or the temporary file holding them. */
export type PartBody = { buffer: Buffer } | { path: string };

/** Bytes held in memory by all parts at once, shared by every walk in the process. */
export class MemoryBudget {
  private used = 0;
  constructor(readonly max: number) {}

  /** Reserves n bytes; false (nothing reserved) when they do not fit. */
  take(n: number): boolean {
    if (this.used + n > this.max) return false;
    this.used += n;
    return true;
  }

  give(n: number): void {
    this.used = Math.max(0, this.used - n);
  }

  get inUse(): number {
    return this.used;
  }
}

/** The process-wide budget: 32 MiB, about 32 parts of the per-part cap at once. */
export const HELD_BYTES = new MemoryBudget(32 * 1024 * 1024);

export interface HoldOptions {
  /** Bytes of one part held in memory; a larger part goes to a file. Default 1 MiB (collect.ts keeps messages up to that size in memory anyway). */
  maxHeldPartBytes: number;
  /** Where the files go: the spool directory of the message when it has one. */
  spillDir: string;
  budget: MemoryBudget;
}

export const DEFAULT_PART_HOLD = 1024 * 1024;
/**
 * For the parts of a spooled message (over 1 MiB, so many at once are what
 * the caps are for): bytes held per part. A part over it costs one
 * temporary file; 200 walks at once (100 messages, two checks each) hold
 * at most 25 MiB.
 */
export const SPOOLED_PART_HOLD = 128 * 1024;

/**
 * The defaults for a message body: temporary files next to the spooled
 * message (same file system and permissions as the spool, removed with it
 * at startup), or in the system's temporary directory for a message held
 * in memory or a stream (its parts mostly fit the per-part cap; unpacked
 * archive entries or a used-up budget send bytes there).
 */
export function holdFor(body: { buffer: Buffer } | { path: string } | null): HoldOptions {
  if (body && 'path' in body) return { maxHeldPartBytes: SPOOLED_PART_HOLD, spillDir: path.dirname(body.path), budget: HELD_BYTES };
  return { maxHeldPartBytes: DEFAULT_PART_HOLD, spillDir: os.tmpdir(), budget: HELD_BYTES };
}

/** Bytes per file write. */
const WRITE_BYTES = 64 * 1024;
/** Bytes on their way to the file before the producer is asked to wait (settle()). */
const BACKLOG = 256 * 1024;

/**
 * Collects a part's decoded bytes. write() never waits; the producer calls
 * settle() when `backlogged` says so, which keeps the bytes in flight to the
 * file bounded. finish() hands out the body; dispose() (always, in a
 * finally) removes the file and returns the memory to the budget.
 */
export class PartSink {
  size = 0;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private file: { fh: fsp.FileHandle | null; path: string; opening: Promise<void> } | null = null;
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private failed: Error | null = null;
  private disposed = false;

  constructor(private readonly o: HoldOptions) {}

  write(chunk: Buffer): void {
    if (chunk.length === 0 || this.disposed) return;
    this.size += chunk.length;
    if (!this.file && this.heldBytes + chunk.length <= this.o.maxHeldPartBytes && this.o.budget.take(chunk.length)) {
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      return;
    }
    if (!this.file) this.spill();
    this.append(chunk);
  }

  /** true when the producer should await settle() before writing more. */
  get backlogged(): boolean {
    return this.queued + this.batchBytes > BACKLOG;
  }

  /** Waits until what was written so far is in the file; throws when a write failed. */
  async settle(): Promise<void> {
    if (this.file) this.flush();
    await this.queue;
    if (this.failed) throw this.failed;
  }

  async finish(): Promise<PartBody> {
    await this.settle();
    if (!this.file) return { buffer: this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held, this.heldBytes) };
    await this.file.fh?.close();
    this.file.fh = null;
    return { path: this.file.path };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.o.budget.give(this.heldBytes);
    this.held = [];
    this.heldBytes = 0;
    this.batch = [];
    this.batchBytes = 0;
    const f = this.file;
    if (!f) return;
    await this.queue.catch(() => undefined);
    await f.opening.catch(() => undefined);
    await f.fh?.close().catch(() => undefined);
    await fsp.unlink(f.path).catch(() => undefined);
  }

  /** Moves what is held to a new file; from now on every byte goes there. */
  private spill(): void {
    const p = path.join(this.o.spillDir, `part-${process.pid}-${randomBytes(8).toString('hex')}`);
    const file: { fh: fsp.FileHandle | null; path: string; opening: Promise<void> } = { fh: null, path: p, opening: Promise.resolve() };
    file.opening = fsp.open(p, 'wx', 0o600).then((fh) => {
      file.fh = fh;
    });
    this.file = file;
    const held = this.held;
    this.o.budget.give(this.heldBytes);
    this.held = [];
    this.heldBytes = 0;
    // The queue never rejects (nobody may be awaiting it): a failure is kept for settle().
    this.queue = this.queue.then(() => file.opening).catch((e: unknown) => {
      this.failed ??= e as Error;
    });
    for (const c of held) this.append(c);
  }

  /** Batches chunks into writes of WRITE_BYTES: one system call per decoder chunk costs more than the decoding. */
  private append(chunk: Buffer): void {
    this.batch.push(chunk);
    this.batchBytes += chunk.length;
    if (this.batchBytes >= WRITE_BYTES) this.flush();
  }

  private flush(): void {
    if (this.batchBytes === 0) return;
    const batch = this.batch;
    const n = this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
    this.queued += n;
    this.queue = this.queue.then(async () => {
      try {
        if (!this.failed && !this.disposed) await this.file!.fh!.writev(batch);
      } catch (e) {
        this.failed ??= e as Error;
      } finally {
        this.queued -= n;
      }
    });
  }
}
