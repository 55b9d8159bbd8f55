import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LedgerEvent } from '../ledger/types.js';
import { addDays, causeTitle, dayIn, overviewOf, startOfDay, totalOf } from './overview.js';
import { search } from './search.js';
import { tempLedger } from '../../test/helpers/temp-ledger.js';

// The overview over a seeded ledger: the counts must be what research's own
// search lists, per day (in a time zone), outcome, domain and cause.

const NOW = Date.parse('2026-12-05T12:00:00Z');
const DAY = 86400e3;
let seq = 0;

type Kind = 'delivered' | 'unknown' | 'virus' | 'greylist' | 'incomplete' | 'helo';

/** The events of one transaction as the gateway writes them. */
function journey(kind: Kind, o: { ts: number; rcpt: string; from?: string; ip?: string }): LedgerEvent[] {
  const n = ++seq;
  const ref = `OV${String(n).padStart(10, '0')}`;
  const base = { node: 'n1', source: 'gateway' as const, session: `S${n}`, ref, client_ip: o.ip ?? '192.0.2.1', mail_from: o.from ?? 'x@sender.test' };
  const at = (dt: number, kind: LedgerEvent['kind'], e: Partial<LedgerEvent> = {}): LedgerEvent => ({ ts: o.ts + dt, kind, ...base, ...e });
  const start = [at(0, 'mail.from')];
  switch (kind) {
    case 'delivered':
      return [...start, at(1, 'rcpt.accepted', { rcpt: o.rcpt }), at(2, 'message.delivered', { rcpt: o.rcpt, smtp_code: 250, reply: '250 2.0.0 ok', details: { target: 'maildir' } })];
    case 'unknown':
      return [...start,
        at(1, 'check.result', { rcpt: o.rcpt, check_name: 'recipient', verdict: 'reject', smtp_code: 550, details: { stage: 'rcpt' } }),
        at(2, 'rcpt.rejected', { rcpt: o.rcpt, check_name: 'recipient', verdict: 'reject', smtp_code: 550, reply: '550 5.1.1 No such mailbox' })];
    case 'virus':
      return [...start, at(1, 'rcpt.accepted', { rcpt: o.rcpt }),
        at(2, 'check.result', { check_name: 'attachments', verdict: 'reject', smtp_code: 550, details: { stage: 'data', evidence: { rule: 'extension', filename: 'a.exe' } } }),
        at(3, 'data.rejected', { rcpt: o.rcpt, check_name: 'attachments', verdict: 'reject', smtp_code: 550, reply: '550 5.7.1 program' })];
    case 'greylist':
      return [...start,
        at(1, 'check.result', { rcpt: o.rcpt, check_name: 'greylist', verdict: 'tempfail', smtp_code: 451, details: { stage: 'rcpt', evidence: { finding: 'greylisted' } } }),
        at(2, 'rcpt.rejected', { rcpt: o.rcpt, check_name: 'greylist', verdict: 'tempfail', smtp_code: 451, reply: '451 4.7.1 later' })];
    case 'helo':
      return [...start, at(1, 'rcpt.rejected', { rcpt: o.rcpt, check_name: 'helo', verdict: 'reject', smtp_code: 550, reply: '550 5.7.1 bad HELO' })];
    case 'incomplete':
      return [...start, at(1, 'rcpt.accepted', { rcpt: o.rcpt })];
  }
}

test('days in a time zone: local midnights, also across a DST change', () => {
  assert.equal(new Date(startOfDay('2026-12-05', 'UTC')).toISOString(), '2026-12-05T00:00:00.000Z');
  assert.equal(new Date(startOfDay('2026-12-05', 'Europe/Berlin')).toISOString(), '2026-12-04T23:00:00.000Z');
  assert.equal(new Date(startOfDay('2026-07-01', 'Europe/Berlin')).toISOString(), '2026-06-30T22:00:00.000Z');
  // The day of the change to summer time (2026-03-29) begins at 00:00 CET, the next at 00:00 CEST.
  assert.equal(new Date(startOfDay('2026-03-29', 'Europe/Berlin')).toISOString(), '2026-03-28T23:00:00.000Z');
  assert.equal(new Date(startOfDay('2026-03-30', 'Europe/Berlin')).toISOString(), '2026-03-29T22:00:00.000Z');
  assert.equal(new Date(startOfDay('2026-12-05', 'America/New_York')).toISOString(), '2026-12-05T05:00:00.000Z');
  assert.equal(dayIn(Date.parse('2026-12-04T23:30:00Z'), 'UTC'), '2026-12-04');
  assert.equal(dayIn(Date.parse('2026-12-04T23:30:00Z'), 'Europe/Berlin'), '2026-12-05');
  assert.equal(addDays('2026-03-01', -1), '2026-02-28');
  assert.equal(addDays('2026-12-31', 1), '2027-01-01');
});

test('overview: per day, outcome, domain and cause, as the search lists them; the busiest refused senders with their cause', async () => {
  const events = [
    // a.test: today two delivered, one unknown recipient from a bot; yesterday a virus and a greylisted one.
    ...journey('delivered', { ts: NOW - 3600e3, rcpt: 'alice@a.test' }),
    ...journey('delivered', { ts: NOW - 7200e3, rcpt: 'alice@a.test' }),
    ...journey('unknown', { ts: NOW - 600e3, rcpt: 'nobody@a.test', ip: '203.0.113.9', from: 'bot@spam.test' }),
    ...journey('virus', { ts: NOW - DAY, rcpt: 'alice@a.test', ip: '203.0.113.9', from: 'bot@spam.test' }),
    ...journey('greylist', { ts: NOW - DAY - 60e3, rcpt: 'alice@a.test', ip: '198.51.100.7', from: 'news@list.test' }),
    // b.test: three unknown recipients from the bot, one HELO refusal, one unfinished; one delivered 3 days ago.
    ...journey('unknown', { ts: NOW - 500e3, rcpt: 'x1@b.test', ip: '203.0.113.9', from: 'bot@spam.test' }),
    ...journey('unknown', { ts: NOW - 400e3, rcpt: 'x2@b.test', ip: '203.0.113.9', from: 'other@spam.test' }),
    ...journey('unknown', { ts: NOW - 300e3, rcpt: 'x3@b.test', ip: '203.0.113.9', from: 'bot@evil.test' }),
    ...journey('helo', { ts: NOW - 200e3, rcpt: 'bob@b.test', ip: '198.51.100.7', from: '' }),
    ...journey('incomplete', { ts: NOW - 100e3, rcpt: 'bob@b.test' }),
    ...journey('delivered', { ts: NOW - 3 * DAY, rcpt: 'bob@b.test' }),
    // Outside the window (8 days ago) and another customer's domain.
    ...journey('delivered', { ts: NOW - 8 * DAY, rcpt: 'alice@a.test' }),
    ...journey('virus', { ts: NOW - 600e3, rcpt: 'carol@c.test', ip: '203.0.113.9' }),
  ];
  const { reader, done } = await tempLedger(events, 'mp-overview-');
  try {
    const o = await overviewOf(reader, { scope: null, domains: ['a.test', 'b.test'], days: 7, now: NOW, lang: 'en' });
    assert.deepEqual(o.days.map((d) => d.day), ['2026-11-29', '2026-11-30', '2026-12-01', '2026-12-02', '2026-12-03', '2026-12-04', '2026-12-05']);
    assert.equal(o.basis.since, '2026-11-29T00:00:00.000Z');
    assert.equal(o.basis.until, '2026-12-05T12:00:00.000Z');
    assert.equal(o.days[6]!.since, '2026-12-05T00:00:00.000Z');
    assert.equal(o.days[6]!.until, '2026-12-05T23:59:59.999Z');
    assert.deepEqual(o.days[6]!.counts, { delivered: 2, rejected: 5, tempfailed: 0, incomplete: 1, no_transaction: 0 });
    assert.deepEqual(o.days[5]!.counts, { delivered: 0, rejected: 1, tempfailed: 1, incomplete: 0, no_transaction: 0 });
    assert.deepEqual(o.days[3]!.counts, { delivered: 1, rejected: 0, tempfailed: 0, incomplete: 0, no_transaction: 0 });
    assert.deepEqual(o.days[3]!.by_domain.map((d) => [d.domain, totalOf(d.counts)]), [['a.test', 0], ['b.test', 1]]);
    assert.deepEqual(o.totals, { delivered: 3, rejected: 6, tempfailed: 1, incomplete: 1, no_transaction: 0 });
    assert.deepEqual(o.domains.map((d) => [d.domain, d.journeys, d.counts.rejected, d.cut]), [['a.test', 5, 2, false], ['b.test', 6, 4, false]]);
    assert.equal(o.basis.journeys, 11);
    assert.equal(o.basis.cut, false);

    // The counts are the search's: the rejected of a.test today are what the search lists.
    const listed = await search(reader, { domain: 'a.test', since: Date.parse(o.days[6]!.since), until: Date.parse(o.days[6]!.until), now: NOW, outcome: 'rejected' });
    assert.equal(listed.journeys.length, o.days[6]!.by_domain[0]!.counts.rejected);

    assert.deepEqual(o.causes.map((c) => [c.code, c.count]), [['unknown_recipient', 4], ['incomplete', 1], ['refused_other', 1], ['tempfail_not_retried', 1], ['virus', 1]]);
    const unknown = o.causes[0]!;
    assert.equal(unknown.title, 'No such mailbox');
    assert.deepEqual(unknown.by_domain.map((d) => [d.domain, d.count, d.outcomes.rejected]), [['b.test', 3, 3], ['a.test', 1, 1]]);

    const bot = o.refused_ips[0]!;
    assert.equal(bot.key, '203.0.113.9');
    assert.equal(bot.count, 5);
    assert.equal(bot.cause.code, 'unknown_recipient');
    assert.deepEqual(bot.with, [{ value: 'spam.test', count: 4 }, { value: 'evil.test', count: 1 }]);
    assert.equal(bot.with_total, 2);
    assert.deepEqual(o.refused_ips.map((s) => [s.key, s.count, s.rejected, s.tempfailed]), [['203.0.113.9', 5, 5, 0], ['198.51.100.7', 2, 1, 1]]);
    assert.deepEqual(o.refused_domains.map((s) => [s.key, s.count]), [['spam.test', 4], ['', 1], ['evil.test', 1], ['list.test', 1]]);

    // German titles.
    const de = await overviewOf(reader, { scope: null, domains: ['a.test', 'b.test'], days: 7, now: NOW, lang: 'de' });
    assert.equal(de.causes[0]!.title, 'Postfach existiert nicht');
    assert.equal(causeTitle('refused_other', 'de'), 'Aus anderem Grund abgelehnt');
  } finally { await done(); }
});

test('overview: a customer counts its own domains only, whatever it asks for', async () => {
  const { reader, done } = await tempLedger([
    ...journey('delivered', { ts: NOW - 3600e3, rcpt: 'alice@a.test' }),
    ...journey('virus', { ts: NOW - 600e3, rcpt: 'bob@b.test', ip: '203.0.113.50', from: 'x@secret-partner.test' }),
  ], 'mp-overview-');
  try {
    const o = await overviewOf(reader, { scope: ['a.test'], domains: ['a.test', 'b.test'], now: NOW });
    assert.deepEqual(o.domains.map((d) => d.domain), ['a.test']);
    assert.equal(o.basis.journeys, 1);
    const text = JSON.stringify(o);
    for (const secret of ['b.test', '203.0.113.50', 'secret-partner']) assert.ok(!text.includes(secret), secret);
    const own = await overviewOf(reader, { scope: ['a.test'], now: NOW });
    assert.deepEqual(own.domains.map((d) => d.domain), ['a.test']);
  } finally { await done(); }
});

test('overview: bounded, and says what it left out; days counted in a time zone', async () => {
  const events: LedgerEvent[] = [];
  for (let i = 0; i < 30; i++) events.push(...journey('delivered', { ts: NOW - 3600e3 - i * 60e3, rcpt: `u${i}@busy.test` }));
  for (let i = 0; i < 5; i++) events.push(...journey('unknown', { ts: NOW - 3600e3 - i * 60e3, rcpt: `x${i}@quiet.test` }));
  // 23:30 UTC: yesterday in UTC, today in Berlin.
  events.push(...journey('delivered', { ts: Date.parse('2026-12-04T23:30:00Z'), rcpt: 'late@quiet.test' }));
  const { reader, done } = await tempLedger(events, 'mp-overview-');
  try {
    const o = await overviewOf(reader, { scope: null, domains: ['busy.test', 'quiet.test', 'never.test'], now: NOW, perDomainLimit: 10, totalLimit: 12 });
    assert.deepEqual(o.domains.map((d) => [d.domain, d.journeys, d.cut, d.skipped]), [['busy.test', 10, true, false], ['quiet.test', 2, true, false], ['never.test', 0, true, true]]);
    assert.equal(o.basis.cut, true);
    assert.equal(o.basis.per_domain_limit, 10);
    // The newest 10 of busy.test: back to the 10th newest journey.
    assert.equal(o.domains[0]!.oldest, new Date(NOW - 3600e3 - 9 * 60e3).toISOString());

    const utc = await overviewOf(reader, { scope: null, domains: ['quiet.test'], days: 2, now: NOW });
    const berlin = await overviewOf(reader, { scope: null, domains: ['quiet.test'], days: 2, now: NOW, timeZone: 'Europe/Berlin' });
    assert.deepEqual(utc.days.map((d) => [d.day, d.counts.delivered]), [['2026-12-04', 1], ['2026-12-05', 0]]);
    assert.deepEqual(berlin.days.map((d) => [d.day, d.counts.delivered]), [['2026-12-04', 0], ['2026-12-05', 1]]);
    assert.equal(berlin.basis.since, '2026-12-03T23:00:00.000Z');
    assert.equal(berlin.basis.time_zone, 'Europe/Berlin');

    // One given day (the drill-down of a day's bar): that day alone.
    const one = await overviewOf(reader, { scope: null, domains: ['quiet.test'], days: 1, lastDay: '2026-12-04', now: NOW });
    assert.deepEqual([one.basis.since, one.basis.until], ['2026-12-04T00:00:00.000Z', '2026-12-04T23:59:59.999Z']);
    assert.equal(one.basis.journeys, 1);
  } finally { await done(); }
});
