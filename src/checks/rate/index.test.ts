import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testContext } from '../testing.js';
import type { Check, Verdict } from '../types.js';
import { rateChecks } from './index.js';

const base = { mode: 'enforce', on_error: 'tempfail', connections_per_minute: 3, messages_per_hour: 2, scope: 'node' } as const;

function setup(t: { after(fn: () => void): void }, settings = base) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-rate-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  let clock = 1_800_000_000_000;
  const checks = rateChecks(settings);
  const run = (c: Check, ip = '192.0.2.1'): Verdict => c.run(testContext(c.stage, {
    session: { ...testContext(c.stage).session, clientIp: ip },
    tx: c.stage === 'mail' ? { ref: 'R', mailFrom: 'a@b.example', declaredSize: null, rcpts: [] } : null,
  }, { dataDir: dir, now: () => clock })) as Verdict;
  return { checks, run, advance: (ms: number) => { clock += ms; } };
}

test('one check per limit, 0 switches a limit off', () => {
  assert.deepEqual(rateChecks(base).map((c) => [c.name, c.stage]), [['rate', 'connect'], ['rate', 'mail']]);
  assert.deepEqual(rateChecks({ ...base, messages_per_hour: 0 }).map((c) => c.stage), ['connect']);
  assert.deepEqual(rateChecks({ ...base, connections_per_minute: 0, messages_per_hour: 0 }), []);
});

test('connections per minute: a sliding window per client address', (t) => {
  const r = setup(t);
  const conn = r.checks[0]!;
  for (let i = 1; i <= 3; i++) {
    const v = r.run(conn);
    assert.equal(v.kind, 'pass');
    assert.equal(v.evidence?.count, i);
    r.advance(10_000);
  }
  const over = r.run(conn);
  assert.ok(over.kind === 'tempfail');
  assert.deepEqual(over.reply, { code: 451, enhanced: '4.7.1', text: 'Too many connections from your address in the last minute; please slow down and try again later' });
  assert.equal(over.evidence?.count, 3);
  assert.equal(over.evidence?.limit, 3);
  assert.equal(over.evidence?.client, '192.0.2.1');
  // Another address is unaffected.
  assert.equal(r.run(conn, '192.0.2.2').kind, 'pass');
  // At t=60s the first connection (t=0) leaves the window: one more fits.
  r.advance(30_000);
  assert.equal(r.run(conn).kind, 'pass');
  assert.equal(r.run(conn).kind, 'tempfail');
  // Refused attempts are not counted: after a quiet minute all is well again.
  r.advance(61_000);
  assert.equal(r.run(conn).kind, 'pass');
});

test('messages per hour; IPv6 counts per /64', (t) => {
  const r = setup(t);
  const mail = r.checks[1]!;
  assert.equal(r.run(mail, '2001:db8::1').kind, 'pass');
  assert.equal(r.run(mail, '2001:db8::2').kind, 'pass');
  const over = r.run(mail, '2001:db8::3');
  assert.ok(over.kind === 'tempfail');
  assert.match(over.reply.text, /^Too many messages from your address in the last hour/);
  assert.equal(over.evidence?.client, '2001:db8::/64');
  assert.equal(r.run(mail, '2001:db8:0:1::1').kind, 'pass');
  r.advance(3_600_001);
  assert.equal(r.run(mail, '2001:db8::3').kind, 'pass');
});
