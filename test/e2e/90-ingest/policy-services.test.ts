// A real receiving Postfix asks a real postgrey (check_policy_service) about
// each recipient. The first attempt is greylisted at RCPT, the client comes
// back after postgrey's delay and the message passes and is relayed on to a
// mailproof instance. mailproof then ingests that Postfix log, postgrey's own
// lines included, and trace must tell the greylisting (check "greylist",
// tempfail, with postgrey's reason) and the retry that delivered. Likewise a
// real policyd-spf, spawned by Postfix, refuses a sender whose domain's SPF
// record fails the client: trace gives spf_fail first.
// postfwd is covered by unit tests only (src/ingest/policy.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireTool } from '../../helpers/env.js';
import { pollUntil, startPostfix } from '../../helpers/postfix.js';
import { startPostgrey } from '../../helpers/postgrey.js';
import { preparePolicydSpf } from '../../helpers/policyd-spf.js';
import { startDnsServer } from '../../helpers/dns-server.js';
import { freePort, NO_DNS_CHECKS, run, startServer } from '../../helpers/server.js';
import { sendMail } from '../../helpers/smtp-client.js';

type Event = { kind: string; source: string; check_name?: string; verdict?: string; smtp_code?: number | null; details?: { evidence?: Record<string, unknown> } };
type Journey = { outcome: string; diagnosis: string[]; reply: string | null; mail_from: string | null; client_ip: string | null; events: Event[] };

const msg = (id: string): string => `From: carol@sender.example\r\nTo: alice@demo.test\r\nSubject: greylisting\r\nMessage-ID: <${id}>\r\n\r\nhello\r\n`;
const DELAY_S = 2;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('ingest a real Postfix log with a real postgrey: the greylisting is a greylist tempfail, the retry after the delay delivers (tempfail_retried)', async (t) => {
  if (!requireTool(t, 'postfix') || !requireTool(t, 'postgrey') || !requireTool(t, 'postlog')) return;
  const mp = await startServer({ config: { checks: { ...NO_DNS_CHECKS, allowlist: { networks: [] } } } });
  t.after(async () => { await mp.stop(); fs.rmSync(mp.dataDir, { recursive: true, force: true }); });
  // postgrey logs through the Postfix instance (postlog), so Postfix starts
  // first, already naming postgrey's address: smtpd asks it per RCPT.
  const pgPort = await freePort('127.0.0.120');
  const pf = await startPostfix({
    relayTo: { host: mp.host, port: mp.port }, tls: 'none', hostname: 'mx.grey.test',
    main: { smtpd_recipient_restrictions: `reject_unauth_destination, check_policy_service inet:127.0.0.120:${pgPort}` },
  });
  t.after(() => pf.stop());
  const pg = await startPostgrey({ host: '127.0.0.120', port: pgPort, delay: DELAY_S, postfixConfigDir: pf.configDir });
  t.after(() => pg.stop());

  // From 127.0.0.121: postgrey keys on the client's address (its /24), sender and recipient.
  const rcpts = ['alice@demo.test', 'bob@demo.test'];
  const send = (id: string): ReturnType<typeof sendMail> =>
    sendMail(pf.port, { from: 'carol@sender.example', to: rcpts, body: msg(id), helo: 'mail.sender.example', localAddress: '127.0.0.121' });
  const first = await send('grey-1@test');
  for (const rcpt of rcpts) {
    assert.ok(first.replies.some((r) => r?.startsWith(`450 4.2.0 <${rcpt}>: Recipient address rejected: Greylisted`)), JSON.stringify(first.replies) + pg.output());
  }
  assert.equal(first.final, null);
  // A well-behaved client comes back after the delay (RFC 6647 section 2.1).
  await sleep((DELAY_S + 1) * 1000);
  const retry = await send('grey-1@test');
  assert.match(retry.final ?? '', /^250 /, JSON.stringify(retry.replies) + pg.output());
  await pf.waitForQueueEmpty();
  // postlogd writes asynchronously: wait for both passes and the relay's removed line.
  await pollUntil(() => (pf.log().match(/postgrey\[\d+\]: (?:\w+: )?action=pass/g) ?? []).length === 2 && /: removed$/m.test(pf.log()),
    { what: 'postgrey\'s two passes and the removed line', describe: () => pf.log() });
  const log = pf.log();
  // The real line shapes (policy.ts): the first greylisting; the pass with
  // the delay (once per transaction, with the X-Greylist header); the second
  // recipient's pass, prefixed with the queue ID Postfix has by then.
  assert.match(log, /postgrey\[\d+\]: action=greylist, reason=new, client_name=unknown, client_address=127\.0\.0\.121, sender=carol@sender\.example, recipient=alice@demo\.test$/m);
  assert.match(log, /postgrey\[\d+\]: action=pass, reason=triplet found, delay=\d+, client_name=unknown, client_address=127\.0\.0\.121, sender=carol@sender\.example, recipient=alice@demo\.test$/m);
  assert.match(log, /postgrey\[\d+\]: [0-9A-F]+: action=pass, reason=triplet found, client_name=unknown, client_address=127\.0\.0\.121, sender=carol@sender\.example, recipient=bob@demo\.test$/m);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-ingest-policy-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const ing = await run(['ingest', 'postfix', pf.logFile, '--data-dir', dir, '--json']);
  assert.equal(ing.code, 0, ing.stderr);
  const summary = JSON.parse(ing.stdout) as { unknown: Record<string, number>; refused: Record<string, number>; by_kind: Record<string, number> };
  // postgrey's lines (its start-up chatter too) and smtpd's refusals are all understood, none refused.
  assert.deepEqual(summary.unknown, {}, `${ing.stdout}\n${log}`);
  assert.deepEqual(summary.refused, {}, `${ing.stdout}\n${log}`);
  // Per recipient: postgrey's greylist, smtpd's refusal (named for it), postgrey's pass.
  assert.equal(summary.by_kind['check.result'], 6, ing.stdout);
  assert.equal(summary.by_kind['rcpt.rejected'], 2, ing.stdout);

  for (const rcpt of rcpts) {
    const r = await run(['trace', '--data-dir', dir, '--rcpt', rcpt, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const journeys = (JSON.parse(r.stdout) as { journeys: Journey[] }).journeys;
    const all = JSON.stringify(journeys, null, 1);
    assert.deepEqual(journeys.map((j) => j.outcome), ['tempfailed', 'delivered'], all);
    const [grey, done] = journeys as [Journey, Journey];
    assert.equal(grey.client_ip, '127.0.0.121');
    assert.match(grey.reply!, /^450 4\.2\.0 .*Greylisted/);
    // Research's word for a deferral the client came back from: nothing was lost.
    assert.deepEqual(grey.diagnosis, ['tempfail_retried'], all);
    const refused = grey.events.find((e) => e.kind === 'rcpt.rejected')!;
    assert.deepEqual([refused.check_name, refused.verdict, refused.smtp_code], ['greylist', 'tempfail', 450], all);
    // postgrey's own answer is part of that transaction, with its reason.
    const answer = grey.events.find((e) => e.kind === 'check.result' && e.details?.evidence?.service === 'postgrey');
    assert.ok(answer, all);
    assert.deepEqual([answer.check_name, answer.verdict, answer.details!.evidence!.reason], ['greylist', 'tempfail', 'new'], all);
    // The retry is a new SMTP transaction that was accepted and relayed on.
    assert.equal(done.mail_from, 'carol@sender.example');
    assert.equal(done.diagnosis[0], 'delivered', all);
  }
});

// policyd-spf asks DNS through the system resolver: Postfix (and so the
// policyd-spf it spawns) runs in a mount namespace that sees a resolv.conf
// naming a Knot on port 53 of a loopback address, serving the test zones.
test('ingest a real Postfix log with a real policyd-spf: an SPF fail refused at RCPT gives spf_fail first; a pass is a check result and delivers', async (t) => {
  if (!requireTool(t, 'postfix') || !requireTool(t, 'policyd-spf') || !requireTool(t, 'postlog') || !requireTool(t, 'knotd') || !requireTool(t, 'unshare')) return;
  const dns = await startDnsServer({
    host: '127.0.0.125', port: 53,
    zones: {
      'fail.test': ['fail.test. 300 IN TXT "v=spf1 -all"'],
      'pass.test': ['pass.test. 300 IN TXT "v=spf1 ip4:127.0.0.123 -all"'],
    },
  });
  t.after(() => dns.stop());
  const mp = await startServer({ config: { checks: { ...NO_DNS_CHECKS, allowlist: { networks: [] } } } });
  t.after(async () => { await mp.stop(); fs.rmSync(mp.dataDir, { recursive: true, force: true }); });
  // Refuse a Mail From fail; no HELO check; loopback clients are checked too
  // (its default skips 127.0.0.0/8).
  const spf = preparePolicydSpf('debugLevel = 1\nTestOnly = 1\nHELO_reject = False\nMail_From_reject = Fail\nPermError_reject = False\nTempError_Defer = False\nskip_addresses = 192.0.2.255/32\n');
  t.after(() => spf.stop());
  const resolvConf = path.join(spf.dir, 'resolv.conf');
  fs.writeFileSync(resolvConf, 'nameserver 127.0.0.125\noptions timeout:2 attempts:1\n', { mode: 0o644 });
  const pf = await startPostfix({
    relayTo: { host: mp.host, port: mp.port }, tls: 'none', hostname: 'mx.spf.test', resolvConf,
    main: {
      smtpd_recipient_restrictions: 'reject_unauth_destination, check_policy_service unix:private/policyd-spf',
      'policyd-spf_time_limit': '3600s',
    },
    master: [spf.masterLine],
  });
  t.after(() => pf.stop());
  spf.forwardTo(pf.configDir);

  const failed = await sendMail(pf.port, { from: 'ceo@fail.test', to: ['alice@demo.test'], body: msg('spf-1@test'), helo: 'mail.fail.test', localAddress: '127.0.0.122' });
  assert.ok(failed.replies.some((r) => /^550 5\.7\.23 <alice@demo\.test>: Recipient address rejected: Message rejected due to: SPF fail/.test(r ?? '')), JSON.stringify(failed.replies) + spf.lines().join('\n') + pf.log());
  const passed = await sendMail(pf.port, { from: 'bob@pass.test', to: ['alice@demo.test'], body: msg('spf-2@test'), helo: 'mail.pass.test', localAddress: '127.0.0.123' });
  assert.match(passed.final ?? '', /^250 /, JSON.stringify(passed.replies) + spf.lines().join('\n') + pf.log());
  await pf.waitForQueueEmpty();
  await pollUntil(() => (pf.log().match(/policyd-spf\[\d+\]: /g) ?? []).length >= 2 && /: removed$/m.test(pf.log()),
    { what: 'policyd-spf\'s two lines and the removed line', describe: () => spf.lines().join('\n') + '\n---\n' + pf.log() });
  const log = pf.log();
  // The real line shapes (policy.ts): ": " where the queue ID would be, none being known yet at RCPT.
  assert.match(log, /policyd-spf\[\d+\]: : 550 5\.7\.23 Message rejected due to: SPF fail - not authorized\. Please see http:\/\/www\.openspf\.net\/Why\?s=mfrom;id=ceo@fail\.test;ip=127\.0\.0\.122;r=demo\.test$/m);
  assert.match(log, /policyd-spf\[\d+\]: : prepend Received-SPF: Pass \(mailfrom\) identity=mailfrom; client-ip=127\.0\.0\.123; helo=mail\.pass\.test; envelope-from=bob@pass\.test; receiver=demo\.test $/m);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-ingest-spf-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const ing = await run(['ingest', 'postfix', pf.logFile, '--data-dir', dir, '--json']);
  assert.equal(ing.code, 0, ing.stderr);
  const summary = JSON.parse(ing.stdout) as { unknown: Record<string, number>; refused: Record<string, number>; by_kind: Record<string, number> };
  assert.deepEqual(summary.unknown, {}, `${ing.stdout}\n${log}`);
  assert.deepEqual(summary.refused, {}, `${ing.stdout}\n${log}`);
  // smtpd's refusal, policyd-spf's fail and its pass.
  assert.equal(summary.by_kind['check.result'], 3, ing.stdout);

  const r = await run(['trace', '--data-dir', dir, '--rcpt', 'alice@demo.test', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const journeys = (JSON.parse(r.stdout) as { journeys: Journey[] }).journeys;
  const all = JSON.stringify(journeys, null, 1);
  const refused = journeys.find((j) => j.mail_from === 'ceo@fail.test');
  assert.ok(refused, all);
  assert.equal(refused.outcome, 'rejected');
  assert.equal(refused.diagnosis[0], 'spf_fail', all);
  const rejected = refused.events.find((e) => e.kind === 'rcpt.rejected')!;
  assert.deepEqual([rejected.check_name, rejected.verdict, rejected.smtp_code], ['spf', 'reject', 550], all);
  // policyd-spf's own answer is part of that transaction.
  const answer = refused.events.find((e) => e.kind === 'check.result' && e.details?.evidence?.service === 'policyd-spf');
  assert.deepEqual([answer?.check_name, answer?.verdict, answer?.details?.evidence?.finding], ['spf', 'reject', 'fail'], all);
  const ok = journeys.find((j) => j.mail_from === 'bob@pass.test');
  assert.equal(ok?.outcome, 'delivered', all);
});
