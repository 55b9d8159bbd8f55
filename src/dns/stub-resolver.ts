// A stub resolver: asks the configured servers (a recursive resolver in
// production, an authoritative test server in the tests) over UDP, with TCP
// when the answer is truncated (RFC 1035 section 4.2.1, RFC 7766 section 5).
//
// Why hand-written on top of dns-packet (the wire format only): Node's dns
// module (c-ares) gives TTLs for A/AAAA only, none for MX, TXT or PTR, folds
// NXDOMAIN, NODATA, SERVFAIL and timeouts into error codes that cannot be
// told apart reliably (ENOTFOUND vs ENODATA vs ESERVFAIL vs ECONNREFUSED
// depends on the path taken), and hides the SOA of a negative answer, the
// server that answered and the AA bit. A check must store exactly what it saw
// (docs/design.md "Ledger events") and must turn a server failure into a 4xx and
// only a real "does not exist" into a 5xx; that needs the rcode and the TTLs,
// so the exchange is done here. dns-packet encodes and decodes messages;
// everything about the exchange is ours: random IDs, a fresh socket (random
// source port) per query, matching the answer to the question, limits.
import dgram from 'node:dgram';
import net from 'node:net';
import fs from 'node:fs';
import { randomInt } from 'node:crypto';
import dnsPacket from 'dns-packet';
import {
  checkedName, normalizeName, ResolverBase,
  type DnsAnswer, type Rcode, type RecordMap, type RRType, type SoaRecord,
} from './types.js';

export interface StubResolverOptions {
  /** "127.0.0.1", "127.0.0.1:5353", "[::1]:53", "::1" (port 53 unless given). IP addresses only. */
  servers: string[];
  /** Per try (one server, one transport). Default 2000. */
  timeoutMs?: number;
  /** Rounds over all servers (a server that failed is asked again in the next round). Default 2. */
  attempts?: number;
  /**
   * Longest one lookup may take in all, CNAMEs, TCP and retries included; it
   * then ends as TIMEOUT. Default timeoutMs x (attempts x number of servers + 1).
   */
  deadlineMs?: number;
  /** Send an EDNS0 OPT record (RFC 6891) offering udpPayloadSize. Default true. */
  edns?: boolean;
  /** Default 1232 (DNS flag day 2020: no IP fragmentation on common paths). */
  udpPayloadSize?: number;
  /** Largest answer accepted, in octets, over either transport. Default 65535. */
  maxAnswerBytes?: number;
  /** Records kept per answer; more are dropped and the answer is marked `capped`. Default 100. */
  maxRecords?: number;
  /** CNAMEs followed per lookup (RFC 1034 section 3.6.2: chains should be short). Default 8. */
  maxCnames?: number;
  /** Clock for `at` (ms since the epoch). */
  now?: () => number;
}

interface Server {
  host: string;
  port: number;
  family: 4 | 6;
  label: string;
}

/** Parses "127.0.0.1:5353", "[::1]:53", "::1", "192.0.2.1". Throws RangeError for anything else. */
export function parseServer(s: string): Server {
  let host: string;
  let port = 53;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s.trim());
  if (bracket) {
    host = bracket[1] as string;
    if (bracket[2] !== undefined) port = Number(bracket[2]);
  } else if (net.isIP(s.trim()) === 6) {
    host = s.trim();
  } else {
    const m = /^([^:]+)(?::(\d+))?$/.exec(s.trim());
    if (!m) throw new RangeError(`DNS server must be IP[:PORT] or [IPv6]:PORT, got ${JSON.stringify(s)}`);
    host = m[1] as string;
    if (m[2] !== undefined) port = Number(m[2]);
  }
  const family = net.isIP(host);
  if (family === 0) throw new RangeError(`DNS server must be an IP address, got ${JSON.stringify(s)}`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`bad DNS server port in ${JSON.stringify(s)}`);
  return { host, port, family: family as 4 | 6, label: family === 6 ? `[${host}]:${port}` : `${host}:${port}` };
}

/** The nameserver lines of a resolv.conf text, as server strings. */
export function parseResolvConf(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m && net.isIP((m[1] as string).replace(/%.*$/, ''))) out.push((m[1] as string).replace(/%.*$/, ''));
  }
  return out;
}

type Msg = dnsPacket.DecodedPacket & { rcode?: string; opcode?: string };

/** What one try at one server brought back. */
type TryResult =
  | { kind: 'answer'; msg: Msg; transport: 'udp' | 'tcp'; at: number }
  | { kind: 'timeout'; detail: string }
  | { kind: 'neterror'; detail: string };

/** What asking one question of the servers brought back (before CNAMEs are followed). */
type Exchange =
  | { ok: true; msg: Msg; rcode: 'NOERROR' | 'NXDOMAIN'; server: string; transport: 'udp' | 'tcp'; at: number }
  | { ok: false; rcode: Exclude<Rcode, 'NOERROR' | 'NXDOMAIN'>; server: string; at: number; detail: string };

const SERVER_RCODES: ReadonlySet<string> = new Set(['SERVFAIL', 'REFUSED', 'FORMERR', 'NOTIMP']);

export class StubResolver extends ResolverBase {
  private readonly servers: Server[];
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly deadlineMs: number;
  private readonly edns: boolean;
  private readonly udpPayloadSize: number;
  private readonly maxAnswerBytes: number;
  private readonly maxRecords: number;
  private readonly maxCnames: number;
  private readonly now: () => number;

  constructor(opts: StubResolverOptions) {
    super();
    if (opts.servers.length === 0) throw new RangeError('StubResolver needs at least one server');
    this.servers = opts.servers.map(parseServer);
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.attempts = Math.max(1, opts.attempts ?? 2);
    // One timeoutMs more than the tries need: room for a TCP fallback and late timers.
    this.deadlineMs = opts.deadlineMs ?? this.timeoutMs * (this.attempts * this.servers.length + 1);
    this.edns = opts.edns ?? true;
    this.udpPayloadSize = Math.min(65535, Math.max(512, opts.udpPayloadSize ?? 1232));
    this.maxAnswerBytes = Math.min(65535, Math.max(512, opts.maxAnswerBytes ?? 65535));
    this.maxRecords = Math.max(1, opts.maxRecords ?? 100);
    this.maxCnames = Math.max(0, opts.maxCnames ?? 8);
    this.now = opts.now ?? Date.now;
  }

  /** A resolver for the servers in /etc/resolv.conf (or the given file). */
  static fromResolvConf(opts: Omit<StubResolverOptions, 'servers'> & { path?: string } = {}): StubResolver {
    const servers = parseResolvConf(fs.readFileSync(opts.path ?? '/etc/resolv.conf', 'utf8'));
    if (servers.length === 0) throw new Error(`no nameserver in ${opts.path ?? '/etc/resolv.conf'}`);
    return new StubResolver({ ...opts, servers });
  }

  get serverLabels(): string[] {
    return this.servers.map((s) => s.label);
  }

  async resolve<T extends RRType>(name: string, type: T): Promise<DnsAnswer<RecordMap[T]>> {
    const qname = checkedName(name);
    // Timers run on the monotonic clock; the injected clock only stamps `at`.
    const deadline = performance.now() + this.deadlineMs;
    const cnames: string[] = [];
    const seen = new Set([qname]);
    let cur = qname;
    let chainTtl = Infinity;
    for (let hop = 0; ; hop++) {
      const ex = await this.exchange(cur, type, deadline);
      const base = { name: qname, type, ...(cnames.length ? { cnames: [...cnames] } : {}) };
      if (!ex.ok) {
        return { ...base, rcode: ex.rcode, records: [], ttl: 0, server: ex.server, at: ex.at, fromCache: false, detail: ex.detail };
      }
      const answers = (ex.msg.answers ?? []).filter((rr) => rr.type !== 'OPT' && (rr.class ?? 'IN') === 'IN') as Array<dnsPacket.Answer & { ttl?: number; data: unknown }>;
      // Follow the CNAME chain inside this answer (RFC 1034 section 4.3.2 step 3a).
      const before = cnames.length;
      let loop = false;
      if (type !== 'CNAME') {
        for (;;) {
          const c = answers.find((rr) => rr.type === 'CNAME' && normalizeName(rr.name) === cur);
          if (!c) break;
          const target = normalizeName(String(c.data));
          chainTtl = Math.min(chainTtl, c.ttl ?? 0);
          if (seen.has(target) || cnames.length >= this.maxCnames) {
            loop = true;
            break;
          }
          seen.add(target);
          cnames.push(target);
          cur = target;
        }
      }
      const withChain = { ...base, ...(cnames.length ? { cnames: [...cnames] } : {}) };
      const meta = { server: ex.server, at: ex.at, fromCache: false, authoritative: ex.msg.flag_aa, transport: ex.transport };
      if (loop) {
        return { ...withChain, ...meta, rcode: 'SERVFAIL', records: [], ttl: 0, detail: `CNAME chain from ${qname} loops or is longer than ${this.maxCnames}` };
      }
      const own = answers.filter((rr) => rr.type === type && normalizeName(rr.name) === cur);
      if (own.length > 0) {
        const kept = own.slice(0, this.maxRecords);
        const ttl = Math.min(chainTtl, ...kept.map((rr) => rr.ttl ?? 0));
        return {
          ...withChain, ...meta, rcode: 'NOERROR', ttl,
          records: kept.map((rr) => convert(type, rr.data)),
          ...(own.length > kept.length ? { capped: true } : {}),
        };
      }
      const soa = negativeSoa(ex.msg, cur);
      // An authoritative server answers a CNAME into another zone with the
      // CNAME alone: ask again for the target (a recursive server would have).
      if (ex.rcode === 'NOERROR' && cnames.length > before && !soa && hop < this.maxCnames) continue;
      const negTtl = soa ? Math.min(soa.ttl, soa.minimum) : 0;
      return {
        ...withChain, ...meta, rcode: ex.rcode, records: [],
        ttl: Math.min(negTtl, chainTtl),
        ...(soa ? { soa } : {}),
      };
    }
  }

  /** Asks the servers one question, round by round, until one answers NOERROR or NXDOMAIN. */
  private async exchange(qname: string, type: RRType, deadline: number): Promise<Exchange> {
    const failures: string[] = [];
    let serverFailure: { rcode: Exclude<Rcode, 'NOERROR' | 'NXDOMAIN' | 'TIMEOUT' | 'NETERROR'>; server: string; at: number } | null = null;
    let timedOut = false;
    let last = this.servers[0] as Server;
    rounds: for (let round = 0; round < this.attempts; round++) {
      for (const server of this.servers) {
        if (deadline - performance.now() < 1) {
          timedOut = true;
          failures.push(`lookup deadline of ${this.deadlineMs} ms reached`);
          break rounds;
        }
        last = server;
        let r = await this.tryServer(server, qname, type, this.edns, deadline);
        // RFC 6891 section 7: a server that does not know EDNS answers FORMERR; ask again without.
        if (r.kind === 'answer' && this.edns && (r.msg.rcode === 'FORMERR' || r.msg.rcode === 'NOTIMP') && !hasOpt(r.msg)) {
          r = await this.tryServer(server, qname, type, false, deadline);
        }
        if (r.kind === 'answer') {
          const rc = rcodeOf(r.msg);
          if (rc === 'NOERROR' || rc === 'NXDOMAIN') {
            return { ok: true, msg: r.msg, rcode: rc, server: server.label, transport: r.transport, at: r.at };
          }
          const mapped = SERVER_RCODES.has(rc) ? (rc as 'SERVFAIL') : 'SERVFAIL';
          failures.push(`${server.label}: ${rc} over ${r.transport}`);
          serverFailure = { rcode: mapped, server: server.label, at: r.at };
        } else {
          if (r.kind === 'timeout') timedOut = true;
          failures.push(`${server.label}: ${r.detail}`);
        }
      }
    }
    const detail = failures.join('; ');
    if (serverFailure) return { ok: false, ...serverFailure, detail };
    return { ok: false, rcode: timedOut ? 'TIMEOUT' : 'NETERROR', server: last.label, at: this.now(), detail };
  }

  private query(qname: string, type: RRType, edns: boolean): { id: number; buf: Buffer } {
    const id = randomInt(0, 65536);
    const buf = dnsPacket.encode({
      type: 'query',
      id,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ type, name: qname, class: 'IN' }],
      additionals: edns
        ? [{ type: 'OPT', name: '.', udpPayloadSize: this.udpPayloadSize, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }]
        : [],
    });
    return { id, buf };
  }

  private async tryServer(server: Server, qname: string, type: RRType, edns: boolean, deadline: number): Promise<TryResult> {
    const ms = (): number => Math.max(1, Math.min(this.timeoutMs, Math.floor(deadline - performance.now())));
    const udp = await this.udp(server, qname, type, edns, ms());
    if (udp.kind !== 'answer' || !udp.msg.flag_tc) return udp;
    // Truncated (TC bit): the whole answer over TCP (RFC 7766 section 5).
    return this.tcp(server, qname, type, edns, ms());
  }

  private udp(server: Server, qname: string, type: RRType, edns: boolean, timeoutMs: number): Promise<TryResult> {
    const { id, buf } = this.query(qname, type, edns);
    return new Promise((resolve) => {
      let ignored = 0;
      let done = false;
      // A fresh socket per query: the kernel picks a random source port, and
      // connect() makes it drop datagrams from any other address or port.
      const sock = dgram.createSocket(server.family === 6 ? 'udp6' : 'udp4');
      const finish = (r: TryResult): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        try {
          sock.close();
        } catch { /* already closed */ }
        resolve(r);
      };
      const timer = setTimeout(() => {
        const why = ignored ? ` (${ignored} datagrams ignored: not an answer to this query, or too large)` : '';
        finish({ kind: 'timeout', detail: `no answer over udp in ${timeoutMs} ms${why}` });
      }, timeoutMs);
      sock.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'neterror', detail: `udp ${err.code ?? err.message}` }));
      sock.on('message', (data) => {
        const msg = data.length <= this.maxAnswerBytes ? matching(data, id, qname, type) : null;
        // Anything that does not answer our question is ignored, not fatal: a
        // spoofer must not be able to cut a lookup short.
        if (!msg) {
          ignored++;
          return;
        }
        finish({ kind: 'answer', msg, transport: 'udp', at: this.now() });
      });
      sock.connect(server.port, server.host, (err?: Error) => {
        if (err) {
          finish({ kind: 'neterror', detail: `udp connect ${(err as NodeJS.ErrnoException).code ?? err.message}` });
          return;
        }
        sock.send(buf, (err) => {
          if (err) finish({ kind: 'neterror', detail: `udp send ${(err as NodeJS.ErrnoException).code ?? err.message}` });
        });
      });
    });
  }

  private tcp(server: Server, qname: string, type: RRType, edns: boolean, timeoutMs: number): Promise<TryResult> {
    const { id, buf } = this.query(qname, type, edns);
    return new Promise((resolve) => {
      let done = false;
      let got = Buffer.alloc(0);
      const sock = net.connect({ host: server.host, port: server.port });
      const finish = (r: TryResult): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sock.destroy();
        resolve(r);
      };
      const timer = setTimeout(() => finish({ kind: 'timeout', detail: `no answer over tcp in ${timeoutMs} ms` }), timeoutMs);
      sock.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'neterror', detail: `tcp ${err.code ?? err.message}` }));
      sock.on('close', () => finish({ kind: 'neterror', detail: 'tcp connection closed before a whole answer' }));
      sock.on('connect', () => {
        // RFC 1035 section 4.2.2: two octets of length, then the message.
        const len = Buffer.alloc(2);
        len.writeUInt16BE(buf.length);
        sock.write(Buffer.concat([len, buf]));
      });
      sock.on('data', (chunk: Buffer) => {
        got = Buffer.concat([got, chunk]);
        if (got.length < 2) return;
        const want = got.readUInt16BE(0);
        if (want > this.maxAnswerBytes) {
          finish({ kind: 'neterror', detail: `tcp answer of ${want} octets is over the limit of ${this.maxAnswerBytes}` });
          return;
        }
        if (got.length < 2 + want) return;
        const msg = matching(got.subarray(2, 2 + want), id, qname, type);
        finish(msg ? { kind: 'answer', msg, transport: 'tcp', at: this.now() } : { kind: 'neterror', detail: 'tcp answer does not match the question or is malformed' });
      });
    });
  }
}

/**
 * The decoded message if it answers our question: same ID, a response, the
 * same name (case-insensitively), type and class (RFC 5452 section 9.1).
 * A server error may come without the question section (RFC 1035 leaves it
 * open); it is accepted on the ID alone, since it cannot make a lookup pass.
 */
function matching(data: Buffer, id: number, qname: string, type: RRType): Msg | null {
  if (data.length < 12 || data.readUInt16BE(0) !== id) return null;
  let msg: Msg;
  try {
    msg = dnsPacket.decode(data) as Msg;
  } catch {
    // A truncated answer may be cut inside a record (RFC 2181 section 9
    // allows it): read header and question only, and let TCP bring the rest.
    if (((data[2] as number) & 0x02) === 0) return null;
    const head = Buffer.from(data);
    head.fill(0, 6, 12);
    try {
      msg = dnsPacket.decode(head) as Msg;
    } catch {
      return null;
    }
  }
  if (!msg.flag_qr || (msg.opcode ?? 'QUERY') !== 'QUERY') return null;
  const qs = msg.questions ?? [];
  if (qs.length === 0) return msg.rcode !== 'NOERROR' && msg.rcode !== 'NXDOMAIN' ? msg : null;
  const q = qs[0];
  if (qs.length !== 1 || !q || normalizeName(q.name) !== qname || q.type !== type || (q.class ?? 'IN') !== 'IN') return null;
  return msg;
}

/** The rcode, with the upper bits of an EDNS0 extended rcode (RFC 6891 section 6.1.3): e.g. BADVERS. */
function rcodeOf(msg: Msg): string {
  const opt = (msg.additionals ?? []).find((rr) => rr.type === 'OPT') as dnsPacket.OptAnswer | undefined;
  if (opt && opt.extendedRcode) return `RCODE_${(opt.extendedRcode << 4) | ((msg.flags ?? 0) & 0xf)}`;
  return msg.rcode ?? 'NOERROR';
}

function hasOpt(msg: Msg): boolean {
  return (msg.additionals ?? []).some((rr) => rr.type === 'OPT');
}

/** The SOA of a negative answer: in the authority section, owning a suffix of name (RFC 2308 section 3). */
function negativeSoa(msg: Msg, name: string): DnsAnswer<unknown>['soa'] | undefined {
  for (const rr of msg.authorities ?? []) {
    if (rr.type !== 'SOA') continue;
    const zone = normalizeName(rr.name);
    if (zone !== '' && name !== zone && !name.endsWith(`.${zone}`)) continue;
    const d = rr.data as dnsPacket.SoaData;
    return { zone, ttl: rr.ttl ?? 0, serial: d.serial ?? 0, minimum: d.minimum ?? 0 };
  }
  return undefined;
}

function convert<T extends RRType>(type: T, data: unknown): RecordMap[T] {
  switch (type) {
    case 'A':
    case 'AAAA':
      return String(data) as RecordMap[T];
    case 'PTR':
    case 'CNAME':
    case 'NS':
      return normalizeName(String(data)) as RecordMap[T];
    case 'MX': {
      const d = data as dnsPacket.MxData;
      return { preference: d.preference ?? 0, exchange: normalizeName(d.exchange) } as RecordMap[T];
    }
    case 'TXT': {
      // RFC 7208 section 3.3: the character-strings of one record are joined without spaces.
      const parts = (Array.isArray(data) ? data : [data]) as Array<Buffer | string>;
      return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p))).toString('utf8') as RecordMap[T];
    }
    case 'SOA': {
      const d = data as dnsPacket.SoaData;
      const soa: SoaRecord = {
        mname: normalizeName(d.mname), rname: normalizeName(d.rname),
        serial: d.serial ?? 0, refresh: d.refresh ?? 0, retry: d.retry ?? 0, expire: d.expire ?? 0, minimum: d.minimum ?? 0,
      };
      return soa as RecordMap[T];
    }
    default: {
      const never: never = type as never;
      throw new Error(`unhandled type ${String(never)}`);
    }
  }
}
