// Login sessions and login-failure counting, both in memory: the web server
// runs in the primary process only (cli/serve.ts), so one map sees every
// request. A restart logs everybody out, which is acceptable for staff and
// customer logins and keeps secrets off the disk.
import { randomBytes } from 'node:crypto';
import type { Role } from './users.js';

export interface Session {
  id: string;
  user: string;
  role: Role;
  domains: string[];
  expires: number;
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly ttlMs: number, private readonly now: () => number = Date.now, private readonly max = 100000) {}

  create(user: { name: string; role: Role; domains: string[] }): Session {
    this.sweep();
    // Oldest first out when full: a flood of logins cannot exhaust memory.
    while (this.sessions.size >= this.max) this.sessions.delete(this.sessions.keys().next().value!);
    // 256 bits from the CSPRNG: not guessable, not derived from anything.
    const id = randomBytes(32).toString('base64url');
    const s: Session = { id, user: user.name, role: user.role, domains: [...user.domains], expires: this.now() + this.ttlMs };
    this.sessions.set(id, s);
    return s;
  }

  /** The live session of this id, its idle expiry pushed forward; null when unknown or expired. */
  get(id: string | undefined): Session | null {
    if (!id || id.length > 100) return null;
    const s = this.sessions.get(id);
    if (!s) return null;
    if (s.expires <= this.now()) {
      this.sessions.delete(id);
      return null;
    }
    s.expires = this.now() + this.ttlMs;
    return s;
  }

  destroy(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }

  /** Ends every session of an account (after `user remove` the next request notices: see server.ts). */
  destroyUser(name: string): void {
    for (const [id, s] of this.sessions) if (s.user === name) this.sessions.delete(id);
  }

  get size(): number {
    return this.sessions.size;
  }

  private sweep(): void {
    const t = this.now();
    for (const [id, s] of this.sessions) if (s.expires <= t) this.sessions.delete(id);
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
