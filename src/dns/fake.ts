// A data-only Resolver for unit tests: the DNS world is declared as data
// (as mox's dns/mock.go), no sockets, answers in the same shape as the real
// resolver's, so checks and their evidence can be tested exactly.
//
//   const r = new FakeResolver();
//   r.set('a', 'mx.example', ['192.0.2.1']);
//   r.set('mx', 'example', [{ preference: 10, exchange: 'mx.example' }], { ttl: 60 });
//   r.set('ptr', '192.0.2.1', ['mx.example']);      // an IP: its reverse name
//   r.fail('mx', 'broken.example', 'SERVFAIL');
//
// A name with no records at all is NXDOMAIN; a name with records of other
// types (or set with []) answers NODATA. Both carry a SOA with negativeTtl.
import { reverseName } from './ip.js';
import {
  checkedName, normalizeName, ResolverBase,
  type DnsAnswer, type Rcode, type RecordMap, type RRType,
} from './types.js';

export type TypeArg = RRType | Lowercase<RRType>;
type Up<K extends TypeArg> = Uppercase<K> & RRType;

export interface FakeOptions {
  /** Clock for `at`. Default Date.now. */
  now?: () => number;
  /** TTL of records set without one. Default 300. */
  ttl?: number;
  /** TTL of NXDOMAIN/NODATA answers (the SOA's). Default 60. */
  negativeTtl?: number;
  /** The `server` in answers. Default "fake". */
  server?: string;
}

interface Rrset {
  records: unknown[];
  ttl: number;
}

export class FakeResolver extends ResolverBase {
  /** Every lookup in order, as "TYPE name". */
  readonly queries: string[] = [];
  private readonly data = new Map<string, Map<RRType, Rrset>>();
  private readonly failures = new Map<string, { rcode: Exclude<Rcode, 'NOERROR' | 'NXDOMAIN'>; detail?: string }>();
  private readonly delays = new Map<string, number>();
  private readonly now: () => number;
  private readonly ttl: number;
  private readonly negativeTtl: number;
  private readonly server: string;

  constructor(opts: FakeOptions = {}) {
    super();
    this.now = opts.now ?? Date.now;
    this.ttl = opts.ttl ?? 300;
    this.negativeTtl = opts.negativeTtl ?? 60;
    this.server = opts.server ?? 'fake';
  }

  /** Sets the records of a name (for 'ptr', the name may be an IP address). Replaces earlier ones. */
  set<K extends TypeArg>(type: K, name: string, records: Array<RecordMap[Up<K>]>, opts: { ttl?: number } = {}): this {
    const t = type.toUpperCase() as RRType;
    const n = this.key(t, name);
    let m = this.data.get(n);
    if (!m) this.data.set(n, (m = new Map()));
    m.set(t, { records: [...records], ttl: opts.ttl ?? this.ttl });
    return this;
  }

  /** Makes lookups of this name and type fail (SERVFAIL, TIMEOUT, ...). */
  fail(type: TypeArg, name: string, rcode: Exclude<Rcode, 'NOERROR' | 'NXDOMAIN'>, detail?: string): this {
    const t = type.toUpperCase() as RRType;
    this.failures.set(`${t} ${this.key(t, name)}`, { rcode, ...(detail !== undefined ? { detail } : {}) });
    return this;
  }

  /** Delays answers for this name and type (to test timeouts and in-flight deduplication). */
  delay(type: TypeArg, name: string, ms: number): this {
    const t = type.toUpperCase() as RRType;
    this.delays.set(`${t} ${this.key(t, name)}`, ms);
    return this;
  }

  /** Removes every record, failure and delay of a name. */
  remove(name: string): this {
    const n = normalizeName(name);
    this.data.delete(n);
    for (const m of [this.failures, this.delays]) {
      for (const k of [...m.keys()]) if (k.endsWith(` ${n}`)) m.delete(k);
    }
    return this;
  }

  async resolve<T extends RRType>(name: string, type: T): Promise<DnsAnswer<RecordMap[T]>> {
    const n = checkedName(name);
    const k = `${type} ${n}`;
    this.queries.push(k);
    const delay = this.delays.get(k);
    if (delay !== undefined) await new Promise((r) => setTimeout(r, delay));
    const base = { name: n, type, server: this.server, at: this.now(), fromCache: false };
    const failure = this.failures.get(k);
    if (failure) {
      return { ...base, rcode: failure.rcode, records: [], ttl: 0, ...(failure.detail !== undefined ? { detail: failure.detail } : {}) };
    }
    const m = this.data.get(n);
    const rrset = m?.get(type);
    if (rrset && rrset.records.length > 0) {
      return { ...base, rcode: 'NOERROR', records: structuredClone(rrset.records) as Array<RecordMap[T]>, ttl: rrset.ttl, authoritative: true };
    }
    const soa = { zone: n.split('.').slice(-2).join('.'), ttl: this.negativeTtl, serial: 1, minimum: this.negativeTtl };
    return { ...base, rcode: m ? 'NOERROR' : 'NXDOMAIN', records: [], ttl: this.negativeTtl, soa, authoritative: true };
  }

  private key(type: RRType, name: string): string {
    if (type === 'PTR' && !name.endsWith('arpa') && !name.endsWith('arpa.')) {
      try {
        return reverseName(name);
      } catch { /* not an IP: a name */ }
    }
    return checkedName(name);
  }
}
