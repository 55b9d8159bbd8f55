// The Dovecot parser against a log a real Dovecot 2.3.19 wrote (see
// test/fixtures/dovecot/README.md): LMTP deliveries, a POP3 fetch-and-delete,
// an IMAP expunge, listener probes. Every line must be understood.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { LedgerEvent } from '../ledger/types.js';
import { DovecotParser } from './dovecot.js';
import { parseSyslog, YearInference } from './syslog.js';

const SAMPLE = new URL('../../../test/fixtures/dovecot/sample.log', import.meta.url);

test('a real Dovecot 2.3 log: every line understood, one event per fact', () => {
  const parser = new DovecotParser();
  const years = new YearInference(Date.UTC(2026, 10, 27), 2026);
  const events: LedgerEvent[] = [];
  const unknown: string[] = [];
  for (const line of fs.readFileSync(SAMPLE, 'utf8').split('\n')) {
    if (!line) continue;
    const l = parseSyslog(line, years);
    if (!l || !parser.handle(l, 'imap1', { emit: (e) => events.push(e) })) unknown.push(line);
  }
  assert.deepEqual(unknown, []);
  assert.deepEqual(events.map((e) => [e.kind, e.rcpt, e.message_id ?? null]), [
    ['message.delivered', 'alice@lmtp.test', 'lmtp-1@example.org'],
    ['pop3.login', 'alice@lmtp.test', null],
    // POP3 DELE at QUIT is logged as mail_log "expunge".
    ['pop3.dele', 'alice@lmtp.test', 'lmtp-1@example.org'],
    // pop3_logout_format's retr=1/552: fetched (Dovecot logs no line per RETR).
    ['pop3.retr', 'alice@lmtp.test', null],
    ['pop3.logout', 'alice@lmtp.test', null],
    ['message.delivered', 'bob@lmtp.test', 'lmtp-2@example.org'],
    ['imap.login', 'bob@lmtp.test', null],
    // "delete" (the \Deleted flag) is no event; "expunge" is the removal.
    ['imap.expunge', 'bob@lmtp.test', 'lmtp-2@example.org'],
    ['imap.logout', 'bob@lmtp.test', null],
  ]);
  const dele = events[2]!;
  assert.equal(dele.client_ip, '127.0.0.1', 'the client address comes from the login line of the same session');
  assert.equal(dele.session, events[1]!.session);
  assert.equal(dele.ts, Date.parse('2026-11-27T11:23:26'), 'ISO stamps without zone are local time, like classic syslog');
});
