import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeResolver } from '../../dns/fake.js';
import { ComponentError, type Verdict } from '../types.js';
import { testContext } from '../testing.js';
import { settings as schema } from './config.js';
import { genericName } from './generic.js';
import type { AnswerEvidence } from '../dns-evidence.js';
import { clientIdentityChecks } from './index.js';

interface Ev { ptr: AnswerEvidence; forward: Array<{ name: string; confirms: boolean; a: AnswerEvidence }> }

const DNS = { dns: { servers: ['127.0.0.1:53'], timeout_ms: 500, attempts: 1, cache_entries: 0, max_negative_ttl_s: 0 } };

async function run(r: FakeResolver, ip: string, o: Record<string, unknown> = {}): Promise<Verdict> {
  const [c] = clientIdentityChecks(schema.parse(o), DNS);
  assert.ok(c);
  return c.run(testContext('connect', { session: { ...testContext('connect').session, clientIp: ip } }, { resolver: r }));
}

test('a good name that confirms forward passes and is returned as ptr, with PTR and A answers in evidence', async () => {
  const r = new FakeResolver().set('ptr', '192.0.2.25', ['mail.good.test'], { ttl: 86400 }).set('a', 'mail.good.test', ['192.0.2.25'], { ttl: 600 });
  const v = await run(r, '192.0.2.25');
  assert.equal(v.kind, 'pass');
  assert.equal(v.ptr, 'mail.good.test');
  const ev = v.evidence as unknown as Ev;
  assert.deepEqual([ev.ptr.name, ev.ptr.records, ev.ptr.ttl], ['25.2.0.192.in-addr.arpa', ['mail.good.test'], 86400]);
  assert.deepEqual([ev.forward[0]!.name, ev.forward[0]!.confirms, ev.forward[0]!.a.records, ev.forward[0]!.a.ttl], ['mail.good.test', true, ['192.0.2.25'], 600]);
});

test('a dynamic DSL name is rejected 550 5.7.1 telling them to use the provider\'s mail server', async () => {
  const r = new FakeResolver().set('ptr', '192.0.2.21', ['192-0-2-21.dyn.dsl.example.test']).set('a', '192-0-2-21.dyn.dsl.example.test', ['192.0.2.21']);
  const v = await run(r, '192.0.2.21');
  assert.equal(v.kind, 'reject');
  if (v.kind !== 'reject') return;
  assert.deepEqual([v.reply.code, v.reply.enhanced], [550, '5.7.1']);
  assert.equal(v.reply.text, 'Your server\'s address 192.0.2.21 has the generic host name 192-0-2-21.dyn.dsl.example.test, typical of dynamic/end-user addresses; send through your provider\'s mail server');
  assert.equal(v.ptr, '192-0-2-21.dyn.dsl.example.test');
  assert.deepEqual(v.evidence!.generic, ['address in name (192-0-2-21)', 'word dyn', 'word dsl']);
  // dynamic: flag only notes it.
  const f = await run(r, '192.0.2.21', { dynamic: 'flag' });
  assert.equal(f.kind === 'flag' && f.tag, 'dynamic_ptr');
});

test('no PTR: 450 4.7.25 by default, 550 5.7.25 or a flag as configured', async () => {
  const r = new FakeResolver();
  const v = await run(r, '192.0.2.30');
  assert.equal(v.kind, 'tempfail');
  if (v.kind !== 'tempfail') return;
  assert.deepEqual([v.reply.code, v.reply.enhanced], [450, '4.7.25']);
  assert.match(v.reply.text, /^Your server's address 192\.0\.2\.30 has no host name in DNS \(PTR record\);/);
  assert.equal(v.ptr, null);
  assert.equal((v.evidence as unknown as Ev).ptr.rcode, 'NXDOMAIN');
  const rej = await run(r, '192.0.2.30', { no_ptr: 'reject' });
  assert.equal(rej.kind === 'reject' && `${rej.reply.code} ${rej.reply.enhanced}`, '550 5.7.25');
  assert.equal((await run(r, '192.0.2.30', { no_ptr: 'flag' })).kind, 'flag');
});

test('a name that does not resolve back is flagged by default, refused when configured', async () => {
  const r = new FakeResolver().set('ptr', '192.0.2.40', ['mail.liar.test']).set('a', 'mail.liar.test', ['192.0.2.99']);
  const v = await run(r, '192.0.2.40');
  assert.equal(v.kind === 'flag' && v.tag, 'no_fcrdns');
  assert.equal(v.ptr, null);
  const rej = await run(r, '192.0.2.40', { no_fcrdns: 'reject' });
  assert.equal(rej.kind, 'reject');
  assert.equal(rej.kind === 'reject' && rej.reply.text, 'Your server\'s host name mail.liar.test (PTR of 192.0.2.40) does not resolve back to that address; have your provider fix the PTR or the A record');
  const temp = await run(r, '192.0.2.40', { no_fcrdns: 'tempfail' });
  assert.equal(temp.kind === 'tempfail' && temp.reply.enhanced, '4.7.25');
  // A name that does not exist forward is the same finding.
  const nx = new FakeResolver().set('ptr', '192.0.2.41', ['gone.liar.test']);
  assert.equal((await run(nx, '192.0.2.41')).kind, 'flag');
});

test('several PTR names: the one that confirms counts', async () => {
  const r = new FakeResolver().set('ptr', '192.0.2.50', ['old.test.example', 'mail.good.test'])
    .set('a', 'mail.good.test', ['192.0.2.50']).set('a', 'old.test.example', ['192.0.2.1']);
  const v = await run(r, '192.0.2.50');
  assert.equal(v.kind, 'pass');
  assert.equal(v.ptr, 'mail.good.test');
});

test('IPv6: forward confirmation by AAAA', async () => {
  const r = new FakeResolver().set('ptr', '2001:db8::25', ['mail6.good.test']).set('aaaa', 'mail6.good.test', ['2001:db8::25']);
  const v = await run(r, '2001:db8::25');
  assert.equal(v.kind, 'pass');
  assert.equal(v.ptr, 'mail6.good.test');
});

test('temporary DNS failures are a DNS ComponentError, never a verdict', async () => {
  const r = new FakeResolver().fail('ptr', '192.0.2.60', 'SERVFAIL');
  await assert.rejects(run(r, '192.0.2.60'), (e: unknown) => e instanceof ComponentError && e.component === 'dns');
  const f = new FakeResolver().set('ptr', '192.0.2.61', ['mail.slow.test']).fail('a', 'mail.slow.test', 'TIMEOUT');
  await assert.rejects(run(f, '192.0.2.61'), (e: unknown) => e instanceof ComponentError && /TIMEOUT/.test(e.message));
});

test('configured dynamic_patterns add to the built-in ones', async () => {
  const r = new FakeResolver().set('ptr', '192.0.2.70', ['host70.kunden.provider.test']).set('a', 'host70.kunden.provider.test', ['192.0.2.70']);
  assert.equal((await run(r, '192.0.2.70')).kind, 'pass');
  assert.equal((await run(r, '192.0.2.70', { dynamic_patterns: ['\\.kunden\\.'] })).kind, 'reject');
  assert.throws(() => schema.parse({ dynamic_patterns: ['('] }));
});

test('generic names: the address in its written forms, pool words; real mail server names are not generic', () => {
  const ip = '203.0.113.21';
  for (const n of ['203-0-113-21.dyn.isp.test', '21.113.0.203.broadband.isp.test', 'ip203-000-113-021.isp.test', 'cbff0071515.isp.test'.replace('cbff0071515', 'hostcb007115'), 'pool-21.dhcp.isp.test', 'ppp-x.isp.test', 'customer-x.isp.test']) {
    assert.ok(genericName(n, ip), n);
  }
  for (const n of ['mail.good.test', 'mx1.cable.test', 'smtp-out.provider.test', 'mail-203-0-113-210.isp.test']) {
    assert.equal(genericName(n, ip), null, n);
  }
});
