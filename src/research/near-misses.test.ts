import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { LedgerEvent } from '../ledger/types.js';
import { renderReport } from '../report/index.js';
import { requireTool } from '../../test/helpers/env.js';
import { rankNearMisses, refusedSimilar } from './near-misses.js';
import { search, type SearchFilter } from './search.js';
import { tempLedger } from '../../test/helpers/temp-ledger.js';

// The typo story: mail to buchhaltumg@kunde.test was refused as unknown; the
// intended buchhaltung@kunde.test exists. The same supplier domain also
// mails another customer (andere-kunde.test), which no report for kunde.test
// may name.

const T0 = Date.parse('2026-11-20T10:02:00Z');
const WIN = { since: T0 - 7 * 86400e3, until: T0 + 86400e3 };

function ev(kind: LedgerEvent['kind'], o: Partial<LedgerEvent>): LedgerEvent {
  return { ts: T0, node: 'mx1', source: 'gateway', kind, session: 's1', client_ip: '192.0.2.50', client_ptr: 'mx1.lieferant.test', helo: 'mx1.lieferant.test', ...o };
}

const EVENTS: LedgerEvent[] = [
  // The intended mailbox exists: mail from someone else reached it yesterday.
  ev('rcpt.accepted', { session: 's0', ref: 'TXOK00000001', ts: T0 - 86400e3, mail_from: 'bank@bank.test', rcpt: 'buchhaltung@kunde.test' }),
  ev('message.delivered', { session: 's0', ref: 'TXOK00000001', ts: T0 - 86400e3 + 10, mail_from: 'bank@bank.test', rcpt: 'buchhaltung@kunde.test', smtp_code: 250, details: { target: 'maildir' } }),
  // Six other addresses of the supplier write to another customer, before the typo.
  ...[1, 2, 3, 4, 5, 6].flatMap((i) => [
    ev('rcpt.accepted', { session: `o${i}`, ref: `TXOTHER0000${i}`, ts: T0 - 3600e3 + i, mail_from: `vertrieb${i}@lieferant.test`, rcpt: `einkauf@andere-kunde.test` }),
    ev('message.delivered', { session: `o${i}`, ref: `TXOTHER0000${i}`, ts: T0 - 3600e3 + i + 1, mail_from: `vertrieb${i}@lieferant.test`, rcpt: `einkauf@andere-kunde.test`, smtp_code: 250, details: { target: 'maildir' } }),
  ]),
  // One colleague writes to kunde.test.
  ev('rcpt.accepted', { session: 's7', ref: 'TXCOLL000001', ts: T0 - 1800e3, mail_from: 'petra@lieferant.test', rcpt: 'info@kunde.test' }),
  ev('message.delivered', { session: 's7', ref: 'TXCOLL000001', ts: T0 - 1800e3 + 1, mail_from: 'petra@lieferant.test', rcpt: 'info@kunde.test', smtp_code: 250, details: { target: 'maildir' } }),
  // The typo, refused at 10:02.
  ev('mail.from', { ref: 'TXTYPO000001', mail_from: 'hans@lieferant.test' }),
  ev('check.result', { ref: 'TXTYPO000001', mail_from: 'hans@lieferant.test', rcpt: 'buchhaltumg@kunde.test', check_name: 'recipient', verdict: 'reject', smtp_code: 550, enhanced_code: '5.1.1', details: { stage: 'rcpt' } }),
  ev('rcpt.rejected', { ref: 'TXTYPO000001', mail_from: 'hans@lieferant.test', rcpt: 'buchhaltumg@kunde.test', check_name: 'recipient', verdict: 'reject', smtp_code: 550, enhanced_code: '5.1.1', reply: '550 5.1.1 No such mailbox (ref TXTYPO000001)' }),
  // Later, a farther slip (two edits) and an unrelated unknown address.
  ev('rcpt.rejected', { session: 's9', ref: 'TXTYPO000002', ts: T0 + 600e3, mail_from: 'hans@lieferant.test', rcpt: 'buchhalutgn@kunde.test', check_name: 'recipient', verdict: 'reject', smtp_code: 550, enhanced_code: '5.1.1' }),
  ev('rcpt.rejected', { session: 's9', ref: 'TXTYPO000002', ts: T0 + 600e3, mail_from: 'hans@lieferant.test', rcpt: 'xyz@kunde.test', check_name: 'recipient', verdict: 'reject', smtp_code: 550, enhanced_code: '5.1.1' }),
];

function ledger(events: LedgerEvent[]): ReturnType<typeof tempLedger> {
  return tempLedger(events, 'mp-nearmiss-');
}

test('searching the intended address shows the refused typo first, saying what it is, in English and German', async () => {
  const { reader, done } = await ledger(EVENTS);
  try {
    const en = await search(reader, { rcpt: 'buchhaltung@kunde.test', ...WIN });
    assert.deepEqual(en.journeys.map((j) => j.ref), ['TXOK00000001']);
    const first = en.near_misses[0]!;
    assert.equal(first.kind, 'refused_similar_address');
    assert.equal(first.value, 'buchhaltumg@kunde.test');
    assert.equal(first.ref, 'TXTYPO000001');
    assert.match(first.what!, /^Mail for the similar address buchhaltumg@ was refused at 10:02 because it does not exist/);
    assert.deepEqual(en.near_misses.map((n) => n.value), ['buchhaltumg@kunde.test', 'buchhalutgn@kunde.test'], 'xyz@ is no slip of buchhaltung@');

    const de = await search(reader, { rcpt: 'buchhaltung@kunde.test', ...WIN }, { lang: 'de' });
    assert.match(de.near_misses[0]!.what!, /^Mail an die ähnliche Adresse buchhaltumg@ wurde um 10:02 abgelehnt, weil es sie nicht gibt/);
  } finally { await done(); }
});

test('with a sender given: the typo first, and nothing of another customer, for staff and for a customer scope', async () => {
  const { reader, done } = await ledger(EVENTS);
  try {
    const f: SearchFilter = { rcpt: 'buchhaltung@kunde.test', from: 'vertrieb9@lieferant.test', ...WIN };
    for (const scope of [null, ['kunde.test']]) {
      const r = await search(reader, f, { scope });
      assert.deepEqual(r.journeys, []);
      assert.deepEqual(r.findings, [], 'the supplier did write to kunde.test');
      assert.equal(r.near_misses[0]!.kind, 'refused_similar_address', JSON.stringify(r.near_misses));
      assert.equal(r.near_misses[0]!.value, 'buchhaltumg@kunde.test');
      assert.doesNotMatch(JSON.stringify(r), /andere-kunde|vertrieb[1-6]/, `scope ${JSON.stringify(scope)}`);
      // The colleague who wrote to kunde.test is a fair hint, after the typo.
      assert.deepEqual(r.near_misses.filter((n) => n.kind === 'other_sender_address').map((n) => n.value), ['petra@lieferant.test', 'hans@lieferant.test']);
      for (const lang of ['en', 'de'] as const) {
        const text = (await renderReport(await search(reader, f, { scope, lang }), { lang, format: 'text', filter: f, now: new Date(T0 + 7200e3) })).body.toString('utf8');
        assert.doesNotMatch(text, /andere-kunde|vertrieb[1-6]/, `${lang} report, scope ${JSON.stringify(scope)}`);
        assert.doesNotMatch(text, /similar mailbox exists: buchhaltumg|ähnliches Postfach existiert: buchhaltumg/);
        assert.match(text.replace(/\s+/g, ' '), lang === 'en' ? /Mail for the similar address buchhaltumg@ was refused at 10:02 because it does not exist/ : /Mail an die ähnliche Adresse buchhaltumg@ wurde um 10:02 abgelehnt, weil es sie nicht gibt/);
      }
    }
  } finally { await done(); }
});

test('the PDF report for the customer names no other customer domain and states the typo', async (t) => {
  const pdftotext = requireTool(t, 'pdftotext');
  if (!pdftotext) return;
  const { reader, done } = await ledger(EVENTS);
  try {
    const f: SearchFilter = { rcpt: 'buchhaltung@kunde.test', from: 'hans@lieferant.test', ...WIN };
    const pdf = await renderReport(await search(reader, f, { lang: 'de' }), { lang: 'de', format: 'pdf', filter: f, now: new Date(T0 + 7200e3) });
    const text = execFileSync(pdftotext, ['-enc', 'UTF-8', '-', '-'], { input: pdf.body, encoding: 'utf8' }).replace(/\s+/g, ' ');
    assert.doesNotMatch(text, /andere-kunde|vertrieb[1-6]/);
    assert.match(text, /Mail an die ähnliche Adresse buchhaltumg@ wurde um 10:02 abgelehnt, weil es sie nicht gibt/);
  } finally { await done(); }
});

test('ranking: the refused address one slip away comes first, before farther slips, existing mailboxes and other senders', async () => {
  const { reader, done } = await ledger(EVENTS);
  try {
    const refused = await refusedSimilar(reader, 'buchhaltung@kunde.test', { since: WIN.since, until: WIN.until });
    // buchhalutgn@ is newer but two slips away.
    assert.deepEqual(refused.map((n) => n.value), ['buchhaltumg@kunde.test', 'buchhalutgn@kunde.test']);
    // Only the sender's own refusals when one is given.
    assert.deepEqual(await refusedSimilar(reader, 'buchhaltung@kunde.test', { ...WIN, from: 'bank.test' }), []);
    const ranked = rankNearMisses([
      { kind: 'other_sender_address', value: 'a@lieferant.test' },
      { kind: 'similar_mailbox', value: 'buchhaltun@kunde.test' },
      ...refused,
    ], 'en');
    assert.deepEqual(ranked.map((n) => n.kind), ['refused_similar_address', 'refused_similar_address', 'similar_mailbox', 'other_sender_address']);
    assert.equal(ranked[0]!.value, 'buchhaltumg@kunde.test');
    assert.equal(ranked[2]!.what, 'A similar mailbox exists: buchhaltun@kunde.test');
  } finally { await done(); }
});
