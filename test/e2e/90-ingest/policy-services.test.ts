// A real receiving Postfix asks a real postgrey (check_policy_service) about
// each recipient. The first attempt is greylisted at RCPT, the client comes
// back after postgrey's delay and the message passes and is relayed on to a
// mailproof instance. mailproof then ingests that Postfix log, postgrey's own
// lines included, and trace must tell the greylisting (check "greylist",
// tempfail, with postgrey's reason) and the retry that delivered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireTool } from '../../helpers/env.js';
import { pollUntil, startPostfix } from '../../helpers/postfix.js';
import { startPostgrey } from '../../helpers/postgrey.js';
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
