// Login throttling that slows a guesser without locking the owner out.
//
// A lock per account is a denial of service: anyone who knows an account
// name can keep its owner out by typing wrong passwords. So failures are
// counted per (account, client address) pair first, and a pair that keeps
// failing waits longer and longer (1 s, 2 s, 4 s ... up to a cap) instead of
// being locked; the same account from another address is not affected. Two
// looser bounds catch what the pair cannot see: one address guessing many
// accounts, and many addresses guessing one account (a distributed guess).
// The account bound is skipped for a browser that logged in to that account
// before (a signed device cookie, see DeviceCookies), so the owner gets in
// even while a botnet is guessing.
//
// Attempts inside a delay are refused before the password is checked: they
// cost no scrypt and teach nothing. Only checked failures count, so a flood
// of refused attempts does not stretch the delay.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface ThrottleSettings {
  /** Failures of one (account, address) pair in the window before delays start. */
  pairFailures: number;
  /** Failures from one address, any account, in the window before delays start (looser). */
  addressFailures: number;
  /** Failures on one account, any address, in the window before delays start (looser). */
  accountFailures: number;
  /** How long a failure is remembered. */
  windowMs: number;
  /** The longest delay. */
  maxDelayMs: number;
  now?: () => number;
  /** Most keys remembered (oldest out first): a flood of names cannot exhaust memory. */
  maxKeys?: number;
}

export type Bound = 'pair' | 'address' | 'account';

export type Gate =
  | { ok: true }
  /** `announce`: the first refusal of this burst, worth a line in the log; later ones are not. */
  | { ok: false; by: Bound; retryAfterS: number; failures: number; announce: boolean };

/** The first delay; each further failure doubles it. */
const FIRST_DELAY_MS = 1000;

interface Entry {
  fails: number[];
  announced: boolean;
}

/** The delay after `n` failures with `free` of them free: 0, then 1 s, 2 s, 4 s ... capped. */
export function delayAfter(n: number, free: number, maxMs: number): number {
  if (n < free) return 0;
  // 2^30 s is beyond any cap; the exponent is bounded so the number stays finite.
  return Math.min(maxMs, FIRST_DELAY_MS * 2 ** Math.min(30, n - free));
}

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly maxKeys: number;

  constructor(private readonly s: ThrottleSettings) {
    this.now = s.now ?? Date.now;
    this.maxKeys = s.maxKeys ?? 100000;
  }

  private keys(account: string, address: string): [Bound, string, number][] {
    return [
      ['pair', `p:${account}\n${address}`, this.s.pairFailures],
      ['address', `a:${address}`, this.s.addressFailures],
      ['account', `u:${account}`, this.s.accountFailures],
    ];
  }

  private live(key: string): Entry | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    const t = this.now() - this.s.windowMs;
    e.fails = e.fails.filter((x) => x > t);
    if (e.fails.length === 0) { this.entries.delete(key); return undefined; }
    return e;
  }

  /**
   * May this attempt have its password checked now? `trusted`: the client
   * showed a device cookie of this account, so the account bound does not
   * apply (the pair and address bounds still do).
   */
  check(account: string, address: string, trusted = false): Gate {
    const t = this.now();
    let worst: Extract<Gate, { ok: false }> | null = null;
    let announce = false;
    for (const [by, key, free] of this.keys(account, address)) {
      if (by === 'account' && trusted) continue;
      const e = this.live(key);
      if (!e) continue;
      const wait = e.fails[e.fails.length - 1]! + delayAfter(e.fails.length, free, this.s.maxDelayMs) - t;
      if (wait <= 0) { e.announced = false; continue; }
      if (!e.announced) { e.announced = true; announce = true; }
      const retryAfterS = Math.max(1, Math.ceil(wait / 1000));
      if (!worst || retryAfterS > worst.retryAfterS) worst = { ok: false, by, retryAfterS, failures: e.fails.length, announce: false };
    }
    return worst ? { ...worst, announce } : { ok: true };
  }

  /** A checked attempt failed. */
  failed(account: string, address: string): void {
    const t = this.now();
    const [pair, ...rest] = this.keys(account, address);
    // One address adds at most the pair's free failures to the account's
    // count: however long it keeps guessing, it alone never slows the
    // account for the owner elsewhere (the schema keeps the account bound
    // above the pair's).
    const pairCount = this.live(pair![1])?.fails.length ?? 0;
    for (const [by, key] of [pair!, ...rest]) {
      if (by === 'account' && pairCount >= this.s.pairFailures) continue;
      let e = this.live(key);
      if (!e) {
        if (this.entries.size >= this.maxKeys) this.entries.delete(this.entries.keys().next().value!);
        e = { fails: [], announced: false };
        this.entries.set(key, e);
      }
      e.fails.push(t);
      // Bounded: beyond the cap of the delay, more entries change nothing.
      if (e.fails.length > 64) e.fails.shift();
    }
  }

  /**
   * The right password: this pair starts afresh. The address and account
   * counts stay: a guesser who also owns an account must not wipe its own
   * trail by logging in to it, nor a distributed guess end because the owner
   * got in.
   */
  succeeded(account: string, address: string): void {
    this.entries.delete(this.keys(account, address)[0]![1]);
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * The device cookie: "this browser logged in to this account before",
 * signed with a key that lives in memory (a restart forgets devices, as it
 * forgets sessions). It carries no secret of the account and grants nothing
 * but a pass through the account bound of the throttle.
 */
export class DeviceCookies {
  private readonly key = randomBytes(32);

  constructor(private readonly ttlMs: number, private readonly now: () => number = Date.now) {}

  private mac(account: string, issued: number): string {
    return createHmac('sha256', this.key).update(`${account}\n${issued}`).digest('base64url');
  }

  issue(account: string): string {
    const issued = this.now();
    return `${Buffer.from(account).toString('base64url')}.${issued}.${this.mac(account, issued)}`;
  }

  /** Whether `value` is a valid, unexpired device cookie of `account`. */
  valid(value: string | undefined, account: string): boolean {
    if (!value || value.length > 300) return false;
    const [acc, issuedText, mac] = value.split('.');
    if (!acc || !issuedText || !mac || !/^\d{1,15}$/.test(issuedText)) return false;
    const issued = Number(issuedText);
    if (Buffer.from(acc, 'base64url').toString() !== account || this.now() - issued > this.ttlMs) return false;
    const want = Buffer.from(this.mac(account, issued));
    const got = Buffer.from(mac);
    return got.length === want.length && timingSafeEqual(got, want);
  }
}
