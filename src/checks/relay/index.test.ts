import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalDomains } from '../../domains/index.js';
import { testContext } from '../testing.js';
import { destinationOf, relayCheck } from './index.js';

const domains = new LocalDomains({ 'local.test': { mailboxes: ['user'], aliases: {} } });

function verdict(rcpt: string) {
  const ctx = testContext('rcpt', { rcpt }, { domains });
  return relayCheck.run(ctx);
}

test('local recipients pass, case-insensitively', () => {
  assert.equal((verdict('user@local.test') as { kind: string }).kind, 'pass');
  assert.equal((verdict('user@LOCAL.Test') as { kind: string }).kind, 'pass');
});

for (const [rcpt, why] of [
  ['user@other.test', 'not local'],
  ['user%other.test@local.test', 'percent hack'],
  ['other.test!user@local.test', 'bang path'],
  ['"user@other.test"@local.test', 'quoted address'],
  ['@local.test:user@other.test', 'not local'],
  ['@local.test,@x.test:user@other.test', 'not local'],
  ['user@[127.0.0.1]', 'not local'],
  ['user@local.test.', 'not local'],
  ['nodomain', 'no domain'],
] as const) {
  test(`relay attempt refused with 550 5.7.1: ${rcpt}`, () => {
    const v = verdict(rcpt) as { kind: string; reply?: { code: number; enhanced: string }; reason?: string };
    assert.equal(v.kind, 'reject');
    assert.equal(v.reply?.code, 550);
    assert.equal(v.reply?.enhanced, '5.7.1');
    assert.ok(v.reason?.includes(why.split(' ')[0]!), `${v.reason} should mention ${why}`);
  });
}

test('a source route to a local mailbox is ignored (RFC 5321 section 4.1.1.3)', () => {
  assert.deepEqual(destinationOf('@relay.test:user@local.test'), { local: 'user', domain: 'local.test' });
  assert.equal((verdict('@relay.test:user@local.test') as { kind: string }).kind, 'pass');
});
