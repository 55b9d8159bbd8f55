// The gateway against a real SMTP client (swaks), on loopback: delivery,
// refusals with exact codes, the REF in every reply, and the ledger behind it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { requireTool } from '../../helpers/env.js';
import { listNew, startServer, type Instance } from '../../helpers/server.js';
import { RawSmtp } from '../../helpers/smtp-client.js';
import { serverLines, swaks } from '../../helpers/swaks.js';

const REF = /\(ref ([0-9A-HJKMNP-TV-Z]{12})\)$/;
let mp: Instance;

before(async () => {
  mp = await startServer({ config: { smtp: { max_message_size: 20000, max_recipients: 3 } } });
});
after(async () => {
  const code = await mp.stop();
  assert.equal(code, 0, 'clean exit on SIGTERM');
});

function server(): string[] {
  return ['--server', `${mp.host}:${mp.port}`];
}

test('a message to a local mailbox is stored in its Maildir before the 250, with the REF', async (t) => {
  if (!requireTool(t, 'swaks')) return;
  const r = await swaks([...server(), '--from', 'sender@example.org', '--to', 'demo@demo.test', '--header', 'Subject: hello', '--body', 'first message']);
  assert.equal(r.code, 0, r.out);
  const final = serverLines(r.out).find((l) => l.startsWith('250 2.0.0'));
  assert.ok(final, r.out);
  const ref = REF.exec(final)![1]!;
  // The 250 came after the file was in new/: it must be there now, complete.
  const files = listNew(mp.newDir('demo@demo.test'));
  const mine = files.map((f) => fs.readFileSync(path.join(mp.newDir('demo@demo.test'), f), 'utf8')).find((c) => c.includes(`id ${ref}`));
  assert.ok(mine, `no stored message with id ${ref}`);
  assert.match(mine, /^Return-Path: <sender@example\.org>\nReceived: from \S+ \(unknown \[127\.0\.0\.1\]\)\n\tby mx\.test\.invalid \(mailproof\) with ESMTP id [0-9A-Z]{12}\n\tfor <demo@demo\.test>;/);
  assert.match(mine, /\nSubject: hello\n/);
  assert.match(mine, /\n\nfirst message\n/);
  assert.ok(!mine.includes('\r'), 'stored with LF line ends');

  const { journeys } = await mp.trace(['--ref', ref]);
  assert.equal(journeys.length, 1);
  const j = journeys[0]!;
  assert.equal(j.outcome, 'delivered');
  assert.equal(j.mail_from, 'sender@example.org');
  assert.equal(j.client_ip, '127.0.0.1');
  // Nobody has fetched it yet: it lies in the Maildir.
  // No POP3 server here (pop3.listen []): nobody's access to the Maildir is recorded.
  assert.deepEqual(j.diagnosis, ['delivered', 'access_not_recorded']);
  const kinds = j.events.map((e) => e.kind);
  for (const k of ['session.connect', 'session.helo', 'mail.from', 'rcpt.accepted', 'data.received', 'message.delivered']) {
    assert.ok(kinds.includes(k), `${k} missing in ${kinds.join(',')}`);
  }
  assert.match(String(j.reply), new RegExp(`^250 2\\.0\\.0 Message accepted and stored \\(ref ${ref}\\)$`));
});

test('an unknown local user gets 550 5.1.1 with a REF the ledger knows', async (t) => {
  if (!requireTool(t, 'swaks')) return;
  const r = await swaks([...server(), '--from', 'sender@example.org', '--to', 'nosuch@demo.test']);
  assert.equal(r.code, 24, 'swaks: RCPT failed');
  const line = serverLines(r.out).find((l) => l.startsWith('550'));
  assert.match(line ?? '', /^550 5\.1\.1 No such mailbox <nosuch@demo\.test> here; please check the address for typos \(ref [0-9A-Z]{12}\)$/);
  const ref = REF.exec(line!)![1]!;
  const { journeys } = await mp.trace(['--rcpt', 'nosuch@demo.test']);
  const j = journeys.find((x) => x.ref === ref);
  assert.ok(j);
  assert.equal(j.outcome, 'rejected');
  assert.deepEqual(j.diagnosis, ['unknown_recipient']);
  const rej = j.events.find((e) => e.kind === 'rcpt.rejected')!;
  assert.equal(rej.check_name, 'recipient');
  assert.equal(rej.smtp_code, 550);
  assert.equal(rej.enhanced_code, '5.1.1');
});

test('mail for a foreign domain is refused: no open relay', async (t) => {
  if (!requireTool(t, 'swaks')) return;
  const r = await swaks([...server(), '--from', 'spammer@example.org', '--to', 'victim@example.com']);
  assert.equal(r.code, 24);
  assert.ok(serverLines(r.out).some((l) => /^550 5\.7\.1 Relaying denied: .* \(ref [0-9A-Z]{12}\)$/.test(l)), r.out);
});

test('the classic relay tricks are refused the same way', async () => {
  const tricks = [
    'user%example.com@demo.test',
    '"user@example.com"@demo.test',
    '@demo.test:user@example.com',
    'example.com!user@demo.test',
    'demo@[127.0.0.1]',
  ];
  const c = await RawSmtp.connect(mp.port);
  try {
    assert.match((await c.reply())!, /^220 /);
    assert.match((await c.cmd('EHLO relay-tester.example.org'))!, /^250/);
    assert.match((await c.cmd('MAIL FROM:<x@example.org>'))!, /^250/);
    for (const rcpt of tricks) {
      const rep = await c.cmd(`RCPT TO:<${rcpt}>`);
      // smtp-server itself refuses a quoted local part holding "@" as bad
      // syntax (501 5.1.3) before our relay check sees it; refused either way.
      const expected = rcpt.startsWith('"') ? /^(550 5\.7\.1 Relaying denied|501 5\.1\.3 )/ : /^550 5\.7\.1 Relaying denied/;
      assert.match(rep ?? '', expected, `${rcpt}: ${rep}`);
    }
    // Nothing was accepted, so DATA has no recipients.
    assert.match((await c.cmd('DATA'))!, /^503 /);
  } finally {
    await c.close();
  }
});

test('an oversized message gets 552 5.3.4 and is not stored', async (t) => {
  if (!requireTool(t, 'swaks')) return;
  const before = listNew(mp.newDir('alice@demo.test')).length;
  const r = await swaks([...server(), '--from', 'big@example.org', '--to', 'alice@demo.test', '--body', 'x'.repeat(30000)]);
  assert.notEqual(r.code, 0);
  const line = serverLines(r.out).find((l) => l.startsWith('552'));
  assert.match(line ?? '', /^552 5\.3\.4 Message too big: this server accepts at most 20000 bytes \(ref [0-9A-Z]{12}\)$/, r.out);
  assert.equal(listNew(mp.newDir('alice@demo.test')).length, before);
  const ref = REF.exec(line!)![1]!;
  const { journeys } = await mp.trace(['--ref', ref]);
  assert.equal(journeys[0]?.outcome, 'rejected');
  assert.deepEqual(journeys[0]?.diagnosis, ['message_too_large']);
});

test('a declared SIZE over the limit is refused at RCPT, after sender and recipient are known', async () => {
  const c = await RawSmtp.connect(mp.port);
  try {
    await c.reply();
    await c.cmd('EHLO sizer.example.org');
    assert.match((await c.cmd('MAIL FROM:<s@example.org> SIZE=99999'))!, /^250/);
    const rep = await c.cmd('RCPT TO:<alice@demo.test>');
    assert.match(rep ?? '', /^552 5\.3\.4 /);
    const ref = REF.exec(rep!)![1]!;
    const { journeys } = await mp.trace(['--ref', ref]);
    const ev = journeys[0]!.events.find((e) => e.kind === 'rcpt.rejected')!;
    assert.equal(ev.mail_from, 's@example.org');
    assert.equal(ev.rcpt, 'alice@demo.test');
    assert.equal(ev.check_name, 'size');
    assert.equal((ev.details as { delayed: boolean }).delayed, true);
  } finally {
    await c.close();
  }
});

test('more recipients than allowed: 452 4.5.3 for the rest, the others get the message', async () => {
  const c = await RawSmtp.connect(mp.port);
  try {
    await c.reply();
    await c.cmd('EHLO many.example.org');
    await c.cmd('MAIL FROM:<s@example.org>');
    for (const r of ['demo', 'alice', 'bob']) assert.match((await c.cmd(`RCPT TO:<${r}@demo.test>`))!, /^250/);
    assert.match((await c.cmd('RCPT TO:<postmaster@demo.test>'))!, /^452 4\.5\.3 Too many recipients/);
    assert.match((await c.cmd('DATA'))!, /^354/);
    assert.match((await c.cmd('Subject: many\r\n\r\nhi\r\n.'))!, /^250 2\.0\.0 /);
  } finally {
    await c.close();
  }
});

test('STARTTLS works with the self-signed certificate made on first start', async (t) => {
  if (!requireTool(t, 'swaks')) return;
  const r = await swaks([...server(), '--tls', '--from', 'tls@example.org', '--to', 'bob@demo.test', '--header', 'Subject: over tls']);
  assert.equal(r.code, 0, r.out);
  const final = serverLines(r.out).find((l) => l.startsWith('250 2.0.0'))!;
  const ref = REF.exec(final)![1]!;
  const stored = listNew(mp.newDir('bob@demo.test')).map((f) => fs.readFileSync(path.join(mp.newDir('bob@demo.test'), f), 'utf8')).find((s) => s.includes(ref));
  assert.match(stored ?? '', /with ESMTPS id /);
  const { journeys } = await mp.trace(['--ref', ref]);
  assert.ok(journeys[0]!.events.some((e) => e.kind === 'session.tls'));
  // The key stays in the data dir, readable by the owner only.
  assert.equal(fs.statSync(path.join(mp.dataDir, 'tls', 'key.pem')).mode & 0o077, 0);
});

test('EHLO offers the MX extensions and no AUTH; VRFY and EXPN reveal nothing', async () => {
  const c = await RawSmtp.connect(mp.port);
  try {
    await c.reply();
    const ehlo = (await c.cmd('EHLO probe.example.org'))!;
    for (const ext of ['PIPELINING', 'SIZE 20000', '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', 'STARTTLS']) {
      assert.ok(ehlo.includes(`250-${ext}`) || ehlo.includes(`250 ${ext}`), `${ext} missing:\n${ehlo}`);
    }
    assert.ok(!/AUTH/.test(ehlo), 'no AUTH on an MX');
    const known = await c.cmd('VRFY demo@demo.test');
    const unknown = await c.cmd('VRFY nosuch@demo.test');
    assert.equal(known, unknown);
    assert.match(known!, /^252 /);
    assert.equal(await c.cmd('EXPN team@demo.test'), await c.cmd('EXPN nosuch@demo.test'));
    assert.match((await c.cmd('AUTH PLAIN AGFAYg=='))!, /^5\d\d /);
  } finally {
    await c.close();
  }
});

test('a bad HELO name is refused at the first RCPT (delayed), so the ledger has sender and recipient', async () => {
  const c = await RawSmtp.connect(mp.port);
  try {
    await c.reply();
    assert.match((await c.cmd('EHLO bad_name!.example'))!, /^250/);
    assert.match((await c.cmd('MAIL FROM:<who@example.org>'))!, /^250/);
    const rep = await c.cmd('RCPT TO:<demo@demo.test>');
    assert.match(rep ?? '', /^501 5\.5\.2 Your server introduced itself \(HELO\/EHLO\) with an invalid host name/);
    const ref = REF.exec(rep!)![1]!;
    const { journeys } = await mp.trace(['--ref', ref]);
    const ev = journeys[0]!.events.find((e) => e.kind === 'rcpt.rejected')!;
    assert.equal(ev.check_name, 'helo_syntax');
    assert.equal(ev.helo, 'bad_name!.example');
    assert.equal(ev.mail_from, 'who@example.org');
    assert.equal(ev.rcpt, 'demo@demo.test');
    // A fresh, valid EHLO in the same session starts over.
    assert.match((await c.cmd('EHLO good.example.org'))!, /^250/);
    await c.cmd('MAIL FROM:<who@example.org>');
    assert.match((await c.cmd('RCPT TO:<demo@demo.test>'))!, /^250/);
  } finally {
    await c.close();
  }
});

test('an alias delivers to its mailboxes; the same message is stored once per mailbox', async () => {
  const a0 = listNew(mp.newDir('alice@demo.test')).length;
  const b0 = listNew(mp.newDir('bob@demo.test')).length;
  const c = await RawSmtp.connect(mp.port);
  try {
    await c.reply();
    await c.cmd('EHLO alias.example.org');
    await c.cmd('MAIL FROM:<s@example.org>');
    assert.match((await c.cmd('RCPT TO:<team@demo.test>'))!, /^250/);
    assert.match((await c.cmd('RCPT TO:<ALICE@demo.test>'))!, /^250/);
    await c.cmd('DATA');
    assert.match((await c.cmd('Subject: team\r\n\r\nhi team\r\n.'))!, /^250 /);
  } finally {
    await c.close();
  }
  assert.equal(listNew(mp.newDir('alice@demo.test')).length, a0 + 1);
  assert.equal(listNew(mp.newDir('bob@demo.test')).length, b0 + 1);
});
