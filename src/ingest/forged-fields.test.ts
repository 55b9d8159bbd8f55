// Lines a client shaped so that a search for a field separator lands inside
// a value it chose: the ledger must show what Postfix and Dovecot logged, or
// refuse the line (counted as not understood, with a reason), never a
// reading that was not logged. The Postfix 3.7 lines are verbatim from a
// real Postfix 3.7.11 fed hostile MAIL FROM, RCPT TO and HELO commands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LedgerEvent } from '../ledger/types.js';
import type { StatefulParser } from './common.js';
import { DovecotParser } from './dovecot.js';
import { PostfixParser } from './postfix.js';
import { parseSyslog, YearInference } from './syslog.js';

function feed(parser: StatefulParser, text: string): { events: LedgerEvent[]; unknown: string[]; refused: string[] } {
  const years = new YearInference(Date.UTC(2026, 5, 1), 2026);
  const events: LedgerEvent[] = [];
  const unknown: string[] = [];
  const refused: string[] = [];
  for (const line of text.split('\n')) {
    const l = parseSyslog(line, years)!;
    assert.ok(l, line);
    if (!parser.handle(l, 'mx1', { emit: (e) => events.push(e) })) {
      unknown.push(line);
      const why = parser.takeRefusal?.();
      if (why) refused.push(why);
    }
  }
  return { events, unknown, refused };
}

test('a HELO carrying a second trailer does not turn a refusal into another customer\'s mail: the line is refused', () => {
  // The client's HELO is "x; from=<ceo@bank.test> to=<carl@b.test> proto=ESMTP helo=<y": searching
  // for the last "; from=<" read a rejection of ceo@bank.test to carl@b.test, unknown recipient.
  const line = 'Jan  1 00:00:01 mx1 postfix/smtpd[5]: NOQUEUE: reject: RCPT from unknown[198.51.100.7]: 550 5.1.1 <nobody@victim.test>: Recipient address rejected: User unknown in relay recipient table; from=<spam@evil.example> to=<nobody@victim.test> proto=ESMTP helo=<x; from=<ceo@bank.test> to=<carl@b.test> proto=ESMTP helo=<y>';
  const { events, unknown, refused } = feed(new PostfixParser(), line);
  assert.deepEqual(events.filter((e) => e.rcpt === 'carl@b.test' || e.mail_from === 'ceo@bank.test'), [], 'no forged event');
  // Both splits read (the real one, and one with the HELO's text as reply and fields): which one
  // Postfix wrote cannot be told from the line, so it is not guessed.
  assert.deepEqual(events, []);
  assert.deepEqual(unknown, [line]);
  assert.deepEqual(refused, ['ambiguous trailer']);
});

test('the same HELO filtered by Postfix 3.7 reads as logged', () => {
  const { events, unknown } = feed(new PostfixParser(), 'Dec 05 15:39:19 sender postfix/smtpd[11469]: NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 550 5.1.1 <b> proto=X@demo.test>: Recipient address rejected: User unknown in relay recipient table; from=<"a> to=<c"@x.test> to=<"b> proto=X"@demo.test> proto=ESMTP helo=<x??from=?ceo?bank.test??to=?carl?b.test??proto=ESMTP?helo=?y??z??w>');
  assert.deepEqual(unknown, []);
  const r = events.find((e) => e.kind === 'rcpt.rejected')!;
  assert.equal(r.mail_from, '"a> to=<c"@x.test');
  assert.equal(r.rcpt, '"b> proto=X"@demo.test');
  assert.equal(r.helo, 'x??from=?ceo?bank.test??to=?carl?b.test??proto=ESMTP?helo=?y??z??w');
  assert.equal(r.reply, '550 5.1.1 <b> proto=X@demo.test>: Recipient address rejected: User unknown in relay recipient table');
  assert.equal(r.check_name, 'recipient');
});

test('header_checks: the reply text after the fields cannot pass for the envelope', () => {
  // The header_checks reply here quotes "; from=<ceo@bank.test> to=<x>" (as a $1 substitution of
  // header text would): the last "; from=<" is inside the reply, after the real fields.
  const { events, unknown } = feed(new PostfixParser(), 'Dec 05 15:40:19 sender postfix/cleanup[12865]: 6366B20CA08: reject: header Subject: evil; from=<ceo@bank.test> from unknown[127.0.0.1]; from=<"a\\"b> to=<c\\\\"@x.test> to=<"p>, orig_to=<o"@demo.test> proto=ESMTP helo=<h>: 5.7.1 bad subject; from=<ceo@bank.test> to=<x>');
  assert.deepEqual(unknown, []);
  const r = events.find((e) => e.kind === 'data.rejected')!;
  assert.equal(r.mail_from, '"a\\"b> to=<c\\\\"@x.test');
  assert.equal(r.rcpt, '"p>, orig_to=<o"@demo.test');
  assert.equal(r.helo, 'h');
  assert.equal(r.client_ip, '127.0.0.1');
  assert.equal(r.reply, '5.7.1 bad subject; from=<ceo@bank.test> to=<x>');
});

test('a recipient carrying a delivery line of its own does not turn a deferral into "sent"', () => {
  const { events, unknown } = feed(new PostfixParser(), 'Dec 05 15:40:19 sender postfix/smtp[12866]: 6772920CA09: to=<"d>, relay=none, delay=1, delays=0/0/0/0, dsn=2.0.0, status=sent (ok)"@demo.test>, relay=none, delay=0.05, delays=0/0.05/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.71[127.0.0.71]:1: Connection refused)');
  assert.deepEqual(unknown, []);
  assert.equal(events.length, 1);
  const e = events[0]!;
  assert.equal(e.kind, 'message.delivery_failed');
  assert.equal(e.rcpt, '"d>, relay=none, delay=1, delays=0/0/0/0, dsn=2.0.0, status=sent (ok)"@demo.test');
  assert.equal(e.enhanced_code, '4.4.1');
  assert.equal(e.reply, 'connect to 127.0.0.71[127.0.0.71]:1: Connection refused');
  assert.equal((e.details as { status: string }).status, 'deferred');
});

test('qmgr: a sender carrying ", size=..., nrcpt=..." is the sender; the size is the one logged after it', () => {
  const { events } = feed(new PostfixParser(), 'Dec 05 15:40:19 sender postfix/qmgr[12861]: 6772920CA09: from=<"s>, size=1, nrcpt=9 (queue active)"@x.test>, size=407, nrcpt=1 (queue active)');
  assert.equal(events[0]!.mail_from, '"s>, size=1, nrcpt=9 (queue active)"@x.test');
  assert.equal(events[0]!.size, 407);
  assert.equal((events[0]!.details as { nrcpt: number }).nrcpt, 1);
});

test('Dovecot: a login name carrying ">, rip=..." is the name, not carl@b.test from another address', () => {
  const { events, unknown } = feed(new DovecotParser(), 'Jan  1 00:07:01 mx1 dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<carl@b.test>, rip=6.6.6.6>, method=PLAIN, rip=203.0.113.2, lip=192.0.2.1, session=<S4>');
  assert.deepEqual(unknown, []);
  assert.equal(events.length, 1);
  assert.equal(events[0]!.rcpt, 'carl@b.test>, rip=6.6.6.6');
  assert.equal(events[0]!.client_ip, '203.0.113.2');
  assert.equal(events[0]!.verdict, 'reject');
});

test('Dovecot: a Message-ID carrying ", msgid=<...>" or ": saved mail to" never becomes another message\'s ID', () => {
  const { events, unknown, refused } = feed(new DovecotParser(), [
    'Jan  1 00:06:01 mx1 dovecot: imap(carol@demo.test)<2003><S2imap>: expunge: box=INBOX, uid=3, msgid=<x>, size=1, msgid=<victim@other.test>, size=10',
    'Jan  1 00:06:02 mx1 dovecot: lmtp(carol@demo.test)<2004><S3>: msgid=<victim@other.test>: saved mail to Junk>: saved mail to INBOX',
    'Jan  1 00:06:03 mx1 dovecot: imap(carol@demo.test)<2003><S2imap>: expunge: box=INBOX, uid=4, msgid=<y>, size=1, msgid=<victim@other.test>, size=10, from=a',
  ].join('\n'));
  assert.deepEqual(events.filter((e) => e.message_id === 'victim@other.test'), []);
  // Each reads two ways (the Message-ID may end at either ", size="): not guessed.
  assert.deepEqual(refused, ['ambiguous mail_log line', 'ambiguous saved mail line', 'ambiguous mail_log line']);
  assert.equal(unknown.length, 3);
});
