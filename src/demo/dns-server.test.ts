// The demo's DNS server, asked over the wire by the gateway's own stub resolver.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import { StubResolver } from '../dns/stub-resolver.js';
import { startDnsServer, ZoneSet } from './dns-server.js';
import { addNewServerPtr, demoZones, HOSTS } from './zones.js';

function zones(): ZoneSet {
  const z = new ZoneSet();
  z.addZone('example.demo', { mname: 'ns.example.demo', rname: 'hostmaster.example.demo', minimum: 30, ttl: 60 });
  z.addZone('127.in-addr.arpa', { mname: 'ns.example.demo', rname: 'hostmaster.example.demo', minimum: 30, ttl: 60 });
  z.add({ name: 'mail.example.demo', type: 'A', data: '127.0.0.9', ttl: 120 });
  z.add({ name: 'example.demo', type: 'MX', data: { preference: 5, exchange: 'mail.example.demo' } });
  z.add({ name: 'example.demo', type: 'TXT', data: 'v=spf1 ip4:127.0.0.9 -all' });
  z.add({ name: '9.0.0.127.in-addr.arpa', type: 'PTR', data: 'mail.example.demo' });
  z.add({ name: 'x.deep.example.demo', type: 'A', data: '127.0.0.1' });
  // Bigger than 512 octets: UDP answers with TC, the resolver asks again over TCP.
  z.add({ name: 'big.example.demo', type: 'TXT', data: Array.from({ length: 6 }, (_, i) => `${i}`.repeat(200)) });
  return z;
}

test('answers A, MX, TXT and PTR authoritatively, with TTLs', async (t) => {
  const dns = await startDnsServer(zones());
  t.after(() => dns.stop());
  const r = new StubResolver({ servers: [dns.address], timeoutMs: 2000 });
  const a = await r.a('Mail.Example.Demo.');
  assert.equal(a.rcode, 'NOERROR');
  assert.deepEqual(a.records, ['127.0.0.9']);
  assert.equal(a.ttl, 120);
  assert.equal(a.authoritative, true);
  assert.deepEqual((await r.mx('example.demo')).records, [{ preference: 5, exchange: 'mail.example.demo' }]);
  assert.deepEqual((await r.txt('example.demo')).records, ['v=spf1 ip4:127.0.0.9 -all']);
  assert.deepEqual((await r.ptr('127.0.0.9')).records, ['mail.example.demo']);
});

test('NXDOMAIN and NODATA carry the zone\'s SOA; an empty non-terminal exists; other zones are refused', async (t) => {
  const dns = await startDnsServer(zones());
  t.after(() => dns.stop());
  const r = new StubResolver({ servers: [dns.address], timeoutMs: 2000, attempts: 1 });
  const nx = await r.a('nothing.example.demo');
  assert.equal(nx.rcode, 'NXDOMAIN');
  assert.equal(nx.soa?.zone, 'example.demo');
  assert.equal(nx.ttl, 30); // min(SOA TTL 60, MINIMUM 30), RFC 2308 section 5
  const nodata = await r.aaaa('mail.example.demo');
  assert.equal(nodata.rcode, 'NOERROR');
  assert.deepEqual(nodata.records, []);
  assert.equal(nodata.soa?.zone, 'example.demo');
  assert.equal((await r.a('deep.example.demo')).rcode, 'NOERROR');
  assert.equal((await r.ptr('127.0.0.8')).rcode, 'NXDOMAIN');
  assert.equal((await r.a('example.org')).rcode, 'REFUSED');
});

test('an answer too big for UDP comes with TC and whole over TCP', async (t) => {
  const dns = await startDnsServer(zones());
  t.after(() => dns.stop());
  const r = new StubResolver({ servers: [dns.address], timeoutMs: 2000 });
  const big = await r.txt('big.example.demo');
  assert.equal(big.rcode, 'NOERROR');
  assert.equal(big.transport, 'tcp');
  assert.equal(big.records.length, 1);
  assert.equal(big.records[0], Array.from({ length: 6 }, (_, i) => `${i}`.repeat(200)).join(''));
});

test('garbage and multi-question queries do not stop the server', async (t) => {
  const dns = await startDnsServer(zones());
  t.after(() => dns.stop());
  const sock = dgram.createSocket('udp4');
  t.after(() => sock.close());
  const reply = new Promise<Buffer>((resolve) => sock.once('message', (m) => resolve(m)));
  sock.send(Buffer.from('not a dns message at all'), dns.port, dns.host);
  sock.send(dnsPacket.encode({ type: 'query', id: 7, questions: [{ name: 'a.demo', type: 'A' }, { name: 'b.demo', type: 'A' }] }), dns.port, dns.host);
  const m = dnsPacket.decode(await reply) as dnsPacket.DecodedPacket & { rcode?: string };
  assert.equal(m.id, 7);
  assert.equal(m.rcode, 'FORMERR');
  const r = new StubResolver({ servers: [dns.address], timeoutMs: 2000 });
  assert.deepEqual((await r.a('mail.example.demo')).records, ['127.0.0.9']);
});

test('the demo zones: dynamic PTR, DNSBL listing, IP literal as MX, and a PTR added while running', async (t) => {
  const dns = await startDnsServer(demoZones());
  t.after(() => dns.stop());
  const r = new StubResolver({ servers: [dns.address], timeoutMs: 2000 });
  assert.deepEqual((await r.ptr(HOSTS.dsl.ip)).records, ['127-0-0-23.dyn.example-dsl.demo']);
  assert.deepEqual((await r.a(`66.0.0.127.bl.demo`)).records, ['127.0.0.2']);
  assert.equal((await r.a(`10.0.0.127.bl.demo`)).rcode, 'NXDOMAIN');
  assert.deepEqual((await r.mx('baeckerei-ip-mx.demo')).records, [{ preference: 10, exchange: '127.0.0.31' }]);
  assert.equal((await r.mx('gibts-nicht.demo')).rcode, 'NXDOMAIN');
  assert.equal((await r.ptr(HOSTS.newserver.ip)).rcode, 'NXDOMAIN');
  addNewServerPtr(dns.zones);
  assert.deepEqual((await r.ptr(HOSTS.newserver.ip)).records, [HOSTS.newserver.ptr]);
});
