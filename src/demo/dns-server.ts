// A small authoritative DNS server for `mailproof demo`: it serves the demo's
// own zones on loopback so the gateway's checks (PTR, DNSBL, MX, SPF) see
// real answers over the real wire, without touching the machine's resolver.
//
// Why hand-written: no DNS server library is installed (the tests start
// Knot, which a newcomer's machine may not have); dns-packet, a dependency
// already, does the wire format, this file only the lookup: exact names, no
// wildcards, no CNAME chasing, no zone transfers, no recursion. That is all a
// demo zone needs. UDP and TCP (RFC 1035 section 4.2; TCP with the 2-octet
// length prefix of section 4.2.2, RFC 7766), so a truncated answer works too.
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';

export type RecordData =
  | { type: 'A' | 'AAAA' | 'PTR' | 'NS' | 'CNAME'; data: string }
  | { type: 'MX'; data: { preference: number; exchange: string } }
  | { type: 'TXT'; data: string | string[] }
  | { type: 'SOA'; data: dnsPacket.SoaData };

export type ZoneRecord = RecordData & { name: string; ttl?: number };

/** Largest UDP answer without EDNS (RFC 1035 section 4.2.1); larger answers get TC and the client asks over TCP. */
const UDP_MAX = 512;
/** Longest a TCP client may hold a connection without a complete query. */
const TCP_IDLE_MS = 10_000;
/** rcodes of RFC 1035 section 4.1.1. */
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

function norm(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/**
 * The records of some zones, changeable while the server runs (the demo's
 * "the sender's admin fixes the PTR" story adds a record in the middle).
 */
export class ZoneSet {
  private records = new Map<string, ZoneRecord[]>();
  private origins: string[] = [];

  /** A zone: its origin and SOA; records are added with add(). */
  addZone(origin: string, soa: { mname: string; rname: string; minimum?: number; ttl?: number }): void {
    const o = norm(origin);
    this.origins.push(o);
    // Longest origin first: the most specific zone answers (127.in-addr.arpa before arpa).
    this.origins.sort((a, b) => b.length - a.length);
    this.add({
      name: o, type: 'SOA', ttl: soa.ttl ?? 60,
      data: { mname: soa.mname, rname: soa.rname, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: soa.minimum ?? 60 },
    });
  }

  add(r: ZoneRecord): void {
    const n = norm(r.name);
    if (!this.zoneOf(n)) throw new Error(`${r.name} is not in a zone of this server`);
    const list = this.records.get(n) ?? [];
    list.push({ ...r, name: n } as ZoneRecord);
    this.records.set(n, list);
  }

  remove(name: string, type: RecordData['type']): void {
    const n = norm(name);
    const list = (this.records.get(n) ?? []).filter((r) => r.type !== type);
    if (list.length) this.records.set(n, list);
    else this.records.delete(n);
  }

  zoneOf(name: string): string | null {
    const n = norm(name);
    return this.origins.find((o) => n === o || n.endsWith(`.${o}`)) ?? null;
  }

  /** A name "exists" when it has records or a name below it has (an empty non-terminal, RFC 8020). */
  private exists(n: string): boolean {
    if (this.records.has(n)) return true;
    for (const k of this.records.keys()) if (k.endsWith(`.${n}`)) return true;
    return false;
  }

  lookup(name: string, type: string): { rcode: keyof typeof RCODE; answers: ZoneRecord[]; authority: ZoneRecord[] } {
    const n = norm(name);
    const zone = this.zoneOf(n);
    // Not ours: an authoritative-only server refuses (RFC 1035 section 4.1.1, rcode 5).
    if (!zone) return { rcode: 'REFUSED', answers: [], authority: [] };
    const soa = (this.records.get(zone) ?? []).filter((r) => r.type === 'SOA');
    const here = this.records.get(n) ?? [];
    const answers = here.filter((r) => r.type === type || (type === 'ANY' && r.type !== 'SOA'));
    if (answers.length) return { rcode: 'NOERROR', answers, authority: [] };
    // Negative answers carry the zone's SOA so resolvers know how long to cache them (RFC 2308 section 3).
    return { rcode: this.exists(n) ? 'NOERROR' : 'NXDOMAIN', answers: [], authority: soa };
  }
}

function toAnswer(r: ZoneRecord): dnsPacket.Answer {
  const data = r.type === 'TXT'
    // A TXT string is at most 255 octets (RFC 1035 section 3.3.14): longer ones are split.
    ? (Array.isArray(r.data) ? r.data : [r.data]).flatMap((s) => s.match(/[\s\S]{1,255}/g) ?? [''])
    : r.data;
  return { name: r.name, type: r.type, class: 'IN', ttl: r.ttl ?? 60, data } as dnsPacket.Answer;
}

/** The answer to one query message, or null for garbage (not worth a FORMERR to whoever sent it). */
export function answer(zones: ZoneSet, query: Buffer, maxBytes: number): Buffer | null {
  let q: dnsPacket.DecodedPacket;
  try {
    q = dnsPacket.decode(query);
  } catch {
    return null;
  }
  if (q.type !== 'query') return null;
  const rd = (q.flags ?? 0) & dnsPacket.RECURSION_DESIRED;
  const reply = (rcode: number, extra: Partial<dnsPacket.Packet> = {}): Buffer => dnsPacket.encode({
    type: 'response', id: q.id, flags: dnsPacket.AUTHORITATIVE_ANSWER | rd | rcode,
    questions: q.questions, ...extra,
  });
  // One question per message is what every resolver sends (RFC 9619).
  if (q.questions?.length !== 1) return reply(RCODE.FORMERR);
  const question = q.questions[0]!;
  if ((question.class ?? 'IN') !== 'IN') return reply(RCODE.REFUSED);
  const r = zones.lookup(question.name, question.type);
  const packet = reply(RCODE[r.rcode], { answers: r.answers.map(toAnswer), authorities: r.authority.map(toAnswer) });
  if (packet.length <= maxBytes) return packet;
  // Too big for UDP: header and question with TC set (RFC 1035 section 4.2.1).
  return dnsPacket.encode({
    type: 'response', id: q.id, flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.TRUNCATED_RESPONSE | rd | RCODE[r.rcode],
    questions: q.questions,
  });
}

export interface RunningDns {
  host: string;
  port: number;
  /** "HOST:PORT" as dns.servers takes it. */
  address: string;
  zones: ZoneSet;
  stop(): Promise<void>;
}

/** Serves `zones` on UDP and TCP at host:port (port 0: one free port, the same for both). */
export async function startDnsServer(zones: ZoneSet, host = '127.0.0.1', port = 0): Promise<RunningDns> {
  // TCP first on port 0, then UDP on the port it got; retried if another program holds that UDP port.
  for (let attempt = 0; ; attempt++) {
    const tcp = net.createServer((sock) => serveTcp(zones, sock));
    const tcpPort = await new Promise<number>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(port, host, () => resolve((tcp.address() as net.AddressInfo).port));
    });
    const udp = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(tcpPort, host, () => { udp.off('error', reject); resolve(); });
      });
    } catch (err) {
      await new Promise<void>((r) => tcp.close(() => r()));
      udp.close();
      if (port !== 0 || attempt >= 5) throw err;
      continue;
    }
    udp.on('error', () => { /* a bad datagram must not end the server */ });
    udp.on('message', (msg, rinfo) => {
      const out = answer(zones, msg, UDP_MAX);
      if (out) udp.send(out, rinfo.port, rinfo.address);
    });
    const socks = new Set<net.Socket>();
    tcp.on('connection', (s) => { socks.add(s); s.on('close', () => socks.delete(s)); });
    return {
      host, port: tcpPort, address: `${host.includes(':') ? `[${host}]` : host}:${tcpPort}`, zones,
      stop: async () => {
        for (const s of socks) s.destroy();
        await Promise.all([
          new Promise<void>((r) => tcp.close(() => r())),
          new Promise<void>((r) => udp.close(() => r())),
        ]);
      },
    };
  }
}

/** DNS over TCP: each message behind a 2-octet length (RFC 1035 section 4.2.2); several per connection (RFC 7766 section 6.2.1). */
function serveTcp(zones: ZoneSet, sock: net.Socket): void {
  let buf = Buffer.alloc(0);
  sock.setTimeout(TCP_IDLE_MS, () => sock.destroy());
  sock.on('error', () => sock.destroy());
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 2) {
      const len = buf.readUInt16BE(0);
      if (buf.length < 2 + len) break;
      const msg = buf.subarray(2, 2 + len);
      buf = buf.subarray(2 + len);
      const out = answer(zones, msg, 65535);
      if (!out) { sock.destroy(); return; }
      const head = Buffer.alloc(2);
      head.writeUInt16BE(out.length);
      sock.write(Buffer.concat([head, out]));
    }
  });
}
