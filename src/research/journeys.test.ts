import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testJournal, testStore } from '../../test/helpers/event-table.js';
import type { LedgerEvent } from '../ledger/types.js';
import { trace } from './journeys.js';
import { tempLedger } from '../../test/helpers/temp-ledger.js';

function ev(kind: LedgerEvent['kind'], o: Partial<LedgerEvent>): LedgerEvent {
  return { ts: Date.now(), node: 'n1', source: 'gateway', kind, session: 's1', client_ip: '192.0.2.21', ...o };
}

test('diagnosis: the refusing check first, then what other checks of the session found', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-journeys-'));
  const file = path.join(dir, 'ledger.sqlite');
  const w = await testJournal(file);
  await w.append([
    // Seed case: an in-house server on a dynamic DSL address, on a block list.
    ev('session.connect', { ref: 'SESSIONREF01' }),
    ev('check.result', { ref: 'TXREF0000001', mail_from: 'boss@customer.test', check_name: 'client_identity', verdict: 'flag', details: { stage: 'connect', evidence: { finding: 'dynamic_name' } } }),
    ev('check.result', { ref: 'TXREF0000001', mail_from: 'boss@customer.test', check_name: 'dnsbl', verdict: 'reject', smtp_code: 554, details: { stage: 'connect' } }),
    ev('mail.from', { ref: 'TXREF0000001', mail_from: 'boss@customer.test' }),
    ev('rcpt.rejected', { ref: 'TXREF0000001', mail_from: 'boss@customer.test', rcpt: 'info@local.test', check_name: 'dnsbl', verdict: 'reject', smtp_code: 554, reply: '554 5.7.1 listed' }),
    // The sender's provider put an IP address as MX.
    ev('check.result', { session: 's2', ref: 'TXREF0000002', mail_from: 'a@mxip.test', check_name: 'sender_domain', verdict: 'reject', smtp_code: 550, details: { stage: 'mail', evidence: { finding: 'mx_is_ip' } } }),
    ev('rcpt.rejected', { session: 's2', ref: 'TXREF0000002', mail_from: 'a@mxip.test', rcpt: 'info@local.test', check_name: 'sender_domain', verdict: 'reject', smtp_code: 550 }),
    // "I only sent a Word file".
    ev('rcpt.accepted', { session: 's3', ref: 'TXREF0000003', mail_from: 'b@word.test', rcpt: 'info@local.test' }),
    ev('check.result', { session: 's3', ref: 'TXREF0000003', mail_from: 'b@word.test', check_name: 'virus', verdict: 'reject', smtp_code: 554, details: { stage: 'data' } }),
    ev('data.rejected', { session: 's3', ref: 'TXREF0000003', mail_from: 'b@word.test', rcpt: 'info@local.test', check_name: 'virus', verdict: 'reject', smtp_code: 554 }),
    // Delivered despite a flag: only "delivered".
    ev('check.result', { session: 's4', ref: 'TXREF0000004', mail_from: 'c@ok.test', check_name: 'spf', verdict: 'flag', details: { stage: 'mail' } }),
    ev('message.delivered', { session: 's4', ref: 'TXREF0000004', mail_from: 'c@ok.test', rcpt: 'info@local.test', smtp_code: 250 }),
  ]);
  await w.close();
  const r = await testStore(file);
  const j = await trace(r, { rcpt: 'info@local.test', since: 0 });
  await r.close();
  const by = new Map(j.map((x) => [x.ref, x]));
  assert.deepEqual(by.get('TXREF0000001')?.diagnosis, ['sender_ip_blocklisted', 'sender_dynamic_ip']);
  assert.equal(by.get('TXREF0000001')?.outcome, 'rejected');
  assert.deepEqual(by.get('TXREF0000002')?.diagnosis, ['sender_mx_is_ip']);
  assert.deepEqual(by.get('TXREF0000003')?.diagnosis, ['virus']);
  assert.deepEqual(by.get('TXREF0000004')?.diagnosis, ['delivered_not_fetched', 'delivered']);
  fs.rmSync(dir, { recursive: true, force: true });
});

function ledger(events: LedgerEvent[]): ReturnType<typeof tempLedger> {
  return tempLedger(events, 'mp-journeys-');
}

const T0 = Date.parse('2026-11-20T10:00:00Z');

test('our POP3 server: RETR and DELE carry the delivery REF; an alias journey sees its mailbox fetched and deleted', async () => {
  const { reader, done } = await ledger([
    ev('rcpt.accepted', { ts: T0, ref: 'TXPOP0000001', mail_from: 'a@x.test', rcpt: 'postmaster@local.test' }),
    ev('message.delivered', { ts: T0 + 1, ref: 'TXPOP0000001', mail_from: 'a@x.test', rcpt: 'postmaster@local.test', message_id: 'm1@x.test', smtp_code: 250, details: { target: 'maildir', mailboxes: ['info@local.test'] } }),
    { ts: T0 + 60e3, node: 'n1', source: 'pop3', kind: 'pop3.login', session: 'p1', client_ip: '192.0.2.7', rcpt: 'info@local.test', verdict: 'pass' },
    { ts: T0 + 61e3, node: 'n1', source: 'pop3', kind: 'pop3.retr', session: 'p1', client_ip: '192.0.2.7', rcpt: 'info@local.test', ref: 'TXPOP0000001', message_id: 'm1@x.test' },
    { ts: T0 + 62e3, node: 'n1', source: 'pop3', kind: 'pop3.dele', session: 'p1', client_ip: '192.0.2.7', rcpt: 'info@local.test', ref: 'TXPOP0000001', message_id: 'm1@x.test' },
    { ts: T0 + 63e3, node: 'n1', source: 'pop3', kind: 'pop3.logout', session: 'p1', client_ip: '192.0.2.7', rcpt: 'info@local.test' },
    // Another mailbox's session must not leak in.
    { ts: T0 + 64e3, node: 'n1', source: 'pop3', kind: 'pop3.login', session: 'p2', client_ip: '192.0.2.8', rcpt: 'other@local.test', verdict: 'pass' },
  ]);
  const j = await trace(reader, { rcpt: 'postmaster@local.test', since: 0 });
  await done();
  assert.equal(j.length, 1);
  assert.equal(j[0]!.outcome, 'delivered');
  assert.deepEqual(j[0]!.diagnosis, ['fetched_and_deleted', 'delivered']);
  assert.deepEqual(j[0]!.access.map((a) => [a.kind, a.client_ip]), [['pop3.retr', '192.0.2.7'], ['pop3.dele', '192.0.2.7']]);
  assert.deepEqual(j[0]!.events.map((e) => e.kind), ['rcpt.accepted', 'message.delivered', 'pop3.login', 'pop3.retr', 'pop3.dele', 'pop3.logout']);
});

test('Dovecot behind our LMTP: its expunge joins by Message-ID and mailbox, the client IP comes from the login line', async () => {
  const dc = (kind: LedgerEvent['kind'], o: Partial<LedgerEvent>): LedgerEvent => ({ ts: T0, node: 'imap1', source: 'dovecot', kind, ...o });
  const { reader, done } = await ledger([
    ev('message.delivered', { ts: T0, ref: 'TXLMTP000001', mail_from: 'a@x.test', rcpt: 'info@local.test', message_id: 'm2@x.test', smtp_code: 250, details: { target: 'lmtp' } }),
    dc('message.delivered', { ts: T0 + 10, rcpt: 'info@local.test', message_id: 'm2@x.test', session: 'dc:imap1:L1' }),
    dc('imap.login', { ts: T0 + 5000, rcpt: 'info@local.test', client_ip: '198.51.100.9', session: 'dc:imap1:S1', verdict: 'pass' }),
    dc('imap.expunge', { ts: T0 + 6000, rcpt: 'info@local.test', message_id: 'm2@x.test', session: 'dc:imap1:S1' }),
    // The same Message-ID in someone else's mailbox is their business.
    dc('imap.expunge', { ts: T0 + 7000, rcpt: 'bob@local.test', message_id: 'm2@x.test', session: 'dc:imap1:S2' }),
  ]);
  const j = await trace(reader, { rcpt: 'info@local.test', since: 0 });
  await done();
  assert.equal(j.length, 1, JSON.stringify(j.map((x) => x.ref)));
  assert.equal(j[0]!.ref, 'TXLMTP000001');
  assert.equal(j[0]!.source, 'gateway');
  assert.deepEqual(j[0]!.diagnosis, ['fetched_and_deleted', 'delivered']);
  assert.deepEqual(j[0]!.access, [{ at: new Date(T0 + 6000).toISOString(), kind: 'imap.expunge', source: 'dovecot', client_ip: '198.51.100.9' }]);
});

test('a Dovecot log alone: the LMTP save is the journey; not fetched until a POP3 client deletes it', async () => {
  const dc = (kind: LedgerEvent['kind'], o: Partial<LedgerEvent>): LedgerEvent => ({ ts: T0, node: 'imap1', source: 'dovecot', kind, ...o });
  const { reader, done } = await ledger([
    dc('message.delivered', { ts: T0, rcpt: 'a@local.test', message_id: 'd1@x.test', session: 'dc:imap1:L1' }),
    dc('message.delivered', { ts: T0 + 1, rcpt: 'a@local.test', message_id: 'd2@x.test', session: 'dc:imap1:L2' }),
    dc('pop3.login', { ts: T0 + 5000, rcpt: 'a@local.test', client_ip: '203.0.113.5', session: 'dc:imap1:P1', verdict: 'pass' }),
    dc('pop3.dele', { ts: T0 + 6000, rcpt: 'a@local.test', message_id: 'd1@x.test', session: 'dc:imap1:P1' }),
  ]);
  const j = await trace(reader, { rcpt: 'a@local.test', since: 0 });
  await done();
  const by = new Map(j.map((x) => [x.message_id, x]));
  assert.equal(j.length, 2);
  assert.deepEqual(by.get('d1@x.test')?.diagnosis, ['fetched_and_deleted', 'delivered']);
  assert.equal(by.get('d1@x.test')?.access[0]?.client_ip, '203.0.113.5');
  // Covered: the Dovecot log shows a login to the mailbox after the delivery.
  assert.deepEqual(by.get('d2@x.test')?.diagnosis, ['delivered_not_fetched', 'delivered']);
});

test('ingested Postfix: a NOQUEUE reject names its cause; deferred then delivered; same codes as our own events', async () => {
  const pf = (kind: LedgerEvent['kind'], o: Partial<LedgerEvent>): LedgerEvent => ({ ts: T0, node: 'mx1', source: 'postfix', kind, ...o });
  const { reader, done } = await ledger([
    pf('session.connect', { session: 'pf:mx1:100:1', client_ip: '192.0.2.50' }),
    pf('check.result', { session: 'pf:mx1:100:1', ref: 'pf:mx1:NOQUEUE:1:1', rcpt: 'c@local.test', check_name: 'dnsbl', verdict: 'reject', details: { stage: 'rcpt', evidence: { finding: 'listed', zone: 'zen.example' } } }),
    pf('rcpt.rejected', { session: 'pf:mx1:100:1', ref: 'pf:mx1:NOQUEUE:1:1', client_ip: '192.0.2.50', mail_from: 'x@dsl.test', rcpt: 'c@local.test', smtp_code: 554, enhanced_code: '5.7.1', reply: '554 5.7.1 Service unavailable; Client host [192.0.2.50] blocked using zen.example' }),
    pf('message.queued', { ts: T0 + 10, session: 'pf:mx1:101:1', ref: 'pf:mx1:ABC123:x', client_ip: '192.0.2.60' }),
    pf('mail.from', { ts: T0 + 11, ref: 'pf:mx1:ABC123:x', mail_from: 'y@ok.test', size: 500, message_id: '<p1@ok.test>' }),
    pf('message.delivery_failed', { ts: T0 + 12, ref: 'pf:mx1:ABC123:x', mail_from: 'y@ok.test', rcpt: 'c@local.test', message_id: '<p1@ok.test>', smtp_code: 451, enhanced_code: '4.3.0', details: { status: 'deferred', service: 'lmtp' } }),
    pf('message.delivered', { ts: T0 + 600e3, ref: 'pf:mx1:ABC123:x', mail_from: 'y@ok.test', rcpt: 'c@local.test', message_id: '<p1@ok.test>', details: { status: 'sent', service: 'lmtp' } }),
    pf('message.delivery_failed', { ts: T0 + 700e3, ref: 'pf:mx1:DEF456:y', mail_from: 'z@ok.test', rcpt: 'c@local.test', smtp_code: 552, enhanced_code: '5.2.2', reply: '552 5.2.2 Mailbox full', details: { status: 'bounced', service: 'lmtp' } }),
  ]);
  const j = await trace(reader, { rcpt: 'c@local.test', since: 0 });
  await done();
  const by = new Map(j.map((x) => [x.ref, x]));
  assert.equal(by.get('pf:mx1:NOQUEUE:1:1')?.outcome, 'rejected');
  assert.deepEqual(by.get('pf:mx1:NOQUEUE:1:1')?.diagnosis, ['sender_ip_blocklisted']);
  assert.equal(by.get('pf:mx1:NOQUEUE:1:1')?.client_ip, '192.0.2.50');
  // Delivered over LMTP to a mailbox whose access log is not here.
  assert.deepEqual(by.get('pf:mx1:ABC123:x')?.diagnosis, ['delivered', 'access_not_recorded', 'tempfail_retried']);
  assert.equal(by.get('pf:mx1:ABC123:x')?.mail_from, 'y@ok.test');
  assert.deepEqual(by.get('pf:mx1:DEF456:y')?.diagnosis, ['mailbox_full']);
});

test('a 4xx followed by a retry is tempfail_retried; one never retried is tempfail_not_retried after the grace time', async () => {
  const { reader, done } = await ledger([
    ev('rcpt.rejected', { ts: T0, session: 'g1', ref: 'TXGREY000001', mail_from: 'a@x.test', rcpt: 'd@local.test', smtp_code: 451, check_name: 'greylist', verdict: 'tempfail' }),
    ev('message.delivered', { ts: T0 + 900e3, session: 'g2', ref: 'TXGREY000002', mail_from: 'a@x.test', rcpt: 'd@local.test', smtp_code: 250, details: { target: 'maildir' } }),
    ev('rcpt.rejected', { ts: T0 + 1000e3, session: 'g3', ref: 'TXGREY000003', mail_from: 'b@y.test', rcpt: 'd@local.test', smtp_code: 451, check_name: 'greylist', verdict: 'tempfail' }),
    ev('rcpt.rejected', { ts: T0 + 5000e3, session: 'g4', ref: 'TXGREY000004', mail_from: 'c@z.test', rcpt: 'd@local.test', smtp_code: 451, check_name: 'greylist', verdict: 'tempfail' }),
  ]);
  const j = await trace(reader, { rcpt: 'd@local.test', since: 0, now: T0 + 8300e3 });
  await done();
  const by = new Map(j.map((x) => [x.ref, x.diagnosis]));
  assert.deepEqual(by.get('TXGREY000001'), ['tempfail_retried']);
  assert.deepEqual(by.get('TXGREY000002'), ['delivered_not_fetched', 'delivered']);
  // More than two hours ago and nothing since (the later 4xx is another sender's).
  assert.deepEqual(by.get('TXGREY000003'), ['tempfail_not_retried']);
  // Under an hour ago: the sender's queue may still retry; that is said, not nothing.
  assert.deepEqual(by.get('TXGREY000004'), ['tempfail_pending']);
  assert.equal(j.find((x) => x.ref === 'TXGREY000004')?.retry_by, new Date(T0 + 5000e3 + 7200e3).toISOString());
});

test('the attachment check: a macro or a program is the virus finding; a MIME limit is not', async () => {
  const refused = (ref: string, rule: string, code: number): LedgerEvent[] => [
    ev('rcpt.accepted', { session: ref, ref, mail_from: `${ref}@sender.test`, rcpt: 'info@local.test' }),
    ev('check.result', { session: ref, ref, mail_from: `${ref}@sender.test`, check_name: 'attachments', verdict: 'reject', smtp_code: code, details: { stage: 'data', evidence: { rule } } }),
    ev('data.rejected', { session: ref, ref, mail_from: `${ref}@sender.test`, rcpt: 'info@local.test', check_name: 'attachments', verdict: 'reject', smtp_code: code }),
  ];
  const { reader, done } = await ledger([
    ...refused('MACRO0000001', 'macro', 554),
    ...refused('PROGRAM00001', 'content', 554),
    ...refused('DOUBLEEXT001', 'double_extension', 554),
    ...refused('MIMEBOMB0001', 'mime_limit', 552),
  ]);
  const by = new Map((await trace(reader, { rcpt: 'info@local.test', since: 0 })).map((x) => [x.ref, x.diagnosis]));
  await done();
  assert.deepEqual(by.get('MACRO0000001'), ['virus']);
  assert.deepEqual(by.get('PROGRAM00001'), ['virus']);
  assert.deepEqual(by.get('DOUBLEEXT001'), ['virus']);
  assert.deepEqual(by.get('MIMEBOMB0001'), []);
});

test('limit: the newest N transactions, truncated set; mailbox access costs no slot; a tempfail keeps its retry', async () => {
  const t0 = Date.parse('2026-11-20T08:00:00Z');
  const events: LedgerEvent[] = [];
  for (let i = 0; i < 6; i++) {
    const ts = t0 + i * 3600e3;
    const ref = `LIMITREF000${i}`;
    const mid = `m${i}@sender.test`;
    events.push(ev('rcpt.accepted', { ts, session: `s${i}`, ref, mail_from: 'a@sender.test', rcpt: 'box@local.test' }));
    if (i === 3) {
      events.push(ev('data.rejected', { ts: ts + 1, session: `s${i}`, ref, mail_from: 'a@sender.test', rcpt: 'box@local.test', smtp_code: 451, message_id: 'm4@sender.test' }));
      continue;
    }
    events.push(ev('message.delivered', { ts: ts + 1, session: `s${i}`, ref, mail_from: 'a@sender.test', rcpt: 'box@local.test', smtp_code: 250, message_id: mid }));
    // The customer's PC fetches each message: POP3 events without a REF.
    events.push({ ts: ts + 60e3, node: 'n1', source: 'pop3', kind: 'pop3.retr', session: `p${i}`, rcpt: 'box@local.test', message_id: mid, client_ip: '198.51.100.9' });
  }
  const { reader, done } = await ledger(events);
  try {
    const all = await trace(reader, { rcpt: 'box@local.test', since: 0, now: t0 + 10 * 3600e3 });
    assert.equal(all.length, 6);
    assert.notEqual(all.truncated, true);
    const three = await trace(reader, { rcpt: 'box@local.test', since: 0, now: t0 + 10 * 3600e3, limit: 3 });
    assert.deepEqual(three.map((j) => j.ref), ['LIMITREF0003', 'LIMITREF0004', 'LIMITREF0005']);
    assert.equal(three.truncated, true);
    // POP3 fetches still join their deliveries inside the limit.
    assert.deepEqual(three.slice(1).map((j) => j.access.map((a) => a.client_ip)), [['198.51.100.9'], ['198.51.100.9']]);
    // The 4xx at 11:00 has its retry (12:00) inside the kept window.
    assert.ok(three[0]!.diagnosis.includes('tempfail_retried'), JSON.stringify(three[0]!.diagnosis));
    const exact = await trace(reader, { rcpt: 'box@local.test', since: 0, now: t0 + 10 * 3600e3, limit: 6 });
    assert.equal(exact.length, 6);
    assert.equal(exact.truncated, false);
  } finally {
    await done();
  }
});

test('a retry is the same message: another Message-ID, another server network or another size is another message', async () => {
  const H = 3600e3;
  const { reader, done } = await ledger([
    // The shop's order: 451 at the end of DATA (Message-ID known); its Postfix gave up.
    ev('mail.from', { ts: T0, session: 'o1', ref: 'TXORDER00001', client_ip: '192.0.2.10', mail_from: 'shop@shop.test', size: 4000 }),
    ev('data.rejected', { ts: T0 + 1, session: 'o1', ref: 'TXORDER00001', client_ip: '192.0.2.10', mail_from: 'shop@shop.test', rcpt: 'kunde@local.test', message_id: 'order-1@shop.test', smtp_code: 451 }),
    // Three hours later another order from another server of the shop: delivered.
    ev('message.delivered', { ts: T0 + 3 * H, session: 'o2', ref: 'TXORDER00002', client_ip: '198.51.100.20', mail_from: 'shop@shop.test', rcpt: 'kunde@local.test', message_id: 'order-2@shop.test', smtp_code: 250, details: { target: 'maildir' } }),
    // A 4xx at RCPT (no Message-ID yet), then a message from another network within the window: not its retry.
    ev('mail.from', { ts: T0 + 10 * H, session: 'r1', ref: 'TXRCPT000001', client_ip: '192.0.2.10', mail_from: 'news@shop.test', size: 5000 }),
    ev('rcpt.rejected', { ts: T0 + 10 * H + 1, session: 'r1', ref: 'TXRCPT000001', client_ip: '192.0.2.10', mail_from: 'news@shop.test', rcpt: 'kunde@local.test', smtp_code: 451, check_name: 'greylist', verdict: 'tempfail' }),
    ev('mail.from', { ts: T0 + 10 * H + 600e3, session: 'r2', ref: 'TXRCPT000002', client_ip: '203.0.113.9', mail_from: 'news@shop.test', size: 5000 }),
    ev('message.delivered', { ts: T0 + 10 * H + 600e3 + 1, session: 'r2', ref: 'TXRCPT000002', client_ip: '203.0.113.9', mail_from: 'news@shop.test', rcpt: 'kunde@local.test', smtp_code: 250, details: { target: 'maildir' } }),
    // The same server network, but another size: another message.
    ev('mail.from', { ts: T0 + 20 * H, session: 's1', ref: 'TXSIZE000001', client_ip: '192.0.2.10', mail_from: 'bill@shop.test', size: 7000 }),
    ev('rcpt.rejected', { ts: T0 + 20 * H + 1, session: 's1', ref: 'TXSIZE000001', client_ip: '192.0.2.10', mail_from: 'bill@shop.test', rcpt: 'kunde@local.test', smtp_code: 451, check_name: 'greylist', verdict: 'tempfail' }),
    ev('mail.from', { ts: T0 + 20 * H + 600e3, session: 's2', ref: 'TXSIZE000002', client_ip: '192.0.2.10', mail_from: 'bill@shop.test', size: 9100 }),
    ev('message.delivered', { ts: T0 + 20 * H + 600e3 + 1, session: 's2', ref: 'TXSIZE000002', client_ip: '192.0.2.10', mail_from: 'bill@shop.test', rcpt: 'kunde@local.test', smtp_code: 250, details: { target: 'maildir' } }),
    // True retries: the same size from another address of the same /24 within the window,
    ev('mail.from', { ts: T0 + 30 * H, session: 't1', ref: 'TXTRUE000001', client_ip: '192.0.2.10', mail_from: 'info@shop.test', size: 3000 }),
    ev('rcpt.rejected', { ts: T0 + 30 * H + 1, session: 't1', ref: 'TXTRUE000001', client_ip: '192.0.2.10', mail_from: 'info@shop.test', rcpt: 'kunde@local.test', smtp_code: 451, check_name: 'greylist', verdict: 'tempfail' }),
    ev('mail.from', { ts: T0 + 30 * H + 900e3, session: 't2', ref: 'TXTRUE000002', client_ip: '192.0.2.11', mail_from: 'info@shop.test', size: 3000 }),
    ev('message.delivered', { ts: T0 + 30 * H + 900e3 + 1, session: 't2', ref: 'TXTRUE000002', client_ip: '192.0.2.11', mail_from: 'info@shop.test', rcpt: 'kunde@local.test', smtp_code: 250, details: { target: 'maildir' } }),
    // and the same Message-ID, even from elsewhere and late.
    ev('data.rejected', { ts: T0 + 40 * H, session: 'm1', ref: 'TXMID0000001', client_ip: '192.0.2.10', mail_from: 'shop@shop.test', rcpt: 'kunde@local.test', message_id: 'order-3@shop.test', smtp_code: 451 }),
    ev('message.delivered', { ts: T0 + 45 * H, session: 'm2', ref: 'TXMID0000002', client_ip: '198.51.100.20', mail_from: 'shop@shop.test', rcpt: 'kunde@local.test', message_id: 'order-3@shop.test', smtp_code: 250, details: { target: 'maildir' } }),
  ]);
  const j = await trace(reader, { rcpt: 'kunde@local.test', since: 0, now: T0 + 50 * H });
  await done();
  const by = new Map(j.map((x) => [x.ref, x.diagnosis]));
  assert.deepEqual(by.get('TXORDER00001'), ['tempfail_not_retried']);
  assert.deepEqual(by.get('TXRCPT000001'), ['tempfail_not_retried']);
  assert.deepEqual(by.get('TXSIZE000001'), ['tempfail_not_retried']);
  assert.deepEqual(by.get('TXTRUE000001'), ['tempfail_retried']);
  assert.deepEqual(by.get('TXMID0000001'), ['tempfail_retried']);
});

test('the retry window is an option: a short one makes an old 4xx not retried, and a pending 4xx says until when', async () => {
  const { reader, done } = await ledger([
    ev('mail.from', { ts: T0, session: 'w1', ref: 'TXWIN0000001', mail_from: 'a@x.test', size: 100 }),
    ev('rcpt.rejected', { ts: T0 + 1, session: 'w1', ref: 'TXWIN0000001', mail_from: 'a@x.test', rcpt: 'd@local.test', smtp_code: 451, check_name: 'greylist', verdict: 'tempfail' }),
    ev('mail.from', { ts: T0 + 30e3, session: 'w2', ref: 'TXWIN0000002', mail_from: 'a@x.test', size: 100 }),
    ev('message.delivered', { ts: T0 + 30e3 + 1, session: 'w2', ref: 'TXWIN0000002', mail_from: 'a@x.test', rcpt: 'd@local.test', smtp_code: 250, details: { target: 'maildir' } }),
  ]);
  const short = await trace(reader, { rcpt: 'd@local.test', since: 0, now: T0 + 60e3, retryWindowMs: 10e3 });
  const pending = await trace(reader, { rcpt: 'd@local.test', since: 0, until: T0 + 20e3, now: T0 + 20e3, retryWindowMs: 60e3 });
  const long = await trace(reader, { rcpt: 'd@local.test', since: 0, now: T0 + 60e3, retryWindowMs: 60e3 });
  await done();
  assert.deepEqual(short.find((x) => x.ref === 'TXWIN0000001')?.diagnosis, ['tempfail_not_retried']);
  assert.deepEqual(pending.find((x) => x.ref === 'TXWIN0000001')?.diagnosis, ['tempfail_pending']);
  assert.equal(pending.find((x) => x.ref === 'TXWIN0000001')?.retry_by, new Date(T0 + 60e3).toISOString());
  assert.deepEqual(long.find((x) => x.ref === 'TXWIN0000001')?.diagnosis, ['tempfail_retried']);
});

test('access coverage: "not fetched" only where research sees the mailbox access; elsewhere access_not_recorded', async () => {
  const dc = (kind: LedgerEvent['kind'], o: Partial<LedgerEvent>): LedgerEvent => ({ ts: T0, node: 'imap1', source: 'dovecot', kind, ...o });
  const { reader, done } = await ledger([
    // LMTP to Dovecot, no Dovecot log ingested (or one this research does not understand).
    ev('message.delivered', { ts: T0, session: 'c1', ref: 'TXCOVLMTP001', mail_from: 'a@x.test', rcpt: 'lmtp@local.test', message_id: 'c1@x.test', smtp_code: 250, details: { target: 'lmtp' } }),
    // LMTP, and Dovecot's log shows a login before the delivery only: access after it is not known.
    dc('imap.login', { ts: T0 - 3600e3, rcpt: 'old@local.test', client_ip: '198.51.100.1', session: 'dc:imap1:O1', verdict: 'pass' }),
    ev('message.delivered', { ts: T0, session: 'c2', ref: 'TXCOVLMTP002', mail_from: 'a@x.test', rcpt: 'old@local.test', message_id: 'c2@x.test', smtp_code: 250, details: { target: 'lmtp' } }),
    // LMTP, and a POP3 login to the mailbox after the delivery is in the ingested log: covered.
    ev('message.delivered', { ts: T0, session: 'c3', ref: 'TXCOVLMTP003', mail_from: 'a@x.test', rcpt: 'seen@local.test', message_id: 'c3@x.test', smtp_code: 250, details: { target: 'lmtp' } }),
    dc('pop3.login', { ts: T0 + 600e3, rcpt: 'seen@local.test', client_ip: '198.51.100.2', session: 'dc:imap1:P1', verdict: 'pass' }),
    // Our own Maildir: our POP3 server is the way in.
    ev('message.delivered', { ts: T0, session: 'c4', ref: 'TXCOVMDIR004', mail_from: 'a@x.test', rcpt: 'mdir@local.test', message_id: 'c4@x.test', smtp_code: 250, details: { target: 'maildir' } }),
    // LMTP, and only an IMAP login after the delivery: IMAP reading is not logged, so still not recorded.
    ev('message.delivered', { ts: T0, session: 'c6', ref: 'TXCOVIMAP006', mail_from: 'a@x.test', rcpt: 'imap@local.test', message_id: 'c6@x.test', smtp_code: 250, details: { target: 'lmtp' } }),
    dc('imap.login', { ts: T0 + 600e3, rcpt: 'imap@local.test', client_ip: '198.51.100.3', session: 'dc:imap1:I1', verdict: 'pass' }),
    // Handed to another MTA: neither claim.
    ev('message.delivered', { ts: T0, session: 'c5', ref: 'TXCOVSMTP005', mail_from: 'a@x.test', rcpt: 'relay@local.test', message_id: 'c5@x.test', smtp_code: 250, details: { target: 'smtp' } }),
  ]);
  const all = await trace(reader, { domain: 'local.test', since: 0, now: T0 + 3600e3 });
  const noPop3 = await trace(reader, { rcpt: 'mdir@local.test', since: 0, now: T0 + 3600e3, ownPop3: false });
  await done();
  const by = new Map(all.map((x) => [x.ref, x.diagnosis]));
  assert.deepEqual(by.get('TXCOVLMTP001'), ['delivered', 'access_not_recorded']);
  assert.deepEqual(by.get('TXCOVLMTP002'), ['delivered', 'access_not_recorded']);
  assert.deepEqual(by.get('TXCOVLMTP003'), ['delivered_not_fetched', 'delivered']);
  assert.deepEqual(by.get('TXCOVMDIR004'), ['delivered_not_fetched', 'delivered']);
  assert.deepEqual(by.get('TXCOVSMTP005'), ['delivered']);
  assert.deepEqual(by.get('TXCOVIMAP006'), ['delivered', 'access_not_recorded']);
  assert.deepEqual(noPop3[0]?.diagnosis, ['delivered', 'access_not_recorded']);
});
