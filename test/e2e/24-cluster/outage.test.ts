// PostgreSQL down for a minute while both nodes take mail. The journal is
// where an event becomes durable before its reply, so every message still
// gets its 250, at the pace it would have anyway; the journals grow; each
// node says the store is down and how far behind it is. When PostgreSQL is
// back the nodes ship their backlog by themselves, within a bound, and the
// store then holds every event of both journals exactly once (digests
// compared, event for event).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StoreStatus } from '../../../src/ledger/store-status.js';
import { MX1, MX2, cli, journalHeads, journalsDigest, pgDigest, startNode, storePositions, waitCaughtUp, type Node } from '../../helpers/cluster.js';
import { difference } from '../../helpers/ledger-digest.js';
import { pollUntil } from '../../helpers/postfix.js';
import { startPostgres } from '../../helpers/postgres.js';
import { sendMail } from '../../helpers/smtp-client.js';

const OUTAGE_MS = 60_000;
/** Messages sent during the outage, alternating between the nodes. */
const DURING = 60;
/** The nodes retry the store at least every 10 s (indexer-worker.ts); shipping a minute's mail takes little. */
const CATCH_UP_BOUND_MS = 30_000;
const RCPTS = ['alice@demo.test', 'bob@demo.test', 'demo@demo.test'];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `mailproof status --json` of a node: its exit code and the store's part. */
async function storeStatus(n: Node): Promise<{ code: number | null; store: StoreStatus }> {
  const r = await cli(n, ['status', '--json']);
  assert.ok(r.stdout.startsWith('{'), `status --json on ${n.name}: ${r.code} ${r.stdout}${r.stderr}`);
  return { code: r.code, store: (JSON.parse(r.stdout) as { store: StoreStatus }).store };
}

test('PostgreSQL down for a minute: every message gets its 250, the journals keep it, the store catches up and holds each event once', { timeout: 300_000 }, async (t) => {
  const pg = await startPostgres(t);
  if (!pg) return;
  const mx1 = await startNode(t, pg, { name: 'mx1', host: MX1 });
  const mx2 = await startNode(t, pg, { name: 'mx2', host: MX2 });
  const nodes = [mx1, mx2];
  const dirs = nodes.map((n) => n.dataDir);
  let sent = 0;
  const send = async (n: Node, i: number): Promise<number> => {
    const t0 = Date.now();
    const r = await sendMail(n.port, {
      host: n.host, from: `sender${i % 7}@outage.test`, to: [RCPTS[i % RCPTS.length]!],
      body: `From: sender${i % 7}@outage.test\r\nSubject: message ${i}\r\nMessage-ID: <m${i}@outage.test>\r\n\r\nbody of message ${i}\r\n`,
    });
    assert.match(r.final ?? '', /^250 2\.0\.0 /, `message ${i} on ${n.name}: ${JSON.stringify(r.replies)}`);
    sent++;
    return Date.now() - t0;
  };

  // Before: mail flows into the store.
  for (let i = 0; i < 6; i++) await send(nodes[i % 2]!, i);
  await waitCaughtUp(pg, dirs, 20_000);
  const headsBefore = journalHeads(dirs);

  await pg.stop();
  const down = Date.now();
  const slowest: number[] = [];
  for (let i = 0; i < DURING; i++) {
    // Spread over the outage, not all at its start.
    await sleep(Math.max(0, down + (i * (OUTAGE_MS - 10_000)) / DURING - Date.now()));
    slowest.push(await send(nodes[i % 2]!, 100 + i));
  }
  // No message waited for the store: a 250 within seconds, as with the store up.
  assert.ok(Math.max(...slowest) < 5000, `slowest transaction during the outage: ${Math.max(...slowest)} ms`);
  t.diagnostic(`${DURING} messages during the outage, the slowest transaction ${Math.max(...slowest)} ms`);

  // The journals grew by every event of the outage's mail.
  const headsDuring = journalHeads(dirs);
  for (const k of ['mx1/smtp', 'mx2/smtp']) {
    const before = headsBefore.get(k) ?? 0;
    assert.ok((headsDuring.get(k) ?? 0) > before + DURING / 2, `${k}: ${before} -> ${headsDuring.get(k)}`);
  }

  // Each node says the store is down, with a backlog of its stream (the
  // indexer retries every few seconds): `status` exits 1.
  for (const n of nodes) {
    let st: Awaited<ReturnType<typeof storeStatus>> | null = null;
    await pollUntil(async () => {
      st = await storeStatus(n);
      return st.store.local?.up === false && (st.store.local.backlog.find((b) => b.stream === 'smtp')?.events ?? 0) > 0;
    }, { timeoutMs: 15_000, what: `${n.name}'s status to say the store is down with a backlog`, describe: () => JSON.stringify(st) });
    const { code, store } = st!;
    assert.equal(code, 1, 'status: something is down');
    assert.equal(store.kind, 'postgres');
    assert.equal(store.cluster, null);
    assert.match(store.error ?? '', new RegExp(`${pg.host}:${pg.port}`));
    assert.match(store.local!.last_error?.reason ?? '', /ECONNREFUSED|cannot reach/);
    assert.ok(store.local!.since >= down - 1000, 'down since the outage began');
    t.diagnostic(`${n.name}: status ${code}, store down (${store.error}), backlog ${JSON.stringify(store.local!.backlog)}`);
  }
  // Research cannot read the store now, and says so rather than answering from part of it.
  const during = await cli(mx1, ['trace', '--rcpt', 'alice@demo.test', '--json']);
  assert.notEqual(during.code, 0, during.stdout);
  assert.match(during.stderr, new RegExp(`${pg.host}:${pg.port}`), during.stderr);
  t.diagnostic(`trace during the outage: exit ${during.code}: ${during.stderr.trim().split('\n')[0]}`);

  await sleep(Math.max(0, down + OUTAGE_MS - Date.now()));
  // mx2 frozen (SIGSTOP) while PostgreSQL comes back: mx1 catches up by
  // itself; mx2's last report is then over a minute old, and research on
  // mx1 must call it silent rather than pretend the store is complete.
  mx2.proc.kill('SIGSTOP');
  try {
    await pg.start();
    const took1 = await waitCaughtUp(pg, [mx1.dataDir], CATCH_UP_BOUND_MS);
    t.diagnostic(`mx1 caught up ${took1} ms after PostgreSQL came back`);
    const r = (await mx1.trace(['--rcpt', 'alice@demo.test'])) as unknown as { store_behind?: { node: string; stream: string; events: number; silent_ms?: number }[] };
    const silent = (r.store_behind ?? []).find((l) => l.node === 'mx2' && l.stream === 'smtp');
    assert.ok(silent && (silent.silent_ms ?? 0) >= 60_000, `mx2 silent in store_behind: ${JSON.stringify(r.store_behind)}`);
    assert.ok(!(r.store_behind ?? []).some((l) => l.node === 'mx1'), JSON.stringify(r.store_behind));
    // status on mx1 says the same from the cluster's side: mx2 silent.
    const { store } = await storeStatus(mx1);
    const streams = store.cluster?.streams.map((x) => [x.node, x.stream, x.silent, x.behind]);
    assert.deepEqual(streams, [['mx1', 'smtp', false, 0], ['mx2', 'smtp', true, 0]], JSON.stringify(store));
  } finally {
    mx2.proc.kill('SIGCONT');
  }
  const took2 = await waitCaughtUp(pg, [mx2.dataDir], CATCH_UP_BOUND_MS);
  t.diagnostic(`mx2 caught up ${took2} ms after it was let go on`);

  // And status says so: up, nothing behind, anywhere.
  for (const n of nodes) {
    let st: Awaited<ReturnType<typeof storeStatus>> | null = null;
    await pollUntil(async () => {
      st = await storeStatus(n);
      return st.code === 0 && st.store.local?.up === true && st.store.local.backlog.length === 0;
    }, { timeoutMs: 15_000, what: `${n.name}'s status to say the store is up, nothing behind`, describe: () => JSON.stringify(st) });
    assert.equal(st!.store.error, null);
    assert.deepEqual(st!.store.cluster!.streams.map((x) => [x.node, x.stream, x.behind, x.silent]), [['mx1', 'smtp', 0, false], ['mx2', 'smtp', 0, false]]);
  }

  // Every event of both journals, once: counts and digests.
  const want = journalsDigest(dirs);
  const got = await pgDigest(pg);
  assert.equal(got.count, want.count, difference(want, got));
  assert.equal(got.sha256, want.sha256, difference(want, got));
  const positions = await storePositions(pg);
  assert.deepEqual([...positions].sort(), [...journalHeads(dirs)].sort());
  const { rows } = await pg.query<{ n: string }>('SELECT sum(n) AS n FROM chunks');
  assert.equal(Number(rows[0]!.n), want.count);

  // Research on either node: every message delivered, none twice, nothing behind.
  for (const n of nodes) {
    const all = (await n.trace(['--domain', 'demo.test'])) as unknown as { journeys: { outcome: string; message_id: string | null; node: string }[]; store_behind?: unknown };
    assert.equal(all.store_behind, undefined, JSON.stringify(all.store_behind));
    const ids = all.journeys.map((j) => j.message_id);
    assert.equal(all.journeys.length, sent, `journeys on ${n.name}`);
    assert.equal(new Set(ids).size, sent);
    assert.ok(all.journeys.every((j) => j.outcome === 'delivered'));
    assert.deepEqual(new Set(all.journeys.map((j) => j.node)), new Set(['mx1', 'mx2']));
  }
});
