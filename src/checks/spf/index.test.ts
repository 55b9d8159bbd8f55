import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeResolver } from '../../dns/fake.js';
import { testContext } from '../testing.js';
import { settings as spfSettings } from './config.js';
import { spfChecks, type SpfEvidence } from './index.js';
import { ResolvedConfig } from '../../config/load.js';

const cfg = { dns: { timeout_ms: 2000, attempts: 2 } } as ResolvedConfig;
const defaults = spfSettings.parse(undefined);

function world(): FakeResolver {
  return new FakeResolver()
    .set('txt', 'pass.test', ['v=spf1 ip4:192.0.2.10 -all'], { ttl: 3600 })
    .set('txt', 'fail.test', ['v=spf1 ip4:198.51.100.1 -all'], { ttl: 1800 })
    .set('txt', 'soft.test', ['v=spf1 a ~all'])
    .set('a', 'soft.test', ['198.51.100.7'], { ttl: 120 })
    .set('txt', 'broken.test', ['v=spf1 ip4:192.0.2.10 bogus:x -all'])
    .set('txt', 'nospf.test', ['some other text'])
    .set('txt', 'helo.test', ['v=spf1 ip4:192.0.2.10 -all'])
    .fail('txt', 'dnsdown.test', 'TIMEOUT');
}

async function run(o: { from: string; ip?: string; helo?: string; r?: FakeResolver; settings?: Partial<typeof defaults> }) {
  const r = o.r ?? world();
  const [c] = spfChecks({ ...defaults, ...o.settings }, cfg);
  assert.ok(c);
  const ctx = testContext('mail', {
    session: { ...testContext('mail').session, clientIp: o.ip ?? '192.0.2.10', helo: o.helo ?? 'client.helo.test' },
    tx: { ref: 'R', mailFrom: o.from, declaredSize: null, rcpts: [] },
  }, { resolver: r });
  const v = await c.run(ctx);
  return { v, e: v.evidence as unknown as SpfEvidence, r };
}

test('pass: the record, result and DNS answer with its TTL are evidence', async () => {
  const { v, e } = await run({ from: 'a@pass.test' });
  assert.equal(v.kind, 'pass');
  assert.equal(e.result, 'pass');
  assert.equal(e.identity, 'mailfrom');
  assert.equal(e.domain, 'pass.test');
  assert.equal(e.record, 'v=spf1 ip4:192.0.2.10 -all');
  assert.deepEqual(e.dns, [{ name: 'pass.test', type: 'TXT', rcode: 'NOERROR', records: ['v=spf1 ip4:192.0.2.10 -all'], ttl: 3600 }]);
  assert.equal((e.lookups as { count: number }).count, 0);
});

test('fail: 550 5.7.23 naming the domain and the client address', async () => {
  const { v, e } = await run({ from: 'a@fail.test', ip: '::ffff:192.0.2.10' });
  assert.equal(v.kind, 'reject');
  assert.ok(v.kind === 'reject');
  assert.deepEqual(v.reply, {
    code: 550, enhanced: '5.7.23',
    text: 'SPF check failed: fail.test does not allow 192.0.2.10 to send its mail (RFC 7208); send through a server listed in its SPF record or fix the record',
  });
  assert.equal(e.result, 'fail');
  assert.equal(e.client_ip, '192.0.2.10');
  assert.equal(e.record, 'v=spf1 ip4:198.51.100.1 -all');
});

test('fail can be set to flag', async () => {
  const { v } = await run({ from: 'a@fail.test', settings: { fail: 'flag' } });
  assert.equal(v.kind, 'flag');
  assert.ok(v.kind === 'flag');
  assert.equal(v.tag, 'spf_fail');
});

test('softfail is flagged by default, after an A lookup that is evidence too', async () => {
  const { v, e } = await run({ from: 'a@soft.test' });
  assert.ok(v.kind === 'flag');
  assert.equal(v.tag, 'spf_softfail');
  assert.equal(e.result, 'softfail');
  assert.ok((e.dns as Array<{ name: string; type: string; ttl: number }>).some((d) => d.name === 'soft.test' && d.type === 'A' && d.ttl === 120));
  const r = await run({ from: 'a@soft.test', settings: { softfail: 'reject' } });
  assert.ok(r.v.kind === 'reject');
  assert.equal(r.v.reply.enhanced, '5.7.23');
});

test('temperror: 451 4.7.24, never a 5xx', async () => {
  const { v, e } = await run({ from: 'a@dnsdown.test' });
  assert.ok(v.kind === 'tempfail');
  assert.deepEqual(v.reply, { code: 451, enhanced: '4.7.24', text: 'Temporary DNS error while checking the SPF record of dnsdown.test; please try again later' });
  assert.equal(e.result, 'temperror');
  assert.deepEqual((e.dns as Array<{ rcode: string }>).map((d) => d.rcode), ['TIMEOUT']);
  const r = await run({ from: 'a@dnsdown.test', r: world().fail('txt', 'dnsdown.test', 'SERVFAIL') });
  assert.equal(r.v.kind, 'tempfail');
});

test('none (no domain, no SPF record) and neutral pass', async () => {
  assert.equal((await run({ from: 'a@nxdomain.test' })).e.result, 'none');
  assert.equal((await run({ from: 'a@nxdomain.test' })).v.kind, 'pass');
  assert.equal((await run({ from: 'a@nospf.test' })).v.kind, 'pass');
});

test('permerror is flagged by default, 550 5.7.24 when set to reject', async () => {
  const { v, e } = await run({ from: 'a@broken.test', ip: '198.51.100.99' });
  assert.equal(e.result, 'permerror');
  assert.ok(v.kind === 'flag');
  const r = await run({ from: 'a@broken.test', ip: '198.51.100.99', settings: { permerror: 'reject' } });
  assert.ok(r.v.kind === 'reject');
  assert.equal(r.v.reply.code, 550);
  assert.equal(r.v.reply.enhanced, '5.7.24');
});

test('null sender: the HELO name is the identity (RFC 7208 section 2.4)', async () => {
  const { v, e, r } = await run({ from: '', helo: 'helo.test', ip: '198.51.100.1' });
  assert.equal(e.identity, 'helo');
  assert.equal(e.domain, 'helo.test');
  assert.equal(e.sender, 'postmaster@helo.test');
  assert.equal(e.result, 'fail');
  assert.equal(v.kind, 'reject');
  assert.deepEqual(r.queries, ['TXT helo.test']);
  // An address literal as HELO is no domain: none, nothing looked up.
  const lit = await run({ from: '', helo: '[192.0.2.10]' });
  assert.equal(lit.e.result, 'none');
  assert.deepEqual(lit.r.queries, []);
});
