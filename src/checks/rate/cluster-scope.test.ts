// checks.rate.scope = cluster: two MX nodes (each its own check instances,
// health and PostgreSQL connection) counting in one throwaway PostgreSQL.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { checksPostgres, type ChecksPostgres } from '../../../test/helpers/pg-checks.js';
import type { ClusterDbOptions } from '../cluster-db.js';
import { Health } from '../../health/index.js';
import { testContext } from '../testing.js';
import type { Check, Verdict } from '../types.js';
import { rateChecks } from './index.js';

const settings = { mode: 'enforce', on_error: 'tempfail', connections_per_minute: 3, messages_per_hour: 0, scope: 'cluster' } as const;

interface Clock { now(): number; advance(ms: number): void }
function clock(): Clock {
  let t = 1_800_000_000_000;
  return { now: () => t, advance: (ms) => { t += ms; } };
}

interface Node { health: Health; connect(ip?: string): Promise<Verdict> }

function node(t: TestContext, c: ChecksPostgres, k: Clock, o: ClusterDbOptions & { settings?: Parameters<typeof rateChecks>[0] } = {}): Node {
  const [conn] = rateChecks(o.settings ?? settings) as [Check];
  const db = c.node(t, { now: k.now, ...o });
  const health = new Health(k.now);
  return {
    health,
    connect: async (ip = '192.0.2.1') => conn.run(testContext('connect', {
      session: { ...testContext('connect').session, clientIp: ip },
    }, { now: k.now, cluster: db, health })),
  };
}

const kinds = (vs: Verdict[]): string[] => vs.map((v) => v.kind);

test('rate limits counted for the cluster', { timeout: 120_000 }, async (t) => {
  const c = await checksPostgres(t);
  if (!c) return;
  const reset = () => c.pg.query('TRUNCATE rate_window');

  await t.test('connections on two nodes count against one limit, in one sliding window', async (tt) => {
    await reset();
    const k = clock();
    const a = node(tt, c, k);
    const b = node(tt, c, k);
    const seen: Verdict[] = [];
    for (const n of [a, b, a]) {
      seen.push(await n.connect());
      k.advance(10_000);
    }
    assert.deepEqual(kinds(seen), ['pass', 'pass', 'pass']);
    assert.deepEqual(seen.map((v) => v.evidence?.count), [1, 2, 3]);
    assert.deepEqual(seen.map((v) => v.evidence?.store), ['cluster', 'cluster', 'cluster']);
    const over = await b.connect();
    assert.ok(over.kind === 'tempfail');
    assert.equal(over.reply.code, 451);
    assert.deepEqual(over.evidence, {
      client: '192.0.2.1', counted: 'connections', count: 3, limit: 3, window_s: 60,
      oldest: new Date(k.now() - 30_000).toISOString(), store: 'cluster',
    });
    assert.equal((await a.connect()).kind, 'tempfail');
    // Another address has its own count.
    assert.equal((await a.connect('192.0.2.2')).kind, 'pass');
    // At 60 s the first connection leaves the window: one more fits, on either node.
    k.advance(30_000);
    assert.equal((await b.connect()).kind, 'pass');
    assert.equal((await a.connect()).kind, 'tempfail');
  });

  await t.test('connections at once on both nodes: exactly the limit passes', async (tt) => {
    await reset();
    const k = clock();
    // Correctness, not speed: a generous timeout for a loaded test machine.
    const o = { settings: { ...settings, connections_per_minute: 5 }, timeoutMs: 20_000 };
    const a = node(tt, c, k, o);
    const b = node(tt, c, k, o);
    const all = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).connect()));
    assert.equal(all.filter((v) => v.kind === 'pass').length, 5, JSON.stringify(all.map((v) => [v.kind, v.evidence?.count, v.evidence?.store])));
    assert.ok(all.every((v) => v.evidence?.store === 'cluster'));
    assert.deepEqual(all.filter((v) => v.kind === 'pass').map((v) => v.evidence?.count).sort(), [1, 2, 3, 4, 5]);
    const row = await c.pg.query<{ n: number }>('SELECT cardinality(times) AS n FROM rate_window');
    assert.deepEqual(row.rows, [{ n: 5 }]);
  });

  await t.test('scope node with a PostgreSQL store: each node counts for itself, nothing in PostgreSQL', async (tt) => {
    await reset();
    const k = clock();
    const o = { settings: { ...settings, scope: 'node' as const } };
    const a = node(tt, c, k, o);
    const b = node(tt, c, k, o);
    assert.deepEqual(kinds([await a.connect(), await a.connect(), await a.connect(), await a.connect()]), ['pass', 'pass', 'pass', 'tempfail']);
    const v = await b.connect();
    assert.equal(v.kind, 'pass');
    assert.equal(v.evidence?.count, 1);
    assert.equal(v.evidence?.store, undefined);
    assert.equal((await c.pg.query('SELECT 1 FROM rate_window')).rowCount, 0);
  });

  await t.test('PostgreSQL stopped: the node counts for itself at once; started again: the cluster counts again', async (tt) => {
    await reset();
    const k = clock();
    const a = node(tt, c, k, { timeoutMs: 2000, retryAfterMs: 5000 });
    const b = node(tt, c, k, { timeoutMs: 2000, retryAfterMs: 5000 });
    assert.equal((await a.connect()).evidence?.store, 'cluster');
    assert.equal((await b.connect()).evidence?.store, 'cluster');

    await c.pg.stop();
    const t0 = performance.now();
    const down = [await a.connect(), await a.connect(), await a.connect(), await a.connect()];
    assert.ok(performance.now() - t0 < 2000, 'the fallback does not wait for the timeout');
    assert.deepEqual(kinds(down), ['pass', 'pass', 'pass', 'tempfail']);
    assert.deepEqual(down.map((v) => v.evidence?.store), Array(4).fill('node (PostgreSQL unreachable)'));
    assert.equal(a.health.get('postgres')?.state, 'down');

    await c.pg.start();
    k.advance(5001);
    const back = await a.connect();
    assert.equal(back.kind, 'pass');
    assert.equal(back.evidence?.store, 'cluster');
    assert.equal(back.evidence?.count, 3, 'the two connections counted in the cluster before, and this one');
    assert.equal(a.health.get('postgres')?.state, 'up');
  });

  await t.test('rows of clients quiet for a whole window are deleted', async (tt) => {
    await reset();
    const k = clock();
    const a = node(tt, c, k);
    await a.connect('192.0.2.7');
    await a.connect('192.0.2.8');
    k.advance(61_000);
    // Pruning runs beside the decisions, once a minute.
    await a.connect('192.0.2.9');
    const until = Date.now() + 5000;
    let left: string[] = [];
    while (Date.now() < until) {
      left = (await c.pg.query<{ client: string }>('SELECT client FROM rate_window ORDER BY client')).rows.map((r) => r.client);
      if (left.length === 1) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(left, ['192.0.2.9']);
  });
});
