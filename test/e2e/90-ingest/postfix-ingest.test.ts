// A real Postfix receives test traffic on loopback, refuses some of it with
// its own restrictions, relays the rest to a mailproof instance (its mailbox
// backend here) and writes its log (maillog_file, via postlogd). mailproof
// ingests that log into a fresh ledger and `trace` must tell what happened to
// each message, as Postfix did it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireTool } from '../../helpers/env.js';
import { pollUntil, startPostfix } from '../../helpers/postfix.js';
import { NO_DNS_CHECKS, run, startServer } from '../../helpers/server.js';
import { startDnsServer } from '../../helpers/dns-server.js';
import { sendMail } from '../../helpers/smtp-client.js';

type Journey = { outcome: string; diagnosis: string[]; reply: string | null; mail_from: string | null; message_id: string | null; events: Array<{ kind: string; source: string; check_name?: string; details?: Record<string, unknown> }> };

const msg = (id: string): string => `From: bob@demo.test\r\nTo: x@demo.test\r\nSubject: ingest test\r\nMessage-ID: <${id}>\r\n\r\nhello\r\n`;

test('ingest a real Postfix log: trace shows delivered, rejected (by check) and bounced per message', async (t) => {
  if (!requireTool(t, 'postfix')) return;
  const mp = await startServer({ config: { checks: { ...NO_DNS_CHECKS, allowlist: { networks: [] } } } });
  t.after(async () => { await mp.stop(); fs.rmSync(mp.dataDir, { recursive: true, force: true }); });

  const maps = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-ingest-maps-'));
  fs.chmodSync(maps, 0o755);
  t.after(() => fs.rmSync(maps, { recursive: true, force: true }));
  const map = (name: string, text: string): string => {
    const f = path.join(maps, name);
    fs.writeFileSync(f, text, { mode: 0o644 });
    return `texthash:${f}`;
  };
  // ghost@ is known to Postfix but not to mailproof: accepted, then bounced by the next hop.
  const rcpts = map('rcpts', ['alice', 'bob', 'demo', 'postmaster', 'ghost'].map((u) => `${u}@demo.test x`).join('\n') + '\n');
  const helo = map('helo', 'evil.example REJECT go away\n');
  const sender = map('sender', 'nx-sender.example 450 4.1.8 Sender address rejected: Domain not found\n');
  const pf = await startPostfix({
    relayTo: { host: mp.host, port: mp.port }, tls: 'none', hostname: 'mx.ingest.test',
    main: {
      relay_recipient_maps: rcpts,
      smtpd_recipient_restrictions: `check_helo_access ${helo}, check_sender_access ${sender}, permit_mynetworks, reject_unauth_destination`,
    },
  });
  t.after(() => pf.stop());

  const sent = async (o: { from: string; to: string[]; id: string; helo?: string }): Promise<(string | null)[]> =>
    (await sendMail(pf.port, { from: o.from, to: o.to, body: msg(o.id), helo: o.helo ?? 'client.example.org' })).replies;
  const r1 = await sent({ from: 'bob@demo.test', to: ['alice@demo.test', 'nobody@demo.test'], id: 'ok-1@test' });
  assert.match(r1.at(-2)!, /^250 /);
  assert.ok(r1.some((r) => r?.startsWith('550 5.1.1')), JSON.stringify(r1));
  const r2 = await sent({ from: 'bob@demo.test', to: ['demo@demo.test'], id: 'helo-1@test', helo: 'evil.example' });
  assert.ok(r2.some((r) => r?.startsWith('554 5.7.1')), JSON.stringify(r2));
  const r3 = await sent({ from: 'x@nx-sender.example', to: ['postmaster@demo.test'], id: 'nx-1@test' });
  assert.ok(r3.some((r) => r?.startsWith('450 4.1.8')), JSON.stringify(r3));
  await sent({ from: 'bob@demo.test', to: ['ghost@demo.test'], id: 'ghost-1@test' });
  await pf.waitForQueueEmpty();
  // postlogd writes asynchronously: wait for the last "removed" (the bounce's own).
  await pollUntil(() => (pf.log().match(/: removed$/gm) ?? []).length >= 3, { what: 'three removed lines', describe: () => pf.log() });

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-ingest-pf-'));
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const ing = await run(['ingest', 'postfix', pf.logFile, '--data-dir', dataDir, '--json']);
  assert.equal(ing.code, 0, ing.stderr);
  const summary = JSON.parse(ing.stdout) as { lines: number; events: number; unknown: Record<string, number> };
  const notUnderstood = Object.keys(summary.unknown).filter((k) => k.startsWith('postfix/') && !/postfix\/(?:master|postfix-script|postlogd)/.test(k));
  assert.deepEqual(notUnderstood, [], `${JSON.stringify(summary.unknown)}\n${pf.log()}`);

  const trace = async (rcpt: string): Promise<Journey[]> => {
    const r = await run(['trace', '--data-dir', dataDir, '--rcpt', rcpt, '--json']);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { journeys: Journey[] }).journeys;
  };
  const log = pf.log();
  const [alice] = await trace('alice@demo.test');
  assert.ok(alice, log);
  assert.equal(alice.outcome, 'delivered', JSON.stringify(alice, null, 1));
  assert.equal(alice.mail_from, 'bob@demo.test');
  assert.equal(alice.message_id, 'ok-1@test');
  assert.match(alice.reply!, /^250 /);
  assert.ok(alice.events.every((e) => e.source === 'postfix'));
  assert.ok(alice.events.some((e) => e.kind === 'session.connect'), 'the smtpd session belongs to the journey');
  // Relayed on by smtp(8): delivered, but not into a mailbox here (no "not fetched").
  assert.deepEqual(alice.diagnosis, ['delivered']);

  const nobody = await trace('nobody@demo.test');
  assert.equal(nobody.length, 1);
  assert.equal(nobody[0]!.outcome, 'rejected');
  assert.match(nobody[0]!.reply!, /^550 5\.1\.1 .*User unknown in relay recipient table/);
  assert.ok(nobody[0]!.events.some((e) => e.kind === 'check.result' && e.check_name === 'recipient'));
  // The same code as the gateway's own refusal of an unknown user.
  assert.deepEqual(nobody[0]!.diagnosis, ['unknown_recipient']);

  const demo = await trace('demo@demo.test');
  assert.equal(demo.length, 1, JSON.stringify(demo, null, 1));
  assert.equal(demo[0]!.outcome, 'rejected');
  assert.ok(demo[0]!.events.some((e) => e.kind === 'check.result' && e.check_name === 'helo'));

  const pm = await trace('postmaster@demo.test');
  const nx = pm.find((j) => j.mail_from === 'x@nx-sender.example')!;
  assert.equal(nx.outcome, 'tempfailed');
  assert.ok(nx.events.some((e) => e.kind === 'check.result' && e.check_name === 'sender_domain'));
  assert.equal(nx.diagnosis[0], 'sender_domain_unresolvable', JSON.stringify(nx.diagnosis));

  const [ghost] = await trace('ghost@demo.test');
  assert.equal(ghost!.outcome, 'rejected', JSON.stringify(ghost, null, 1));
  assert.match(ghost!.reply!, /said: 550 /);
  const failed = ghost!.events.find((e) => e.kind === 'message.delivery_failed')!;
  assert.equal(failed.details!.status, 'bounced');
  assert.equal(failed.details!.service, 'smtp');
  // The next hop's 550 5.1.1, read from its reply.
  assert.deepEqual(ghost!.diagnosis, ['unknown_recipient']);

  // The non-delivery notification to bob is a message of its own, pointing back.
  const bob = await trace('bob@demo.test');
  const ndn = bob.find((j) => j.mail_from === '');
  assert.ok(ndn, JSON.stringify(bob, null, 1));
  assert.equal(ndn.outcome, 'delivered');
});

test('ingest a real Postfix log: a DNSBL refusal by reject_rbl_client gives sender_ip_blocklisted, like the gateway', async (t) => {
  if (!requireTool(t, 'postfix') || !requireTool(t, 'knotd') || !requireTool(t, 'unshare')) return;
  // Postfix asks the resolver of /etc/resolv.conf, on port 53: Knot listens
  // there on an address of its own, and Postfix sees a resolv.conf naming it.
  const dns = await startDnsServer({ host: '127.0.0.154', port: 53, zones: { 'zen.test': ['2.0.0.127.zen.test. 900 IN A 127.0.0.2'] } });
  t.after(() => dns.stop());
  const mp = await startServer({ config: { checks: { ...NO_DNS_CHECKS, allowlist: { networks: [] } } } });
  t.after(async () => { await mp.stop(); fs.rmSync(mp.dataDir, { recursive: true, force: true }); });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-ingest-rbl-'));
  fs.chmodSync(dir, 0o755);
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const resolvConf = path.join(dir, 'resolv.conf');
  fs.writeFileSync(resolvConf, 'nameserver 127.0.0.154\noptions timeout:2 attempts:1\n', { mode: 0o644 });
  const pf = await startPostfix({
    relayTo: { host: mp.host, port: mp.port }, tls: 'none', hostname: 'mx.rbl.test', resolvConf,
    main: { smtpd_client_restrictions: 'reject_rbl_client zen.test' },
  });
  t.after(() => pf.stop());

  const listed = await sendMail(pf.port, { from: 'boss@dsl.example', to: ['alice@demo.test'], body: msg('rbl-1@test'), localAddress: '127.0.0.2' });
  assert.ok(listed.replies.some((r) => /^554 5\.7\.1 .*blocked using zen\.test/.test(r ?? '')), JSON.stringify(listed.replies));
  const clean = await sendMail(pf.port, { from: 'ok@clean.example', to: ['alice@demo.test'], body: msg('rbl-2@test'), localAddress: '127.0.0.3' });
  assert.match(clean.final ?? '', /^250 /, JSON.stringify(clean.replies));
  await pf.waitForQueueEmpty();
  await pollUntil(() => /: removed$/m.test(pf.log()), { what: 'the removed line', describe: () => pf.log() });

  const ing = await run(['ingest', 'postfix', pf.logFile, '--data-dir', dir, '--json']);
  assert.equal(ing.code, 0, ing.stderr);
  const r = await run(['trace', '--data-dir', dir, '--rcpt', 'alice@demo.test', '--json']);
  const journeys = (JSON.parse(r.stdout) as { journeys: (Journey & { client_ip: string | null })[] }).journeys;
  const refused = journeys.find((j) => j.mail_from === 'boss@dsl.example');
  assert.ok(refused, JSON.stringify(journeys, null, 1) + pf.log());
  assert.equal(refused.outcome, 'rejected');
  assert.equal(refused.client_ip, '127.0.0.2');
  assert.deepEqual(refused.diagnosis, ['sender_ip_blocklisted']);
  const check = refused.events.find((e) => e.kind === 'check.result' && e.check_name === 'dnsbl');
  assert.equal((check?.details?.evidence as { zone?: string } | undefined)?.zone, 'zen.test');
  const passed = journeys.find((j) => j.mail_from === 'ok@clean.example');
  assert.deepEqual(passed?.diagnosis, ['delivered']);
});

test('deferred then delivered: Postfix retries after our greylisting 451; its ingested log and our own ledger both say tempfail_retried', async (t) => {
  if (!requireTool(t, 'postfix')) return;
  const mp = await startServer({ config: { checks: { ...NO_DNS_CHECKS, allowlist: { networks: [] }, greylist: { mode: 'enforce', delay_s: 1 } } } });
  t.after(async () => { await mp.stop(); fs.rmSync(mp.dataDir, { recursive: true, force: true }); });
  // Postfix's own retry, soon: the queue manager scans deferred mail every second.
  const pf = await startPostfix({
    relayTo: { host: mp.host, port: mp.port }, tls: 'none', hostname: 'mx.grey.test',
    main: { queue_run_delay: '1s', minimal_backoff_time: '1s', maximal_backoff_time: '2s' },
  });
  t.after(() => pf.stop());
  const r = await sendMail(pf.port, { from: 'carol@sender.example', to: ['alice@demo.test'], body: msg('grey-1@test') });
  assert.match(r.final ?? '', /^250 /);
  await pollUntil(() => /status=deferred .*451 4\.7\.1/.test(pf.log()), { what: 'the deferral', describe: () => pf.log() });
  await pf.waitForQueueEmpty();
  await pollUntil(() => /: removed$/m.test(pf.log()), { what: 'the removed line', describe: () => pf.log() });

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-ingest-grey-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const ing = await run(['ingest', 'postfix', pf.logFile, '--data-dir', dir, '--json']);
  assert.equal(ing.code, 0, ing.stderr);
  const theirs = JSON.parse((await run(['trace', '--data-dir', dir, '--rcpt', 'alice@demo.test', '--json'])).stdout) as { journeys: Journey[] };
  assert.deepEqual(theirs.journeys.map((j) => [j.outcome, j.diagnosis]), [['delivered', ['delivered', 'tempfail_retried']]], pf.log());
  // Our side of the same story: one or more 451 transactions (under load Postfix can
  // come back before the greylisting delay is over, and is refused again), each marked
  // as retried, then the one delivering transaction.
  const ours = (await mp.trace(['--rcpt', 'alice@demo.test'])).journeys as unknown as Journey[];
  const summary = ours.map((j) => [j.outcome, j.diagnosis]);
  const last = summary.at(-1);
  assert.deepEqual(last, ['delivered', ['delivered', 'access_not_recorded']], JSON.stringify(summary));
  const before = summary.slice(0, -1);
  assert.ok(before.length >= 1, JSON.stringify(summary));
  for (const s of before) assert.deepEqual(s, ['tempfailed', ['tempfail_retried']], JSON.stringify(summary));
  // As many 451s in our ledger as deferrals in Postfix's log: nothing was lost on either side.
  assert.equal(before.length, (pf.log().match(/status=deferred .*451 4\.7\.1/g) ?? []).length, pf.log());
});
