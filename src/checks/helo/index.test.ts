import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalDomains } from '../../domains/index.js';
import { testContext } from '../testing.js';
import { settings as schema } from './config.js';
import { heloAddress, heloChecks } from './index.js';

function run(helo: string, o: Record<string, unknown> = {}, clientIp = '192.0.2.5') {
  const [c] = heloChecks(schema.parse(o));
  assert.ok(c);
  const base = testContext('helo');
  return c.run(testContext('helo', { session: { ...base.session, clientIp, localIp: '198.51.100.1', helo } }, {
    hostname: 'mx.local.test',
    domains: new LocalDomains({ 'customer.test': { mailboxes: ['a'], aliases: {} } } as never),
  }));
}

test('the client\'s own address, as literal or bare, and an ordinary name pass', async () => {
  assert.equal((await run('[192.0.2.5]')).kind, 'pass');
  assert.equal((await run('192.0.2.5')).kind, 'pass');
  assert.equal((await run('[IPv6:::ffff:192.0.2.5]')).kind, 'pass');
  assert.equal((await run('[IPv6:2001:db8::5]', {}, '2001:db8:0:0::5')).kind, 'pass');
  assert.equal((await run('mail.sender.test')).kind, 'pass');
});

test('an address that is not the client\'s is refused 550 5.7.1', async () => {
  const v = await run('[192.0.2.99]');
  assert.equal(v.kind, 'reject');
  if (v.kind !== 'reject') return;
  assert.deepEqual([v.reply.code, v.reply.enhanced], [550, '5.7.1']);
  assert.equal(v.reply.text, 'Your server introduced itself (HELO/EHLO) as [192.0.2.99], but connected from 192.0.2.5; configure it to use its own fully qualified host name');
  assert.deepEqual(v.evidence, { helo: '[192.0.2.99]', client_ip: '192.0.2.5', local_ip: '198.51.100.1', hostname: 'mx.local.test' });
  assert.equal((await run('10.1.2.3')).kind, 'reject');
  const f = await run('[192.0.2.99]', { address_mismatch: 'flag' });
  assert.equal(f.kind === 'flag' && f.tag, 'helo_address_mismatch');
});

test('our own name, a local domain or our address is refused', async () => {
  for (const h of ['mx.local.test', 'MX.Local.Test.', 'customer.test']) {
    const v = await run(h);
    assert.equal(v.kind, 'reject', h);
    assert.match(v.kind === 'reject' ? v.reply.text : '', /which is our own name, not yours; configure it/);
  }
  const v = await run('[198.51.100.1]');
  assert.equal(v.kind === 'reject' && v.reply.text, 'Your server introduced itself (HELO/EHLO) as [198.51.100.1], which is our address, not yours; configure it to use its own fully qualified host name');
  assert.equal((await run('mx.local.test', { claims_us: 'flag' })).kind, 'flag');
});

test('client text in the reply is cleaned', async () => {
  const v = await run('[192.0.2.99]\u00e9');
  // Not an address literal any more: the syntax check's business, not this one's.
  assert.equal(v.kind, 'pass');
  const w = await run('mx.local.test');
  assert.ok(w.kind === 'reject' && /^[\x20-\x7e]+$/.test(w.reply.text));
});

test('heloAddress', () => {
  assert.equal(heloAddress('[192.0.2.1]'), '192.0.2.1');
  assert.equal(heloAddress('[IPv6:2001:DB8::1]'), '2001:db8::1');
  assert.equal(heloAddress('mail.test'), null);
  assert.equal(heloAddress('[mail.test]'), null);
});
