import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeResolver } from '../../dns/fake.js';
import { ComponentError, type Verdict } from '../types.js';
import { testContext } from '../testing.js';
import { settings as schema } from './config.js';
import { dnsblChecks, interpret } from './index.js';

const DNS = { dns: { servers: ['127.0.0.1:53'], timeout_ms: 500, attempts: 1, cache_entries: 0, max_negative_ttl_s: 0 } };

const ZEN = {
  zone: 'zen.test', type: 'block' as const, weight: 1, name: 'zen.test',
  codes: {
    '127.0.0.2': 'a source of spam (SBL)',
    '127.0.0.4-127.0.0.7': 'an infected or hijacked machine (XBL)',
    '127.0.0.10-127.0.0.11': 'dynamic/end-user address space (PBL)',
  },
};
const WL = { zone: 'wl.test', type: 'allow' as const, weight: 1, codes: { '127.0.10.0-127.0.10.255': 'known good sender' } };

function make(o: Record<string, unknown>) {
  const s = schema.parse(o);
  const [c] = dnsblChecks(s, DNS);
  assert.ok(c);
  return c;
}

async function run(o: Record<string, unknown>, r: FakeResolver, ip = '192.0.2.10'): Promise<Verdict> {
  const c = make(o);
  return c.run(testContext('connect', { session: { ...testContext('connect').session, clientIp: ip } }, { resolver: r }));
}

test('no zones: no check', () => {
  assert.deepEqual(dnsblChecks(schema.parse({}), DNS), []);
});

test('a PBL listing is rejected with the list, the meaning and the advice; evidence has query, answer and TTL', async () => {
  const r = new FakeResolver().set('a', '10.2.0.192.zen.test', ['127.0.0.10', '127.0.0.11'], { ttl: 900 });
  const v = await run({ zones: [ZEN] }, r);
  assert.equal(v.kind, 'reject');
  if (v.kind !== 'reject') return;
  assert.deepEqual([v.reply.code, v.reply.enhanced], [554, '5.7.1']);
  assert.equal(v.reply.text, 'Your server\'s address 192.0.2.10 is listed on zen.test as dynamic/end-user address space (PBL); send through your provider\'s mail server');
  const z = (v.evidence!.zones as Array<Record<string, unknown>>)[0]!;
  assert.equal(z.query, '10.2.0.192.zen.test');
  assert.deepEqual((z.answer as Record<string, unknown>).records, ['127.0.0.10', '127.0.0.11']);
  assert.equal((z.answer as Record<string, unknown>).ttl, 900);
  assert.equal((z.answer as Record<string, unknown>).rcode, 'NOERROR');
  assert.deepEqual((z.listings as Array<Record<string, unknown>>).map((l) => l.code), ['127.0.0.10', '127.0.0.11']);
});

test('an SBL listing gets the removal advice; a configured advice wins', async () => {
  const r = new FakeResolver().set('a', '10.2.0.192.zen.test', ['127.0.0.2']);
  const v = await run({ zones: [ZEN] }, r);
  assert.equal(v.kind === 'reject' && v.reply.text, 'Your server\'s address 192.0.2.10 is listed on zen.test as a source of spam (SBL); ask the list\'s operator to remove it once the cause is fixed');
  const v2 = await run({ zones: [{ ...ZEN, codes: { '127.0.0.2': { meaning: 'a spam source', advice: 'see https://lists.test/' } } }] }, r);
  assert.equal(v2.kind === 'reject' && v2.reply.text, 'Your server\'s address 192.0.2.10 is listed on zen.test as a spam source; see https://lists.test/');
});

test('not listed: pass with the NXDOMAIN answer in evidence', async () => {
  const v = await run({ zones: [ZEN] }, new FakeResolver());
  assert.equal(v.kind, 'pass');
  const z = (v.evidence!.zones as Array<Record<string, unknown>>)[0]!;
  assert.equal((z.answer as Record<string, unknown>).rcode, 'NXDOMAIN');
});

test('error codes 127.255.255.x and unknown codes are no listing', async () => {
  const r = new FakeResolver().set('a', '10.2.0.192.zen.test', ['127.255.255.254', '127.0.0.99']);
  const v = await run({ zones: [ZEN] }, r);
  assert.equal(v.kind, 'pass');
  const z = (v.evidence!.zones as Array<Record<string, unknown>>)[0]!;
  assert.deepEqual((z.ignored as Array<{ code: string }>).map((i) => i.code), ['127.255.255.254', '127.0.0.99']);
  // Without a code map any 127/8 answer lists, still not the error codes nor answers outside 127/8.
  assert.deepEqual(interpret({ zone: 'x.test', type: 'block', weight: 1, codes: {} }, ['127.0.0.3', '127.255.255.252', '10.0.0.1']).listings.map((l) => l.code), ['127.0.0.3']);
});

test('an allow-list listing allows, even with a block listing', async () => {
  const r = new FakeResolver()
    .set('a', '10.2.0.192.zen.test', ['127.0.0.2'])
    .set('a', '10.2.0.192.wl.test', ['127.0.10.3']);
  const v = await run({ zones: [ZEN, WL] }, r);
  assert.equal(v.kind, 'allow');
  // An allow-list code outside its map does not allow.
  const r2 = new FakeResolver().set('a', '10.2.0.192.wl.test', ['127.0.0.2']);
  assert.equal((await run({ zones: [ZEN, WL] }, r2)).kind, 'pass');
});

test('weights add up: under reject_score a listing is only flagged', async () => {
  const a = { zone: 'a.test', weight: 0.5 };
  const b = { zone: 'b.test', weight: 0.5 };
  const r = new FakeResolver().set('a', '10.2.0.192.a.test', ['127.0.0.2']);
  const v = await run({ zones: [a, b] }, r);
  assert.equal(v.kind, 'flag');
  r.set('a', '10.2.0.192.b.test', ['127.0.0.2']);
  const v2 = await run({ zones: [a, b] }, r);
  assert.equal(v2.kind, 'reject');
  assert.equal(v2.kind === 'reject' && v2.reply.text, 'Your server\'s address 192.0.2.10 is listed on a.test and on b.test; ask the list\'s operator to remove it once the cause is fixed');
});

test('one list failing is evidence; every list failing is a DNS ComponentError', async () => {
  const r = new FakeResolver().fail('a', '10.2.0.192.zen.test', 'SERVFAIL').set('a', '10.2.0.192.b.test', ['127.0.0.2']);
  const v = await run({ zones: [ZEN, { zone: 'b.test' }] }, r);
  assert.equal(v.kind, 'reject');
  const zones = v.evidence!.zones as Array<Record<string, unknown>>;
  assert.equal(zones[0]!.failed, true);
  assert.equal((zones[0]!.answer as Record<string, unknown>).rcode, 'SERVFAIL');
  const all = new FakeResolver().fail('a', '10.2.0.192.zen.test', 'TIMEOUT').fail('a', '10.2.0.192.b.test', 'NETERROR');
  await assert.rejects(run({ zones: [ZEN, { zone: 'b.test' }] }, all), (e: unknown) => e instanceof ComponentError && e.component === 'dns' && /zen\.test TIMEOUT/.test(e.message));
});

test('IPv6 clients are asked by nibbles; IPv4-mapped clients as IPv4', async () => {
  const r = new FakeResolver().set('a', '10.2.0.192.zen.test', ['127.0.0.2']);
  assert.equal((await run({ zones: [ZEN] }, r, '::ffff:192.0.2.10')).kind, 'reject');
  const r6 = new FakeResolver();
  await run({ zones: [ZEN] }, r6, '2001:db8::1');
  assert.match(r6.queries[0]!, /^A 1\.(0\.){23}8\.b\.d\.0\.1\.0\.0\.2\.zen\.test$/);
});

test('the config refuses bad codes and non-ASCII meanings', () => {
  assert.throws(() => schema.parse({ zones: [{ zone: 'z.test', codes: { '127.0.0': 'x' } }] }));
  assert.throws(() => schema.parse({ zones: [{ zone: 'z.test', codes: { '127.0.0.2': 'gelistet wegen Spam \u00fcberall' } }] }));
});
