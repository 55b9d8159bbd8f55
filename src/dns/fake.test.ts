import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeResolver } from './fake.js';
import { isNoData, isTemporaryFailure } from './types.js';

test('the fake answers from data: records, NXDOMAIN, NODATA, failures', async () => {
  const r = new FakeResolver({ now: () => 1000 });
  r.set('a', 'mx.example', ['192.0.2.1'])
    .set('MX', 'example', [{ preference: 10, exchange: 'mx.example' }], { ttl: 60 })
    .set('txt', 'example', ['v=spf1 -all'])
    .set('ptr', '192.0.2.1', ['mx.example'])
    .fail('mx', 'broken.example', 'SERVFAIL')
    .fail('a', 'slow.example', 'TIMEOUT', 'no answer in 2000 ms');

  assert.deepEqual(await r.a('MX.example.'), {
    name: 'mx.example', type: 'A', server: 'fake', at: 1000, fromCache: false,
    rcode: 'NOERROR', records: ['192.0.2.1'], ttl: 300, authoritative: true,
  });
  const mx = await r.mx('example');
  assert.deepEqual(mx.records, [{ preference: 10, exchange: 'mx.example' }]);
  assert.equal(mx.ttl, 60);
  assert.deepEqual((await r.txt('example')).records, ['v=spf1 -all']);
  const ptr = await r.ptr('192.0.2.1');
  assert.equal(ptr.name, '1.2.0.192.in-addr.arpa');
  assert.deepEqual(ptr.records, ['mx.example']);

  const nx = await r.a('nowhere.example');
  assert.equal(nx.rcode, 'NXDOMAIN');
  assert.equal(nx.ttl, 60);
  assert.equal(nx.soa?.minimum, 60);
  assert.equal(isTemporaryFailure(nx), false);

  const nodata = await r.aaaa('mx.example');
  assert.equal(nodata.rcode, 'NOERROR');
  assert.ok(isNoData(nodata));

  const sf = await r.mx('broken.example');
  assert.equal(sf.rcode, 'SERVFAIL');
  assert.ok(isTemporaryFailure(sf));
  // Only the failing type fails.
  assert.equal((await r.a('broken.example')).rcode, 'NXDOMAIN');
  const to = await r.a('slow.example');
  assert.equal(to.rcode, 'TIMEOUT');
  assert.equal(to.detail, 'no answer in 2000 ms');

  assert.deepEqual(r.queries.slice(0, 4), ['A mx.example', 'MX example', 'TXT example', 'PTR 1.2.0.192.in-addr.arpa']);
});

test('the fake hands out copies and rejects names that cannot be asked', async () => {
  const r = new FakeResolver();
  r.set('mx', 'example', [{ preference: 10, exchange: 'mx.example' }]);
  const a = await r.mx('example');
  (a.records[0] as { exchange: string }).exchange = 'changed';
  assert.equal((await r.mx('example')).records[0]?.exchange, 'mx.example');
  await assert.rejects(r.a('bad name.example'), { name: 'DnsNameError' });
  await assert.rejects(r.a(`${'a'.repeat(64)}.example`), { name: 'DnsNameError' });
  await assert.rejects(r.ptr('not-an-ip'), RangeError);
  r.remove('example');
  assert.equal((await r.mx('example')).rcode, 'NXDOMAIN');
});
