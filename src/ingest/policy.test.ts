// Policy-service lines (postgrey, policyd-spf, postfwd) and the smtpd/cleanup
// variants a stock Debian Postfix writes next to them: each becomes the event
// the gateway's own check would record, and trace tells the cause.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testJournal, testStore } from '../../test/helpers/event-table.js';
import type { LedgerEvent } from '../ledger/types.js';
import { trace, type Journeys } from '../research/journeys.js';
import { PostfixParser } from './postfix.js';
import { parseSyslog, YearInference } from './syslog.js';

function feed(text: string, p = new PostfixParser()): { events: LedgerEvent[]; unknown: string[] } {
  const years = new YearInference(Date.UTC(2026, 5, 1), 2026);
  const events: LedgerEvent[] = [];
  const unknown: string[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const l = parseSyslog(line, years);
    if (!l || !p.handle(l, l.host ?? 'node', { emit: (e) => events.push(e) })) unknown.push(line);
  }
  return { events, unknown };
}

async function traced(events: LedgerEvent[], rcpt: string): Promise<Journeys> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-policy-'));
  const file = path.join(dir, 'ledger.sqlite');
  const w = await testJournal(file);
  await w.append(events);
  await w.close();
  const r = await testStore(file);
  try {
    return await trace(r, { rcpt, since: 0, now: Date.UTC(2026, 2, 7, 12) });
  } finally {
    await r.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('postgrey: greylist is a tempfail of the greylist check with its reason; smtpd\'s 450 that follows names it too', async () => {
  const { events, unknown } = feed(`Mar  7 10:00:00 mx1 postfix/smtpd[100]: connect from mail.sender.test[192.0.2.10]
Mar  7 10:00:01 mx1 postgrey[900]: action=greylist, reason=new, client_name=mail.sender.test, client_address=192.0.2.10, sender=alice@sender.test, recipient=bob@local.test
Mar  7 10:00:01 mx1 postfix/smtpd[100]: NOQUEUE: reject: RCPT from mail.sender.test[192.0.2.10]: 450 4.2.0 <bob@local.test>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/local.test.html; from=<alice@sender.test> to=<bob@local.test> proto=ESMTP helo=<mail.sender.test>
Mar  7 10:00:02 mx1 postfix/smtpd[100]: disconnect from mail.sender.test[192.0.2.10] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4
Mar  7 10:06:00 mx1 postgrey[900]: action=pass, reason=triplet found, delay=359, client_name=mail.sender.test, client_address=192.0.2.10/32, sender=alice@sender.test, recipient=bob@local.test
Mar  7 10:07:00 mx1 postgrey[900]: cleaning main database finished. before: 12, after: 11`);
  assert.deepEqual(unknown, []);
  const checks = events.filter((e) => e.kind === 'check.result');
  assert.deepEqual(checks.map((e) => [e.check_name, e.verdict, e.client_ip, e.mail_from, e.rcpt]), [
    ['greylist', 'tempfail', '192.0.2.10', 'alice@sender.test', 'bob@local.test'],
    ['greylist', 'tempfail', '192.0.2.10', 'alice@sender.test', 'bob@local.test'],
    ['greylist', 'pass', '192.0.2.10', 'alice@sender.test', 'bob@local.test'],
  ]);
  assert.deepEqual((checks[1]!.details as { evidence: Record<string, unknown> }).evidence.reason, 'new');
  assert.deepEqual((checks[2]!.details as { evidence: Record<string, unknown> }).evidence.delay_s, 359);
  const [j] = await traced(events, 'bob@local.test');
  assert.equal(j!.outcome, 'tempfailed');
  assert.ok(j!.events.some((e) => e.kind === 'check.result' && e.check_name === 'greylist' && e.verdict === 'tempfail'
    && (e.details as { evidence: { service?: string; reason?: string } }).evidence.service === 'postgrey'), JSON.stringify(j, null, 1));
});

// Lines of a real postgrey 1.37 behind a real Postfix 3.7 (test/e2e/90-ingest/policy-services.test.ts),
// only the timestamps changed: smtpd's refusal can come before postgrey's answer, the second
// recipient's answer starts with the queue ID, and the pass after the delay is split over two shapes.
test('postgrey, real line shapes: answer after smtpd\'s refusal, queue-ID prefix, the null sender without sender=', async () => {
  const { events, unknown } = feed(`Mar  7 10:08:06 mx postgrey[25846]: 2026/03/07-10:08:06 postgrey (type Net::Server::Multiplex) starting! pid(25847)
Mar  7 10:08:06 mx postgrey[25846]: Binding to TCP port 43131 on host 127.0.0.120 with IPv4
Mar  7 10:08:06 mx postgrey[25846]: Setting gid to "65534 65534"
Mar  7 10:08:06 mx postgrey[25846]: Setting uid to "65534"
Mar  7 10:08:06 mx postfix/smtpd[25848]: connect from unknown[127.0.0.121]
Mar  7 10:08:06 mx postfix/smtpd[25848]: NOQUEUE: reject: RCPT from unknown[127.0.0.121]: 450 4.2.0 <alice@demo.test>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/demo.test.html; from=<carol@sender.example> to=<alice@demo.test> proto=ESMTP helo=<mail.sender.example>
Mar  7 10:08:06 mx postgrey[25846]: action=greylist, reason=new, client_name=unknown, client_address=127.0.0.121, sender=carol@sender.example, recipient=alice@demo.test
Mar  7 10:08:06 mx postfix/smtpd[25848]: disconnect from unknown[127.0.0.121] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4
Mar  7 10:08:09 mx postfix/smtpd[25848]: connect from unknown[127.0.0.121]
Mar  7 10:08:09 mx postgrey[25846]: action=pass, reason=triplet found, delay=3, client_name=unknown, client_address=127.0.0.121, sender=carol@sender.example, recipient=alice@demo.test
Mar  7 10:08:09 mx postfix/smtpd[25848]: F36E222E0AF: client=unknown[127.0.0.121]
Mar  7 10:08:10 mx postgrey[25846]: F36E222E0AF: action=pass, reason=triplet found, client_name=unknown, client_address=127.0.0.121, sender=carol@sender.example, recipient=bob@demo.test
Mar  7 10:08:10 mx postfix/cleanup[25939]: F36E222E0AF: message-id=<grey-1@test>
Mar  7 10:08:10 mx postfix/qmgr[25842]: F36E222E0AF: from=<carol@sender.example>, size=347, nrcpt=2 (queue active)
Mar  7 10:08:10 mx postfix/smtpd[25848]: disconnect from unknown[127.0.0.121] ehlo=1 mail=1 rcpt=2 data=1 quit=1 commands=6
Mar  7 10:08:10 mx postfix/smtp[25942]: F36E222E0AF: to=<alice@demo.test>, relay=127.0.0.1[127.0.0.1]:40029, delay=0.2, delays=0.04/0.03/0.03/0.1, dsn=2.0.0, status=sent (250 2.0.0 Message accepted and stored (ref W3Y5GHSGXM0C))
Mar  7 10:08:10 mx postfix/qmgr[25842]: F36E222E0AF: removed
Mar  7 10:09:00 mx postgrey[25846]: action=greylist, reason=new, client_name=unknown, client_address=127.0.0.1, recipient=a@b.test
Mar  7 10:09:30 mx postgrey[25846]: 2026/03/07-10:09:30 Server closing!`);
  assert.deepEqual(unknown, []);
  const checks = events.filter((e) => e.kind === 'check.result');
  const ev = (e: LedgerEvent): Record<string, unknown> => (e.details as { evidence: Record<string, unknown> }).evidence;
  assert.deepEqual(checks.map((e) => [e.check_name, e.verdict, e.mail_from, e.rcpt, ev(e).service ?? null, ev(e).reason ?? null]), [
    ['greylist', 'tempfail', 'carol@sender.example', 'alice@demo.test', null, null], // smtpd's, first
    ['greylist', 'tempfail', 'carol@sender.example', 'alice@demo.test', 'postgrey', 'new'],
    ['greylist', 'pass', 'carol@sender.example', 'alice@demo.test', 'postgrey', 'triplet found'],
    ['greylist', 'pass', 'carol@sender.example', 'bob@demo.test', 'postgrey', 'triplet found'],
    ['greylist', 'tempfail', '', 'a@b.test', 'postgrey', 'new'], // the null sender
  ]);
  // The late answer joins the refused transaction; the others have none to join.
  assert.equal(checks[1]!.ref, checks[0]!.ref);
  assert.equal(checks[1]!.session, checks[0]!.session);
  assert.equal(checks[4]!.ref ?? null, null);
  assert.equal(ev(checks[3]!).queue_id, 'F36E222E0AF');
  const js = await traced(events, 'alice@demo.test');
  assert.deepEqual(js.map((j) => [j.outcome, j.diagnosis]), [['tempfailed', ['tempfail_retried']], ['delivered', ['delivered']]]);
  assert.ok(js[0]!.events.some((e) => e.kind === 'check.result' && ev(e).service === 'postgrey'), JSON.stringify(js[0], null, 1));
});

test('policyd-spf: its refusal gives the spf_fail diagnosis; logged results are check results that let mail through', async () => {
  const { events, unknown } = feed(`Mar 7 11:00:00 mx1 postfix/smtpd[200]: connect from unknown[198.51.100.7]
Mar 7 11:00:01 mx1 policyd-spf[901]: 550 5.7.23 Message rejected due to: SPF fail - not authorized. Please see http://www.openspf.net/Why?s=mfrom;id=ceo@bank.test;ip=198.51.100.7;r=<UNKNOWN>
Mar 7 11:00:01 mx1 postfix/smtpd[200]: NOQUEUE: reject: RCPT from unknown[198.51.100.7]: 550 5.7.23 <carol@local.test>: Recipient address rejected: Message rejected due to: SPF fail - not authorized. Please see http://www.openspf.net/Why?s=mfrom;id=ceo@bank.test;ip=198.51.100.7;r=<UNKNOWN>; from=<ceo@bank.test> to=<carol@local.test> proto=ESMTP helo=<x.test>
Mar 7 11:00:30 mx1 policyd-spf[901]: 451 4.4.3 SPF Temporary Error: DNS Timeout
Mar 7 11:01:00 mx1 policyd-spf[901]: prepend Received-SPF: Softfail (mailfrom) identity=mailfrom; client-ip=203.0.113.5; helo=mx.other.test; envelope-from=a@other.test; receiver=<UNKNOWN> 
Mar 7 11:01:00 mx1 policyd-spf[901]: None; identity=helo; client-ip=203.0.113.5; helo=mx.other.test; envelope-from=a@other.test; receiver=<UNKNOWN>`);
  assert.deepEqual(unknown, []);
  const checks = events.filter((e) => e.kind === 'check.result');
  assert.deepEqual(checks.map((e) => [e.check_name, e.verdict, e.client_ip, e.mail_from, (e.details as { evidence: { finding: string } }).evidence.finding]), [
    ['spf', 'reject', '198.51.100.7', 'ceo@bank.test', 'fail'],
    ['spf', 'reject', '198.51.100.7', 'ceo@bank.test', 'fail'],
    ['spf', 'tempfail', null, null, 'temperror'],
    ['spf', 'flag', '203.0.113.5', 'a@other.test', 'softfail'],
    ['spf', 'skip', '203.0.113.5', 'a@other.test', 'none'],
  ]);
  const [j] = await traced(events, 'carol@local.test');
  assert.equal(j!.outcome, 'rejected');
  assert.deepEqual(j!.diagnosis, ['spf_fail']);
});

// Lines of a real policyd-spf 3.0.4 behind a real Postfix 3.7 (test/e2e/90-ingest/policy-services.test.ts),
// only the timestamps changed: ": " before each (no queue ID yet), its refusal logged after smtpd's.
test('policyd-spf, real line shapes: the ": " prefix, the answer after smtpd\'s refusal, the 3.x deferral', async () => {
  const { events, unknown } = feed(`Mar  7 11:12:53 mx postfix/smtpd[30621]: connect from unknown[127.0.0.122]
Mar  7 11:12:53 mx postfix/smtpd[30621]: NOQUEUE: reject: RCPT from unknown[127.0.0.122]: 550 5.7.23 <alice@demo.test>: Recipient address rejected: Message rejected due to: SPF fail - not authorized. Please see http://www.openspf.net/Why?s=mfrom;id=ceo@fail.test;ip=127.0.0.122;r=demo.test; from=<ceo@fail.test> to=<alice@demo.test> proto=ESMTP helo=<mail.fail.test>
Mar  7 11:12:53 mx postfix/smtpd[30621]: disconnect from unknown[127.0.0.122] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4
Mar  7 11:12:53 mx policyd-spf[30620]: : 550 5.7.23 Message rejected due to: SPF fail - not authorized. Please see http://www.openspf.net/Why?s=mfrom;id=ceo@fail.test;ip=127.0.0.122;r=demo.test
Mar  7 11:12:53 mx policyd-spf[30620]: : prepend Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip=127.0.0.123; helo=mail.pass.test; envelope-from=bob@pass.test; receiver=demo.test 
Mar  7 11:12:54 mx policyd-spf[30620]: DC5B422E89A: prepend Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip=127.0.0.123; helo=mail.pass.test; envelope-from=bob@pass.test; receiver=demo.test 
Mar  7 11:13:00 mx policyd-spf[30620]: : defer_if_permit 4.7.24 SPF Temporary Error: DNS Timeout
Mar  7 11:13:01 mx policyd-spf[30620]: Config: {'debugLevel': 1}`);
  assert.deepEqual(unknown, []);
  const checks = events.filter((e) => e.kind === 'check.result');
  const ev = (e: LedgerEvent): Record<string, unknown> => (e.details as { evidence: Record<string, unknown> }).evidence;
  assert.deepEqual(checks.map((e) => [e.check_name, e.verdict, e.client_ip, e.mail_from, ev(e).finding, ev(e).service ?? null]), [
    ['spf', 'reject', '127.0.0.122', 'ceo@fail.test', 'fail', null], // smtpd's, first
    ['spf', 'reject', '127.0.0.122', 'ceo@fail.test', 'fail', 'policyd-spf'],
    ['spf', 'pass', '127.0.0.123', 'bob@pass.test', 'pass', 'policyd-spf'],
    ['spf', 'pass', '127.0.0.123', 'bob@pass.test', 'pass', 'policyd-spf'],
    ['spf', 'tempfail', null, null, 'temperror', 'policyd-spf'],
  ]);
  assert.equal(checks[1]!.ref, checks[0]!.ref);
  const [j] = await traced(events, 'alice@demo.test');
  assert.equal(j!.outcome, 'rejected');
  assert.equal(j!.diagnosis[0], 'spf_fail');
});

test('postfwd: a rule\'s REJECT is the refusing check, with the rule id; DUNNO passes', async () => {
  const { events, unknown } = feed(`Mar 7 12:00:00 mx1 postfwd2/policy[902]: [RULES] rule=3, id=BAD_HELO, queue=NOQUEUE, client=unknown[203.0.113.9], user=none, sender=<x@spam.test>, recipient=<dave@local.test>, helo=<localhost>, proto=ESMTP, state=RCPT, delay=0.01s, hits=BAD_HELO, action=REJECT helo not accepted
Mar 7 12:00:00 mx1 postfix/smtpd[300]: NOQUEUE: reject: RCPT from unknown[203.0.113.9]: 554 5.7.1 <dave@local.test>: Recipient address rejected: helo not accepted; from=<x@spam.test> to=<dave@local.test> proto=ESMTP helo=<localhost>
Mar 7 12:01:00 mx1 postfwd[903]: [RULES] rule=0, id=OK_LOCAL, client=mx.ok.test[192.0.2.77], sender=<a@ok.test>, recipient=<dave@local.test>, helo=<mx.ok.test>, proto=ESMTP, state=RCPT, delay=0s, hits=OK_LOCAL, action=DUNNO
Mar 7 12:02:00 mx1 postfwd2/policy[902]: [STATS] postfwd2::policy 1.35: 2 requests since 0 days, 00:02:00 hours`);
  assert.deepEqual(unknown, []);
  const checks = events.filter((e) => e.kind === 'check.result');
  assert.deepEqual(checks.map((e) => [e.check_name, e.verdict, (e.details as { evidence: { finding: string } }).evidence.finding]), [
    ['postfwd', 'reject', 'BAD_HELO'],
    ['postfwd', 'reject', 'BAD_HELO'],
    ['postfwd', 'pass', 'OK_LOCAL'],
  ]);
  const [j] = await traced(events, 'dave@local.test');
  assert.equal(j!.outcome, 'rejected');
  assert.ok(j!.events.some((e) => e.kind === 'rcpt.rejected' && e.check_name === 'postfwd'));
});

test('policy lines whose client-chosen values read two ways are refused, never guessed', () => {
  const p = new PostfixParser();
  const { events, unknown } = feed(`Mar 7 13:00:00 mx1 postgrey[900]: action=greylist, reason=new, client_name=x.test, client_address=192.0.2.1, sender=a, recipient=forged@x.test, recipient=b@local.test
Mar 7 13:00:00 mx1 policyd-spf[901]: Fail; identity=mailfrom; client-ip=192.0.2.1; helo=h; envelope-from=a@b.test; receiver=forged@x.test; receiver=c@local.test
Mar 7 13:00:00 mx1 postfwd[903]: [RULES] rule=1, id=X, client=a.test[192.0.2.1], sender=<a>, recipient=<forged>, recipient=<b>, helo=<h>, proto=ESMTP, state=RCPT, delay=0s, hits=X, action=REJECT no`, p);
  assert.equal(events.length, 0);
  assert.equal(unknown.length, 3);
});

test('smtpd and cleanup variants: milter-reject, lost connection, TLS, header_checks discard', () => {
  const { events, unknown } = feed(`Mar 7 14:00:00 mx1 postfix/smtpd[400]: connect from mail.x.test[192.0.2.30]
Mar 7 14:00:00 mx1 postfix/smtpd[400]: Anonymous TLS connection established from mail.x.test[192.0.2.30]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256
Mar 7 14:00:01 mx1 postfix/smtpd[400]: 4AB12C3D: client=mail.x.test[192.0.2.30]
Mar 7 14:00:02 mx1 postfix/smtpd[400]: 4AB12C3D: milter-reject: END-OF-MESSAGE from mail.x.test[192.0.2.30]: 5.7.1 Spam message rejected; from=<a@x.test> to=<erin@local.test> proto=ESMTP helo=<mail.x.test>
Mar 7 14:00:03 mx1 postfix/smtpd[400]: lost connection after DATA (0 bytes) from mail.x.test[192.0.2.30]
Mar 7 14:00:03 mx1 postfix/smtpd[400]: disconnect from mail.x.test[192.0.2.30] ehlo=2 starttls=1 mail=1 rcpt=1 data=0/1 commands=5/6
Mar 7 14:01:00 mx1 postfix/smtpd[401]: NOQUEUE: milter-reject: RCPT from unknown[192.0.2.31]: 451 4.7.1 Service unavailable - try again later; from=<b@y.test> to=<erin@local.test> proto=ESMTP helo=<y.test>
Mar 7 14:01:01 mx1 postfix/smtpd[401]: timeout after RCPT from unknown[192.0.2.31]
Mar 7 14:02:00 mx1 postfix/cleanup[500]: 5CD34E5F: discard: header Subject: You won from mail.x.test[192.0.2.30]; from=<a@x.test> to=<erin@local.test> proto=ESMTP helo=<mail.x.test>: spam subject
Mar 7 14:02:01 mx1 postfix/cleanup[500]: 5CD34E60: warning: header X-Mailer: Bulk from mail.x.test[192.0.2.30]; from=<a@x.test> to=<erin@local.test> proto=ESMTP helo=<mail.x.test>
Mar 7 14:03:00 mx1 postfix/smtp[600]: Verified TLS connection established to mx.remote.test[198.51.100.25]:25: TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)`);
  assert.deepEqual(unknown, []);
  const tls = events.filter((e) => e.kind === 'session.tls');
  assert.equal(tls.length, 2);
  assert.deepEqual(tls[0]!.details, { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', bits: 256, trust: 'anonymous' });
  assert.equal(tls[0]!.session, events[0]!.session);
  assert.equal((tls[1]!.details as { direction: string }).direction, 'outbound');
  const spam = events.find((e) => e.kind === 'data.rejected')!;
  assert.equal(spam.check_name, 'spam');
  assert.equal(spam.smtp_code, 550);
  const noq = events.find((e) => e.kind === 'rcpt.rejected')!;
  assert.equal(noq.verdict, 'tempfail');
  assert.match(noq.ref!, /NOQUEUE/);
  const closes = events.filter((e) => e.kind === 'session.close');
  assert.deepEqual(closes.map((e) => (e.details as { ended?: string }).ended), ['lost connection after DATA', 'timeout after RCPT']);
  const acts = events.filter((e) => e.kind === 'check.result' && e.verdict === 'flag');
  assert.deepEqual(acts.map((e) => [e.check_name, (e.details as { evidence: { action: string } }).evidence.action, e.rcpt]), [
    ['header_checks', 'discard', 'erin@local.test'],
    ['header_checks', 'warning', 'erin@local.test'],
  ]);
});

test('trace: a message whose client went away during DATA shows how the session ended', async () => {
  const { events, unknown } = feed(`Mar 7 15:00:00 mx1 postfix/smtpd[700]: connect from mail.z.test[192.0.2.60]
Mar 7 15:00:01 mx1 postfix/smtpd[700]: 7AB12C3D: client=mail.z.test[192.0.2.60]
Mar 7 15:00:02 mx1 postfix/cleanup[701]: 7AB12C3D: message-id=<lost-1@z.test>
Mar 7 15:00:02 mx1 postfix/smtpd[700]: NOQUEUE: reject: RCPT from mail.z.test[192.0.2.60]: 550 5.1.1 <nobody@local.test>: Recipient address rejected: User unknown in local recipient table; from=<z@z.test> to=<nobody@local.test> proto=ESMTP helo=<mail.z.test>
Mar 7 15:05:02 mx1 postfix/smtpd[700]: timeout after DATA (8192 bytes) from mail.z.test[192.0.2.60]
Mar 7 15:05:02 mx1 postfix/smtpd[700]: disconnect from mail.z.test[192.0.2.60] ehlo=1 mail=1 rcpt=1/2 data=0/1 commands=3/5`);
  assert.deepEqual(unknown, []);
  const [j] = await traced(events, 'nobody@local.test');
  const close = j!.events.find((e) => e.kind === 'session.close');
  assert.ok(close, JSON.stringify(j, null, 1));
  assert.equal((close.details as { ended?: string }).ended, 'timeout after DATA');
});
