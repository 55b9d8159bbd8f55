// LMTP and SMTP delivery targets against real servers on loopback: a
// throwaway Dovecot (LMTP in, POP3 and IMAP out, mail_log on) and a second
// mailproof as a downstream SMTP server. The sender gets 250 only after the
// target has the message; per-recipient LMTP results never hide a loss.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { requireTool } from '../../helpers/env.js';
import { startDovecot, type DovecotInstance } from '../../helpers/dovecot.js';
import { freePort, listNew, ROOT, run, startServer, type Instance } from '../../helpers/server.js';
import { sendMail } from '../../helpers/smtp-client.js';

const REF = /\(ref [A-Za-z0-9]+\)/;

function python(script: string, args: string[]): string {
  return execFileSync('python3', ['-c', script, ...args], { encoding: 'utf8', timeout: 20000 });
}

/** POP3 (python3 poplib): RETR every message, DELE it, QUIT. Returns the messages. */
function popFetchAndDelete(d: DovecotInstance, user: string): string[] {
  const out = python(`
import poplib, sys, json
p = poplib.POP3(sys.argv[1], int(sys.argv[2]), timeout=10)
p.user(sys.argv[3]); p.pass_('secret')
n = len(p.list()[1])
msgs = []
for i in range(1, n + 1):
    msgs.append(b'\\n'.join(p.retr(i)[1]).decode('latin1'))
    p.dele(i)
p.quit()
print(json.dumps(msgs))
`, [d.host, String(d.pop3Port), user]);
  return JSON.parse(out) as string[];
}

/** IMAP (python3 imaplib): flag every INBOX message \\Deleted and EXPUNGE. Returns the count. */
function imapExpungeAll(d: DovecotInstance, user: string): number {
  const out = python(`
import imaplib, sys
m = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))
m.login(sys.argv[3], 'secret')
typ, data = m.select('INBOX')
n = int(data[0])
if n:
    m.store('1:*', '+FLAGS', '\\\\Deleted')
    m.expunge()
m.logout()
print(n)
`, [d.host, String(d.imapPort), user]);
  return Number(out.trim());
}

function countMail(d: DovecotInstance, addr: string): number {
  const dir = d.maildir(addr);
  return listNew(path.join(dir, 'new')).length + listNew(path.join(dir, 'cur')).length;
}

function healthOf(mp: Instance, component: string): string | null {
  const dir = path.join(mp.dataDir, 'health');
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.json'))) {
    try {
      const snap = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { components: Record<string, { state: string }> };
      if (snap.components[component]) return snap.components[component].state;
    } catch { /* being replaced */ }
  }
  return null;
}

async function waitFor(fn: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('LMTP to a real Dovecot: stored, fetched by POP3, expunged by IMAP, unknown users refused at RCPT, down means 451, mixed results never 250', async (t) => {
  if (!requireTool(t, 'dovecot') || !requireTool(t, 'python3')) return;
  // quota_full_tempfail: an over-quota recipient gets 452 4.2.2 at DATA, the
  // per-recipient temporary failure RFC 2033 section 4.2 is about.
  // A non-default mail_log_prefix with the client addresses, as providers
  // set it: the ingest below must still read every mailbox line of it.
  const dc = await startDovecot({ extraConfig: 'quota_full_tempfail = yes\nmail_log_prefix = "%s(%u)<%{pid}><%{session}>: rip=%{rip} lip=%{lip} "\n' });
  t.after(() => dc.destroy());
  for (const u of ['alice', 'bob']) dc.addUser({ address: `${u}@lmtp.test` });
  dc.addUser({ address: 'full@lmtp.test', quotaRule: '*:storage=1K' });

  const mp = await startServer({
    config: {
      domains: {
        'demo.test': { mailboxes: ['demo'] },
        'lmtp.test': { delivery: { type: 'lmtp', address: `${dc.host}:${dc.lmtpPort}`, timeout_ms: 3000, verify_cache_s: 0 } },
      },
    },
  });
  t.after(async () => { await mp.stop(); fs.rmSync(mp.dataDir, { recursive: true, force: true }); });

  // 1. Delivered over LMTP: 250 after Dovecot saved it.
  const first = await sendMail(mp.port, { from: 'sender@example.org', to: ['alice@lmtp.test'], body: 'From: Sender <sender@example.org>\r\nSubject: over lmtp\r\nMessage-ID: <lmtp-1@example.org>\r\n\r\nhello dovecot\r\n' });
  assert.match(first.final ?? '', /^250 2\.0\.0 Message accepted and stored/, JSON.stringify(first.replies));
  assert.equal(countMail(dc, 'alice@lmtp.test'), 1);
  const ref1 = /\(ref ([A-Za-z0-9]+)\)/.exec(first.final!)![1]!;
  const tr = await mp.trace(['--ref', ref1]);
  const delivered = tr.journeys[0]!.events.find((e) => e.kind === 'message.delivered')!;
  const det = delivered.details as Record<string, unknown>;
  assert.equal(det.target, 'lmtp');
  assert.equal(det.address, `${dc.host}:${dc.lmtpPort}`);
  assert.match(String(det.reply), /^250 2\.0\.0 .*Saved/i);

  // 2. Fetched and deleted by POP3; Dovecot's log has the LMTP save, the
  // mail_log save and the POP3 session with its RETR/DELE counts.
  const msgs = popFetchAndDelete(dc, 'alice@lmtp.test');
  assert.equal(msgs.length, 1);
  assert.match(msgs[0]!, /Subject: over lmtp/);
  assert.match(msgs[0]!, new RegExp(`Received: from [\\s\\S]*?by mx\\.test\\.invalid \\(mailproof\\) with ESMTP id ${ref1}`));
  // Return-Path is the final delivery's (RFC 5321 section 4.4): Dovecot's, not a second one of ours.
  assert.equal(msgs[0]!.match(/^Return-Path:/gm)?.length, 1);
  assert.equal(countMail(dc, 'alice@lmtp.test'), 0);
  await dc.waitForLog(/pop3\(alice@lmtp\.test\).*Disconnected: Logged out.*retr=1\/\d+, del=1\/1/);
  const log1 = dc.log();
  assert.match(log1, /lmtp\(alice@lmtp\.test\).*msgid=<lmtp-1@example\.org>: saved mail to INBOX/);
  assert.match(log1, /lmtp\(alice@lmtp\.test\).*save: box=INBOX, uid=1, msgid=<lmtp-1@example\.org>, size=\d+, from=.*sender@example\.org/);
  // POP3 DELE shows as mail_log "expunge" when the session ends with QUIT.
  assert.match(log1, /pop3\(alice@lmtp\.test\).*expunge: box=INBOX, uid=1, msgid=<lmtp-1@example\.org>/);

  // 3. IMAP expunge.
  const second = await sendMail(mp.port, { from: 'sender@example.org', to: ['bob@lmtp.test'], body: 'From: Sender <sender@example.org>\r\nSubject: for imap\r\nMessage-ID: <lmtp-2@example.org>\r\n\r\nexpunge me\r\n' });
  assert.match(second.final ?? '', /^250 /);
  assert.equal(imapExpungeAll(dc, 'bob@lmtp.test'), 1);
  const log2 = await dc.waitForLog(/imap\(bob@lmtp\.test\).*expunge: box=INBOX, uid=1, msgid=<lmtp-2@example\.org>/);
  assert.match(log2, /imap\(bob@lmtp\.test\).*Logged out/);
  // A real log for the Dovecot ingest parser's unit tests (see the fixture's README).
  if (process.env.MAILPROOF_WRITE_FIXTURES === '1') {
    fs.mkdirSync(path.join(ROOT, 'test/fixtures/dovecot'), { recursive: true });
    fs.writeFileSync(path.join(ROOT, 'test/fixtures/dovecot/sample.log'), log2);
  }

  // 3b. One journey over both sources: Dovecot's log ingested into our
  // ledger joins our deliveries by Message-ID and mailbox; the trace names
  // who fetched and deleted, from which address.
  const ing = await run(['ingest', 'dovecot', dc.logFile, '--data-dir', mp.dataDir, '--node', 'imap1', '--json']);
  assert.equal(ing.code, 0, ing.stdout + ing.stderr);
  const summary = JSON.parse(ing.stdout) as { unknown_total: number; by_kind: Record<string, number> };
  assert.equal(summary.unknown_total, 0, ing.stdout);
  assert.deepEqual([summary.by_kind['message.delivered'], summary.by_kind['pop3.dele'], summary.by_kind['imap.expunge']], [2, 1, 1]);
  type J = { ref: string; outcome: string; diagnosis: string[]; access: { at: string; kind: string; source: string; client_ip: string | null }[]; events: { source: string }[] };
  const aj = (await mp.trace(['--rcpt', 'alice@lmtp.test'])).journeys as unknown as J[];
  assert.equal(aj.length, 1, JSON.stringify(aj.map((j) => j.ref)));
  assert.equal(aj[0]!.ref, ref1);
  assert.equal(aj[0]!.outcome, 'delivered');
  assert.deepEqual(aj[0]!.diagnosis, ['fetched_and_deleted', 'delivered']);
  assert.deepEqual(aj[0]!.access, [{ at: aj[0]!.access[0]!.at, kind: 'pop3.dele', source: 'dovecot', client_ip: '127.0.0.1' }]);
  assert.ok(aj[0]!.events.some((e) => e.source === 'dovecot'));
  const bj = (await mp.trace(['--rcpt', 'bob@lmtp.test'])).journeys as unknown as J[];
  assert.deepEqual(bj.map((j) => [j.outcome, j.diagnosis, j.access.map((a) => a.kind)]), [['delivered', ['fetched_and_deleted', 'delivered'], ['imap.expunge']]]);
  // The German report of the expunged message says what happened, and not "not fetched".
  const rep = await run(['report', '--rcpt', 'bob@lmtp.test', '--lang', 'de', '--format', 'text', '--data-dir', mp.dataDir]);
  assert.equal(rep.code, 0, rep.stderr);
  assert.match(rep.stdout, /Abgerufen und aus dem Postfach gelöscht/);
  assert.match(rep.stdout, /abgerufen und gelöscht/);
  assert.doesNotMatch(rep.stdout, /bisher abgerufen|noch nicht abgerufen/);
  // Ingesting the same log again adds nothing (the position is kept in the ledger).
  const reIngest = await run(['ingest', 'dovecot', dc.logFile, '--data-dir', mp.dataDir, '--node', 'imap1', '--json']);
  assert.equal((JSON.parse(reIngest.stdout) as { events: number }).events, 0);

  // 4. Unknown to Dovecot: 550 5.1.1 at RCPT, in our words, with our REF.
  const unknown = await sendMail(mp.port, { from: 'sender@example.org', to: ['nobody@lmtp.test'], body: 'Subject: x\r\n\r\nx\r\n' });
  const rcptReply = unknown.replies[3] ?? '';
  assert.match(rcptReply, /^550 5\.1\.1 No such mailbox <nobody@lmtp\.test> here/);
  assert.match(rcptReply, REF);
  assert.doesNotMatch(rcptReply, /User doesn't exist/, 'the downstream text is not passed on raw');
  const unkTrace = await mp.trace(['--rcpt', 'nobody@lmtp.test']);
  const rej = unkTrace.journeys[0]!.events.find((e) => e.kind === 'check.result' && e.check_name === 'recipient')!;
  assert.match(String((rej.details as { evidence: { downstream: string } }).evidence.downstream), /^550 5\.1\.1 /);

  // 5. Dovecot down: 451 4.4.1 at RCPT (verification cannot ask), health says lmtp down.
  await dc.stop();
  const down = await sendMail(mp.port, { from: 'sender@example.org', to: ['alice@lmtp.test'], body: 'Subject: down\r\n\r\nx\r\n' });
  assert.match(down.replies[3] ?? '', /^451 4\.4\.1 The mailbox server is not reachable right now; please try again later \(ref /);
  await waitFor(() => healthOf(mp, 'lmtp') === 'down', 'health lmtp down');
  await dc.start();
  const back = await sendMail(mp.port, { from: 'sender@example.org', to: ['alice@lmtp.test'], body: 'Subject: back\r\n\r\nx\r\n' });
  assert.match(back.final ?? '', /^250 /);
  await waitFor(() => healthOf(mp, 'lmtp') === 'up', 'health lmtp up');
  assert.equal(countMail(dc, 'alice@lmtp.test'), 1);

  // 6. Mixed per-recipient result: alice stores, full is over quota (452 4.2.2
  // at DATA). The sender gets 451, never a 250 that hides the loss; the
  // retry of the same message does not give alice a second copy.
  const big = `Subject: mixed\r\nMessage-ID: <lmtp-3@example.org>\r\n\r\n${'0123456789abcdef'.repeat(200)}\r\n`;
  const mixed = await sendMail(mp.port, { from: 'sender@example.org', to: ['alice@lmtp.test', 'full@lmtp.test'], body: big });
  assert.match(mixed.final ?? '', /^451 4\.3\.0 Some recipients could not be stored; please try again/, JSON.stringify(mixed.replies));
  assert.equal(countMail(dc, 'alice@lmtp.test'), 2);
  assert.equal(countMail(dc, 'full@lmtp.test'), 0);
  const mixedRef = /\(ref ([A-Za-z0-9]+)\)/.exec(mixed.final!)![1]!;
  const retry = await sendMail(mp.port, { from: 'sender@example.org', to: ['alice@lmtp.test', 'full@lmtp.test'], body: big });
  assert.match(retry.final ?? '', /^451 /);
  assert.equal(countMail(dc, 'alice@lmtp.test'), 2, 'the retry did not store alice\'s copy again');
  const retryRef = /\(ref ([A-Za-z0-9]+)\)/.exec(retry.final!)![1]!;
  const rt = await mp.trace(['--ref', retryRef]);
  // A journey per recipient: look through all of this REF's.
  const ev = rt.journeys.flatMap((j) => j.events);
  const again = ev.find((e) => e.kind === 'message.delivered' && e.rcpt === 'alice@lmtp.test')!;
  assert.equal((again.details as Record<string, unknown>).already_delivered_in, mixedRef);
  const failed = ev.find((e) => e.kind === 'message.delivery_failed' && e.rcpt === 'full@lmtp.test')!;
  assert.equal((failed.details as Record<string, unknown>).downstream_code, 452);
  // The research names the cause from Dovecot's own reply: mailbox_full, on
  // the recipient's side (the customer must make room), with that reply as
  // proof; alice's journey of the same REF is a delivery.
  const fullJ = rt.journeys.find((j) => j.rcpt === 'full@lmtp.test')!;
  assert.equal(fullJ.outcome, 'tempfailed');
  assert.equal((fullJ.diagnosis as string[])[0], 'mailbox_full', JSON.stringify(fullJ.diagnosis));
  const why = (fullJ.explanations as Array<{ code: string; side: string; evidence: number[] }>).find((x) => x.code === 'mailbox_full')!;
  assert.equal(why.side, 'recipient');
  assert.ok(why.evidence.includes(Number(failed.id)), JSON.stringify(why));
  assert.match(String((failed.details as Record<string, unknown>).reply), /^452 4\.2\.2 /);
  // Delivered over LMTP after the last Dovecot log was ingested: whether a
  // mail program fetched it is not recorded here, and not claimed.
  const aliceJ = rt.journeys.find((j) => j.rcpt === 'alice@lmtp.test')!;
  assert.deepEqual(aliceJ.diagnosis, ['delivered', 'access_not_recorded']);
  // The finding that says more comes first; the generic "delivered" last.
  assert.deepEqual((aliceJ.explanations as Array<{ code: string }>).map((x) => x.code), ['access_not_recorded', 'delivered']);
  assert.match((aliceJ.explanations as Array<{ what: string }>)[0]!.what, /Access to this mailbox is not recorded here/);

  // 7. Down between RCPT and DATA (verification answered from its cache): 451 4.4.1 at DATA.
  await dc.stop();
  const late = await sendMail(mp.port, { from: 'sender@example.org', to: ['demo@demo.test'], body: 'Subject: local\r\n\r\nx\r\n' });
  assert.match(late.final ?? '', /^250 /, 'a Maildir domain does not depend on Dovecot');
});

test('LMTP target down between RCPT and DATA: 451 4.4.1 at DATA, nothing stored', async (t) => {
  if (!requireTool(t, 'dovecot')) return;
  const dc = await startDovecot();
  t.after(() => dc.destroy());
  dc.addUser({ address: 'alice@lmtp.test' });
  const mp = await startServer({
    config: { domains: { 'lmtp.test': { delivery: { type: 'lmtp', address: `${dc.host}:${dc.lmtpPort}`, timeout_ms: 3000, verify_cache_s: 600 } } } },
  });
  t.after(async () => { await mp.stop(); fs.rmSync(mp.dataDir, { recursive: true, force: true }); });
  const ok = await sendMail(mp.port, { from: 's@example.org', to: ['alice@lmtp.test'], body: 'Subject: a\r\n\r\nx\r\n' });
  assert.match(ok.final ?? '', /^250 /);
  await dc.stop();
  const r = await sendMail(mp.port, { from: 's@example.org', to: ['alice@lmtp.test'], body: 'Subject: b\r\n\r\nx\r\n' });
  assert.match(r.replies[3] ?? '', /^250 /, 'verified from the cache');
  assert.match(r.final ?? '', /^451 4\.4\.1 The mailbox server is not reachable right now/);
  const ref = /\(ref ([A-Za-z0-9]+)\)/.exec(r.final!)![1]!;
  const ev = (await mp.trace(['--ref', ref])).journeys[0]!.events;
  assert.ok(ev.some((e) => e.kind === 'message.delivery_failed' && e.rcpt === 'alice@lmtp.test'));
  assert.ok(!ev.some((e) => e.kind === 'message.delivered'));
});

test('SMTP target: a second mailproof downstream; 250 only after its 250, its 5xx mapped, down means 451', async () => {
  const down = await startServer({ config: { domains: { 'smtp.test': { mailboxes: ['carol'] }, 'listed.test': { mailboxes: ['carol'] } } } });
  let downStopped = false;
  const front = await startServer({
    config: {
      domains: {
        // Verified at RCPT by asking the downstream (empty mailboxes list).
        'smtp.test': { delivery: { type: 'smtp', address: `127.0.0.1:${down.port}`, timeout_ms: 3000, tls: 'opportunistic', verify_cache_s: 0 } },
        // Listed here, unknown downstream: refused by the downstream at its RCPT, during our DATA.
        'listed.test': { mailboxes: ['carol', 'ghost'], delivery: { type: 'smtp', address: `127.0.0.1:${down.port}`, timeout_ms: 3000 } },
      },
    },
  });
  try {
    const ok = await sendMail(front.port, { from: 'sender@example.org', to: ['carol@smtp.test'], body: 'Subject: relayed\r\n\r\nhello downstream\r\n' });
    assert.match(ok.final ?? '', /^250 2\.0\.0 Message accepted and stored/, JSON.stringify(ok.replies));
    const stored = listNew(down.newDir('carol@smtp.test'));
    assert.equal(stored.length, 1, 'the downstream has it before our 250');
    const ref = /\(ref ([A-Za-z0-9]+)\)/.exec(ok.final!)![1]!;
    const ev = (await front.trace(['--ref', ref])).journeys[0]!.events;
    const d = ev.find((e) => e.kind === 'message.delivered')!.details as Record<string, unknown>;
    assert.equal(d.target, 'smtp');
    assert.match(String(d.reply), /^250 2\.0\.0 Message accepted and stored \(ref [A-Za-z0-9]+\)/, 'the downstream 250 is in the ledger');

    const unknown = await sendMail(front.port, { from: 'sender@example.org', to: ['nobody@smtp.test'], body: 'Subject: x\r\n\r\nx\r\n' });
    assert.match(unknown.replies[3] ?? '', /^550 5\.1\.1 No such mailbox <nobody@smtp\.test> here; please check the address for typos \(ref [A-Za-z0-9]+\)$/);

    const ghost = await sendMail(front.port, { from: 'sender@example.org', to: ['ghost@listed.test'], body: 'Subject: ghost\r\n\r\nx\r\n' });
    assert.match(ghost.replies[3] ?? '', /^250 /, 'listed locally, so accepted at RCPT');
    assert.match(ghost.final ?? '', /^550 5\.1\.1 No such mailbox <ghost@listed\.test> here/);

    await down.stop();
    downStopped = true;
    const r = await sendMail(front.port, { from: 'sender@example.org', to: ['carol@smtp.test'], body: 'Subject: x\r\n\r\nx\r\n' });
    assert.match(r.replies[3] ?? '', /^451 4\.4\.1 The mailbox server is not reachable right now/);
    const r2 = await sendMail(front.port, { from: 'sender@example.org', to: ['carol@listed.test'], body: 'Subject: x\r\n\r\nx\r\n' });
    assert.match(r2.final ?? '', /^451 4\.4\.1 /);
  } finally {
    if (!downStopped) await down.stop();
    await front.stop();
    fs.rmSync(down.dataDir, { recursive: true, force: true });
    fs.rmSync(front.dataDir, { recursive: true, force: true });
  }
});

test('config: lmtp without an address is refused with the key named', async () => {
  const { run } = await import('../../helpers/server.js');
  const port = await freePort();
  const r = await run(['config', '--check', '-o', `smtp.listen=[127.0.0.1:${port}]`, '-o', 'domains={"x.test":{"delivery":{"type":"lmtp"}}}']);
  assert.notEqual(r.code, 0);
  assert.match(r.stdout + r.stderr, /domains\.x\.test\.delivery\.address: delivery\.type lmtp needs delivery\.address/);
});
