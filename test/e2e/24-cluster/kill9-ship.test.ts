// kill -9 of a node while it ships: positions commit with their rows, so a
// shipping transaction cut off anywhere lands nothing, and the node started
// again on its data directory ships the same records once more, exactly
// once. Two places to be cut off: in the middle of the COPY batch (the
// chunks copied, the terms under way), and after every COPY with the
// commit not yet done.
//
// To stop the node at an exact point the test holds a table lock the
// shipper needs next (EXCLUSIVE: reads go on, writes wait), sees the
// shipper's statement waiting for it in pg_stat_activity, then sends
// SIGKILL. The backlog is a large one: PostgreSQL is stopped while mail
// comes in, and the node may log in again only once the lock is held.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import pg from 'pg';
import { MX1, MX2, journalHeads, journalsDigest, pgDigest, restartNode, startNode, storePositions, waitCaughtUp, type Node } from '../../helpers/cluster.js';
import { difference } from '../../helpers/ledger-digest.js';
import { pollUntil } from '../../helpers/postfix.js';
import { startPostgres, type PostgresInstance } from '../../helpers/postgres.js';
import { sendMail } from '../../helpers/smtp-client.js';

const RCPTS = ['alice@demo.test', 'bob@demo.test', 'demo@demo.test'];
/** The Message-IDs that got their 250, by recipient. */
const accepted = new Map<string, string[]>(RCPTS.map((r) => [r, []]));

/** A superuser session of its own (postgres.ts: unix socket in run/, trust), to hold a lock across statements. */
async function superuser(db: PostgresInstance): Promise<pg.Client> {
  const c = new pg.Client({ host: path.join(db.dir, 'run'), port: db.port, user: 'postgres', database: db.database });
  // The server's shutdown at the test's end ends this session too: no unhandled 'error'.
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** `count` messages to a node, `parallel` connections at a time; every one must get its 250. */
async function sendMany(n: Node, from: number, count: number, parallel = 6): Promise<void> {
  let next = from;
  const worker = async (): Promise<void> => {
    while (next < from + count) {
      const i = next++;
      const r = await sendMail(n.port, {
        host: n.host, from: `s${i % 11}@kill.test`, to: [RCPTS[i % 3]!, RCPTS[(i + 1) % 3]!],
        body: `Subject: backlog ${i}\r\nMessage-ID: <k${i}@kill.test>\r\n\r\nmessage ${i}\r\n`,
      });
      assert.match(r.final ?? '', /^250 /, `message ${i}: ${JSON.stringify(r.replies)}`);
      for (const rc of [RCPTS[i % 3]!, RCPTS[(i + 1) % 3]!]) accepted.get(rc)!.push(`k${i}@kill.test`);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

interface Waiting { pid: number; query: string; wait_event_type: string | null }

/** The shipper of `node` waiting for a lock in a statement that starts with `prefix`. */
async function shipperWaiting(db: PostgresInstance, node: string, prefix: string): Promise<Waiting | undefined> {
  const { rows } = await db.query<Waiting>(`SELECT pid, query, wait_event_type FROM pg_stat_activity
    WHERE application_name = $1 AND state = 'active' AND query LIKE $2`, [`mailproof writer journals of ${node}`, `${prefix}%`]);
  return rows.find((r) => r.wait_event_type === 'Lock');
}

test('kill -9 while shipping (mid-COPY, and after the COPYs before the commit): restarted, the node ships every event exactly once', { timeout: 240_000 }, async (t) => {
  const db = await startPostgres(t);
  if (!db) return;
  let mx1 = await startNode(t, db, { name: 'mx1', host: MX1 });
  const mx2 = await startNode(t, db, { name: 'mx2', host: MX2 });
  const dirs = [mx1.dataDir, mx2.dataDir];
  // Today's partitions exist and both nodes have shipped once.
  await sendMany(mx1, 0, 4, 2);
  await sendMany(mx2, 4, 4, 2);
  await waitCaughtUp(db, dirs, 20_000);

  // 1. A backlog, shipped into a lock held on terms: COPY chunks done, COPY terms waiting.
  await db.query(`ALTER ROLE ${db.user} NOLOGIN`);
  await db.stop();
  await Promise.all([sendMany(mx1, 100, 400), sendMany(mx2, 1000, 100)]);
  await db.start();
  const locker = await superuser(db);
  t.after(() => locker.end().catch(() => undefined));
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE terms IN EXCLUSIVE MODE');
  await db.query(`ALTER ROLE ${db.user} LOGIN`);
  const before = await storePositions(db);
  const backlog = (journalHeads([mx1.dataDir]).get('mx1/smtp') ?? 0) - (before.get('mx1/smtp') ?? 0);
  assert.ok(backlog > 5000, `a large backlog: ${backlog} events`);
  const waiting = await pollUntil(() => shipperWaiting(db, 'mx1', 'COPY terms'), { timeoutMs: 30_000, intervalMs: 50, what: "mx1's shipper in COPY terms" });
  t.diagnostic(`mx1's shipper (backend ${waiting.pid}) waits in ${JSON.stringify(waiting.query.slice(0, 40))} with a backlog of ${backlog} events`);
  // In the same transaction the chunks were copied already: it holds their write locks.
  const locks = await db.query<{ rel: string }>("SELECT DISTINCT relation::regclass::text AS rel FROM pg_locks WHERE pid = $1 AND mode = 'RowExclusiveLock' AND granted", [waiting.pid]);
  assert.ok(locks.rows.some((r) => r.rel.startsWith('chunks')), JSON.stringify(locks.rows));
  await mx1.kill9();
  await locker.query('ROLLBACK');
  // The backend finds its client gone and rolls back: nothing of the batch, not even the chunks.
  await pollUntil(async () => (await db.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [waiting.pid])).rows.length === 0, { timeoutMs: 15_000, what: 'the killed node\'s backend to end' });
  assert.equal((await storePositions(db)).get('mx1/smtp'), before.get('mx1/smtp'), 'no position of the cut-off batch');

  mx1 = await restartNode(t, db, mx1);
  await waitCaughtUp(db, [mx1.dataDir, mx2.dataDir], 60_000);
  let want = journalsDigest(dirs);
  let got = await pgDigest(db);
  assert.equal(got.count, want.count, difference(want, got));
  assert.equal(got.sha256, want.sha256, difference(want, got));

  // 2. Every COPY done, the positions' INSERT waiting: the commit never comes.
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE positions IN EXCLUSIVE MODE');
  const before2 = await storePositions(db);
  await sendMany(mx1, 2000, 60);
  const waiting2 = await pollUntil(() => shipperWaiting(db, 'mx1', 'INSERT INTO positions'), { timeoutMs: 30_000, intervalMs: 50, what: "mx1's shipper at its positions" });
  await mx1.kill9();
  await locker.query('ROLLBACK');
  await pollUntil(async () => (await db.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [waiting2.pid])).rows.length === 0, { timeoutMs: 15_000, what: 'the killed node\'s backend to end' });
  assert.equal((await storePositions(db)).get('mx1/smtp'), before2.get('mx1/smtp'));

  mx1 = await restartNode(t, db, mx1);
  await waitCaughtUp(db, dirs, 60_000);
  want = journalsDigest(dirs);
  got = await pgDigest(db);
  assert.equal(got.count, want.count, difference(want, got));
  assert.equal(got.sha256, want.sha256, difference(want, got));
  await locker.end();
  t.diagnostic(`${want.count} events in the journals and in the store`);
  // Research agrees: every message once, delivered.
  const { journeys } = (await mx2.trace(['--rcpt', 'alice@demo.test'])) as unknown as { journeys: { message_id: string; outcome: string }[] };
  assert.deepEqual(journeys.map((j) => j.message_id).sort(), [...accepted.get('alice@demo.test')!].sort());
  assert.ok(journeys.every((j) => j.outcome === 'delivered'));
});
