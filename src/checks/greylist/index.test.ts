// Greylisting's states, the same scenarios against both stores: the node's
// SQLite file, and the cluster's PostgreSQL (a throwaway instance). Both
// decide with decide.ts; these tests keep them from drifting apart.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checksPostgres } from '../../../test/helpers/pg-checks.js';
import type { ClusterDb } from '../cluster-db.js';
import { testContext } from '../testing.js';
import type { Verdict } from '../types.js';
import { clientNetwork } from '../../dns/ip.js';
import { decide, type GreylistPolicy } from './decide.js';
import { greylistChecks } from './index.js';

const base: Parameters<typeof greylistChecks>[0] = {
  mode: 'enforce', on_error: 'tempfail', delay_s: 300, retry_window_h: 24, expiry_days: 36, auto_allow_after: 5, ipv4_prefix: 24, ipv6_prefix: 64,
} as const;
const S = 1000;
const H = 3600 * S;
const D = 24 * H;

interface Grey {
  dir: string;
  run(o?: { ip?: string; from?: string; rcpt?: string }): Promise<Verdict>;
  advance(ms: number): void;
  now(): number;
  /** A new check instance (and connection) on the same state: a restart. */
  restart(): void;
  /** The evidence's store of every decision. */
  store: string;
}

/** cluster: a node's connection to PostgreSQL, or null for the SQLite store. */
function setup(t: TestContext, cluster: ((now: () => number) => ClusterDb) | null, settings = base): Grey {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-grey-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  let clock = 1_800_000_000_000;
  const now = (): number => clock;
  let check = greylistChecks(settings)[0]!;
  let db = cluster?.(now) ?? null;
  return {
    dir,
    run: async (o = {}) => check.run(testContext('rcpt', {
      session: { ...testContext('rcpt').session, clientIp: o.ip ?? '192.0.2.10' },
      tx: { ref: 'R', mailFrom: o.from ?? 'Anna@Sender.Example', declaredSize: null, rcpts: [] },
      rcpt: o.rcpt ?? 'bob@demo.test',
    }, { dataDir: dir, now, cluster: db })),
    advance: (ms) => { clock += ms; },
    now,
    restart: () => {
      check = greylistChecks(settings)[0]!;
      db = cluster?.(now) ?? null;
    },
    store: cluster ? 'cluster' : 'local',
  };
}

const SCENARIOS: { name: string; run(g: Grey): Promise<void>; settings?: typeof base }[] = [
  {
    name: 'first attempt deferred, early retry deferred, retry after the delay passes',
    async run(g) {
      const first = await g.run();
      assert.ok(first.kind === 'tempfail');
      assert.deepEqual(first.reply, { code: 451, enhanced: '4.7.1', text: 'Greylisted: please try again in 300 seconds' });
      assert.equal(first.evidence?.state, 'new');
      assert.equal(first.evidence?.network, '192.0.2.0/24');
      assert.equal(first.evidence?.sender, 'anna@sender.example');
      assert.equal(first.evidence?.first_seen, new Date(g.now()).toISOString());
      assert.equal(first.evidence?.store, g.store);

      g.advance(100 * S);
      const early = await g.run({ ip: '192.0.2.200' }); // same /24: same triplet
      assert.ok(early.kind === 'tempfail');
      assert.equal(early.reply.text, 'Greylisted: please try again in 200 seconds');
      assert.equal(early.evidence?.state, 'too_early');
      assert.equal(early.evidence?.age_s, 100);
      assert.equal(early.evidence?.attempts, 2);

      g.advance(200 * S);
      const ok = await g.run();
      assert.equal(ok.kind, 'pass');
      assert.equal(ok.evidence?.state, 'retried');
      assert.equal(ok.evidence?.passes, 1);
      assert.equal(ok.evidence?.attempts, 3);
      assert.equal(ok.evidence?.client_passes, 1);
      assert.equal(ok.evidence?.age_s, 300);

      // Remembered: passes at once later on.
      g.advance(10 * D);
      const known = await g.run();
      assert.equal(known.kind, 'pass');
      assert.equal(known.evidence?.state, 'known');
      assert.equal(known.evidence?.passes, 2);

      // Another recipient, sender or network is a new triplet.
      assert.equal((await g.run({ rcpt: 'carl@demo.test' })).kind, 'tempfail');
      assert.equal((await g.run({ from: 'other@sender.example' })).kind, 'tempfail');
      assert.equal((await g.run({ ip: '192.0.3.10' })).kind, 'tempfail');
    },
  },
  {
    name: 'a retry after the window starts over; a known triplet expires',
    async run(g) {
      assert.equal((await g.run()).kind, 'tempfail');
      g.advance(25 * H);
      const late = await g.run();
      assert.equal(late.kind, 'tempfail');
      assert.equal(late.evidence?.state, 'new');
      g.advance(300 * S);
      assert.equal((await g.run()).kind, 'pass');
      g.advance(37 * D);
      const expired = await g.run();
      assert.equal(expired.kind, 'tempfail');
      assert.equal(expired.evidence?.state, 'new');
      // The network's passes expired with it.
      assert.equal(expired.evidence?.client_passes, 0);
    },
  },
  {
    name: 'the null sender is the triplet with sender ""',
    async run(g) {
      const v = await g.run({ from: '' });
      assert.equal(v.kind, 'tempfail');
      assert.equal(v.evidence?.sender, '');
      g.advance(301 * S);
      assert.equal((await g.run({ from: '' })).kind, 'pass');
    },
  },
  {
    name: 'automatic allow after auto_allow_after passes of the client network',
    settings: { ...base, auto_allow_after: 2 },
    async run(g) {
      for (const rcpt of ['a@demo.test', 'b@demo.test']) {
        assert.equal((await g.run({ rcpt })).kind, 'tempfail');
        g.advance(301 * S);
        assert.equal((await g.run({ rcpt })).kind, 'pass');
      }
      const v = await g.run({ rcpt: 'new@demo.test', from: 'someone@else.example', ip: '192.0.2.99' });
      assert.equal(v.kind, 'pass');
      assert.equal(v.evidence?.state, 'auto_allowed');
      assert.equal(v.evidence?.client_passes, 2);
      // Not for other networks.
      assert.equal((await g.run({ ip: '198.51.100.1' })).kind, 'tempfail');
      // An allowed network's use keeps its allowance alive ...
      g.advance(30 * D);
      assert.equal((await g.run({ rcpt: 'y@demo.test', ip: '192.0.2.99' })).evidence?.state, 'auto_allowed');
      // ... which expires with the network's last message.
      g.advance(37 * D);
      assert.equal((await g.run({ rcpt: 'x@demo.test', ip: '192.0.2.99' })).kind, 'tempfail');
    },
  },
  {
    name: 'state survives a new check instance (a restart)',
    async run(g) {
      assert.equal((await g.run()).kind, 'tempfail');
      g.restart();
      g.advance(301 * S);
      const v = await g.run({ from: 'anna@sender.example' });
      assert.equal(v.kind, 'pass');
      assert.equal(v.evidence?.state, 'retried');
    },
  },
];

test('client networks', () => {
  assert.equal(clientNetwork('192.0.2.77'), '192.0.2.0/24');
  assert.equal(clientNetwork('::ffff:192.0.2.77'), '192.0.2.0/24');
  assert.equal(clientNetwork('192.0.2.77', 32), '192.0.2.77');
  assert.equal(clientNetwork('10.1.2.3', 16), '10.1.0.0/16');
  assert.equal(clientNetwork('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
  assert.equal(clientNetwork('2001:db8:1:2:3:4:5:6', 32, 128), '2001:db8:1:2:3:4:5:6');
});

test('decide() says what to store: nothing for the client network before a pass, its deletion once expired', () => {
  const p: GreylistPolicy = { delayMs: 300 * S, retryWindowMs: 24 * H, expiryMs: 36 * D, autoAllowAfter: 5 };
  const now = 1_800_000_000_000;
  const first = decide({ client: null, triplet: null }, now, p);
  assert.equal(first.client, undefined);
  assert.deepEqual(first.triplet, { first_seen: now, last_seen: now, attempts: 1, passes: 0 });
  const stale = decide({ client: { passes: 9, last_seen: now - 37 * D }, triplet: null }, now, p);
  assert.equal(stale.client, null);
  assert.equal(stale.result.clientPasses, 0);
  const allowed = decide({ client: { passes: 5, last_seen: now - D }, triplet: null }, now, p);
  assert.equal(allowed.result.state, 'auto_allowed');
  assert.deepEqual(allowed.client, { passes: 5, last_seen: now });
  assert.equal(allowed.triplet, undefined);
});

for (const s of SCENARIOS) {
  test(`SQLite: ${s.name}`, async (t) => {
    const g = setup(t, null, s.settings);
    await s.run(g);
    assert.ok(fs.existsSync(path.join(g.dir, 'greylist.sqlite')));
  });
}

test('PostgreSQL: the same scenarios', { timeout: 120_000 }, async (t) => {
  const c = await checksPostgres(t);
  if (!c) return;
  for (const s of SCENARIOS) {
    await t.test(s.name, async (tt) => {
      await c.pg.query('TRUNCATE greylist_triplet, greylist_client');
      const g = setup(tt, (now) => c.node(tt, { now }), s.settings);
      await s.run(g);
      // Decided in the cluster, never in the node's file.
      assert.ok(!fs.existsSync(path.join(g.dir, 'greylist.sqlite')));
    });
  }
  await t.test('old rows are pruned by the same rule as in SQLite', async (tt) => {
    await c.pg.query('TRUNCATE greylist_triplet, greylist_client');
    const g = setup(tt, (now) => c.node(tt, { now }));
    await g.run({ rcpt: 'pending@demo.test' });
    await g.run({ rcpt: 'passed@demo.test' });
    g.advance(301 * S);
    await g.run({ rcpt: 'passed@demo.test' });
    const count = async (): Promise<number[]> => {
      const r = await c.pg.query<{ t: number; c: number }>('SELECT (SELECT count(*) FROM greylist_triplet)::int AS t, (SELECT count(*) FROM greylist_client)::int AS c');
      return [r.rows[0]!.t, r.rows[0]!.c];
    };
    assert.deepEqual(await count(), [2, 1]);
    // After the retry window the pending triplet goes (pruning runs beside the next decision, hourly) ...
    g.advance(25 * H);
    await g.run({ rcpt: 'passed@demo.test' });
    await waitFor(async () => (await count())[0] === 1);
    // ... after the expiry the passed one and its network.
    g.advance(37 * D);
    await g.run({ ip: '198.51.100.7' });
    await waitFor(async () => (await count()).join() === '1,0');
    const left = await c.pg.query<{ network: string }>('SELECT network FROM greylist_triplet');
    assert.deepEqual(left.rows, [{ network: '198.51.100.0/24' }]);
  });
});

async function waitFor(ok: () => Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
