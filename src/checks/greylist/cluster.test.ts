// Greylisting across a cluster: two MX nodes (each its own check instance,
// data directory, health and PostgreSQL connection) sharing a throwaway
// PostgreSQL. A retry passes on the other node; concurrent decisions count
// once; with PostgreSQL stopped or too slow a node decides locally, within
// the timeout, and says so.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { checksPostgres, type ChecksPostgres } from '../../../test/helpers/pg-checks.js';
import type { ClusterDbOptions } from '../cluster-db.js';
import { Health } from '../../health/index.js';
import { testContext } from '../testing.js';
import type { Verdict } from '../types.js';
import { greylistChecks } from './index.js';
import { lockKey } from './pg-store.js';

const settings: Parameters<typeof greylistChecks>[0] = {
  mode: 'enforce', on_error: 'tempfail', delay_s: 300, retry_window_h: 24, expiry_days: 36, auto_allow_after: 5, ipv4_prefix: 24, ipv6_prefix: 64,
};
const S = 1000;
const UNREACHABLE = 'local (PostgreSQL unreachable)';

interface Clock { now(): number; advance(ms: number): void }
function clock(): Clock {
  let t = 1_800_000_000_000;
  return { now: () => t, advance: (ms) => { t += ms; } };
}

interface Node {
  dir: string;
  health: Health;
  run(o?: { ip?: string; from?: string; rcpt?: string }): Promise<Verdict>;
}

function node(t: TestContext, c: ChecksPostgres, k: Clock, o: ClusterDbOptions & { settings?: typeof settings } = {}): Node {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-grey-node-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const [check] = greylistChecks(o.settings ?? settings);
  const db = c.node(t, { now: k.now, ...o });
  const health = new Health(k.now);
  return {
    dir,
    health,
    run: async (r = {}) => check!.run(testContext('rcpt', {
      session: { ...testContext('rcpt').session, clientIp: r.ip ?? '192.0.2.10' },
      tx: { ref: 'R', mailFrom: r.from ?? 'anna@sender.example', declaredSize: null, rcpts: [] },
      rcpt: r.rcpt ?? 'bob@demo.test',
    }, { dataDir: dir, now: k.now, cluster: db, health })),
  };
}

async function timed<T>(p: Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await p;
  return { value, ms: performance.now() - t0 };
}

test('greylisting across two nodes', { timeout: 120_000 }, async (t) => {
  const c = await checksPostgres(t);
  if (!c) return;
  const reset = () => c.pg.query('TRUNCATE greylist_triplet, greylist_client');

  await t.test('deferred by node A, the retry after the delay passes on node B', async (tt) => {
    await reset();
    const k = clock();
    const a = node(tt, c, k);
    const b = node(tt, c, k);
    const first = await a.run();
    assert.equal(first.kind, 'tempfail');
    assert.equal(first.evidence?.state, 'new');
    assert.equal(first.evidence?.store, 'cluster');
    k.advance(100 * S);
    const early = await b.run();
    assert.equal(early.kind, 'tempfail');
    assert.equal(early.evidence?.state, 'too_early');
    k.advance(200 * S);
    const retry = await b.run();
    assert.equal(retry.kind, 'pass');
    assert.equal(retry.evidence?.state, 'retried');
    assert.equal(retry.evidence?.attempts, 3);
    assert.equal(retry.evidence?.store, 'cluster');
    // And node A knows it now.
    assert.equal((await a.run()).evidence?.state, 'known');
    assert.equal(a.health.get('postgres')?.state, 'up');
    // Neither node kept anything of its own.
    assert.ok(!fs.existsSync(path.join(a.dir, 'greylist.sqlite')) && !fs.existsSync(path.join(b.dir, 'greylist.sqlite')));
  });

  await t.test('first attempts on both nodes at once count once; retries at once both count for the network', async (tt) => {
    await reset();
    const k = clock();
    // No automatic allowance here: every retry must be counted as one, not be let through by the network's count.
    // A generous timeout: this is about correctness, not speed, on a loaded test machine.
    const o = { settings: { ...settings, auto_allow_after: 0 }, timeoutMs: 20_000 };
    const a = node(tt, c, k, o);
    const b = node(tt, c, k, o);
    const rcpts = Array.from({ length: 20 }, (_, i) => `r${i}@demo.test`);
    const both = async (): Promise<[Verdict, Verdict][]> =>
      Promise.all(rcpts.map(async (rcpt) => Promise.all([a.run({ rcpt }), b.run({ rcpt })])));

    const firsts = await both();
    for (const [va, vb] of firsts) {
      assert.deepEqual([va.evidence?.state, vb.evidence?.state].sort(), ['new', 'too_early']);
      assert.deepEqual([va.evidence?.store, vb.evidence?.store], ['cluster', 'cluster']);
    }
    const rows = await c.pg.query<{ n: number; attempts: number; first_seen: number }>(
      'SELECT count(*)::int AS n, min(attempts) AS attempts, count(DISTINCT first_seen)::int AS first_seen FROM greylist_triplet HAVING max(attempts) = min(attempts)');
    assert.deepEqual(rows.rows, [{ n: 20, attempts: 2, first_seen: 1 }]);

    k.advance(301 * S);
    const retries = await both();
    for (const [va, vb] of retries) {
      assert.deepEqual([va.evidence?.state, vb.evidence?.state].sort(), ['known', 'retried']);
      assert.deepEqual([va.kind, vb.kind], ['pass', 'pass']);
    }
    // 40 passes: none lost to a concurrent write.
    const client = await c.pg.query<{ passes: number }>('SELECT passes FROM greylist_client WHERE network = $1', ['192.0.2.0/24']);
    assert.deepEqual(client.rows, [{ passes: 40 }]);
    const passes = await c.pg.query<{ sum: number }>('SELECT sum(passes)::int AS sum FROM greylist_triplet');
    assert.equal(passes.rows[0]!.sum, 40);
  });

  await t.test('PostgreSQL slower than the timeout: the node decides locally at the timeout, and nothing counts in the cluster', async (tt) => {
    await reset();
    const k = clock();
    const a = node(tt, c, k, { timeoutMs: 500, retryAfterMs: 5000 });
    // Another session holds the lock of the client network's decisions.
    const holder = new pg.Client({ host: c.pg.host, port: c.pg.port, user: c.pg.user, database: c.pg.database, password: c.pg.password, ssl: false });
    // PostgreSQL stopped by a later test under a still open holder must not throw.
    holder.on('error', () => undefined);
    await holder.connect();
    tt.after(() => holder.end());
    await holder.query('BEGIN');
    await holder.query(`SELECT pg_advisory_xact_lock(${lockKey('192.0.2.0/24')})`);

    const { value: v, ms } = await timed(a.run());
    assert.equal(v.kind, 'tempfail');
    assert.equal(v.evidence?.state, 'new');
    assert.equal(v.evidence?.store, UNREACHABLE);
    assert.ok(ms >= 450 && ms < 1500, `fell back after ${ms} ms`);
    assert.ok(fs.existsSync(path.join(a.dir, 'greylist.sqlite')));
    assert.equal(a.health.get('postgres')?.state, 'down');
    assert.match(a.health.get('postgres')?.last_error?.reason ?? '', /^greylist: no answer within 500 ms/);

    await holder.query('COMMIT');
    // The abandoned transaction was rolled back: the cluster never saw the attempt.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await c.pg.query('SELECT 1 FROM greylist_triplet')).rowCount, 0);
    // Within the pause after a failure the node does not even try.
    k.advance(1000);
    const paused = await timed(a.run({ rcpt: 'carl@demo.test' }));
    assert.equal(paused.value.evidence?.store, UNREACHABLE);
    assert.ok(paused.ms < 400, `${paused.ms} ms`);
    // After the pause PostgreSQL is asked again.
    k.advance(5000);
    const back = await a.run();
    assert.equal(back.evidence?.store, 'cluster');
    assert.equal(back.evidence?.state, 'new');
    assert.equal(a.health.get('postgres')?.state, 'up');
  });

  await t.test('PostgreSQL stopped: decisions fall back to the local greylist at once; started again: the cluster state again', async (tt) => {
    await reset();
    const k = clock();
    const a = node(tt, c, k, { timeoutMs: 2000, retryAfterMs: 5000 });
    assert.equal((await a.run()).evidence?.store, 'cluster');

    await c.pg.stop();
    const down = await timed(a.run({ rcpt: 'carl@demo.test' }));
    assert.ok(down.ms < 2000, `fell back after ${down.ms} ms`);
    assert.equal(down.value.kind, 'tempfail');
    assert.equal(down.value.evidence?.state, 'new');
    assert.equal(down.value.evidence?.store, UNREACHABLE);
    assert.equal(a.health.get('postgres')?.state, 'down');
    assert.match(a.health.get('postgres')?.last_error?.reason ?? '', /^greylist: (cannot reach the PostgreSQL store mailproof@127\.0\.0\.1:\d+\/mailproof: ECONNREFUSED|Connection terminated)/);
    // The local greylist carries on by itself meanwhile: carl's retry passes on this node.
    k.advance(301 * S);
    const local = await a.run({ rcpt: 'carl@demo.test' });
    assert.equal(local.kind, 'pass');
    assert.equal(local.evidence?.state, 'retried');
    assert.equal(local.evidence?.store, UNREACHABLE);
    // The price: bob's first attempt is in the cluster, not here, so his retry is deferred once more.
    assert.equal((await a.run()).evidence?.state, 'new');

    await c.pg.start();
    k.advance(5001);
    const again = await a.run();
    assert.equal(again.evidence?.store, 'cluster');
    assert.equal(again.kind, 'pass');
    assert.equal(again.evidence?.state, 'retried');
    assert.equal(a.health.get('postgres')?.state, 'up');
  });
});
