// Against password guessing: failed logins per client network in the last
// minute, in memory (restarts with the server, which is fine for a window of
// one minute). IPv6 clients count per /64, which one host usually owns.
import { clientNetwork } from '../dns/ip.js';

const WINDOW_MS = 60 * 1000;

export class LoginGuard {
  private failures = new Map<string, number[]>();

  constructor(private readonly perMinute: number, private readonly now: () => number = Date.now) {}

  private recent(ip: string): number[] {
    const key = clientNetwork(ip, 32, 64);
    const since = this.now() - WINDOW_MS;
    const list = (this.failures.get(key) ?? []).filter((t) => t > since);
    if (list.length) this.failures.set(key, list);
    else this.failures.delete(key);
    return list;
  }

  /** True when this address may not try a password now. */
  blocked(ip: string): boolean {
    if (this.perMinute === 0) return false;
    return this.recent(ip).length >= this.perMinute;
  }

  fail(ip: string): void {
    if (this.perMinute === 0) return;
    const list = this.recent(ip);
    list.push(this.now());
    // Never more than the limit per key: memory stays bounded by clients x limit.
    if (list.length > this.perMinute) list.shift();
    this.failures.set(clientNetwork(ip, 32, 64), list);
    if (this.failures.size > 100000) this.prune();
  }

  private prune(): void {
    const since = this.now() - WINDOW_MS;
    for (const [k, list] of this.failures) if (!list.some((t) => t > since)) this.failures.delete(k);
  }
}
