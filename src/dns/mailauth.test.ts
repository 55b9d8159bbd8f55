import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeResolver } from './fake.js';
import { DnsTrail, mailauthResolver } from './mailauth.js';

test('records in node\'s shapes, every answer kept with its TTL', async () => {
  const r = new FakeResolver()
    .set('txt', 'a.test', ['v=spf1 -all'], { ttl: 3600 })
    .set('mx', 'a.test', [{ preference: 10, exchange: 'mx.a.test' }], { ttl: 300 })
    .set('a', 'mx.a.test', ['192.0.2.1'], { ttl: 60 });
  const trail = new DnsTrail();
  const res = mailauthResolver(r, trail);
  assert.deepEqual(await res('a.test', 'TXT'), [['v=spf1 -all']]);
  assert.deepEqual(await res('a.test', 'MX'), [{ exchange: 'mx.a.test', priority: 10 }]);
  assert.deepEqual(await res('mx.a.test', 'A'), ['192.0.2.1']);
  assert.deepEqual(trail.toJSON(), [
    { name: 'a.test', type: 'TXT', rcode: 'NOERROR', records: ['v=spf1 -all'], ttl: 3600 },
    { name: 'a.test', type: 'MX', rcode: 'NOERROR', records: ['10 mx.a.test'], ttl: 300 },
    { name: 'mx.a.test', type: 'A', rcode: 'NOERROR', records: ['192.0.2.1'], ttl: 60 },
  ]);
});

test('NXDOMAIN/NODATA are ENOTFOUND/ENODATA; failures are temporary codes', async () => {
  const r = new FakeResolver()
    .set('a', 'nodata.test', ['192.0.2.1'])
    .fail('txt', 'sf.test', 'SERVFAIL')
    .fail('txt', 'to.test', 'TIMEOUT')
    .fail('txt', 'ref.test', 'REFUSED')
    .fail('txt', 'net.test', 'NETERROR');
  const trail = new DnsTrail();
  const res = mailauthResolver(r, trail);
  const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code: string }) => e.code);
  assert.equal(await code(res('nx.test', 'TXT')), 'ENOTFOUND');
  assert.equal(await code(res('nodata.test', 'TXT')), 'ENODATA');
  assert.equal(await code(res('sf.test', 'TXT')), 'ESERVFAIL');
  assert.equal(await code(res('to.test', 'TXT')), 'ETIMEOUT');
  assert.equal(await code(res('ref.test', 'TXT')), 'EREFUSED');
  assert.equal(await code(res('net.test', 'TXT')), 'ECONNREFUSED');
  assert.equal(trail.temporaryFailure?.name, 'sf.test');
  // A name that cannot be asked (from a message or a record) does not exist, and is not asked.
  assert.equal(await code(res('bad name.test', 'TXT')), 'ENOTFOUND');
  assert.equal(await code(res('a.test', 'SPF')), 'ENOTIMP');
  assert.equal(r.queries.includes('TXT bad name.test'), false);
});

test('the trail is bounded', async () => {
  const trail = new DnsTrail(2);
  const res = mailauthResolver(new FakeResolver(), trail);
  for (const n of ['a.test', 'b.test', 'c.test']) await res(n, 'A').catch(() => undefined);
  assert.deepEqual((trail.toJSON() as { dropped: number }).dropped, 1);
});
