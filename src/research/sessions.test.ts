import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LedgerEvent } from '../ledger/types.js';
import { renderReport } from '../report/index.js';
import { search } from './search.js';
import { tempLedger } from '../../test/helpers/temp-ledger.js';

// Sessions without a transaction: the "too large" story of a sending MTA
// that reads our EHLO SIZE and never sends MAIL (research/sessions.ts).

const T0 = Date.parse('2026-11-20T10:02:00Z');
const WIN = { since: T0 - 86400e3, until: T0 + 86400e3 };

function ev(kind: LedgerEvent['kind'], o: Partial<LedgerEvent>): LedgerEvent {
  return { ts: T0, node: 'mx1', source: 'gateway', kind, ...o };
}

/** One gateway session: connect, EHLO (with the announced SIZE), more, close. */
function session(id: string, o: { ip: string; ptr: string | null; helo: string; dt: number; more?: LedgerEvent['kind'][]; transactions?: number }): LedgerEvent[] {
  const base = { session: id, ref: `SESS${id.padStart(8, '0')}`, client_ip: o.ip, client_ptr: o.ptr };
  const out: LedgerEvent[] = [
    ev('session.connect', { ...base, ts: T0 + o.dt, helo: null, details: { port: 40000 } }),
    ev('session.helo', { ...base, ts: T0 + o.dt + 5, helo: o.helo, details: { command: 'EHLO', size_limit: 200000 } }),
  ];
  for (const [i, k] of (o.more ?? []).entries()) out.push(ev(k, { ...base, ts: T0 + o.dt + 10 + i, helo: o.helo }));
  out.push(ev('session.close', { ...base, ts: T0 + o.dt + 50, helo: o.helo, details: { transactions: o.transactions ?? 0, delivered: 0, ms: 50 } }));
  return out;
}

function ledger(events: LedgerEvent[]): ReturnType<typeof tempLedger> {
  return tempLedger(events, 'mp-sessions-');
}

const EVENTS: LedgerEvent[] = [
  // The supplier's Postfix: EHLO, reads SIZE 200000, quits.
  ...session('1', { ip: '192.0.2.50', ptr: 'mx1.lieferant.test', helo: 'mail.lieferant.test', dt: 0 }),
  // Same server, later: EHLO, then a protocol error: not the SIZE story.
  ...session('2', { ip: '192.0.2.50', ptr: 'mx1.lieferant.test', helo: 'mail.lieferant.test', dt: 60000, more: ['session.protocol_error'] }),
  // A name that only ends in the same letters is another domain.
  ...session('3', { ip: '192.0.2.60', ptr: null, helo: 'notlieferant.test', dt: 120000 }),
  // A session with a transaction is journeys.ts's business.
  ...session('4', { ip: '192.0.2.50', ptr: 'mx1.lieferant.test', helo: 'mail.lieferant.test', dt: 180000, transactions: 1 }),
  ev('rcpt.accepted', { session: '4', ref: 'TXOK00000001', ts: T0 + 180010, client_ip: '192.0.2.50', mail_from: 'hans@lieferant.test', rcpt: 'info@kunde.test' }),
  ev('message.delivered', { session: '4', ref: 'TXOK00000001', ts: T0 + 180020, client_ip: '192.0.2.50', mail_from: 'hans@lieferant.test', rcpt: 'info@kunde.test', smtp_code: 250, details: { target: 'maildir' } }),
];

test('a session that quit after our EHLO announced SIZE is found by sender domain and by address, and explained as likely too large', async () => {
  const { reader, done } = await ledger(EVENTS);
  try {
    const r = await search(reader, { from: 'lieferant.test', ...WIN });
    const quiet = r.journeys.filter((j) => j.outcome === 'no_transaction');
    assert.deepEqual(quiet.map((j) => [j.ref, j.diagnosis]), [['SESS00000001', ['likely_too_large']], ['SESS00000002', ['no_transaction']]]);
    const j = quiet[0]!;
    assert.equal(j.rcpt, '');
    assert.equal(j.mail_from, null);
    assert.equal(j.helo, 'mail.lieferant.test');
    assert.equal(j.client_ip, '192.0.2.50');
    const x = j.explanations[0]!;
    assert.equal(x.code, 'likely_too_large');
    assert.equal(x.side, 'sender');
    assert.match(x.title, /too large, refused by the sender's own server/i);
    assert.match(x.what, /mail\.lieferant\.test \(192\.0\.2\.50\)/);
    assert.match(x.what, /size limit of 200000 bytes/);
    assert.deepEqual(j.events.filter((e) => x.evidence.includes(e.id)).map((e) => e.kind), ['session.connect', 'session.helo', 'session.close']);

    // A sender address finds the sessions of its domain too; so does the PTR name alone, and the address.
    assert.ok((await search(reader, { from: 'hans@lieferant.test', rcpt: 'buchhaltung@kunde.test', ...WIN })).journeys.some((y) => y.ref === 'SESS00000001'));
    assert.deepEqual((await search(reader, { from: 'mx1.lieferant.test', ...WIN })).journeys.filter((y) => y.outcome === 'no_transaction').length, 2);
    const byIp = await search(reader, { ip: '192.0.2.50', ...WIN, outcome: 'no_transaction' }, { lang: 'de' });
    assert.deepEqual(byIp.journeys.map((y) => y.ref), ['SESS00000001', 'SESS00000002']);
    assert.match(byIp.journeys[0]!.explanations[0]!.what, /Größengrenze von 200000 bytes/);

    // Its REF finds it (the web links each journey by REF); not for a customer.
    assert.deepEqual((await search(reader, { ref: 'SESS00000001' })).journeys.map((y) => [y.ref, y.outcome]), [['SESS00000001', 'no_transaction']]);
    assert.deepEqual((await search(reader, { ref: 'SESS00000001' }, { scope: ['kunde.test'] })).journeys, []);
    assert.deepEqual((await search(reader, { ref: 'SESS00000004' })).journeys, [], 'a session with a transaction is not one');

    // notlieferant.test is not lieferant.test; a plain recipient search shows no sessions.
    assert.deepEqual((await search(reader, { from: 'lieferant.test', ...WIN })).journeys.filter((y) => y.ref === 'SESS00000003'), []);
    assert.deepEqual((await search(reader, { domain: 'kunde.test', ...WIN })).journeys.map((y) => y.ref), ['TXOK00000001']);
    // The sender's server connected: no "never tried".
    assert.deepEqual((await search(reader, { from: 'hans@lieferant.test', rcpt: 'buchhaltung@kunde.test', ...WIN })).findings, []);
  } finally { await done(); }
});

test('the German report names the limit; a customer is not shown sessions, which belong to no customer', async () => {
  const { reader, done } = await ledger(EVENTS);
  try {
    const r = await search(reader, { from: 'hans@lieferant.test', rcpt: 'buchhaltung@kunde.test', ...WIN }, { lang: 'de' });
    assert.deepEqual(r.journeys.find((y) => y.ref === 'SESS00000001')!.diagnosis, ['likely_too_large']);
    // A customer could learn from a session that the sender's server talked to us for someone else.
    for (const f of [{ from: 'hans@lieferant.test', rcpt: 'buchhaltung@kunde.test' }, { from: 'lieferant.test' }, { ip: '192.0.2.50' }]) {
      const c = await search(reader, { ...f, ...WIN }, { lang: 'de', scope: ['kunde.test'] });
      assert.deepEqual(c.journeys.filter((y) => y.outcome === 'no_transaction'), [], JSON.stringify(f));
    }

    const text = (await renderReport(r, { lang: 'de', format: 'text', now: new Date(T0 + 3600e3) })).body.toString('utf8').replace(/\s+/g, ' ');
    assert.doesNotMatch(text, /transactions/, 'the close counts transactions of the session');
    assert.match(text, /Keine Nachricht passt zu dieser Suche\. 2 Verbindungen endeten, ohne eine Nachricht zu senden\./);
    assert.match(text, /Vermutlich zu groß, vom eigenen Server des Absenders abgewiesen/);
    assert.match(text, /Größengrenze von 200000 bytes/);
    assert.match(text, /Verbindung von 192\.0\.2\.50 \(mx1\.lieferant\.test\), 2026-11-20 10:02:00 UTC: getrennt, ohne eine Nachricht zu senden/);
    assert.match(text, /unsere Antwort nannte die Größengrenze 200000 Bytes \(SIZE\)/);
  } finally { await done(); }
});
