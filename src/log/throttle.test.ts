import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from './logger.js';
import { RepeatThrottle } from './throttle.js';

test('a repeated message logs its burst per window, then one summary of what was left out', () => {
  let t = 0;
  const th = new RepeatThrottle({ burst: 3, windowMs: 1000, now: () => t });
  const allowed = Array.from({ length: 100 }, () => th.allow(50, 'ledger write failed')).filter(Boolean).length;
  assert.equal(allowed, 3);
  assert.ok(th.allow(50, 'another message'), 'other messages have their own budget');
  assert.ok(th.allow(40, 'ledger write failed'), 'and so does another level');
  t = 999;
  th.sweep();
  assert.deepEqual(th.pending, []);
  t = 1000;
  th.sweep();
  assert.deepEqual((th.pending as RepeatThrottle['pending']).map((p) => [p.msg, p.suppressed]), [['ledger write failed', 97]]);
  th.pending.length = 0;
  assert.ok(th.allow(50, 'ledger write failed'), 'a new window');
});

test('createLogger throttles warnings and errors, not info lines', () => {
  const lines: string[] = [];
  const destination = new Writable({ write(chunk: Buffer, _e, cb) { lines.push(...chunk.toString().split('\n').filter(Boolean)); cb(); } });
  const log = createLogger('info', {}, { throttle: new RepeatThrottle({ burst: 2, windowMs: 60_000 }), destination });
  for (let i = 0; i < 50; i++) log.error({ err: 'SQLITE_FULL' }, 'ledger write failed');
  for (let i = 0; i < 4; i++) log.info('session');
  const msgs = lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
  assert.equal(msgs.filter((m) => m === 'ledger write failed').length, 2);
  assert.equal(msgs.filter((m) => m === 'session').length, 4);
});
