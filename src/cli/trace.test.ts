import { test } from 'node:test';
import assert from 'node:assert/strict';
import { traceFilter, MAX_LIMIT } from './trace.js';

test('--limit: a whole number from 1 to MAX_LIMIT; anything else is a usage error naming the flag', () => {
  assert.equal(traceFilter({ rcpt: 'a@b.test', limit: '25' }).limit, 25);
  assert.equal(traceFilter({ rcpt: 'a@b.test' }).limit, undefined);
  assert.equal(traceFilter({ rcpt: 'a@b.test', limit: String(MAX_LIMIT) }).limit, MAX_LIMIT);
  for (const bad of ['0', '-1', '1.5', '1e3', 'ten', '', String(MAX_LIMIT + 1), ' 5']) {
    assert.throws(() => traceFilter({ rcpt: 'a@b.test', limit: bad }), /--limit must be a whole number/, bad);
  }
});
