import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { StoredEvent } from '../ledger/types.js';
import { tempLedger } from '../../test/helpers/temp-ledger.js';
import * as model from '../report/model.js';
import { evidenceFields, evidenceLines, evidenceOf, evidenceTitle } from './evidence.js';
import { search, type ExplainedJourney } from './search.js';
import { DOMAIN, NOW, REFS, storyEvents, T0 } from './testing.js';

let ledger: Awaited<ReturnType<typeof tempLedger>>;
let journeys: Map<string, ExplainedJourney[]>;
before(async () => {
  ledger = await tempLedger(storyEvents(), 'mp-evidence-');
  journeys = new Map();
  for (const lang of ['en', 'de'] as const) journeys.set(lang, (await search(ledger.reader, { domain: DOMAIN, since: T0 - 3600e3, until: NOW, now: NOW }, { lang })).journeys);
});
after(async () => { await ledger.done(); });

const j = (ref: string, lang: 'en' | 'de' = 'en'): ExplainedJourney => journeys.get(lang)!.find((x) => x.ref === ref)!;

test('evidenceOf: the main finding\'s proof as the report shows it (block list answer and TTL, signature and file)', () => {
  const pbl = evidenceOf(j(REFS.pbl), 'en');
  assert.deepEqual(pbl.map((l) => l.title), ['Check block lists (DNSBL) (dnsbl): refuse', 'Recipient chef@kunde.test refused (rcpt.rejected)']);
  assert.deepEqual(pbl[0]!.fields, [
    { label: 'Reply', value: '554 5.7.1' },
    { label: 'Block list', value: 'Spamhaus ZEN: 7.2.0.192.zen.spamhaus.org -> 127.0.0.10 (listed as dynamic/end-user address space (PBL)), TTL 60 s, 2026-11-20 10:01:00 UTC' },
  ]);
  assert.equal(pbl[0]!.time, '2026-11-20 10:01:00');
  const de = evidenceOf(j(REFS.pbl, 'de'), 'de');
  assert.equal(de[0]!.title, 'Prüfung Sperrlisten (DNSBL) (dnsbl): ablehnen');
  assert.equal(de[0]!.fields[1]!.label, 'Sperrliste');
  const pdf = evidenceOf(j(REFS.pdf), 'en')[0]!;
  assert.deepEqual(pdf.fields.filter((f) => f.label !== 'Reason' && f.label !== 'Reply'), [{ label: 'Virus signature', value: 'Pdf.Exploit.CVE_2018_4990-1' }, { label: 'File', value: 'Rechnung-2026-12.pdf' }]);
  // The proof of the cause, not of the generic "delivered": the POP3 deletion is in it.
  const fetched = evidenceOf(j(REFS.fetched), 'en');
  assert.ok(fetched.some((l) => l.title.startsWith('Deleted from the server by POP3 from 192.0.2.50')), JSON.stringify(fetched.map((l) => l.title)));
  // Another finding's proof by its code; none for a code the journey does not have.
  assert.deepEqual(evidenceOf(j(REFS.fetched), 'en', 'delivered').map((l) => l.title), ['Message received (2000 bytes) (data.received)', 'Delivered to the mailbox buchhaltung@kunde.test, other@elsewhere.test (message.delivered)']);
  assert.deepEqual(evidenceOf(j(REFS.fetched), 'en', 'virus'), []);
});

test('evidence lines for MX records and the PTR; the report uses the same functions', () => {
  const base = { id: 1, ts: T0, node: 'n1', source: 'gateway', kind: 'check.result', verdict: 'reject' } as const;
  const mx = { ...base, check_name: 'sender_domain', details: { evidence: { finding: 'mx_is_ip', domain: 'baeckerei.test', mx: { records: [{ preference: 10, exchange: '192.0.2.1' }], server: '10.0.0.53:53' } } } } as unknown as StoredEvent;
  assert.deepEqual(evidenceFields(mx, 'en'), [{ label: 'Finding', value: 'mx_is_ip' }, { label: 'Domain', value: 'baeckerei.test' }, { label: 'MX record', value: '10 192.0.2.1' }]);
  assert.deepEqual(evidenceFields(mx, 'de').map((f) => f.label), ['Befund', 'Domain', 'MX-Eintrag']);
  const ptr = { ...base, check_name: 'client_identity', details: { evidence: { finding: 'dynamic_name', ptr: { records: ['dsl-1.dyn.example'] } } } } as unknown as StoredEvent;
  assert.deepEqual(evidenceFields(ptr, 'en'), [{ label: 'Finding', value: 'dynamic_name' }, { label: 'Name of the address (PTR)', value: 'dsl-1.dyn.example' }]);
  assert.equal(evidenceTitle(ptr, 'en'), 'Check name of the sending address (PTR) (client_identity): refuse');
  // Oldest first, whatever order they come in.
  assert.deepEqual(evidenceLines([{ ...ptr, id: 2, ts: T0 + 1000 }, mx], 'en').map((l) => l.time), ['2026-11-20 10:00:00', '2026-11-20 10:00:01']);
  assert.equal(model.evidenceFields, evidenceFields, 'report/model.ts re-exports research/evidence.ts');
  assert.equal(model.evidenceTitle, evidenceTitle);
});
