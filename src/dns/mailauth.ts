// Our Resolver in the shape mailauth (SPF, DKIM, DMARC, ARC) takes: a
// function (name, rrtype) => records, as node's dns.promises.resolve, that
// throws node's error codes for what DNS said. Every lookup goes through our
// configured servers and cache, and every answer is kept (with its TTL) as
// evidence for the ledger.
//
// Mapping (mailauth decides on err.code):
// - NXDOMAIN -> ENOTFOUND, NODATA -> ENODATA: "does not exist" (SPF void
//   lookup, DKIM "no key", no DMARC record);
// - SERVFAIL -> ESERVFAIL, TIMEOUT -> ETIMEOUT, REFUSED -> EREFUSED, the rest
//   -> ESERVFAIL/ECONNREFUSED: temporary, so mailauth reports temperror.
import { isValidDnsName, type DnsAnswer, type MxRecord, type Rcode, type RecordMap, type Resolver, type RRType } from './types.js';

export type MailauthResolver = (name: string, rrtype: string) => Promise<unknown[]>;

/** One DNS answer as a check stores it. */
export interface DnsEvidence {
  name: string;
  type: string;
  rcode: Rcode | 'INVALID_NAME';
  records: string[];
  ttl: number;
  from_cache?: boolean;
  detail?: string;
}

const CODES: Record<Exclude<Rcode, 'NOERROR'>, string> = {
  NXDOMAIN: 'ENOTFOUND',
  SERVFAIL: 'ESERVFAIL',
  TIMEOUT: 'ETIMEOUT',
  REFUSED: 'EREFUSED',
  FORMERR: 'EFORMERR',
  NOTIMP: 'ENOTIMP',
  NETERROR: 'ECONNREFUSED',
};

const TYPES = new Set<string>(['A', 'AAAA', 'MX', 'TXT', 'PTR', 'CNAME', 'NS']);

export class DnsLookupError extends Error {
  constructor(readonly code: string, readonly hostname: string, readonly rrtype: string) {
    super(`${rrtype} ${hostname}: ${code}`);
    this.name = 'DnsLookupError';
  }
}

function show(type: RRType, r: unknown): string {
  if (type === 'MX') {
    const mx = r as MxRecord;
    return `${mx.preference} ${mx.exchange || '.'}`;
  }
  return String(r);
}

/**
 * Records the answers a mailauth run got. Bounded: a hostile SPF record
 * cannot make the evidence grow without limit (SPF itself stops at 10
 * lookups plus their MX/PTR sub-lookups).
 */
export class DnsTrail {
  readonly answers: DnsEvidence[] = [];
  dropped = 0;
  constructor(private readonly max = 40) {}

  add(e: DnsEvidence): void {
    if (this.answers.length < this.max) this.answers.push(e);
    else this.dropped++;
  }

  /** Did any lookup fail temporarily (our DNS or the sender's)? */
  get temporaryFailure(): DnsEvidence | undefined {
    return this.answers.find((a) => a.rcode !== 'NOERROR' && a.rcode !== 'NXDOMAIN' && a.rcode !== 'INVALID_NAME');
  }

  toJSON(): unknown {
    return this.dropped ? { answers: this.answers, dropped: this.dropped } : this.answers;
  }
}

/** A mailauth resolver over ours; answers are recorded in `trail`. */
export function mailauthResolver(resolver: Resolver, trail: DnsTrail): MailauthResolver {
  return async (name: string, rrtype: string): Promise<unknown[]> => {
    const type = String(rrtype).toUpperCase();
    if (!TYPES.has(type)) throw new DnsLookupError('ENOTIMP', name, type);
    if (!isValidDnsName(name)) {
      // A name from a message or SPF record that cannot be asked: it cannot exist.
      trail.add({ name: String(name).slice(0, 255), type, rcode: 'INVALID_NAME', records: [], ttl: 0 });
      throw new DnsLookupError('ENOTFOUND', name, type);
    }
    const t = type as RRType;
    const a: DnsAnswer<RecordMap[RRType]> = await resolver.resolve(name, t);
    trail.add({
      name: a.name, type: a.type, rcode: a.rcode, records: a.records.map((r) => show(t, r)), ttl: a.ttl,
      ...(a.fromCache ? { from_cache: true } : {}),
      ...(a.detail ? { detail: a.detail } : {}),
    });
    if (a.rcode !== 'NOERROR') throw new DnsLookupError(CODES[a.rcode], name, type);
    if (a.records.length === 0) throw new DnsLookupError('ENODATA', name, type);
    switch (t) {
      case 'TXT':
        // node's shape: one array of character-strings per record; ours are joined already.
        return (a.records as string[]).map((s) => [s]);
      case 'MX':
        return (a.records as MxRecord[]).map((m) => ({ exchange: m.exchange, priority: m.preference }));
      default:
        return a.records as string[];
    }
  };
}
