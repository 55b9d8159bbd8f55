// Greylisting and rate limits against a real mailproof: clients play
// 127.0.0.x addresses; state lives in the data directory and survives a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eventsOf } from '../../helpers/ledger.js';
import { listNew, startServer, type Instance, NO_DNS_CHECKS } from '../../helpers/server.js';
import { sendMail } from '../../helpers/smtp-client.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const BODY = 'From: anna@sender.example\r\nTo: bob@demo.test\r\nSubject: hello\r\n\r\nHello Bob.\r\n';

type Journey = Awaited<ReturnType<Instance['trace']>>['journeys'][number];
type Event = Journey['events'][number];

async function events(mp: Instance, rcpt: string): Promise<Event[]> {
  const { journeys } = await mp.trace(['--rcpt', rcpt]);
  return journeys.flatMap((j) => j.events);
}

function ledger(dataDir: string, where: string): Promise<Event[]> {
  return eventsOf<Event>({ dataDir }, where);
}

function details(e: Event): Record<string, unknown> {
  const d = e.details;
  return (typeof d === 'string' ? JSON.parse(d) : d) as Record<string, unknown>;
}

test('greylisting: deferred, too early, passes after the delay, remembered across a restart', { timeout: 180_000 }, async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-grey-e2e-'));
  let mp: Instance | null = null;
  t.after(async () => { await mp?.stop(); fs.rmSync(dataDir, { recursive: true, force: true }); });
  const config = { checks: { allowlist: { networks: [] }, ...NO_DNS_CHECKS, rate: { mode: 'off' }, greylist: { mode: 'enforce', delay_s: 5 } } };
  mp = await startServer({ dataDir, config });
  const send = (to: string) => sendMail(mp!.port, { from: 'Anna@Sender.Example', to: [to], body: BODY, localAddress: '127.0.0.51' });

  await t.test('first attempt: 451 4.7.1 Greylisted', async () => {
    const r = await send('bob@demo.test');
    assert.match(r.replies[3] ?? '', /^451 4\.7\.1 Greylisted: please try again in 5 seconds \(ref [A-Za-z0-9]+\)/);
    assert.equal(r.final, null);
  });

  await t.test('a retry before the delay: 451 again', async () => {
    const r = await send('bob@demo.test');
    assert.match(r.replies[3] ?? '', /^451 4\.7\.1 Greylisted: please try again in [1-5] seconds? /);
  });

  await t.test('a retry after the delay is accepted and delivered', async () => {
    await sleep(5200);
    const r = await send('bob@demo.test');
    assert.match(r.replies[3] ?? '', /^250 /);
    assert.match(r.final ?? '', /^250 /);
    assert.equal(listNew(mp!.newDir('bob@demo.test')).length, 1);
  });

  await t.test('the ledger has the greylist evidence', async () => {
    const ev = (await events(mp!, 'bob@demo.test')).filter((e) => e.kind === 'check.result' && e.check_name === 'greylist');
    const states = ev.map((e) => (details(e).evidence as Record<string, unknown>).state);
    assert.deepEqual(states, ['new', 'too_early', 'retried'], JSON.stringify(ev));
    const ev0 = details(ev[0]!).evidence as Record<string, unknown>;
    assert.equal(ev0.network, '127.0.0.0/24');
    assert.equal(ev0.sender, 'anna@sender.example');
    assert.equal(ev0.rcpt, 'bob@demo.test');
    assert.equal(ev[0]!.verdict, 'tempfail');
    assert.equal(ev[0]!.smtp_code, 451);
    const last = details(ev[2]!).evidence as Record<string, unknown>;
    assert.equal(last.passes, 1);
    assert.ok((last.age_s as number) >= 5);
    const rejected = (await events(mp!, 'bob@demo.test')).filter((e) => e.kind === 'rcpt.rejected');
    assert.equal(rejected.length, 2);
    assert.equal(rejected[0]!.check_name, 'greylist');
  });

  await t.test('state survives a restart: a known triplet passes, a pending one passes after its delay', async () => {
    assert.match((await send('alice@demo.test')).replies[3] ?? '', /^451 4\.7\.1 Greylisted/);
    assert.equal(await mp!.stop(), 0);
    mp = await startServer({ dataDir, config });
    assert.match((await send('bob@demo.test')).final ?? '', /^250 /, 'bob: remembered');
    await sleep(5200);
    const r = await send('alice@demo.test');
    assert.match(r.final ?? '', /^250 /, `alice: first attempt before the restart counts: ${JSON.stringify(r.replies)}`);
    assert.ok(fs.existsSync(path.join(dataDir, 'greylist.sqlite')));
  });
});

test('rate: the connection over the limit is deferred at RCPT, another address is not', { timeout: 120_000 }, async (t) => {
  let mp: Instance | null = null;
  t.after(async () => { await mp?.stop(); });
  mp = await startServer({ config: { checks: { allowlist: { networks: [] }, ...NO_DNS_CHECKS, rate: { connections_per_minute: 3, messages_per_hour: 0 } } } });
  const send = (ip: string) => sendMail(mp!.port, { from: 'anna@sender.example', to: ['demo@demo.test'], body: BODY, localAddress: ip });

  for (let i = 1; i <= 3; i++) {
    const r = await send('127.0.0.41');
    assert.match(r.final ?? '', /^250 /, `connection ${i}: ${JSON.stringify(r.replies)}`);
  }
  const over = await send('127.0.0.41');
  assert.match(over.replies[3] ?? '', /^451 4\.7\.1 Too many connections from your address in the last minute; please slow down and try again later \(ref /);
  assert.equal(over.final, null);
  const other = await send('127.0.0.42');
  assert.match(other.final ?? '', /^250 /, JSON.stringify(other.replies));

  const ev = await events(mp, 'demo@demo.test');
  const rej = ev.filter((e) => e.kind === 'rcpt.rejected');
  assert.equal(rej.length, 1, JSON.stringify(ev.map((e) => [e.kind, e.check_name, e.client_ip, e.rcpt])));
  assert.equal(rej[0]!.check_name, 'rate');
  assert.equal(rej[0]!.client_ip, '127.0.0.41');
  assert.equal(details(rej[0]!).stage, 'connect');
  assert.equal(details(rej[0]!).delayed, true);
  // Connect-stage results belong to the session, not to a journey: read the ledger itself.
  const res = await ledger(mp.dataDir, "kind = 'check.result' AND check_name = 'rate' AND verdict = 'tempfail'");
  assert.equal(res.length, 1);
  assert.deepEqual(
    { ...(details(res[0]!).evidence as object), oldest: null },
    { client: '127.0.0.41', counted: 'connections', count: 3, limit: 3, window_s: 60, oldest: null },
  );
});

test('rate: messages per hour count transactions across connections', { timeout: 120_000 }, async (t) => {
  let mp: Instance | null = null;
  t.after(async () => { await mp?.stop(); });
  mp = await startServer({ config: { checks: { allowlist: { networks: [] }, ...NO_DNS_CHECKS, rate: { connections_per_minute: 0, messages_per_hour: 2 } } } });
  const send = (ip: string) => sendMail(mp!.port, { from: 'anna@sender.example', to: ['demo@demo.test'], body: BODY, localAddress: ip });
  assert.match((await send('127.0.0.43')).final ?? '', /^250 /);
  assert.match((await send('127.0.0.43')).final ?? '', /^250 /);
  const over = await send('127.0.0.43');
  assert.match(over.replies[3] ?? '', /^451 4\.7\.1 Too many messages from your address in the last hour; please slow down and try again later \(ref /);
  assert.match((await send('127.0.0.44')).final ?? '', /^250 /);
});

test('rate with two worker processes: the limit holds for the node, not per process', { timeout: 120_000 }, async (t) => {
  let mp: Instance | null = null;
  t.after(async () => { await mp?.stop(); });
  mp = await startServer({ config: { smtp: { workers: 2 }, checks: { allowlist: { networks: [] }, ...NO_DNS_CHECKS, rate: { connections_per_minute: 4, messages_per_hour: 0 } } } });
  const send = () => sendMail(mp!.port, { from: 'anna@sender.example', to: ['demo@demo.test'], body: BODY, localAddress: '127.0.0.43' });
  const finals: (string | null)[] = [];
  // Connections are shared out between the workers; counted per process,
  // the 5th and 6th would still pass (2-3 each).
  for (let i = 0; i < 6; i++) finals.push((await send()).final);
  assert.deepEqual(finals.map((f) => f?.slice(0, 3) ?? null), ['250', '250', '250', '250', null, null]);
  const res = await ledger(mp.dataDir, "kind = 'check.result' AND check_name = 'rate' AND verdict = 'tempfail'");
  assert.equal(res.length, 2);
  assert.equal((details(res[0]!).evidence as { count: number }).count, 4);
});
