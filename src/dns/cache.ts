// A caching Resolver around another one (usually the StubResolver).
//
// - Answers are kept for their TTL: positive ones for the RRset's TTL,
//   NXDOMAIN/NODATA for the negative TTL from the SOA (RFC 2308 section 5),
//   each capped; a negative answer without SOA is not cached (RFC 2308
//   section 5: "SHOULD NOT be cached").
// - Server failures are cached only if failureTtl says so (RFC 2308 section
//   7.1 allows up to 5 minutes); timeouts and network errors never.
// - Identical lookups in flight are sent once; every caller gets the answer.
// - At most maxEntries answers, the least recently used goes first.
// - A cached answer says so: fromCache true, ttl what remains, `at` the time
//   the server gave it. That is the evidence a check records.
import {
  checkedName, ResolverBase,
  type DnsAnswer, type RecordMap, type Resolver, type RRType,
} from './types.js';

export interface CacheOptions {
  /** Clock in ms since the epoch. Default Date.now. */
  now?: () => number;
  /** Default 10000. */
  maxEntries?: number;
  /** Seconds; longer positive TTLs are cut to this. Default 86400. */
  maxTtl?: number;
  /**
   * Seconds; longer negative TTLs are cut to this. Default 300: a domain set
   * up or fixed a moment ago should not stay "does not exist" for hours
   * (RFC 2308 section 5 suggests 1 to 3 hours for general resolvers).
   */
  maxNegativeTtl?: number;
  /** Seconds SERVFAIL/REFUSED/FORMERR/NOTIMP answers are cached. Default 0 (not at all). */
  failureTtl?: number;
}

interface Entry {
  answer: DnsAnswer<unknown>;
  storedAt: number;
  /** Seconds this entry lives from storedAt (the capped TTL). */
  life: number;
}

export interface CacheStats {
  entries: number;
  hits: number;
  misses: number;
  /** Lookups that joined one already in flight. */
  joined: number;
}

export class CachingResolver extends ResolverBase {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<DnsAnswer<unknown>>>();
  private readonly now: () => number;
  private readonly maxEntries: number;
  private readonly maxTtl: number;
  private readonly maxNegativeTtl: number;
  private readonly failureTtl: number;
  private hits = 0;
  private misses = 0;
  private joined = 0;

  constructor(private readonly inner: Resolver, opts: CacheOptions = {}) {
    super();
    this.now = opts.now ?? Date.now;
    this.maxEntries = Math.max(1, opts.maxEntries ?? 10000);
    this.maxTtl = Math.max(0, opts.maxTtl ?? 86400);
    this.maxNegativeTtl = Math.max(0, opts.maxNegativeTtl ?? 300);
    this.failureTtl = Math.min(300, Math.max(0, opts.failureTtl ?? 0));
  }

  async resolve<T extends RRType>(name: string, type: T): Promise<DnsAnswer<RecordMap[T]>> {
    const key = `${type} ${checkedName(name)}`;
    const cached = this.lookup(key);
    if (cached) {
      this.hits++;
      return cached as DnsAnswer<RecordMap[T]>;
    }
    let p = this.inflight.get(key);
    if (p) {
      this.joined++;
    } else {
      this.misses++;
      p = this.inner.resolve(name, type).then((a) => {
        this.store(key, a);
        return a;
      });
      this.inflight.set(key, p);
      const clear = (): void => {
        if (this.inflight.get(key) === p) this.inflight.delete(key);
      };
      p.then(clear, clear);
    }
    // Each caller gets its own copy: no caller can change what another one records.
    return structuredClone(await p) as DnsAnswer<RecordMap[T]>;
  }

  stats(): CacheStats {
    return { entries: this.entries.size, hits: this.hits, misses: this.misses, joined: this.joined };
  }

  /** Drops every entry (lookups in flight still complete and are stored). */
  clear(): void {
    this.entries.clear();
  }

  private lookup(key: string): DnsAnswer<unknown> | null {
    const e = this.entries.get(key);
    if (!e) return null;
    const age = this.now() - e.storedAt;
    if (age < 0 || age >= e.life * 1000) {
      // Expired, or the clock went back: ask again.
      this.entries.delete(key);
      return null;
    }
    // Least recently used order: a hit moves the entry to the end.
    this.entries.delete(key);
    this.entries.set(key, e);
    return { ...structuredClone(e.answer), fromCache: true, ttl: e.life - Math.floor(age / 1000) };
  }

  private store(key: string, a: DnsAnswer<unknown>): void {
    const life = this.lifeOf(a);
    if (life <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { answer: structuredClone(a), storedAt: this.now(), life });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }

  /** Seconds an answer may be served from the cache. */
  private lifeOf(a: DnsAnswer<unknown>): number {
    const ttl = Math.max(0, Math.floor(a.ttl));
    switch (a.rcode) {
      case 'NOERROR':
        if (a.records.length > 0) return Math.min(ttl, this.maxTtl);
        return a.soa ? Math.min(ttl, this.maxNegativeTtl) : 0;
      case 'NXDOMAIN':
        return a.soa ? Math.min(ttl, this.maxNegativeTtl) : 0;
      case 'SERVFAIL':
      case 'REFUSED':
      case 'FORMERR':
      case 'NOTIMP':
        return this.failureTtl;
      case 'TIMEOUT':
      case 'NETERROR':
        return 0;
      default: {
        const never: never = a.rcode;
        throw new Error(`unhandled rcode ${String(never)}`);
      }
    }
  }
}
