import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StoredEvent } from '../ledger/types.js';
import { configSchema } from '../config/schema.js';
import { blocklistLinks, lookupUrlOf } from './blocklists.js';
import { researchSettings } from './settings.js';

test('well-known block lists have their lookup page built in; the configuration adds or overrides', () => {
  const cases: [string, string | null][] = [
    ['zen.spamhaus.org', 'https://check.spamhaus.org/'],
    ['PBL.Spamhaus.org.', 'https://check.spamhaus.org/'],
    ['abcdef0123456789.zen.dq.spamhaus.net', 'https://check.spamhaus.org/'],
    ['bl.spamcop.net', 'https://www.spamcop.net/bl.shtml'],
    ['b.barracudacentral.org', 'https://www.barracudacentral.org/lookups'],
    ['psbl.surriel.com', 'https://psbl.org/'],
    ['bl.mailspike.net', 'https://mailspike.org/'],
    ['dnsbl-1.uceprotect.net', 'https://www.uceprotect.net/en/rblcheck.php'],
    ['dbl.spamhaus.org', null], // a domain list, not an address list
    ['evilspamhaus.org', null],
    ['bl.example', null],
  ];
  for (const [zone, url] of cases) assert.equal(lookupUrlOf(zone), url, zone);
  assert.equal(lookupUrlOf('bl.example', { 'bl.example': 'https://bl.example/lookup' }), 'https://bl.example/lookup');
  assert.equal(lookupUrlOf('zen.spamhaus.org', { 'zen.spamhaus.org': 'https://own.example/zen' }), 'https://own.example/zen');
  assert.equal(lookupUrlOf('bl.example', { 'bl.example': 'javascript:alert(1)' }), null, 'only http(s) links');
});

test('blocklistLinks: the lists that listed the client, from the gateway\'s evidence or an ingested Postfix reply', () => {
  const check = (o: Partial<StoredEvent>): StoredEvent => ({ id: 1, ts: 0, node: 'n', source: 'gateway', kind: 'check.result', check_name: 'dnsbl', verdict: 'reject', ...o } as StoredEvent);
  const zones = [
    { zone: 'zen.spamhaus.org', name: 'Spamhaus ZEN', listings: [{ code: '127.0.0.2' }] },
    { zone: 'bl.spamcop.net', listings: [] }, // asked, not listed
    { zone: 'list.dnswl.org', type: 'allow', listings: [{ code: '127.0.10.0' }] }, // an allow-list
    { zone: 'bl.example', name: 'Example', listings: [{ code: '127.0.0.2' }] }, // no page known
    { zone: 'psbl.surriel.com', listings: [{ code: '127.0.0.2' }] }, // no name configured: the built-in one
  ];
  assert.deepEqual(blocklistLinks([check({ details: { evidence: { zones } } })]), [
    { name: 'Spamhaus ZEN', url: 'https://check.spamhaus.org/' },
    { name: 'PSBL', url: 'https://psbl.org/' },
  ]);
  assert.deepEqual(blocklistLinks([check({ details: { evidence: { zones } } })], { 'bl.example': 'https://bl.example/' }).map((l) => l.name), ['Spamhaus ZEN', 'Example', 'PSBL']);
  // A pass says nothing is wrong.
  assert.deepEqual(blocklistLinks([check({ verdict: 'pass', details: { evidence: { zones } } })]), []);
  const postfix = check({ source: 'postfix', details: { evidence: { finding: 'listed', source_text: '554 5.7.1 Service unavailable; Client host [192.0.2.9] blocked using bl.spamcop.net; see https://www.spamcop.net/bl.shtml?192.0.2.9' } } });
  assert.deepEqual(blocklistLinks([postfix]), [{ name: 'SpamCop', url: 'https://www.spamcop.net/bl.shtml' }]);
});

test('checks.dnsbl.zones[].lookup_url: checked by the schema, passed to research', () => {
  const cfg = configSchema.parse({ checks: { dnsbl: { zones: [{ zone: 'bl.example.', lookup_url: 'https://bl.example/lookup' }, { zone: 'zen.spamhaus.org' }] } } });
  assert.deepEqual(researchSettings(cfg).dnsblLinks, { 'bl.example': 'https://bl.example/lookup' });
  assert.equal(researchSettings(configSchema.parse({})).dnsblLinks, undefined);
  assert.throws(() => configSchema.parse({ checks: { dnsbl: { zones: [{ zone: 'bl.example', lookup_url: 'javascript:alert(1)' }] } } }), /http\(s\) URL/);
});
