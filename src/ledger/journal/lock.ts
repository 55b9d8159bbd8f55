// One writer per stream, across processes (<stream>/LOCK, util/pid-lock.ts):
// two writers would hand out the same seqs and write over each other's records.
import path from 'node:path';
import { PidLock } from '../../util/pid-lock.js';

// A lock file still empty after this long was left by a creator that died
// between creating and writing it.
const EMPTY_STALE_MS = 5000;

export class StreamLock {
  private constructor(readonly file: string, private readonly lock: PidLock) {}

  /** Takes the lock or throws, naming the stream and the live holder. A dead holder's lock is taken over. */
  static acquire(sdir: string, stream: string): StreamLock {
    const file = path.join(sdir, 'LOCK');
    const got = PidLock.acquire(file, { emptyStaleMs: EMPTY_STALE_MS });
    if ('lock' in got) return new StreamLock(file, got.lock);
    throw new Error(`journal stream ${stream} is locked by process ${got.holder || '(starting)'} (${file})`);
  }

  release(): void {
    this.lock.release();
  }
}
