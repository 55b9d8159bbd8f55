// The DNS layer's contract (docs/design.md "Ledger events": a check's event carries
// its evidence as seen at that moment, DNS answers and TTLs included).
//
// A lookup never throws for anything DNS can say or fail to say: NXDOMAIN and
// NODATA are answers, and a server failure or a timeout is an answer with a
// temporary rcode that a check turns into a 4xx (never a 5xx, never a silent
// pass). The DnsAnswer object is the evidence a check stores. Lookups throw
// only for bugs: a name that cannot be put on the wire (validate input from
// clients first with isValidDnsName).
import { reverseName } from './ip.js';

export interface MxRecord {
  preference: number;
  /** Host name without the trailing dot; '' for a null MX (RFC 7505: "MX 0 ."). */
  exchange: string;
}

export interface SoaRecord {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

/** Record data per query type. Names are given without the trailing dot. */
export interface RecordMap {
  A: string;
  AAAA: string;
  MX: MxRecord;
  /** One TXT record: its character-strings joined without separator (RFC 7208 section 3.3). */
  TXT: string;
  PTR: string;
  CNAME: string;
  NS: string;
  SOA: SoaRecord;
}

export type RRType = keyof RecordMap;
export const RR_TYPES: readonly RRType[] = ['A', 'AAAA', 'MX', 'TXT', 'PTR', 'CNAME', 'NS', 'SOA'];

/**
 * NOERROR and NXDOMAIN are answers (NOERROR with no records is NODATA).
 * The rest are temporary failures (see isTemporaryFailure):
 * - SERVFAIL, REFUSED, FORMERR, NOTIMP: what the server said (other rcodes
 *   are reported as SERVFAIL with the number in `detail`);
 * - TIMEOUT: no usable answer from any server in time;
 * - NETERROR: no server could be reached (e.g. ICMP port unreachable, TCP
 *   reset) or every answer was malformed or over the size limits.
 */
export type Rcode = 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL' | 'REFUSED' | 'FORMERR' | 'NOTIMP' | 'TIMEOUT' | 'NETERROR';

export interface DnsAnswer<T> {
  /** The name asked for: lower case, no trailing dot. */
  name: string;
  type: RRType;
  rcode: Rcode;
  /** Records of `type` at the end of the CNAME chain; empty for NXDOMAIN, NODATA and failures. */
  records: T[];
  /**
   * Seconds. With records: the smallest TTL of the RRset and of the CNAMEs
   * followed. NXDOMAIN/NODATA: the negative TTL, min(SOA TTL, SOA MINIMUM)
   * of the SOA in the authority section (RFC 2308 section 5), 0 without one.
   * Failures: 0. Served from a cache: what remains of it.
   */
  ttl: number;
  /** The server that gave this answer ("127.0.0.1:53", "[::1]:53"), or the last one tried. */
  server: string;
  /** ms since the epoch when the server answered (for a cached answer: the original time). */
  at: number;
  fromCache: boolean;
  /** CNAMEs followed from `name` to the owner of the records, in order. */
  cnames?: string[];
  /** The SOA of a negative answer (the zone that says the name or type does not exist). */
  soa?: { zone: string; ttl: number; serial: number; minimum: number };
  /** The AA bit (an authoritative server answered, not a recursive resolver's cache). */
  authoritative?: boolean;
  transport?: 'udp' | 'tcp';
  /** More records came than the resolver keeps (maxRecords); `records` holds the first ones. */
  capped?: boolean;
  /** Why a failure is a failure, per server tried, for the log and the ledger. */
  detail?: string;
}

export interface Resolver {
  a(name: string): Promise<DnsAnswer<string>>;
  aaaa(name: string): Promise<DnsAnswer<string>>;
  mx(name: string): Promise<DnsAnswer<MxRecord>>;
  txt(name: string): Promise<DnsAnswer<string>>;
  /** Looks up the PTR of an IP address (IPv4, IPv6, IPv4-mapped IPv6); `name` is the in-addr.arpa/ip6.arpa name. */
  ptr(ip: string): Promise<DnsAnswer<string>>;
  resolve<T extends RRType>(name: string, type: T): Promise<DnsAnswer<RecordMap[T]>>;
}

/** The answer says the name or RRset does not exist, or does: not a failure. */
export function isTemporaryFailure(a: Pick<DnsAnswer<unknown>, 'rcode'>): boolean {
  return a.rcode !== 'NOERROR' && a.rcode !== 'NXDOMAIN';
}

/** NOERROR without records: the name exists, but has no records of this type (RFC 2308 section 2.2). */
export function isNoData(a: Pick<DnsAnswer<unknown>, 'rcode' | 'records'>): boolean {
  return a.rcode === 'NOERROR' && a.records.length === 0;
}

/** Lower case, no trailing dot; '' for the root. */
export function normalizeName(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith('.') ? n.slice(0, -1) : n;
}

/**
 * A name we are willing to put on the wire: printable ASCII labels of 1..63
 * octets, 253 octets in all (RFC 1035 section 2.3.4). Wider than host name
 * syntax on purpose ('_dmarc', '*'), but no spaces, dots inside labels or
 * control bytes: names from SMTP clients must pass this before a lookup.
 */
export function isValidDnsName(name: string): boolean {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (n.length === 0 || n.length > 253) return false;
  return n.split('.').every((l) => l.length >= 1 && l.length <= 63 && /^[\x21-\x7e]+$/.test(l) && !l.includes('\\'));
}

export class DnsNameError extends RangeError {
  constructor(name: string) {
    super(`not a valid DNS name: ${JSON.stringify(name.slice(0, 300))}`);
    this.name = 'DnsNameError';
  }
}

/** Throws DnsNameError for a name that cannot be asked (a bug in the caller: validate first). */
export function checkedName(name: string): string {
  if (!isValidDnsName(name)) throw new DnsNameError(name);
  return normalizeName(name);
}

/** The typed shortcuts, for every Resolver that implements resolve(). */
export abstract class ResolverBase implements Resolver {
  abstract resolve<T extends RRType>(name: string, type: T): Promise<DnsAnswer<RecordMap[T]>>;
  a(name: string): Promise<DnsAnswer<string>> {
    return this.resolve(name, 'A');
  }
  aaaa(name: string): Promise<DnsAnswer<string>> {
    return this.resolve(name, 'AAAA');
  }
  mx(name: string): Promise<DnsAnswer<MxRecord>> {
    return this.resolve(name, 'MX');
  }
  txt(name: string): Promise<DnsAnswer<string>> {
    return this.resolve(name, 'TXT');
  }
  async ptr(ip: string): Promise<DnsAnswer<string>> {
    return this.resolve(reverseName(ip), 'PTR');
  }
}
