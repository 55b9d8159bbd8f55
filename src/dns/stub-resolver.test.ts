// The StubResolver's exchange against a scripted in-process server on
// loopback (dns-packet on the other side too): spoofing resistance, server
// failover, EDNS fallback, TCP, limits. The real server is in
// test/e2e/40-dns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { parseResolvConf, parseServer, StubResolver } from './stub-resolver.js';

type Query = dnsPacket.DecodedPacket;
interface Ctx {
  q: Query;
  transport: 'udp' | 'tcp';
  rinfo: { address: string; port: number };
  /** Sends raw bytes over the transport the query came on. */
  send(buf: Buffer): void;
}

/** A response to q with the given parts. */
function reply(q: Query, p: Partial<dnsPacket.Packet> & { rcode?: number } = {}): Buffer {
  const { rcode = 0, flags = 0, ...rest } = p;
  return dnsPacket.encode({
    type: 'response',
    id: q.id,
    flags: flags | dnsPacket.AUTHORITATIVE_ANSWER | rcode,
    questions: q.questions,
    ...rest,
  });
}

async function scripted(handler: (c: Ctx) => void): Promise<{ address: string; port: number; queries: Query[]; close(): Promise<void> }> {
  const queries: Query[] = [];
  for (;;) {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    const port = udp.address().port;
    const tcp = net.createServer((sock) => {
      let buf = Buffer.alloc(0);
      sock.on('error', () => {});
      sock.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
        const q = dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        queries.push(q);
        handler({
          q, transport: 'tcp', rinfo: { address: '127.0.0.1', port: 0 },
          send: (b) => {
            const len = Buffer.alloc(2);
            len.writeUInt16BE(b.length);
            sock.end(Buffer.concat([len, b]));
          },
        });
      });
    });
    const ok = await new Promise<boolean>((r) => {
      tcp.once('error', () => r(false));
      tcp.listen(port, '127.0.0.1', () => r(true));
    });
    if (!ok) {
      udp.close();
      continue;
    }
    udp.on('message', (m, rinfo) => {
      const q = dnsPacket.decode(m);
      queries.push(q);
      handler({ q, transport: 'udp', rinfo, send: (b) => udp.send(b, rinfo.port, rinfo.address) });
    });
    return {
      address: `127.0.0.1:${port}`, port, queries,
      close: () => new Promise<void>((r) => {
        udp.close();
        tcp.close(() => r());
      }),
    };
  }
}

/** A port nothing listens on (UDP): answers are ICMP port unreachable. */
async function closedPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(r));
  return port;
}

test('parseServer and parseResolvConf', () => {
  assert.deepEqual(parseServer('127.0.0.1:5353'), { host: '127.0.0.1', port: 5353, family: 4, label: '127.0.0.1:5353' });
  assert.deepEqual(parseServer('192.0.2.1'), { host: '192.0.2.1', port: 53, family: 4, label: '192.0.2.1:53' });
  assert.deepEqual(parseServer('[::1]:53'), { host: '::1', port: 53, family: 6, label: '[::1]:53' });
  assert.deepEqual(parseServer('::1'), { host: '::1', port: 53, family: 6, label: '[::1]:53' });
  assert.throws(() => parseServer('ns.example:53'), RangeError);
  assert.throws(() => parseServer('127.0.0.1:0'), RangeError);
  assert.throws(() => parseServer('127.0.0.1:65536'), RangeError);
  assert.throws(() => new StubResolver({ servers: [] }), RangeError);
  assert.deepEqual(parseResolvConf('# x\nnameserver 127.0.0.53\nsearch example\nnameserver fe80::1%eth0\nnameserver bogus\n'), ['127.0.0.53', 'fe80::1']);
});

test('answers that do not match the question are ignored; the real one is taken', async (t) => {
  const srv = await scripted((c) => {
    const a = { answers: [{ type: 'A' as const, name: c.q.questions?.[0]?.name ?? '', ttl: 30, data: '192.0.2.1' }] };
    const wrongId = { ...c.q, id: (c.q.id ?? 0) ^ 1 };
    const spoofed = [
      reply(wrongId, { answers: [{ type: 'A', name: 'x.example', ttl: 30, data: '6.6.6.6' }] }),
      reply({ ...c.q, questions: [{ type: 'A', name: 'other.example', class: 'IN' }] }, { answers: [{ type: 'A', name: 'other.example', ttl: 30, data: '6.6.6.6' }] }),
      reply({ ...c.q, questions: [{ type: 'AAAA', name: 'x.example', class: 'IN' }] }),
      Buffer.from('garbage that is not DNS'),
      Buffer.concat([reply(c.q, a).subarray(0, 20)]), // cut short, TC not set
    ];
    for (const b of spoofed) c.send(b);
    // A forged answer with the right ID, but from another port: the connected socket drops it.
    const attacker = dgram.createSocket('udp4');
    attacker.send(reply(c.q, { answers: [{ type: 'A', name: 'x.example', ttl: 30, data: '6.6.6.6' }] }), c.rinfo.port, c.rinfo.address, () => {
      attacker.close();
      setTimeout(() => c.send(reply(c.q, a)), 30);
    });
  });
  t.after(() => srv.close());
  const r = new StubResolver({ servers: [srv.address], timeoutMs: 2000, now: () => 42 });
  const a = await r.a('X.Example.');
  assert.equal(a.rcode, 'NOERROR');
  assert.deepEqual(a.records, ['192.0.2.1']);
  assert.equal(a.name, 'x.example');
  assert.equal(a.ttl, 30);
  assert.equal(a.at, 42);
  assert.equal(a.server, srv.address);
  assert.equal(a.transport, 'udp');
});

test('query IDs and source ports vary; the question carries EDNS0 and RD', async (t) => {
  const ports: number[] = [];
  const srv = await scripted((c) => {
    ports.push(c.rinfo.port);
    c.send(reply(c.q, { rcode: 3 }));
  });
  t.after(() => srv.close());
  const r = new StubResolver({ servers: [srv.address] });
  for (let i = 0; i < 8; i++) assert.equal((await r.a('x.example')).rcode, 'NXDOMAIN');
  assert.ok(new Set(srv.queries.map((q) => q.id)).size >= 7, 'random IDs');
  assert.ok(new Set(ports).size >= 7, 'a fresh source port per query');
  const q = srv.queries[0] as Query;
  assert.ok(q.flag_rd);
  const opt = q.additionals?.find((rr) => rr.type === 'OPT') as dnsPacket.OptAnswer | undefined;
  assert.equal(opt?.udpPayloadSize, 1232);
});

test('SERVFAIL from one server: the next one is asked; all failing gives the server rcode with details', async (t) => {
  const bad = await scripted((c) => c.send(reply(c.q, { rcode: 2 })));
  const good = await scripted((c) => c.send(reply(c.q, { answers: [{ type: 'MX', name: 'x.example', ttl: 90, data: { preference: 5, exchange: 'mx.x.example' } }] })));
  t.after(() => Promise.all([bad.close(), good.close()]));
  const a = await new StubResolver({ servers: [bad.address, good.address] }).mx('x.example');
  assert.equal(a.rcode, 'NOERROR');
  assert.equal(a.server, good.address);
  assert.deepEqual(a.records, [{ preference: 5, exchange: 'mx.x.example' }]);

  const f = await new StubResolver({ servers: [bad.address], attempts: 2 }).mx('x.example');
  assert.equal(f.rcode, 'SERVFAIL');
  assert.equal(f.ttl, 0);
  assert.deepEqual(f.records, []);
  assert.equal(f.detail, `${bad.address}: SERVFAIL over udp; ${bad.address}: SERVFAIL over udp`);
});

test('no answer: TIMEOUT after timeoutMs x attempts; unreachable port: NETERROR at once', async (t) => {
  const hole = await scripted(() => { /* never answers */ });
  t.after(() => hole.close());
  const t0 = Date.now();
  const a = await new StubResolver({ servers: [hole.address], timeoutMs: 150, attempts: 2, deadlineMs: 10000 }).a('x.example');
  const ms = Date.now() - t0;
  assert.equal(a.rcode, 'TIMEOUT');
  // Bounds loose enough for a loaded machine (timers fire late, never early).
  assert.ok(ms >= 290 && ms < 5000, `took ${ms} ms`);
  assert.match(a.detail ?? '', /no answer over udp in 150 ms/);
  assert.equal(hole.queries.length, 2);

  const port = await closedPort();
  const t1 = Date.now();
  const b = await new StubResolver({ servers: [`127.0.0.1:${port}`], timeoutMs: 10000 }).a('x.example');
  assert.equal(b.rcode, 'NETERROR');
  assert.match(b.detail ?? '', /ECONNREFUSED/);
  assert.ok(Date.now() - t1 < 5000, 'did not wait for the timeout');

  // A dead server first, a black hole second: a timeout is the better description.
  const c = await new StubResolver({ servers: [`127.0.0.1:${port}`, hole.address], timeoutMs: 100, attempts: 1 }).a('x.example');
  assert.equal(c.rcode, 'TIMEOUT');
});

test('deadlineMs bounds a whole lookup, whatever timeoutMs and attempts say', async (t) => {
  const hole = await scripted(() => { /* never answers */ });
  t.after(() => hole.close());
  const t0 = Date.now();
  const a = await new StubResolver({ servers: [hole.address, hole.address], timeoutMs: 200, attempts: 5, deadlineMs: 300 }).a('x.example');
  const ms = Date.now() - t0;
  assert.equal(a.rcode, 'TIMEOUT');
  assert.ok(ms >= 290 && ms < 5000, `took ${ms} ms`);
  assert.match(a.detail ?? '', /deadline of 300 ms/);
  assert.ok(hole.queries.length < 10, 'not all 10 tries');
});

test('an EDNS0 extended rcode (BADVERS) is a server failure, not an empty answer', async (t) => {
  const srv = await scripted((c) => c.send(reply(c.q, {
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 1, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
  })));
  t.after(() => srv.close());
  const a = await new StubResolver({ servers: [srv.address], attempts: 1 }).a('x.example');
  assert.equal(a.rcode, 'SERVFAIL');
  assert.match(a.detail ?? '', /RCODE_16/);
});

test('truncated over UDP: asked again over TCP; a cut-off truncated datagram also works', async (t) => {
  let cut = false;
  const srv = await scripted((c) => {
    const name = c.q.questions?.[0]?.name ?? '';
    const answers = Array.from({ length: 20 }, (_, i) => ({ type: 'TXT' as const, name, ttl: 77, data: [`${'t'.repeat(100)}${i}`] }));
    if (c.transport === 'tcp') {
      c.send(reply(c.q, { answers }));
      return;
    }
    const full = reply(c.q, { answers, flags: dnsPacket.TRUNCATED_RESPONSE });
    c.send(cut ? full.subarray(0, 600) : reply(c.q, { flags: dnsPacket.TRUNCATED_RESPONSE }));
  });
  t.after(() => srv.close());
  const r = new StubResolver({ servers: [srv.address] });
  for (const c of [false, true]) {
    cut = c;
    const a = await r.txt('big.example');
    assert.equal(a.rcode, 'NOERROR');
    assert.equal(a.transport, 'tcp');
    assert.equal(a.records.length, 20);
    assert.equal(a.records[19], `${'t'.repeat(100)}19`);
    assert.equal(a.ttl, 77);
  }
});

test('limits: records beyond maxRecords are dropped and marked; a TCP answer over maxAnswerBytes fails', async (t) => {
  const srv = await scripted((c) => {
    const name = c.q.questions?.[0]?.name ?? '';
    const answers = Array.from({ length: 30 }, (_, i) => ({ type: 'A' as const, name, ttl: 10 + i, data: `192.0.2.${i}` }));
    if (c.transport === 'udp' && name.startsWith('tc')) c.send(reply(c.q, { flags: dnsPacket.TRUNCATED_RESPONSE }));
    else c.send(reply(c.q, { answers }));
  });
  t.after(() => srv.close());
  const a = await new StubResolver({ servers: [srv.address], maxRecords: 5 }).a('many.example');
  assert.equal(a.records.length, 5);
  assert.equal(a.capped, true);
  assert.equal(a.ttl, 10);
  const b = await new StubResolver({ servers: [srv.address], maxAnswerBytes: 512, attempts: 1 }).a('tc.example');
  assert.equal(b.rcode, 'NETERROR');
  assert.match(b.detail ?? '', /over the limit of 512/);
  // Over UDP, a datagram over the limit is dropped like any other that does not fit.
  const c = await new StubResolver({ servers: [srv.address], maxAnswerBytes: 512, attempts: 1, timeoutMs: 1000 }).a('many.example');
  assert.equal(c.rcode, 'TIMEOUT');
  assert.match(c.detail ?? '', /1 datagrams ignored/);
});

test('FORMERR to an EDNS query: asked again without EDNS (RFC 6891 section 7)', async (t) => {
  const srv = await scripted((c) => {
    if (c.q.additionals?.some((rr) => rr.type === 'OPT')) {
      c.send(dnsPacket.encode({ type: 'response', id: c.q.id, flags: 1, questions: [] }));
      return;
    }
    c.send(reply(c.q, { answers: [{ type: 'A', name: 'old.example', ttl: 5, data: '192.0.2.7' }] }));
  });
  t.after(() => srv.close());
  const a = await new StubResolver({ servers: [srv.address] }).a('old.example');
  assert.deepEqual(a.records, ['192.0.2.7']);
  assert.equal(srv.queries.length, 2);
});

test('CNAME chains: followed inside one answer, asked again when the server stops, loops fail', async (t) => {
  const srv = await scripted((c) => {
    const name = c.q.questions?.[0]?.name ?? '';
    const cn = (from: string, to: string, ttl = 100): dnsPacket.Answer => ({ type: 'CNAME', name: from, ttl, data: to });
    if (name === 'www.example') c.send(reply(c.q, { answers: [cn('www.example', 'web.example', 40), { type: 'A', name: 'web.example', ttl: 300, data: '192.0.2.80' }] }));
    else if (name === 'out.example') c.send(reply(c.q, { answers: [cn('out.example', 'host.other')] }));
    else if (name === 'host.other') c.send(reply(c.q, { answers: [{ type: 'A', name: 'host.other', ttl: 20, data: '192.0.2.99' }] }));
    else if (name === 'loop.example') c.send(reply(c.q, { answers: [cn('loop.example', 'pool.example'), cn('pool.example', 'loop.example')] }));
    else if (name === 'gone.example') {
      c.send(reply(c.q, {
        rcode: 3,
        answers: [cn('gone.example', 'nothing.example')],
        authorities: [{ type: 'SOA', name: 'example', ttl: 900, data: { mname: 'ns.example', rname: 'h.example', serial: 7, refresh: 1, retry: 1, expire: 1, minimum: 120 } }],
      }));
    } else c.send(reply(c.q, { rcode: 5 }));
  });
  t.after(() => srv.close());
  const r = new StubResolver({ servers: [srv.address], attempts: 1 });
  const www = await r.a('www.example');
  assert.deepEqual(www.records, ['192.0.2.80']);
  assert.deepEqual(www.cnames, ['web.example']);
  assert.equal(www.ttl, 40, 'the smallest TTL on the way');
  const out = await r.a('out.example');
  assert.deepEqual(out.records, ['192.0.2.99']);
  assert.deepEqual(out.cnames, ['host.other']);
  assert.equal(out.ttl, 20);
  const loop = await r.a('loop.example');
  assert.equal(loop.rcode, 'SERVFAIL');
  assert.match(loop.detail ?? '', /loops/);
  const gone = await r.a('gone.example');
  assert.equal(gone.rcode, 'NXDOMAIN');
  assert.deepEqual(gone.cnames, ['nothing.example']);
  assert.deepEqual(gone.soa, { zone: 'example', ttl: 900, serial: 7, minimum: 120 });
  assert.equal(gone.ttl, 100, 'min(SOA TTL, MINIMUM, CNAME TTL)');
});

test('names that cannot be asked are a caller bug: rejected, nothing sent', async () => {
  const r = new StubResolver({ servers: ['127.0.0.1:9'] });
  await assert.rejects(r.a('two words.example'), { name: 'DnsNameError' });
  await assert.rejects(r.a(''), { name: 'DnsNameError' });
  await assert.rejects(r.a('a..example'), { name: 'DnsNameError' });
  await assert.rejects(r.a(`${'a.'.repeat(127)}example`), { name: 'DnsNameError' });
  await assert.rejects(r.ptr('999.1.1.1'), RangeError);
});
