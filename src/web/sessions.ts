// Login sessions and login-failure counting. The web server runs in the
// primary process only (cli/serve.ts), so one map sees every request. The
// sessions are also kept in the data directory (session-file.ts: hashes of
// the ids, never the ids), so a restart does not log everybody out; the
// failure counts stay in memory (a restart forgets them, which only helps a
// guesser once per restart, and the throttle is slow, not a lock).
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log/logger.js';
import { hashSessionId, type SessionPersistence, type StoredSession } from './session-file.js';
import type { Role } from './users.js';

export interface Session {
  id: string;
  user: string;
  role: Role;
  domains: string[];
  expires: number;
}

/** How often at most the sessions are written for a login or an idle expiry pushed forward. */
export const SESSION_FLUSH_MS = 30_000;

export interface SessionStoreOptions {
  /** Where sessions survive a restart; none = memory only. */
  persist?: SessionPersistence;
  /** Longest delay of a write after a login or a request (default SESSION_FLUSH_MS). */
  flushMs?: number;
  log?: Logger;
}

/**
 * Sessions by the SHA-256 of their id: the same key in memory and on disk,
 * so a session loaded from the file is found by the cookie's id.
 *
 * Writes: a logout and the end of an account's sessions are written at once
 * (a logged-out cookie must not come back after a crash); a login and the
 * idle expiry pushed forward by a request are written within flushMs, and
 * at stop (close()). A crash (kill -9, power loss) therefore loses at most
 * the logins of the last flushMs (those users log in again) and pushes of
 * the idle expiry of that time (a session may end up to flushMs early).
 * Expired sessions leave the file with the next write and are dropped when
 * it is read.
 */
export class SessionStore {
  private readonly sessions = new Map<string, StoredSession>();
  private readonly persist: SessionPersistence | undefined;
  private readonly flushMs: number;
  private readonly log: Logger | undefined;
  private dirty = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly ttlMs: number, private readonly now: () => number = Date.now, private readonly max = 100000, o: SessionStoreOptions = {}) {
    this.persist = o.persist;
    this.flushMs = o.flushMs ?? SESSION_FLUSH_MS;
    this.log = o.log;
    if (!this.persist) return;
    const t = this.now();
    // The newest within the cap; expired ones are not taken back.
    const stored = this.persist.load();
    const live = stored.filter((s) => s.expires > t).sort((a, b) => a.expires - b.expires).slice(-this.max);
    for (const s of live) this.sessions.set(s.sha256, s);
    // What was dropped leaves the file with the next write.
    if (this.sessions.size < stored.length) this.changed(false);
  }

  create(user: { name: string; role: Role; domains: string[] }): Session {
    this.sweep();
    // Oldest first out when full: a flood of logins cannot exhaust memory.
    while (this.sessions.size >= this.max) this.sessions.delete(this.sessions.keys().next().value!);
    // 256 bits from the CSPRNG: not guessable, not derived from anything.
    const id = randomBytes(32).toString('base64url');
    const s: StoredSession = { sha256: hashSessionId(id), user: user.name, role: user.role, domains: [...user.domains], expires: this.now() + this.ttlMs };
    this.sessions.set(s.sha256, s);
    this.changed(false);
    return this.view(id, s);
  }

  /** The live session of this id, its idle expiry pushed forward; null when unknown or expired. */
  get(id: string | undefined): Session | null {
    if (!id || id.length > 100) return null;
    const key = hashSessionId(id);
    const s = this.sessions.get(key);
    if (!s) return null;
    if (s.expires <= this.now()) {
      this.sessions.delete(key);
      this.changed(false);
      return null;
    }
    s.expires = this.now() + this.ttlMs;
    this.changed(false);
    return this.view(id, s);
  }

  destroy(id: string | undefined): void {
    if (id && id.length <= 100 && this.sessions.delete(hashSessionId(id))) this.changed(true);
  }

  /** Ends every session of an account (after `user remove` the next request notices: see server.ts). */
  destroyUser(name: string): void {
    let any = false;
    for (const [k, s] of this.sessions) if (s.user === name) { this.sessions.delete(k); any = true; }
    if (any) this.changed(true);
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Writes what changed now (the store's owner calls it at stop). */
  flush(): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (!this.persist || !this.dirty) return;
    this.sweep();
    this.dirty = false;
    try {
      this.persist.save([...this.sessions.values()]);
    } catch (err) {
      // Sessions work on in memory; the next change tries again.
      this.dirty = true;
      this.log?.error({ err: (err as Error).message }, 'web sessions: cannot write the sessions file; a restart would log out the sessions since the last write (and bring back the ones logged out since)');
    }
  }

  /** The last write; no timer stays behind. */
  close(): void {
    this.flush();
  }

  private changed(urgent: boolean): void {
    if (!this.persist) return;
    this.dirty = true;
    if (urgent) { this.flush(); return; }
    if (this.timer) return;
    this.timer = setTimeout(() => { this.timer = null; this.flush(); }, this.flushMs);
    // A pending write does not keep the process alive: stop writes it (close()).
    this.timer.unref();
  }

  private view(id: string, s: StoredSession): Session {
    return { id, user: s.user, role: s.role, domains: [...s.domains], expires: s.expires };
  }

  private sweep(): void {
    const t = this.now();
    for (const [k, s] of this.sessions) if (s.expires <= t) { this.sessions.delete(k); this.dirty = true; }
  }
}

/**
 * Hits per key (a client address) in a sliding window: the request limit of
 * the public reference pages. Logins have their own, gentler throttle
 * (login-throttle.ts), since a block there would lock owners out.
 */
export class FailureCounter {
  private readonly hits = new Map<string, number[]>();

  constructor(private readonly max: number, private readonly windowMs: number, private readonly now: () => number = Date.now, private readonly maxKeys = 100000) {}

  private live(key: string): number[] {
    const t = this.now() - this.windowMs;
    const list = (this.hits.get(key) ?? []).filter((x) => x > t);
    if (list.length) this.hits.set(key, list);
    else this.hits.delete(key);
    return list;
  }

  blocked(key: string): boolean {
    return this.live(key).length >= this.max;
  }

  fail(key: string): void {
    if (!this.hits.has(key) && this.hits.size >= this.maxKeys) this.hits.delete(this.hits.keys().next().value!);
    const list = this.live(key);
    list.push(this.now());
    this.hits.set(key, list);
  }

  reset(key: string): void {
    this.hits.delete(key);
  }
}

/** An IPv6 client counts per /64 (one end site gets a /64 or more), an IPv4 client per address. */
export function clientKey(ip: string): string {
  const a = ip.replace(/^::ffff:/i, '');
  if (!a.includes(':')) return a;
  const full = expandV6(a);
  return full ? `${full.slice(0, 4).join(':')}::/64` : a;
}

function expandV6(a: string): string[] | null {
  const [head, tail] = a.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  if (tail === undefined && h.length !== 8) return null;
  const fill = 8 - h.length - t.length;
  if (fill < 0) return null;
  return [...h, ...Array<string>(tail === undefined ? 0 : fill).fill('0'), ...t].map((x) => x.toLowerCase().padStart(4, '0'));
}
