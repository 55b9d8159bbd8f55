import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LedgerEvent } from '../ledger/types.js';
import { CODES, explainCode, factsOf, LANGS } from './explain.js';
import { search, similarMailboxes, typoDistance } from './search.js';
import { tempLedger } from '../../test/helpers/temp-ledger.js';

const T0 = Date.parse('2026-11-20T10:00:00Z');

function ev(kind: LedgerEvent['kind'], o: Partial<LedgerEvent>): LedgerEvent {
  return { ts: T0, node: 'n1', source: 'gateway', kind, session: 's1', client_ip: '192.0.2.21', ...o };
}

function ledger(events: LedgerEvent[]): ReturnType<typeof tempLedger> {
  return tempLedger(events, 'mp-search-');
}

test('typo distance: a swap, a missing and an extra letter are one slip; unrelated names are far', () => {
  assert.equal(typoDistance('mueller', 'meuller', 2), 1);
  assert.equal(typoDistance('mueller', 'muller', 2), 1);
  assert.equal(typoDistance('info', 'infos', 2), 1);
  assert.equal(typoDistance('info', 'info', 2), 0);
  assert.equal(typoDistance('buchhaltung', 'vertrieb', 2), 3, 'stops past the maximum');
  assert.deepEqual(similarMailboxes('meuller@kunde.test', ['mueller@kunde.test', 'mueller@other.test', 'schmidt@kunde.test', 'muller@kunde.test']),
    ['mueller@kunde.test', 'muller@kunde.test']);
  // Short names: one edit only, or every 3-letter name would be "similar".
  assert.deepEqual(similarMailboxes('abc@k.test', ['xyz@k.test', 'abd@k.test', 'axy@k.test']), ['abd@k.test']);
});

test('unknown recipient with a near mailbox: the explanation names it, in both languages, with the proving events', async () => {
  const { reader, done } = await ledger([
    ev('message.delivered', { ts: T0 - 86400e3, session: 's0', ref: 'TXOLD0000001', mail_from: 'x@y.test', rcpt: 'mueller@kunde.test', smtp_code: 250, details: { target: 'maildir' } }),
    ev('mail.from', { ref: 'TXTYPO000001', mail_from: 'chef@sender.test' }),
    ev('check.result', { ref: 'TXTYPO000001', mail_from: 'chef@sender.test', rcpt: 'meuller@kunde.test', check_name: 'recipient', verdict: 'reject', smtp_code: 550, details: { stage: 'rcpt' } }),
    ev('rcpt.rejected', { ref: 'TXTYPO000001', mail_from: 'chef@sender.test', rcpt: 'meuller@kunde.test', check_name: 'recipient', verdict: 'reject', smtp_code: 550, reply: '550 5.1.1 No such mailbox (ref TXTYPO000001)' }),
  ]);
  try {
    const r = await search(reader, { domain: 'kunde.test', since: T0 - 7 * 86400e3, until: T0 + 1000 }, { lang: 'de', mailboxes: () => ['schmidt@kunde.test'] });
    const j = r.journeys.find((x) => x.ref === 'TXTYPO000001')!;
    assert.deepEqual(j.diagnosis, ['unknown_recipient']);
    assert.deepEqual(j.near_misses, [{ kind: 'similar_mailbox', value: 'mueller@kunde.test', what: 'Ein ähnliches Postfach existiert: mueller@kunde.test' }]);
    const x = j.explanations[0]!;
    assert.equal(x.side, 'sender');
    assert.match(x.what, /Adresse meuller@kunde\.test gibt es hier nicht/);
    assert.match(x.what, /ähnliches Postfach existiert: mueller@kunde\.test/);
    const proof = j.events.filter((e) => x.evidence.includes(e.id)).map((e) => e.kind);
    assert.deepEqual(proof, ['check.result', 'rcpt.rejected']);
    // --outcome narrows.
    assert.deepEqual((await search(reader, { domain: 'kunde.test', since: 0, until: T0 + 1000, outcome: 'delivered' })).journeys.map((y) => y.ref), ['TXOLD0000001']);
  } finally { await done(); }
});

test('no_attempt_seen only when neither the sender nor its domain reached us; another address of the domain is a near miss', async () => {
  const { reader, done } = await ledger([
    ev('message.delivered', { ref: 'TXSENT000001', mail_from: 'office@sender.test', rcpt: 'info@kunde.test', smtp_code: 250, details: { target: 'maildir' } }),
  ]);
  try {
    const win = { since: T0 - 86400e3, until: T0 + 86400e3 };
    const never = await search(reader, { rcpt: 'info@kunde.test', from: 'boss@silent.test', ...win });
    assert.deepEqual(never.journeys, []);
    assert.deepEqual(never.findings.map((f) => f.code), ['no_attempt_seen']);
    assert.match(never.findings[0]!.what, /boss@silent\.test/);

    const other = await search(reader, { rcpt: 'info@kunde.test', from: 'boss@sender.test', ...win });
    assert.deepEqual(other.findings, [], 'the domain did reach us');
    assert.deepEqual(other.near_misses, [{ kind: 'other_sender_address', value: 'office@sender.test', what: 'The same sender domain wrote from office@sender.test' }]);

    // Outside the window the same sender is "never seen".
    const late = await search(reader, { rcpt: 'info@kunde.test', from: 'office@sender.test', since: T0 + 3600e3, until: T0 + 7200e3 });
    assert.deepEqual(late.findings.map((f) => f.code), ['no_attempt_seen']);
  } finally { await done(); }
});

test('every code has a title, an explanation and an action in German and English, with no unfilled placeholder', () => {
  const j = { ref: 'R', node: 'n', source: 'gateway', started_at: '', client_ip: '192.0.2.1', helo: null, mail_from: 'a@b.test', rcpt: 'c@d.test', message_id: null, outcome: 'rejected' as const, reply: null, diagnosis: [], access: [], near_misses: [], events: [] };
  for (const lang of LANGS) {
    const facts = factsOf(j, lang);
    for (const code of CODES) {
      const x = explainCode(code, lang, facts);
      assert.ok(x.title && x.what && x.action, `${lang} ${code}`);
      assert.doesNotMatch(`${x.what} ${x.action}`, /\{\w+\}/, `${lang} ${code}`);
    }
  }
  assert.notEqual(explainCode('virus', 'de', factsOf(j, 'de')).title, explainCode('virus', 'en', factsOf(j, 'en')).title);
});

test('a subject filter keeps the journeys whose subject contains the words, in any case, before the limit', async () => {
  const msg = (n: number, subject: string): LedgerEvent[] => {
    const ref = `TXSUBJ${String(n).padStart(6, '0')}`;
    const o = { session: `s${n}`, ref, mail_from: 'a@x.test', rcpt: 'b@kunde.test', ts: T0 + n * 1000 };
    return [ev('data.received', { ...o, details: { subject } }), ev('message.delivered', { ...o, smtp_code: 250, details: { target: 'maildir' } })];
  };
  const { reader, done } = await ledger([...msg(1, 'Rechnung Dezember'), ...msg(2, 'Newsletter'), ...msg(3, 'Ihre RECHNUNG 12/2026'), ...msg(4, 'Newsletter')]);
  try {
    const r = await search(reader, { domain: 'kunde.test', subject: 'rechnung', since: T0 - 86400e3, until: T0 + 86400e3, limit: 1 }, {});
    // The newest matching one, though two newer journeys do not match.
    assert.deepEqual(r.journeys.map((j) => j.ref), ['TXSUBJ000003']);
    assert.equal(r.truncated, true);
    const all = await search(reader, { domain: 'kunde.test', subject: 'RECHNUNG', since: T0 - 86400e3, until: T0 + 86400e3 }, {});
    assert.deepEqual(all.journeys.map((j) => j.ref), ['TXSUBJ000001', 'TXSUBJ000003']);
  } finally {
    await done();
  }
});
