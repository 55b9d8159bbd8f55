import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testContext } from '../testing.js';
import type { Verdict } from '../types.js';
import { clientNetwork } from '../../dns/ip.js';
import { greylistChecks } from './index.js';

const base: Parameters<typeof greylistChecks>[0] = {
  mode: 'enforce', on_error: 'tempfail', delay_s: 300, retry_window_h: 24, expiry_days: 36, auto_allow_after: 5, ipv4_prefix: 24, ipv6_prefix: 64,
} as const;
const S = 1000;
const H = 3600 * S;
const D = 24 * H;

function setup(t: { after(fn: () => void): void }, settings = base) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-grey-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  let clock = 1_800_000_000_000;
  const [check] = greylistChecks(settings);
  assert.ok(check);
  const run = (o: { ip?: string; from?: string; rcpt?: string } = {}): Verdict => {
    const ctx = testContext('rcpt', {
      session: { ...testContext('rcpt').session, clientIp: o.ip ?? '192.0.2.10' },
      tx: { ref: 'R', mailFrom: o.from ?? 'Anna@Sender.Example', declaredSize: null, rcpts: [] },
      rcpt: o.rcpt ?? 'bob@demo.test',
    }, { dataDir: dir, now: () => clock });
    return check.run(ctx) as Verdict;
  };
  return { dir, run, advance: (ms: number) => { clock += ms; }, now: () => clock };
}

test('client networks', () => {
  assert.equal(clientNetwork('192.0.2.77'), '192.0.2.0/24');
  assert.equal(clientNetwork('::ffff:192.0.2.77'), '192.0.2.0/24');
  assert.equal(clientNetwork('192.0.2.77', 32), '192.0.2.77');
  assert.equal(clientNetwork('10.1.2.3', 16), '10.1.0.0/16');
  assert.equal(clientNetwork('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
  assert.equal(clientNetwork('2001:db8:1:2:3:4:5:6', 32, 128), '2001:db8:1:2:3:4:5:6');
});

test('first attempt deferred, early retry deferred, retry after the delay passes', (t) => {
  const g = setup(t);
  const first = g.run();
  assert.ok(first.kind === 'tempfail');
  assert.deepEqual(first.reply, { code: 451, enhanced: '4.7.1', text: 'Greylisted: please try again in 300 seconds' });
  assert.equal(first.evidence?.state, 'new');
  assert.equal(first.evidence?.network, '192.0.2.0/24');
  assert.equal(first.evidence?.sender, 'anna@sender.example');
  assert.equal(first.evidence?.first_seen, new Date(g.now()).toISOString());

  g.advance(100 * S);
  const early = g.run({ ip: '192.0.2.200' }); // same /24: same triplet
  assert.ok(early.kind === 'tempfail');
  assert.equal(early.reply.text, 'Greylisted: please try again in 200 seconds');
  assert.equal(early.evidence?.state, 'too_early');
  assert.equal(early.evidence?.age_s, 100);

  g.advance(200 * S);
  const ok = g.run();
  assert.equal(ok.kind, 'pass');
  assert.equal(ok.evidence?.state, 'retried');
  assert.equal(ok.evidence?.passes, 1);
  assert.equal(ok.evidence?.age_s, 300);

  // Remembered: passes at once later on.
  g.advance(10 * D);
  const known = g.run();
  assert.equal(known.kind, 'pass');
  assert.equal(known.evidence?.state, 'known');

  // Another recipient, sender or network is a new triplet.
  assert.equal(g.run({ rcpt: 'carl@demo.test' }).kind, 'tempfail');
  assert.equal(g.run({ from: 'other@sender.example' }).kind, 'tempfail');
  assert.equal(g.run({ ip: '192.0.3.10' }).kind, 'tempfail');
});

test('a retry after the window starts over; a known triplet expires', (t) => {
  const g = setup(t);
  assert.equal(g.run().kind, 'tempfail');
  g.advance(25 * H);
  const late = g.run();
  assert.equal(late.kind, 'tempfail');
  assert.equal(late.evidence?.state, 'new');
  g.advance(300 * S);
  assert.equal(g.run().kind, 'pass');
  g.advance(37 * D);
  const expired = g.run();
  assert.equal(expired.kind, 'tempfail');
  assert.equal(expired.evidence?.state, 'new');
});

test('the null sender is the triplet with sender ""', (t) => {
  const g = setup(t);
  const v = g.run({ from: '' });
  assert.equal(v.kind, 'tempfail');
  assert.equal(v.evidence?.sender, '');
  g.advance(301 * S);
  assert.equal(g.run({ from: '' }).kind, 'pass');
});

test('automatic allow after auto_allow_after passes of the client network', (t) => {
  const g = setup(t, { ...base, auto_allow_after: 2 });
  for (const rcpt of ['a@demo.test', 'b@demo.test']) {
    assert.equal(g.run({ rcpt }).kind, 'tempfail');
    g.advance(301 * S);
    assert.equal(g.run({ rcpt }).kind, 'pass');
  }
  const v = g.run({ rcpt: 'new@demo.test', from: 'someone@else.example', ip: '192.0.2.99' });
  assert.equal(v.kind, 'pass');
  assert.equal(v.evidence?.state, 'auto_allowed');
  assert.equal(v.evidence?.client_passes, 2);
  // Not for other networks.
  assert.equal(g.run({ ip: '198.51.100.1' }).kind, 'tempfail');
  // The allowance expires with the network's last message.
  g.advance(37 * D);
  assert.equal(g.run({ rcpt: 'x@demo.test', ip: '192.0.2.99' }).kind, 'tempfail');
});

test('state survives a new check instance on the same data directory (a restart)', (t) => {
  const g = setup(t);
  assert.equal(g.run().kind, 'tempfail');
  const [again] = greylistChecks(base);
  g.advance(301 * S);
  const v = again!.run(testContext('rcpt', {
    session: { ...testContext('rcpt').session, clientIp: '192.0.2.10' },
    tx: { ref: 'R', mailFrom: 'anna@sender.example', declaredSize: null, rcpts: [] },
    rcpt: 'bob@demo.test',
  }, { dataDir: g.dir, now: g.now })) as Verdict;
  assert.equal(v.kind, 'pass');
  assert.ok(fs.existsSync(path.join(g.dir, 'greylist.sqlite')));
});
