import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CachingResolver } from './cache.js';
import { FakeResolver } from './fake.js';
import type { DnsAnswer, RecordMap, RRType } from './types.js';
import { ResolverBase } from './types.js';

function world(): { clock: { t: number }; fake: FakeResolver; cache: CachingResolver } {
  const clock = { t: 1_000_000 };
  const now = (): number => clock.t;
  const fake = new FakeResolver({ now, negativeTtl: 60 });
  return { clock, fake, cache: new CachingResolver(fake, { now, maxNegativeTtl: 30 }) };
}

test('positive answers live for their TTL and say what remains', async () => {
  const { clock, fake, cache } = world();
  fake.set('a', 'mx.example', ['192.0.2.1'], { ttl: 300 });
  const first = await cache.a('mx.example');
  assert.equal(first.fromCache, false);
  assert.equal(first.ttl, 300);

  clock.t += 100_400;
  const second = await cache.a('MX.EXAMPLE.');
  assert.equal(second.fromCache, true);
  assert.equal(second.ttl, 200);
  assert.equal(second.at, first.at, 'the time the server answered, not the time of the cache hit');
  assert.deepEqual(second.records, ['192.0.2.1']);
  assert.equal(fake.queries.length, 1);

  clock.t += 199_599; // 1 ms before expiry
  assert.equal((await cache.a('mx.example')).ttl, 1);
  clock.t += 1;
  const third = await cache.a('mx.example');
  assert.equal(third.fromCache, false);
  assert.equal(fake.queries.length, 2);
  assert.equal(third.at, clock.t);
});

test('negative answers are cached for the SOA TTL, capped (RFC 2308 section 5)', async () => {
  const { clock, fake, cache } = world();
  fake.set('a', 'mx.example', ['192.0.2.1']);
  const nx = await cache.a('nowhere.example');
  assert.equal(nx.rcode, 'NXDOMAIN');
  assert.equal(nx.ttl, 60, 'the fresh answer keeps the TTL as seen');
  const nodata = await cache.aaaa('mx.example');
  assert.equal(nodata.rcode, 'NOERROR');
  assert.equal(nodata.records.length, 0);

  clock.t += 10_000;
  const nx2 = await cache.a('nowhere.example');
  assert.equal(nx2.fromCache, true);
  assert.equal(nx2.rcode, 'NXDOMAIN');
  assert.equal(nx2.ttl, 20, 'capped at maxNegativeTtl 30, 10 s gone');
  assert.equal((await cache.aaaa('mx.example')).fromCache, true);
  assert.equal(fake.queries.length, 2);

  clock.t += 20_000;
  assert.equal((await cache.a('nowhere.example')).fromCache, false);
  assert.equal(fake.queries.length, 3);
});

/** A resolver returning a fixed answer, to shape what the cache sees. */
class Fixed extends ResolverBase {
  calls = 0;
  constructor(private readonly answer: Partial<DnsAnswer<unknown>>) {
    super();
  }
  async resolve<T extends RRType>(name: string, type: T): Promise<DnsAnswer<RecordMap[T]>> {
    this.calls++;
    return { name, type, rcode: 'NOERROR', records: [], ttl: 0, server: 'x', at: 0, fromCache: false, ...this.answer } as DnsAnswer<RecordMap[T]>;
  }
}

test('a negative answer without SOA, a timeout and a zero TTL are not cached', async () => {
  for (const answer of [
    { rcode: 'NXDOMAIN' as const, ttl: 60 },
    { rcode: 'TIMEOUT' as const },
    { rcode: 'NETERROR' as const },
    { rcode: 'SERVFAIL' as const },
    { rcode: 'NOERROR' as const, records: ['192.0.2.1'], ttl: 0 },
  ]) {
    const inner = new Fixed(answer);
    const cache = new CachingResolver(inner, { now: () => 0 });
    await cache.a('x.example');
    const again = await cache.a('x.example');
    assert.equal(again.fromCache, false, JSON.stringify(answer));
    assert.equal(inner.calls, 2);
  }
});

test('server failures are cached only for failureTtl; TTLs over maxTtl are cut', async () => {
  let t = 0;
  const sf = new Fixed({ rcode: 'SERVFAIL' });
  const cache = new CachingResolver(sf, { now: () => t, failureTtl: 5 });
  await cache.mx('broken.example');
  t = 4_999;
  const hit = await cache.mx('broken.example');
  assert.equal(hit.fromCache, true);
  assert.equal(hit.rcode, 'SERVFAIL');
  t = 5_000;
  assert.equal((await cache.mx('broken.example')).fromCache, false);

  const long = new Fixed({ records: ['192.0.2.1'], ttl: 604800 });
  const c2 = new CachingResolver(long, { now: () => 0, maxTtl: 3600 });
  assert.equal((await c2.a('x.example')).ttl, 604800, 'as seen');
  assert.equal((await c2.a('x.example')).ttl, 3600, 'as cached');
});

test('identical lookups in flight go out once', async () => {
  const { fake, cache } = world();
  fake.set('mx', 'example', [{ preference: 10, exchange: 'mx.example' }]).delay('mx', 'example', 30);
  fake.set('a', 'example', ['192.0.2.1']).delay('a', 'example', 30);
  const answers = await Promise.all([cache.mx('example'), cache.mx('Example.'), cache.mx('example'), cache.a('example')]);
  assert.deepEqual(fake.queries, ['MX example', 'A example']);
  for (const a of answers.slice(0, 3)) assert.deepEqual(a.records, [{ preference: 10, exchange: 'mx.example' }]);
  assert.notEqual(answers[0], answers[1], 'each caller has its own copy');
  assert.deepEqual(cache.stats(), { entries: 2, hits: 0, misses: 2, joined: 2 });
  (answers[0]?.records[0] as { exchange: string }).exchange = 'changed';
  assert.equal((await cache.mx('example')).records[0]?.exchange, 'mx.example');
});

test('a failing inner resolver rejects every waiting caller and is asked again next time', async () => {
  let calls = 0;
  class Broken extends ResolverBase {
    async resolve<T extends RRType>(): Promise<DnsAnswer<RecordMap[T]>> {
      calls++;
      await new Promise((r) => setTimeout(r, 5));
      throw new Error('bug');
    }
  }
  const cache = new CachingResolver(new Broken());
  const results = await Promise.allSettled([cache.a('x.example'), cache.a('x.example')]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  assert.equal(calls, 1);
  await assert.rejects(cache.a('x.example'));
  assert.equal(calls, 2);
  await assert.rejects(cache.a('not a name'), { name: 'DnsNameError' });
});

test('at most maxEntries answers, least recently used out first; PTR by IP is cached by reverse name', async () => {
  const fake = new FakeResolver();
  for (const n of ['a', 'b', 'c']) fake.set('a', `${n}.example`, ['192.0.2.1']);
  fake.set('ptr', '192.0.2.1', ['a.example']);
  const cache = new CachingResolver(fake, { maxEntries: 2 });
  await cache.a('a.example');
  await cache.a('b.example');
  await cache.a('a.example'); // a is now the most recent
  await cache.a('c.example'); // evicts b
  assert.equal((await cache.a('a.example')).fromCache, true);
  assert.equal((await cache.a('b.example')).fromCache, false);
  assert.equal(cache.stats().entries, 2);

  const p1 = await cache.ptr('::ffff:192.0.2.1');
  const p2 = await cache.resolve('1.2.0.192.in-addr.arpa', 'PTR');
  assert.equal(p1.fromCache, false);
  assert.equal(p2.fromCache, true);
  assert.deepEqual(p2.records, ['a.example']);
});
