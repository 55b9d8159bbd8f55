// Greylisting shared by a cluster: a real Postfix has both MX nodes as its
// next hops. mx1 defers its first attempt (451 greylisted); mx1 then goes
// away, Postfix's retry reaches mx2, and mx2 lets it in because the first
// attempt it knows of is mx1's: the triplet lives in PostgreSQL. A node
// with its own greylist would have seen a new triplet and deferred again.
// Research on either node tells one story: the deferral on mx1, retried,
// delivered on mx2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireTool } from '../../helpers/env.js';
import { MX1, MX2, QUIET_CHECKS, restartNode, startNode, type Node } from '../../helpers/cluster.js';
import { pollUntil, startPostfix } from '../../helpers/postfix.js';
import { startPostgres } from '../../helpers/postgres.js';
import { freePort, listNew } from '../../helpers/server.js';

const GREYLIST_S = 2;

type Journey = Awaited<ReturnType<Node['trace']>>['journeys'][number] & {
  ref: string; node: string; outcome: string; diagnosis: string[]; mail_from: string | null; message_id: string | null;
};
type Ev = Journey['events'][number] & { kind: string; node: string; check_name?: string; details?: { evidence?: Record<string, unknown> } };

const MESSAGE = 'From: info@partner.test\r\nTo: alice@demo.test\r\nSubject: our offer\r\nMessage-ID: <offer-7@partner.test>\r\n\r\nOur offer, as promised.\r\n';

test('a retry that lands on the other node passes: greylisting is shared through PostgreSQL', { timeout: 150_000 }, async (t) => {
  if (!requireTool(t, 'postfix')) return;
  const pg = await startPostgres(t);
  if (!pg) return;
  const config = { checks: { ...QUIET_CHECKS, greylist: { mode: 'enforce', delay_s: GREYLIST_S } } };
  let mx1 = await startNode(t, pg, { name: 'mx1', host: MX1, config });
  // mx2 is not up yet at the first attempt: Postfix goes on to the next hop
  // after a 451 to RCPT within the same attempt, and mx2 must not see the
  // first attempt itself (it would then pass the retry on its own account
  // and prove nothing about sharing).
  const mx2Port = await freePort(MX2);

  // Both nodes as next hops, mx1 first (Postfix 3.5+ tries a relayhost list in order).
  const partner = await startPostfix({
    relayTo: { host: mx1.host, port: mx1.port }, tls: 'none', hostname: 'mx.partner.test',
    main: {
      relayhost: `[${MX1}]:${mx1.port}, [${MX2}]:${mx2Port}`,
      queue_run_delay: '1s', minimal_backoff_time: `${GREYLIST_S + 1}s`, maximal_backoff_time: `${GREYLIST_S + 2}s`,
    },
  });
  t.after(() => partner.stop());
  await partner.submit('info@partner.test', ['alice@demo.test'], MESSAGE);

  await pollUntil(() => partner.deliveries().some((d) => d.status === 'deferred'), { what: 'the first attempt deferred', describe: () => partner.log() });
  assert.match(partner.log(), new RegExp(`host ${MX1.replace(/\./g, '\\.')}\\[[0-9.]+\\] said: 451 4\\.7\\.1 Greylisted`));
  // Then mx1 goes away and mx2 comes: the retry can only land on mx2.
  assert.equal(await mx1.stop(), 0);
  const mx2 = await startNode(t, pg, { name: 'mx2', host: MX2, port: mx2Port, config });
  await partner.waitForQueueEmpty(60_000);
  const sent = partner.deliveries().filter((d) => d.status === 'sent');
  assert.equal(sent.length, 1, partner.log());
  assert.ok(sent[0]!.relay.includes(`[${MX2}]:${mx2.port}`), `delivered through mx2: ${sent[0]!.line}`);
  assert.equal(listNew(mx2.newDir('alice@demo.test')).length, 1);

  // mx1 back: research on either node sees the same.
  mx1 = await restartNode(t, pg, mx1);
  for (const n of [mx1, mx2]) {
    const { journeys } = (await n.trace(['--rcpt', 'alice@demo.test', '-o', 'research.retry_window_s=3600'])) as unknown as { journeys: Journey[] };
    const mine = journeys.filter((j) => j.mail_from === 'info@partner.test');
    const shown = JSON.stringify(mine.map((j) => [j.node, j.outcome, j.diagnosis]));
    const delivered = mine.filter((j) => j.outcome === 'delivered');
    assert.equal(delivered.length, 1, `on ${n.name}: one delivery: ${shown}`);
    assert.equal(delivered[0]!.node, 'mx2', shown);
    assert.equal(delivered[0]!.message_id, 'offer-7@partner.test');
    // Every attempt before it is a deferral that was retried (the same message), the first one mx1's.
    const before = mine.slice(0, mine.indexOf(delivered[0]!));
    assert.ok(before.length >= 1, shown);
    assert.equal(mine.at(-1), delivered[0], `the delivery is the last attempt: ${shown}`);
    assert.equal(before[0]!.node, 'mx1', shown);
    for (const j of before) assert.deepEqual([j.outcome, j.diagnosis], ['tempfailed', ['tempfail_retried']], shown);
    const nodes = new Set(mine.flatMap((j) => (j.events as Ev[]).map((e) => e.node)));
    assert.deepEqual([...nodes].sort(), ['mx1', 'mx2'], `events of both nodes: ${shown}`);

    // The greylist's own account: mx1 saw a new triplet; mx2 never did, it
    // decided from the cluster's row, whose first attempt is mx1's.
    const grey = mine.flatMap((j) => (j.events as Ev[]).filter((e) => e.kind === 'check.result' && e.check_name === 'greylist'));
    const ev = (e: Ev): Record<string, unknown> => e.details!.evidence!;
    const states = grey.map((e) => [e.node, ev(e).state, ev(e).store]);
    assert.deepEqual(states[0], ['mx1', 'new', 'cluster'], JSON.stringify(states));
    assert.deepEqual(states.at(-1), ['mx2', 'retried', 'cluster'], JSON.stringify(states));
    assert.ok(!states.some(([node, state]) => node === 'mx2' && state === 'new'), JSON.stringify(states));
    assert.ok(grey.every((e) => ev(e).first_seen === ev(grey[0]!).first_seen), `one triplet, one first attempt: ${JSON.stringify(grey.map(ev))}`);
  }
});
