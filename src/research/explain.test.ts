import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StoredEvent } from '../ledger/types.js';
import { CODES, explainJourney } from './explain.js';
import type { Journey } from './journeys.js';

const T0 = Date.parse('2026-11-20T10:00:00Z');

function journey(events: Partial<StoredEvent>[]): Journey {
  const evs = events.map((e, i) => ({ id: i + 1, ts: T0 + i, node: 'n1', source: 'gateway', kind: 'check.result', session: 's1', ref: 'TXPEND000001', client_ip: '192.0.2.44', ...e }) as StoredEvent);
  return {
    ref: 'TXPEND000001', node: 'n1', source: 'gateway', started_at: new Date(T0).toISOString(), client_ip: '192.0.2.44', helo: 'mail.x.test',
    mail_from: 'a@x.test', rcpt: 'd@local.test', message_id: null, outcome: 'tempfailed', reply: evs.at(-1)!.reply ?? null,
    diagnosis: ['tempfail_pending'], access: [], near_misses: [], events: evs, retry_by: new Date(T0 + 7200e3).toISOString(),
  };
}

test('a young 4xx names its cause and the time a retry is due, in English and German', () => {
  const cases: { name: string; events: Partial<StoredEvent>[]; en: RegExp; de: RegExp }[] = [
    {
      name: 'greylisting',
      events: [
        { check_name: 'greylist', verdict: 'tempfail', smtp_code: 451, details: { stage: 'rcpt', evidence: { state: 'new' } } },
        { kind: 'rcpt.rejected', rcpt: 'd@local.test', check_name: 'greylist', verdict: 'tempfail', smtp_code: 451, reply: '451 4.7.1 Greylisted: please try again in 300 seconds' },
      ],
      en: /The reason: greylisting/, de: /Grund: Greylisting/,
    },
    {
      name: 'no PTR',
      events: [
        { check_name: 'client_identity', verdict: 'tempfail', smtp_code: 450, details: { stage: 'connect', evidence: { finding: 'no_ptr', ptr: { records: [] } } } },
        { kind: 'rcpt.rejected', rcpt: 'd@local.test', check_name: 'client_identity', verdict: 'tempfail', smtp_code: 450, reply: '450 4.7.25 no PTR' },
      ],
      en: /the sending server's address 192\.0\.2\.44 has no name in DNS \(no PTR record\)/, de: /Adresse des sendenden Servers 192\.0\.2\.44 hat keinen Namen im DNS/,
    },
    {
      name: 'a scanner down',
      events: [
        { check_name: 'virus', verdict: 'error', details: { stage: 'data', reason: 'failed: connect ECONNREFUSED', component: 'clamd' } },
        { kind: 'data.rejected', rcpt: 'd@local.test', check_name: 'virus', verdict: 'tempfail', smtp_code: 451, reply: '451 4.3.0 try again later' },
      ],
      en: /the virus scanner could not run \(clamd unreachable or failing\); that is on our side/, de: /der Virenscanner konnte nicht arbeiten \(clamd nicht erreichbar oder fehlerhaft\)/,
    },
  ];
  for (const c of cases) {
    const j = journey(c.events);
    const [en] = explainJourney(j, 'en');
    const [de] = explainJourney(j, 'de');
    assert.equal(en?.code, 'tempfail_pending', c.name);
    assert.match(en!.what, c.en, c.name);
    assert.match(en!.what, /a retry is expected by 2026-11-20 12:00 UTC/, c.name);
    assert.match(en!.action, /Wait until 2026-11-20 12:00 UTC/, c.name);
    assert.match(de!.what, c.de, c.name);
    assert.match(de!.what, /bis 2026-11-20 12:00 UTC erwartet/, c.name);
    assert.ok(en!.evidence.length > 0, c.name);
    assert.doesNotMatch(`${en!.what} ${de!.what}`, /\{\w+\}|by unknown|bis unbekannt|answered unknown/, c.name);
    // Retried or not, the cause of the 4xx is named too.
    for (const code of ['tempfail_retried', 'tempfail_not_retried']) {
      const [x] = explainJourney({ ...j, diagnosis: [code] }, 'en');
      const [y] = explainJourney({ ...j, diagnosis: [code] }, 'de');
      assert.match(x!.what, c.en, `${c.name} ${code}`);
      assert.match(y!.what, c.de, `${c.name} ${code}`);
    }
  }
});

test('every diagnosis code has a title and texts in both languages', () => {
  for (const code of CODES) {
    const j = journey([{ kind: 'rcpt.rejected', smtp_code: 451 }]);
    for (const lang of ['en', 'de'] as const) {
      const [x] = explainJourney({ ...j, diagnosis: [code] }, lang);
      assert.ok(x && x.title !== code && x.what !== code && x.action.length > 0, `${code} ${lang}`);
    }
  }
});
