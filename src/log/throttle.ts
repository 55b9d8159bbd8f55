// A broken ledger or a flood of hostile clients can make the same warning or
// error happen thousands of times a second; a log that says the same line
// 33,000 times hides everything else and fills the disk. Each (level,
// message) pair may log `burst` lines per window; the rest are counted, and
// one line at the end of the window says how many were left out.

export interface ThrottleOptions {
  /** Lines per message and window. Default 5. */
  burst?: number;
  /** Default 10 s. */
  windowMs?: number;
  now?: () => number;
}

interface Slot { start: number; logged: number; suppressed: number; level: number; msg: string }

export class RepeatThrottle {
  private readonly slots = new Map<string, Slot>();
  private readonly burst: number;
  private readonly windowMs: number;
  private readonly now: () => number;

  constructor(o: ThrottleOptions = {}) {
    this.burst = o.burst ?? 5;
    this.windowMs = o.windowMs ?? 10_000;
    this.now = o.now ?? Date.now;
  }

  /** Whether this occurrence may be logged. */
  allow(level: number, msg: string): boolean {
    const key = `${level}\0${msg}`;
    const t = this.now();
    let s = this.slots.get(key);
    if (!s || t - s.start >= this.windowMs) {
      if (s && s.suppressed) this.pending.push({ level: s.level, msg: s.msg, suppressed: s.suppressed, windowMs: t - s.start });
      s = { start: t, logged: 0, suppressed: 0, level, msg };
      this.slots.set(key, s);
      // Bounded: messages are fixed texts in the code, but keep it safe.
      if (this.slots.size > 1000) this.slots.delete(this.slots.keys().next().value!);
    }
    if (s.logged < this.burst) {
      s.logged++;
      return true;
    }
    s.suppressed++;
    return false;
  }

  /** Summaries of windows that ended with lines left out (taken by the caller to log). */
  pending: Array<{ level: number; msg: string; suppressed: number; windowMs: number }> = [];

  /** Ends every window that is over; their summaries land in `pending`. */
  sweep(): void {
    const t = this.now();
    for (const [key, s] of this.slots) {
      if (t - s.start < this.windowMs) continue;
      if (s.suppressed) this.pending.push({ level: s.level, msg: s.msg, suppressed: s.suppressed, windowMs: t - s.start });
      this.slots.delete(key);
    }
  }
}
