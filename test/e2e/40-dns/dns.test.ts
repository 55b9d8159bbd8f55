// End to end with a real DNS server: Debian's Knot DNS serving test zones on
// loopback (test/helpers/dns-server.ts). What the fake cannot show: the wire
// format of a real server, its TTLs, NXDOMAIN vs NODATA with the zone's SOA,
// truncation and TCP, and what a check will store as evidence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { requireTool } from '../../helpers/env.js';
import { startDnsServer } from '../../helpers/dns-server.js';
import { StubResolver } from '../../../src/dns/stub-resolver.js';
import { CachingResolver } from '../../../src/dns/cache.js';
import { dnsblName } from '../../../src/dns/ip.js';
import { isNoData, isTemporaryFailure, ResolverBase, type DnsAnswer, type RecordMap, type Resolver, type RRType } from '../../../src/dns/types.js';

/** 8 records of 200 octets: about 1.7 KB, over the 1232 octets of EDNS0 UDP. */
const BIG = Array.from({ length: 8 }, (_, i) => `big.sender.test. 120 IN TXT "${String(i).repeat(200)}"`);
/** One record of 2 x 255 + 100 octets: over 512 (plain UDP), under 1232 (EDNS0). */
const MID = `mid.sender.test. 130 IN TXT "${'a'.repeat(255)}" "${'b'.repeat(255)}" "${'c'.repeat(100)}"`;
const V6_PTR = '5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.';

const ZONES = {
  'sender.test': [
    'sender.test. 300 IN MX 10 mx.sender.test.',
    'sender.test. 300 IN MX 20 mx2.sender.test.',
    'sender.test. 3600 IN TXT "v=spf1 ip4:127.0.0.0/8" " -all"',
    'mx.sender.test. 600 IN A 127.0.0.1',
    'mx.sender.test. 700 IN AAAA ::1',
    'mx2.sender.test. 60 IN A 127.0.0.3',
    'www.sender.test. 45 IN CNAME mx.sender.test.',
    // The classic misconfiguration: an IP address where a host name belongs.
    'ipmx.sender.test. 300 IN MX 10 192.0.2.25.',
    'nullmx.sender.test. 300 IN MX 0 .',
    ...BIG,
    MID,
  ],
  'dnsbl.test': [
    // RFC 5782 section 5: 127.0.0.2 is always listed, 127.0.0.1 never.
    '2.0.0.127.dnsbl.test. 900 IN A 127.0.0.2',
    '2.0.0.127.dnsbl.test. 900 IN TXT "Listed: see http://dnsbl.test/q?ip=127.0.0.2"',
  ],
  '127.in-addr.arpa': [
    '1.0.0.127.in-addr.arpa. 86400 IN PTR mx.sender.test.',
    '2.0.0.127.in-addr.arpa. 3600 IN PTR 127-0-0-2.dyn.isp.test.',
  ],
  'ip6.arpa': [`${V6_PTR} 1800 IN PTR mx6.sender.test.`],
};

/** Counts the lookups that reach the inner resolver. */
class Counting extends ResolverBase {
  count = 0;
  constructor(private readonly inner: Resolver) {
    super();
  }
  resolve<T extends RRType>(name: string, type: T): Promise<DnsAnswer<RecordMap[T]>> {
    this.count++;
    return this.inner.resolve(name, type);
  }
}

test('the DNS layer against a real Knot DNS on loopback', async (t) => {
  if (!requireTool(t, 'knotd')) return;
  const dns = await startDnsServer({ zones: ZONES, negativeTtl: 60 });
  t.after(() => dns.stop());
  const r = new StubResolver({ servers: [dns.address], timeoutMs: 3000 });

  await t.test('A, AAAA, MX, TXT, PTR with the zone\'s TTLs, as evidence', async () => {
    const before = Date.now();
    const a = await r.a('mx.sender.test');
    assert.deepEqual(
      { ...a, at: 0 },
      { name: 'mx.sender.test', type: 'A', rcode: 'NOERROR', records: ['127.0.0.1'], ttl: 600, server: dns.address, at: 0, fromCache: false, authoritative: true, transport: 'udp' },
    );
    assert.ok(a.at >= before && a.at <= Date.now());
    // The answer is plain data: it goes into a ledger event as it is.
    assert.deepEqual(JSON.parse(JSON.stringify(a)), a);

    const aaaa = await r.aaaa('mx.sender.test');
    assert.deepEqual([aaaa.records, aaaa.ttl], [['::1'], 700]);

    const mx = await r.mx('Sender.Test.');
    assert.equal(mx.name, 'sender.test');
    assert.deepEqual(mx.records.sort((x, y) => x.preference - y.preference), [
      { preference: 10, exchange: 'mx.sender.test' },
      { preference: 20, exchange: 'mx2.sender.test' },
    ]);
    assert.equal(mx.ttl, 300);

    const txt = await r.txt('sender.test');
    assert.deepEqual(txt.records, ['v=spf1 ip4:127.0.0.0/8 -all'], 'character-strings joined (RFC 7208 section 3.3)');
    assert.equal(txt.ttl, 3600);

    const ptr = await r.ptr('127.0.0.1');
    assert.deepEqual([ptr.name, ptr.records, ptr.ttl], ['1.0.0.127.in-addr.arpa', ['mx.sender.test'], 86400]);
    const ptr6 = await r.ptr('2001:db8::25');
    assert.deepEqual([ptr6.records, ptr6.ttl], [['mx6.sender.test'], 1800]);
    // A dual-stack listener shows IPv4 clients as ::ffff:a.b.c.d.
    assert.deepEqual((await r.ptr('::ffff:127.0.0.2')).records, ['127-0-0-2.dyn.isp.test']);

    const www = await r.a('www.sender.test');
    assert.deepEqual([www.records, www.cnames, www.ttl], [['127.0.0.1'], ['mx.sender.test'], 45]);
  });

  await t.test('MX pointing at an IP address, and a null MX, come back as they are', async () => {
    assert.deepEqual((await r.mx('ipmx.sender.test')).records, [{ preference: 10, exchange: '192.0.2.25' }]);
    assert.deepEqual((await r.mx('nullmx.sender.test')).records, [{ preference: 0, exchange: '' }]);
  });

  await t.test('NXDOMAIN and NODATA are answers with the SOA\'s negative TTL', async () => {
    const nx = await r.mx('nowhere.sender.test');
    assert.equal(nx.rcode, 'NXDOMAIN');
    assert.deepEqual(nx.records, []);
    assert.equal(nx.ttl, 60);
    assert.deepEqual(nx.soa, { zone: 'sender.test', ttl: 60, serial: 1, minimum: 60 });
    assert.equal(isTemporaryFailure(nx), false);

    const nodata = await r.mx('mx.sender.test');
    assert.equal(nodata.rcode, 'NOERROR');
    assert.ok(isNoData(nodata));
    assert.equal(nodata.ttl, 60);
    assert.equal(nodata.soa?.zone, 'sender.test');

    // A zone the server does not serve: REFUSED, a temporary failure (4xx), never a 5xx.
    const refused = await new StubResolver({ servers: [dns.address], attempts: 1 }).a('elsewhere.invalid');
    assert.equal(refused.rcode, 'REFUSED');
    assert.ok(isTemporaryFailure(refused));
  });

  await t.test('DNSBL lookup: 127.0.0.2 listed with a reason, 127.0.0.1 not', async () => {
    const q = dnsblName('127.0.0.2', 'dnsbl.test');
    assert.equal(q, '2.0.0.127.dnsbl.test');
    const [hit, why] = await Promise.all([r.a(q), r.txt(q)]);
    assert.deepEqual([hit.rcode, hit.records, hit.ttl], ['NOERROR', ['127.0.0.2'], 900]);
    assert.deepEqual(why.records, ['Listed: see http://dnsbl.test/q?ip=127.0.0.2']);
    const miss = await r.a(dnsblName('127.0.0.1', 'dnsbl.test'));
    assert.equal(miss.rcode, 'NXDOMAIN');
  });

  await t.test('forward-confirmed reverse DNS of 127.0.0.1', async () => {
    const ptr = await r.ptr('127.0.0.1');
    const back = await r.a(ptr.records[0] as string);
    assert.ok(back.records.includes('127.0.0.1'));
  });

  await t.test('large answers: truncated over UDP, complete over TCP', async () => {
    const big = await r.txt('big.sender.test');
    assert.equal(big.transport, 'tcp');
    assert.equal(big.records.length, 8);
    assert.deepEqual(big.records.sort(), Array.from({ length: 8 }, (_, i) => String(i).repeat(200)));
    assert.equal(big.ttl, 120);

    const mid = await r.txt('mid.sender.test');
    assert.equal(mid.transport, 'udp', 'fits the EDNS0 payload size');
    assert.equal(mid.records[0], `${'a'.repeat(255)}${'b'.repeat(255)}${'c'.repeat(100)}`);
    const plain = await new StubResolver({ servers: [dns.address], edns: false }).txt('mid.sender.test');
    assert.equal(plain.transport, 'tcp', 'over 512 octets without EDNS0');
    assert.deepEqual(plain.records, mid.records);
    assert.equal(plain.ttl, 130);
  });

  await t.test('the cache serves the second lookup and says so', async () => {
    const counting = new Counting(r);
    const cache = new CachingResolver(counting);
    const [first, joined] = await Promise.all([cache.mx('sender.test'), cache.mx('sender.test')]);
    assert.equal(counting.count, 1, 'identical lookups in flight go out once');
    assert.equal(first.fromCache, false);
    assert.deepEqual(joined.records, first.records);
    await new Promise((res) => setTimeout(res, 1100));
    const second = await cache.mx('sender.test');
    assert.equal(counting.count, 1);
    assert.equal(second.fromCache, true);
    assert.equal(second.at, first.at);
    assert.ok(second.ttl >= 280 && second.ttl <= 299, `remaining ttl ${second.ttl}`);
    const nx1 = await cache.a('nowhere.sender.test');
    const nx2 = await cache.a('nowhere.sender.test');
    assert.deepEqual([nx1.fromCache, nx2.fromCache, nx2.rcode], [false, true, 'NXDOMAIN']);
    assert.equal(counting.count, 2);
  });

  await t.test('a server that does not answer: TIMEOUT, quickly with a short timeout', async (tt) => {
    const hole = dgram.createSocket('udp4');
    await new Promise<void>((res) => hole.bind(0, '127.0.0.1', res));
    tt.after(() => hole.close());
    const t0 = Date.now();
    const down = await new StubResolver({ servers: [`127.0.0.1:${hole.address().port}`], timeoutMs: 200, attempts: 2 }).mx('sender.test');
    const ms = Date.now() - t0;
    assert.equal(down.rcode, 'TIMEOUT');
    assert.ok(isTemporaryFailure(down));
    assert.ok(ms >= 390 && ms < 5000, `took ${ms} ms (2 tries of 200 ms; loose bound for a loaded machine)`);
    // With a second server that works, the lookup succeeds.
    const failover = await new StubResolver({ servers: [`127.0.0.1:${hole.address().port}`, dns.address], timeoutMs: 1000 }).mx('sender.test');
    assert.equal(failover.rcode, 'NOERROR');
    assert.equal(failover.server, dns.address);
  });

  await t.test('a stopped server: the port is closed, NETERROR at once', async () => {
    const other = await startDnsServer({ zones: { 'gone.test': ['gone.test. 60 IN A 127.0.0.9'] } });
    const rr = new StubResolver({ servers: [other.address], timeoutMs: 10000 });
    assert.deepEqual((await rr.a('gone.test')).records, ['127.0.0.9']);
    await other.stop();
    const t0 = Date.now();
    const down = await rr.a('gone.test');
    assert.equal(down.rcode, 'NETERROR');
    assert.match(down.detail ?? '', /ECONNREFUSED/);
    assert.ok(Date.now() - t0 < 5000, 'did not wait for the 10 s timeout');
  });
});
