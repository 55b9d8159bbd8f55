// Stamp formats (syslog, RFC 3339/5424, Dovecot's log_timestamp, multilog)
// and Dovecot's configurable line formats (login_log_format_elements,
// mail_log_prefix): the default and the common variants.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LedgerEvent } from '../ledger/types.js';
import { DovecotParser } from './dovecot.js';
import { parseSyslog, YearInference } from './syslog.js';

const years = (): YearInference => new YearInference(Date.UTC(2026, 5, 1), 2026);

test('stamps: classic with padded and unpadded day, fractions; RFC 3339; RFC 5424; Dovecot log_timestamp; multilog tai64n', () => {
  const padded = parseSyslog('Mar  7 02:09:33 mx1 postfix/smtpd[1]: connect from a[192.0.2.1]', years())!;
  const unpadded = parseSyslog('Mar 7 02:09:33 mx1 postfix/smtpd[1]: connect from a[192.0.2.1]', years())!;
  assert.equal(padded.ts, new Date(2026, 2, 7, 2, 9, 33).getTime());
  assert.equal(unpadded.ts, padded.ts);
  assert.equal(unpadded.host, 'mx1');
  assert.equal(parseSyslog('Mar 17 02:09:33.250 mx1 postfix/smtpd[1]: x', years())!.ts, new Date(2026, 2, 17, 2, 9, 33, 250).getTime());
  // Dovecot's default log_timestamp ("%b %d %H:%M:%S "), no host field.
  const dc = parseSyslog('Nov 27 10:24:28 imap-login: Info: Login: user=<a>', years())!;
  assert.equal(dc.host, null);
  assert.equal(dc.program, 'imap-login');
  // rsyslog's RFC 3339 template, with zone and microseconds.
  assert.equal(parseSyslog('2026-11-27T10:24:28.123456+01:00 mx1 postfix/qmgr[2]: x', years())!.ts, Date.UTC(2026, 10, 27, 9, 24, 28, 123));
  assert.equal(parseSyslog('2026-11-27T10:24:28Z mx1 postfix/qmgr[2]: x', years())!.ts, Date.UTC(2026, 10, 27, 10, 24, 28));
  // RFC 5424 section 6.
  const r5424 = parseSyslog('<22>1 2026-11-27T10:24:28.5Z mx1 postfix/smtpd 123 - - connect from a[192.0.2.1]', years())!;
  assert.deepEqual([r5424.ts, r5424.host, r5424.program, r5424.pid, r5424.msg], [Date.UTC(2026, 10, 27, 10, 24, 28, 500), 'mx1', 'postfix/smtpd', '123', 'connect from a[192.0.2.1]']);
  // Dovecot log_timestamp = "%Y-%m-%d %H:%M:%S " and "%Y-%m-%dT%H:%M:%S ": local time.
  const iso = parseSyslog('2013-08-11 03:56:40 auth-worker(default): Info: pam(u,192.0.2.4): unknown user', years())!;
  assert.equal(iso.ts, new Date(2013, 7, 11, 3, 56, 40).getTime());
  assert.deepEqual([iso.host, iso.program], [null, 'auth-worker(default)']);
  assert.equal(parseSyslog('2013-08-11T03:56:40 imap-login: Info: x', years())!.ts, iso.ts);
  // multilog: TAI64 label 2^62 + 10 + seconds, then nanoseconds (tai64nlocal's arithmetic).
  const ml = parseSyslog('@400000004c91b044077a9e94 imap-login: Info: Aborted login (auth failed, 1 attempts): user=<m>, method=CRAM-MD5, rip=192.0.2.9, lip=192.0.2.1, TLS', years())!;
  assert.equal(ml.ts, (0x4c91b044 - 10) * 1000 + 125);
  assert.deepEqual([ml.host, ml.program], [null, 'imap-login']);
  for (const bad of ['Mar 32 02:09:33 mx1 p: x', 'Mar 7 2:09:33 mx1 p: x', 'Mar  7 02:09 mx1 p: x', '@4000 x: y', '@500000004c91b044077a9e94 p: x', '2026-13-45T99:00:00 mx1 p: x']) {
    assert.equal(parseSyslog(bad, years()), null, bad);
  }
});

function feed(text: string): { events: LedgerEvent[]; unknown: string[] } {
  const p = new DovecotParser();
  const y = years();
  const events: LedgerEvent[] = [];
  const unknown: string[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const l = parseSyslog(line, y);
    if (!l || !p.handle(l, l.host ?? 'node', { emit: (e) => events.push(e) })) unknown.push(line);
  }
  return { events, unknown };
}

test('login_log_format_elements: 2.3 default (session), 2.0 default (no session, no mpid), no user, TLS cipher tail', () => {
  const { events, unknown } = feed(`Jun  1 10:00:00 mx1 dovecot: imap-login: Login: user=<a@x.test>, method=PLAIN, rip=192.0.2.1, lip=192.0.2.100, mpid=11, TLS, session=<AbCd1234>
Jun  1 10:00:01 mx1 dovecot: imap-login: Login: user=<b@x.test>, method=PLAIN, rip=192.0.2.2, lip=192.0.2.100, TLS
Jun  1 10:00:02 mx1 dovecot: pop3-login: Aborted login (tried to use disabled plaintext auth): rip=192.0.2.3, lip=192.0.2.100
Jun  1 10:00:03 mx1 dovecot: imap-login: Disconnected (auth failed, 1 attempts): method=PLAIN, rip=192.0.2.4, lip=192.0.2.100, TLS: Disconnected
Jun  1 10:00:04 mx1 dovecot: managesieve-login: Disconnected: Too many invalid commands. (auth failed, 1 attempts in 2 secs): user=<c>, method=PLAIN, rip=192.0.2.5, lip=0.0.0.0, TLS, TLSv1.3 with cipher TLS_CHACHA20_POLY1305_SHA256 (256/256 bits)
Jun  1 10:00:05 mx1 dovecot: imap-login: Disconnected (auth failed, 1 attempts in 9 secs): user=<d@x.test>, method=PLAIN, rip=192.0.2.6, lip=192.0.2.100, TLS: Disconnected, TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)
Jun  1 10:00:06 mx1 dovecot: imap-login: Login: user=<e@x.test>, method=PLAIN, rip=192.0.2.7, lip=192.0.2.100, mpid=12, session=<Ef56>`);
  assert.deepEqual(unknown, []);
  assert.deepEqual(events.map((e) => [e.kind, e.rcpt, e.client_ip, e.verdict, e.session]), [
    ['imap.login', 'a@x.test', '192.0.2.1', 'pass', 'dc:mx1:AbCd1234'],
    ['imap.login', 'b@x.test', '192.0.2.2', 'pass', null],
    ['pop3.login', null, '192.0.2.3', 'reject', null],
    ['imap.login', null, '192.0.2.4', 'reject', null],
    ['imap.login', 'd@x.test', '192.0.2.6', 'reject', null],
    ['imap.login', 'e@x.test', '192.0.2.7', 'pass', 'dc:mx1:Ef56'],
  ]);
});

test('login lines: a user name carrying other elements reads as typed, or the line is refused', () => {
  const { events, unknown } = feed(`Jun  1 10:00:00 mx1 dovecot: imap-login: Disconnected (auth failed, 1 attempts): user=<x>, rip=6.6.6.6, lip=7.7.7.7>, method=PLAIN, rip=192.0.2.1, lip=192.0.2.100, TLS
Jun  1 10:00:01 mx1 dovecot: imap-login: Disconnected (auth failed, 1 attempts): user=<x>, rip=6.6.6.6, session=<F>, method=PLAIN, rip=192.0.2.1, lip=192.0.2.100, session=<G>`);
  // Each has one reading: the user typed "x>, rip=6.6.6.6, lip=7.7.7.7", and
  // "x>, rip=6.6.6.6, session=<F" (the session is the last one, G).
  assert.deepEqual(unknown, []);
  assert.deepEqual(events.map((e) => [e.rcpt, e.client_ip, e.session]), [
    ['x>, rip=6.6.6.6, lip=7.7.7.7', '192.0.2.1', null],
    ['x>, rip=6.6.6.6, session=<f', '192.0.2.1', 'dc:mx1:G'],
  ]);
});

test('mail_log_prefix: 2.2 "%s(%u): ", 2.3 "<pid><session>", "<session>" alone, and "rip=%{rip} lip=%{lip} " after it', () => {
  const { events, unknown } = feed(`Jun  1 11:00:00 mx1 dovecot: imap(bob@x.test): expunge: box=INBOX, uid=1, msgid=<m1@x>, size=10
Jun  1 11:00:01 mx1 dovecot: imap(bob@x.test)<S9>: expunge: box=INBOX, uid=2, msgid=<m2@x>, size=10
Jun  1 11:00:02 mx1 dovecot: imap(bob@x.test)<123><S9>: rip=192.0.2.50 lip=192.0.2.100 expunge: box=INBOX, uid=3, msgid=<m3@x>, size=10
2026-06-01T11:00:03 imap(bob@x.test)<123><S9>: rip=192.0.2.50 lip=192.0.2.100 Info: expunge: box=INBOX, uid=4, msgid=<m4@x>, size=10
2026-06-01 11:00:04 pop3(carol@x.test)<124><T1>: rip=2001:db8::5 lip=2001:db8::1 Info: Disconnected: Logged out top=0/0, retr=2/2048, del=1/2, size=4096
Jun  1 11:00:05 mx1 dovecot: dovecot: imap(bob@x.test)<123><S9>: Info: copy from INBOX: box=Trash, uid=5, msgid=<m5@x>, size=10`);
  assert.deepEqual(unknown, []);
  assert.deepEqual(events.map((e) => [e.kind, e.rcpt, e.client_ip, e.session, e.message_id ?? null]), [
    ['imap.expunge', 'bob@x.test', null, null, 'm1@x'],
    ['imap.expunge', 'bob@x.test', null, 'dc:mx1:S9', 'm2@x'],
    ['imap.expunge', 'bob@x.test', '192.0.2.50', 'dc:mx1:S9', 'm3@x'],
    ['imap.expunge', 'bob@x.test', '192.0.2.50', 'dc:node:S9', 'm4@x'],
    ['pop3.retr', 'carol@x.test', '2001:db8::5', 'dc:node:T1', null],
    ['pop3.logout', 'carol@x.test', '2001:db8::5', 'dc:node:T1', null],
    ['mailbox.copy', 'bob@x.test', null, 'dc:mx1:S9', 'm5@x'],
  ]);
});
