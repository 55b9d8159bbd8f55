import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeResolver } from '../../dns/fake.js';
import { ComponentError, type Verdict } from '../types.js';
import { testContext } from '../testing.js';
import { settings as schema } from './config.js';
import { mxAddress, senderDomainChecks } from './index.js';
import type { AnswerEvidence } from '../dns-evidence.js';

interface Ev { mx: AnswerEvidence; a: AnswerEvidence; aaaa: AnswerEvidence; finding: string }

const DNS = { dns: { servers: ['127.0.0.1:53'], timeout_ms: 500, attempts: 1, cache_entries: 0, max_negative_ttl_s: 0 } };

async function run(r: FakeResolver, mailFrom: string, o: Record<string, unknown> = {}): Promise<Verdict> {
  const [c] = senderDomainChecks(schema.parse(o), DNS);
  assert.ok(c);
  return c.run(testContext('mail', { tx: { ref: 'R', mailFrom, declaredSize: null, rcpts: [] } }, { resolver: r }));
}

test('a domain with an MX passes, MX answer with TTL in evidence', async () => {
  const r = new FakeResolver().set('mx', 'good.test', [{ preference: 10, exchange: 'mx.good.test' }], { ttl: 3600 });
  const v = await run(r, 'a@Good.Test');
  assert.equal(v.kind, 'pass');
  const mx = (v.evidence as unknown as Ev).mx;
  assert.deepEqual([mx.name, mx.rcode, mx.records, mx.ttl], ['good.test', 'NOERROR', [{ preference: 10, exchange: 'mx.good.test' }], 3600]);
});

test('no MX but an A or AAAA record: implicit MX, pass', async () => {
  const r = new FakeResolver().set('a', 'amx.test', ['192.0.2.1'], { ttl: 120 });
  const v = await run(r, 'a@amx.test');
  assert.equal(v.kind, 'pass');
  const ev = v.evidence as unknown as Ev;
  assert.equal(ev.finding, 'implicit_mx');
  assert.deepEqual([ev.mx.rcode, ev.mx.records, ev.a.records, ev.a.ttl, ev.aaaa.rcode], ['NOERROR', [], ['192.0.2.1'], 120, 'NOERROR']);
  const v6 = new FakeResolver().set('aaaa', 'v6.test', ['2001:db8::1']);
  assert.equal((await run(v6, 'a@v6.test')).kind, 'pass');
  // The A record answers even if AAAA fails.
  r.fail('aaaa', 'amx.test', 'SERVFAIL');
  assert.equal((await run(r, 'a@amx.test')).kind, 'pass');
});

test('the null sender and address literals are skipped', async () => {
  const r = new FakeResolver();
  assert.equal((await run(r, '')).kind, 'skip');
  assert.equal((await run(r, 'a@[192.0.2.1]')).kind, 'skip');
  assert.deepEqual(r.queries, []);
});

test('NXDOMAIN: 550 5.1.8, the domain does not exist', async () => {
  const v = await run(new FakeResolver(), 'a@nowhere.test');
  assert.equal(v.kind, 'reject');
  assert.ok(v.kind === 'reject');
  assert.deepEqual([v.reply.code, v.reply.enhanced, v.reply.text], [550, '5.1.8', 'The sender domain nowhere.test does not exist in DNS; use a valid sender address']);
  assert.equal((v.evidence as unknown as Ev).mx.rcode, 'NXDOMAIN');
});

test('a name with neither MX nor address: 550 5.1.8', async () => {
  const r = new FakeResolver().set('txt', 'txtonly.test', ['v=spf1 -all']);
  const v = await run(r, 'a@txtonly.test');
  assert.ok(v.kind === 'reject');
  assert.deepEqual([v.reply.code, v.reply.enhanced], [550, '5.1.8']);
  assert.match(v.reply.text, /no mail server in DNS \(no MX, A or AAAA record\)/);
});

test('null MX (RFC 7505): 550 5.7.27', async () => {
  const r = new FakeResolver().set('mx', 'nullmx.test', [{ preference: 0, exchange: '' }]);
  const v = await run(r, 'a@nullmx.test');
  assert.ok(v.kind === 'reject');
  assert.deepEqual([v.reply.code, v.reply.enhanced], [550, '5.7.27']);
  assert.equal(v.reply.text, 'The sender domain nullmx.test says it receives no mail (null MX, RFC 7505), so it cannot get replies; use a sender address that can receive mail');
});

test('an MX that is an IP address gets its own reason; reject by default, tempfail or flag as configured', async () => {
  const r = new FakeResolver().set('mx', 'sender.test', [{ preference: 10, exchange: '192.0.2.1' }]);
  const v = await run(r, 'a@sender.test');
  assert.ok(v.kind === 'reject');
  assert.deepEqual([v.reply.code, v.reply.enhanced], [550, '5.1.8']);
  assert.equal(v.reply.text, 'The MX record of sender.test points to an IP address (192.0.2.1) instead of a host name (RFC 5321 section 5.1); ask your mail provider to fix the MX record');
  assert.equal((v.evidence as unknown as Ev).finding, 'mx_is_ip');
  const t = await run(r, 'a@sender.test', { mx_is_ip: 'tempfail' });
  assert.ok(t.kind === 'tempfail');
  assert.deepEqual([t.reply.code, t.reply.enhanced], [450, '4.1.8']);
  assert.equal((await run(r, 'a@sender.test', { mx_is_ip: 'flag' })).kind, 'flag');
  // "[192.0.2.1]" as an exchange name is the same mistake.
  const b = new FakeResolver().set('mx', 'br.test', [{ preference: 10, exchange: '[192.0.2.1]' }]);
  const vb = await run(b, 'a@br.test');
  assert.ok(vb.kind === 'reject' && vb.reply.text.includes('points to an IP address (192.0.2.1)'));
  // One good MX among them: replies can still arrive, only flagged.
  const mixed = new FakeResolver().set('mx', 'mixed.test', [{ preference: 10, exchange: '192.0.2.1' }, { preference: 20, exchange: 'mx.mixed.test' }]);
  const vm = await run(mixed, 'a@mixed.test');
  assert.equal(vm.kind === 'flag' && vm.tag, 'sender_mx_is_ip');
});

test('temporary failures are a DNS ComponentError (4xx), never a 5xx', async () => {
  const r = new FakeResolver().fail('mx', 'flaky.test', 'SERVFAIL');
  await assert.rejects(run(r, 'a@flaky.test'), (e: unknown) => e instanceof ComponentError && e.component === 'dns' && /MX .*flaky\.test SERVFAIL/.test(e.message));
  const r2 = new FakeResolver().set('txt', 'half.test', ['x']).fail('a', 'half.test', 'TIMEOUT');
  await assert.rejects(run(r2, 'a@half.test'), (e: unknown) => e instanceof ComponentError && /TIMEOUT/.test(e.message));
});

test('mxAddress', () => {
  assert.equal(mxAddress('192.0.2.1'), '192.0.2.1');
  assert.equal(mxAddress('[192.0.2.1]'), '192.0.2.1');
  assert.equal(mxAddress('2001:db8::1'), '2001:db8::1');
  assert.equal(mxAddress('mx.test'), null);
});
