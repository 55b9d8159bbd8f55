// Parser corpus: real-format Postfix 3.7 and Dovecot 2.3 lines (formats as in
// Postfix's smtpd/qmgr/smtp sources and Dovecot 2.3's login and mail_log
// output), syslog framing with and without year, hostile and binary lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LedgerEvent } from '../ledger/types.js';
import { DovecotParser } from './dovecot.js';
import { PostfixParser } from './postfix.js';
import { parseSyslog, YearInference } from './syslog.js';
import type { StatefulParser } from './common.js';

function feed(parser: StatefulParser, text: string, years = new YearInference(Date.UTC(2026, 5, 1), 2026)): { events: LedgerEvent[]; unknown: string[] } {
  const events: LedgerEvent[] = [];
  const unknown: string[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const l = parseSyslog(line, years);
    if (!l) { unknown.push(line); continue; }
    if (!parser.handle(l, l.host ?? 'node', { emit: (e) => events.push(e) })) unknown.push(line);
  }
  return { events, unknown };
}

test('classic syslog stamps: year from the reference time, and Dec -> Jan moves into the next year', () => {
  // Reference: the file was last written on 2027-01-01 (the log's last lines).
  const y = new YearInference(new Date(2027, 0, 1, 12).getTime());
  const a = parseSyslog('Dec 31 23:59:59 mx1 postfix/qmgr[1]: x', y)!;
  const b = parseSyslog('Jan  1 00:00:01 mx1 postfix/qmgr[1]: y', y)!;
  assert.equal(new Date(a.ts).getFullYear(), 2026);
  assert.equal(new Date(b.ts).getFullYear(), 2027);
  assert.equal(b.ts - a.ts, 2000);
  assert.equal(a.host, 'mx1');
  assert.equal(a.program, 'postfix/qmgr');
  assert.equal(a.pid, '1');
  assert.equal(a.msg, 'x');
  // A line a little out of order across the boundary goes back a year, not forward.
  const c = parseSyslog('Dec 31 23:59:58 mx1 postfix/qmgr[1]: z', y)!;
  assert.equal(new Date(c.ts).getFullYear(), 2026);
  // A first line "in the future" of the reference belongs to last year.
  const y2 = new YearInference(new Date(2027, 0, 2).getTime());
  assert.equal(new Date(parseSyslog('Nov 27 10:00:00 h p: m', y2)!.ts).getFullYear(), 2026);
  // --year fixes it.
  const y3 = new YearInference(Date.now(), 2019);
  assert.equal(new Date(parseSyslog('Nov 27 10:00:00.123456 h p: m', y3)!.ts).getFullYear(), 2019);
});

test('RFC 3339 and RFC 5424 stamps', () => {
  const y = new YearInference(Date.now());
  const a = parseSyslog('2026-11-27T10:24:28.123456+01:00 mx1 postfix/smtpd[42]: connect from x[192.0.2.1]', y)!;
  assert.equal(a.ts, Date.parse('2026-11-27T09:24:28.123Z'));
  assert.deepEqual([a.host, a.program, a.pid, a.msg], ['mx1', 'postfix/smtpd', '42', 'connect from x[192.0.2.1]']);
  const b = parseSyslog('<22>1 2026-11-27T10:24:28.5Z mx2 postfix/qmgr 77 - - 4ABC: removed', y)!;
  assert.equal(b.ts, Date.parse('2026-11-27T10:24:28.500Z'));
  assert.deepEqual([b.host, b.program, b.pid, b.msg], ['mx2', 'postfix/qmgr', '77', '4ABC: removed']);
  const c = parseSyslog('<22>1 2026-11-27T10:24:28Z mx2 dovecot - - [meta sequenceId="1"] imap-login: Login: user=<a>', y)!;
  assert.equal(c.msg, 'imap-login: Login: user=<a>');
  assert.equal(c.pid, null);
  // Dovecot's own log file: no host field.
  const d = parseSyslog('Nov 27 10:24:28 imap-login: Info: Login: user=<a@b>', y)!;
  assert.deepEqual([d.host, d.program, d.msg], [null, 'imap-login', 'Info: Login: user=<a@b>']);
  for (const bad of ['', 'garbage', 'Foo 27 10:24:28 h p: m', 'Nov 99 10:24:28 h p: m', '2026-13-45T99:99:99Z h p: m', '<1>1 x', '\x00\x01\xff']) {
    assert.equal(parseSyslog(bad, y), null, JSON.stringify(bad));
  }
});

const STORY = `Dec 31 23:59:58 mx1 postfix/smtpd[1001]: connect from mail.sender.example[192.0.2.10]
Dec 31 23:59:59 mx1 postfix/smtpd[1001]: 4ABCD1234: client=mail.sender.example[192.0.2.10]
Jan  1 00:00:00 mx1 postfix/cleanup[1002]: 4ABCD1234: message-id=<m1@sender.example>
Jan  1 00:00:00 mx1 postfix/qmgr[1003]: 4ABCD1234: from=<alice@sender.example>, size=1234, nrcpt=1 (queue active)
Jan  1 00:00:01 mx1 postfix/smtpd[1001]: NOQUEUE: reject: RCPT from mail.sender.example[192.0.2.10]: 550 5.1.1 <nobody@demo.test>: Recipient address rejected: User unknown in local recipient table; from=<alice@sender.example> to=<nobody@demo.test> proto=ESMTP helo=<mail.sender.example>
Jan  1 00:00:01 mx1 postfix/lmtp[1004]: 4ABCD1234: to=<Bob@demo.test>, relay=127.0.0.1[127.0.0.1]:24, delay=1.2, delays=0.1/0/0.1/1, dsn=2.0.0, status=sent (250 2.0.0 <bob@demo.test> x Saved)
Jan  1 00:00:01 mx1 postfix/qmgr[1003]: 4ABCD1234: removed
Jan  1 00:00:02 mx1 postfix/smtpd[1001]: disconnect from mail.sender.example[192.0.2.10] ehlo=1 mail=1 rcpt=1/2 data=1 quit=1 commands=5/6
Jan  1 00:00:03 mx1 postfix/smtpd[1001]: connect from unknown[198.51.100.7]
Jan  1 00:00:03 mx1 postfix/smtpd[1001]: NOQUEUE: reject: RCPT from unknown[198.51.100.7]: 554 5.7.1 Service unavailable; Client host [198.51.100.7] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/198.51.100.7; from=<spam@bad.example> to=<bob@demo.test> proto=ESMTP helo=<dsl-1-2-3.example>
Jan  1 00:00:04 mx1 postfix/smtpd[1001]: 4ABCD1234: client=unknown[198.51.100.7]
Jan  1 00:00:04 mx1 postfix/qmgr[1003]: 4ABCD1234: from=<x@y.example>, size=99, nrcpt=1 (queue active)
Jan  1 00:00:05 mx1 postfix/smtp[1005]: 4ABCD1234: to=<carol@remote.example>, relay=mx.remote.example[203.0.113.5]:25, delay=1, delays=0/0/0.5/0.5, dsn=4.2.1, status=deferred (host mx.remote.example[203.0.113.5] said: 450 4.2.1 Mailbox busy (in reply to RCPT TO command))
Jan  1 00:10:05 mx1 postfix/qmgr[1003]: 4ABCD1234: from=<x@y.example>, size=99, nrcpt=1 (queue active)
Jan  1 00:10:05 mx1 postfix/smtp[1005]: 4ABCD1234: to=<carol@remote.example>, relay=mx.remote.example[203.0.113.5]:25, delay=601, delays=600/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as XYZ)
Jan  1 00:10:05 mx1 postfix/qmgr[1003]: 4ABCD1234: removed
Jan  1 00:10:06 mx1 postfix/smtp[1006]: 5BBBB: to=<x@nx.example>, relay=none, delay=0.1, delays=0/0/0.1/0, dsn=5.4.4, status=bounced (Host or domain name not found. Name service error for name=nx.example type=A: Host not found)
Jan  1 00:10:06 mx1 postfix/bounce[1007]: 5BBBB: sender non-delivery notification: 6CCCC
Jan  1 00:10:06 mx1 postfix/qmgr[1003]: 6CCCC: from=<>, size=2000, nrcpt=1 (queue active)
Jan  1 00:10:07 mx1 postfix/postscreen[900]: CONNECT from [203.0.113.9]:41000 to [192.0.2.1]:25
Jan  1 00:10:07 mx1 postfix/dnsblog[901]: addr 203.0.113.9 listed by domain zen.spamhaus.org as 127.0.0.2
Jan  1 00:10:08 mx1 postfix/postscreen[900]: PREGREET 11 after 0.2 from [203.0.113.9]:41000: EHLO x\\r\\n
Jan  1 00:10:08 mx1 postfix/postscreen[900]: DNSBL rank 3 for [203.0.113.9]:41000
Jan  1 00:10:09 mx1 postfix/postscreen[900]: NOQUEUE: reject: RCPT from [203.0.113.9]:41000: 550 5.7.1 Service unavailable; client [203.0.113.9] blocked using zen.spamhaus.org; from=<a@b.example>, to=<bob@demo.test>, proto=ESMTP, helo=<x>
Jan  1 00:10:09 mx1 postfix/postscreen[900]: DISCONNECT [203.0.113.9]:41000
Jan  1 00:10:10 mx1 postfix/postscreen[900]: PASS NEW [192.0.2.50]:5000
Jan  1 00:10:11 mx1 postfix/cleanup[1002]: 7DDDD: milter-reject: END-OF-MESSAGE from x.example[192.0.2.60]: 5.7.1 Virus found: Eicar-Test-Signature; from=<v@x.example> to=<bob@demo.test> proto=ESMTP helo=<x.example>`;

test('Postfix: one transaction per queue ID life, rejects classified as our checks, deferral then delivery', () => {
  const p = new PostfixParser();
  const y = new YearInference(new Date(2027, 0, 2).getTime());
  const { events, unknown } = feed(p, STORY, y);
  assert.deepEqual(unknown, []);
  const byKind = (k: string): LedgerEvent[] => events.filter((e) => e.kind === k);
  const connects = byKind('session.connect');
  assert.equal(connects.length, 3);
  assert.equal(connects[0]!.client_ptr, 'mail.sender.example');
  assert.equal(connects[1]!.client_ptr, null);
  assert.match(connects[0]!.session!, /^pf:mx1:1001:\d+$/);

  const queued = byKind('message.queued');
  // 4ABCD1234 twice (reused after "removed"), plus the bounce 6CCCC; the retry's second from= adds nothing.
  assert.equal(queued.length, 3);
  assert.notEqual(queued[0]!.ref, queued[1]!.ref, 'a reused queue ID is a new transaction');
  assert.equal(queued[0]!.message_id, 'm1@sender.example');
  assert.equal(queued[0]!.session, connects[0]!.session);
  assert.equal(queued[0]!.mail_from, 'alice@sender.example');
  assert.equal(queued[0]!.size, 1234);
  assert.equal((queued[2]!.details as { bounce_of?: string }).bounce_of, byKind('message.delivery_failed').find((e) => e.rcpt === 'x@nx.example')!.ref);

  const delivered = byKind('message.delivered');
  assert.equal(delivered[0]!.rcpt, 'bob@demo.test');
  assert.equal(delivered[0]!.ref, queued[0]!.ref);
  assert.equal(delivered[0]!.mail_from, 'alice@sender.example');
  assert.equal(delivered[0]!.message_id, 'm1@sender.example');
  assert.equal((delivered[0]!.details as { relay: string }).relay, '127.0.0.1[127.0.0.1]:24');
  const failed = byKind('message.delivery_failed');
  const deferred = failed.find((e) => e.rcpt === 'carol@remote.example')!;
  assert.equal(deferred.smtp_code, 450);
  assert.equal(deferred.enhanced_code, '4.2.1');
  assert.equal((deferred.details as { status: string }).status, 'deferred');
  assert.equal(delivered[1]!.ref, deferred.ref);
  assert.equal(delivered[1]!.ref, queued[1]!.ref);
  const bounced = failed.find((e) => e.rcpt === 'x@nx.example')!;
  assert.equal(bounced.smtp_code, 550);
  assert.equal(bounced.enhanced_code, '5.4.4');

  const rejected = byKind('rcpt.rejected');
  assert.deepEqual(rejected.map((e) => [e.check_name, e.smtp_code, e.enhanced_code, e.rcpt, e.mail_from]), [
    ['recipient', 550, '5.1.1', 'nobody@demo.test', 'alice@sender.example'],
    ['dnsbl', 554, '5.7.1', 'bob@demo.test', 'spam@bad.example'],
    ['dnsbl', 550, '5.7.1', 'bob@demo.test', 'a@b.example'],
  ]);
  assert.match(rejected[0]!.ref!, /^pf:mx1:NOQUEUE:\d+:0$/);
  assert.equal(rejected[1]!.helo, 'dsl-1-2-3.example');
  assert.equal(rejected[1]!.session, connects[1]!.session);
  assert.equal(rejected[2]!.session, connects[2]!.session, 'postscreen reject belongs to the postscreen session');
  const checks = byKind('check.result');
  const dnsblCheck = checks.find((e) => e.ref === rejected[1]!.ref)!;
  assert.equal(dnsblCheck.verdict, 'reject');
  assert.deepEqual((dnsblCheck.details as { stage: string; evidence: { zone: string; finding: string } }).evidence.zone, 'zen.spamhaus.org');
  assert.deepEqual(checks.filter((e) => !e.ref).map((e) => [e.check_name, e.verdict]), [['pregreet', 'reject'], ['dnsbl', 'flag'], ['postscreen', 'pass']]);
  const virus = byKind('data.rejected')[0]!;
  assert.equal(virus.check_name, 'virus');
  assert.equal(virus.smtp_code, 550);
  assert.equal(virus.rcpt, 'bob@demo.test');
  const closes = byKind('session.close');
  assert.equal((closes[0]!.details as { commands: Record<string, string> }).commands.rcpt, '1/2');
});

test('Postfix: the correlator state survives save/load (restart mid-message)', () => {
  const lines = STORY.split('\n');
  const a = new PostfixParser();
  const y = new YearInference(new Date(2027, 0, 2).getTime());
  const first = feed(a, lines.slice(0, 3).join('\n'), y);
  const b = new PostfixParser();
  b.load(JSON.parse(JSON.stringify(a.save())));
  const rest = feed(b, lines.slice(3, 8).join('\n'), y);
  const q = rest.events.find((e) => e.kind === 'message.queued')!;
  assert.equal(q.message_id, 'm1@sender.example');
  assert.equal(q.session, first.events[0]!.session);
  assert.equal(rest.events.find((e) => e.kind === 'message.delivered')!.ref, q.ref);
});

test('Postfix: rejection texts map to the gateway check names', () => {
  const cases: Array<[string, string]> = [
    ['450 4.1.8 <a@nx.example>: Sender address rejected: Domain not found', 'sender_domain'],
    ['554 5.7.1 <x@other.example>: Relay access denied', 'relay'],
    ['450 4.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.1]', 'client_identity'],
    ['504 5.5.2 <bad>: Helo command rejected: need fully-qualified hostname', 'helo'],
    ['552 5.3.4 Message size exceeds fixed limit', 'size'],
    ['550 5.7.23 <b@demo.test>: Recipient address rejected: Message rejected due to: SPF fail - not authorized', 'spf'],
    ['550 5.7.1 Rejected by DMARC policy for example.com', 'dmarc'],
    ['554 5.7.1 <unknown[192.0.2.1]>: Client host rejected: Access denied', 'postfix'],
  ];
  for (const [text, check] of cases) {
    const p = new PostfixParser();
    const { events } = feed(p, `Jan  1 00:00:01 mx1 postfix/smtpd[5]: NOQUEUE: reject: RCPT from unknown[192.0.2.1]: ${text}; from=<a@b.example> to=<c@demo.test> proto=ESMTP helo=<h>`);
    assert.equal(events.length, 2, text);
    assert.equal(events[0]!.check_name, check, text);
    assert.equal(events[1]!.check_name, check, text);
    assert.equal(events[0]!.verdict, text.startsWith('4') ? 'tempfail' : 'reject');
  }
});

test('Postfix: hostile values are bounded and cleaned; binary and garbage lines are unknown, never a crash', () => {
  const p = new PostfixParser();
  const longHelo = 'h'.repeat(5000);
  const { events, unknown } = feed(p, [
    `Jan  1 00:00:01 mx1 postfix/smtpd[5]: NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 550 5.1.1 <x\u0007y@demo.test>: Recipient address rejected: User unknown; from=<${'a'.repeat(3000)}@b> to=<x\u0007y@demo.test> proto=ESMTP helo=<${longHelo}>`,
    'Jan  1 00:00:02 mx1 postfix/smtpd[5]: \u0000\u0001\ufffd\ufffd binary',
    'Jan  1 00:00:03 mx1 postfix/qmgr[5]: ABC: from=<broken',
    'Jan  1 00:00:04 mx1 postfix/smtp[5]: ABC: to=<x>, garbage',
    'not a log line at all',
    '\u0000\u0000\u0000',
  ].join('\n'));
  assert.equal(events.length, 2);
  assert.ok(events[0]!.helo!.length <= 260);
  assert.ok(events[0]!.mail_from!.length <= 330);
  assert.doesNotMatch(events[0]!.rcpt!, /[\x00-\x1f]/);
  assert.equal(unknown.length, 5);
});

test('Dovecot 2.3: logins, logouts with counts, LMTP delivery, mail_log expunge/delete/copy', () => {
  const d = new DovecotParser();
  const { events, unknown } = feed(d, `Jan  1 00:00:01 mx1 dovecot: lmtp(bob@demo.test)<2001><AbCdEf>: msgid=<m1@sender.example>: saved mail to INBOX
Jan  1 00:05:00 mx1 dovecot: pop3-login: Login: user=<Bob@demo.test>, method=PLAIN, rip=192.0.2.99, lip=192.0.2.1, mpid=2002, session=<S1pop>
Jan  1 00:05:01 mx1 dovecot: pop3(bob@demo.test)<2002><S1pop>: expunge: box=INBOX, uid=1, msgid=<m1@sender.example>, size=1234
Jan  1 00:05:01 mx1 dovecot: pop3(bob@demo.test)<2002><S1pop>: Disconnected: Logged out top=0/0, retr=1/1234, del=1/1, size=1234
Jan  1 00:06:00 mx1 dovecot: imap-login: Login: user=<carol@demo.test>, method=PLAIN, rip=192.0.2.98, lip=192.0.2.1, mpid=2003, TLS, session=<S2imap>
Jan  1 00:06:01 mx1 dovecot: imap(carol@demo.test)<2003><S2imap>: copy from INBOX: box=Trash, uid=7, msgid=<m2@x>, size=10
Jan  1 00:06:01 mx1 dovecot: imap(carol@demo.test)<2003><S2imap>: delete: box=INBOX, uid=3, msgid=<m2@x>, size=10
Jan  1 00:06:01 mx1 dovecot: imap(carol@demo.test)<2003><S2imap>: expunge: box=INBOX, uid=3, msgid=<m2@x>, size=10
Jan  1 00:06:02 mx1 dovecot: imap(carol@demo.test)<2003><S2imap>: Disconnected: Logged out in=100 out=200 deleted=1 expunged=1 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0
Jan  1 00:07:00 mx1 dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<mallory@demo.test>, method=PLAIN, rip=203.0.113.1, lip=192.0.2.1, session=<S3>
Jan  1 00:07:01 pop3-login: Info: Aborted login (auth failed, 1 attempts in 2 secs): user=<eve@demo.test>, method=PLAIN, rip=203.0.113.2, lip=192.0.2.1, session=<S4>
Jan  1 00:07:02 mx1 dovecot: master: Dovecot v2.3.19.1 (9b53102964) starting up for imap, pop3, lmtp`);
  assert.deepEqual(unknown, []);
  assert.deepEqual(events.map((e) => [e.kind, e.rcpt, e.verdict ?? null]), [
    ['message.delivered', 'bob@demo.test', null],
    ['pop3.login', 'bob@demo.test', 'pass'],
    ['pop3.dele', 'bob@demo.test', null],
    // The logout's retr=1/1234: the mailbox was fetched.
    ['pop3.retr', 'bob@demo.test', null],
    ['pop3.logout', 'bob@demo.test', null],
    ['imap.login', 'carol@demo.test', 'pass'],
    ['mailbox.copy', 'carol@demo.test', null],
    ['imap.expunge', 'carol@demo.test', null],
    ['imap.logout', 'carol@demo.test', null],
    ['imap.login', 'mallory@demo.test', 'reject'],
    ['pop3.login', 'eve@demo.test', 'reject'],
  ]);
  assert.equal(events[0]!.message_id, 'm1@sender.example');
  assert.equal(events[0]!.source, 'dovecot');
  assert.deepEqual(events[0]!.details, { box: 'INBOX', service: 'lmtp' });
  assert.equal(events[1]!.session, 'dc:mx1:S1pop');
  assert.equal(events[1]!.client_ip, '192.0.2.99');
  assert.equal(events[2]!.client_ip, '192.0.2.99');
  assert.equal(events[2]!.message_id, 'm1@sender.example');
  assert.deepEqual(events[3]!.details, { messages: 1, bytes: 1234, from: 'logout counts' });
  assert.deepEqual((events[4]!.details as { counts: Record<string, string> }).counts, { top: '0/0', retr: '1/1234', del: '1/1', size: '1234' });
  assert.equal((events[6]!.details as { from_box: string; box: string }).box, 'Trash');
  assert.equal(events[10]!.node, 'node');
});
