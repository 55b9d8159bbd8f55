import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testContext } from '../testing.js';
import { allowlistChecks } from './index.js';

const base = { mode: 'enforce', on_error: 'tempfail' } as const;

test('a client in a listed network is allowed, others pass', async () => {
  const [c] = allowlistChecks({ ...base, networks: ['192.0.2.0/24', '2001:db8::/32'] });
  assert.ok(c);
  const run = (ip: string) => c.run(testContext('connect', { session: { ...testContext('connect').session, clientIp: ip } }));
  assert.equal((await run('192.0.2.77')).kind, 'allow');
  assert.equal((await run('::ffff:192.0.2.77')).kind, 'allow');
  assert.equal((await run('2001:db8::5')).kind, 'allow');
  assert.equal((await run('198.51.100.1')).kind, 'pass');
});

test('an empty list runs no check at all', () => {
  assert.deepEqual(allowlistChecks({ ...base, networks: [] }), []);
});
