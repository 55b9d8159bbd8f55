import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeResolver } from '../dns/fake.js';
import { analyseSpf, parseSpf } from './spf-record.js';

test('SPF terms: mechanisms, modifiers and broken terms are told apart', () => {
  const { terms, errors } = parseSpf('v=spf1 ip4:192.0.2.0/24 ip4:300.1.1.1 ip6:2001:db8::/32 a mx:mx.example/24 include:_spf.example exists:%{i}.x.example redirect=other.example foo=bar ?all ptr bogus!');
  assert.deepEqual(terms.map((t) => [t.name, t.kind, t.lookup]), [
    ['ip4', 'mechanism', false], ['ip4', 'invalid', false], ['ip6', 'mechanism', false], ['a', 'mechanism', true],
    ['mx', 'mechanism', true], ['include', 'mechanism', true], ['exists', 'mechanism', true], ['redirect', 'modifier', true],
    ['foo', 'modifier', false], ['all', 'mechanism', false], ['ptr', 'mechanism', true], ['', 'invalid', false],
  ]);
  assert.ok(errors.some((e) => e.includes('300.1.1.1')));
  assert.ok(errors.some((e) => e.includes('ptr mechanism')));
  assert.ok(errors.some((e) => e.includes('bogus!')));
});

test('SPF lookups are counted over includes (RFC 7208 section 4.6.4); 11 is over the limit, 10 is not', async () => {
  const r = new FakeResolver();
  // 1 (include:a) + 5 in a + 1 (include:b) + 4 in b = 11.
  r.set('txt', 'big.example', ['v=spf1 include:a.example include:b.example -all']);
  r.set('txt', 'a.example', ['v=spf1 a:h1.example a:h2.example a:h3.example a:h4.example a:h5.example -all']);
  r.set('txt', 'b.example', ['v=spf1 a:h1.example a:h2.example a:h3.example mx -all']);
  for (const h of ['h1', 'h2', 'h3', 'h4', 'h5']) r.set('a', `${h}.example`, ['192.0.2.1']);
  r.set('mx', 'b.example', [{ preference: 10, exchange: 'h1.example' }]);
  const big = await analyseSpf(r, 'big.example');
  assert.equal(big.lookups, 11);
  assert.ok(big.errors.some((e) => /11 DNS lookups: over the limit of 10/.test(e)), big.errors.join('; '));
  r.set('txt', 'ok.example', ['v=spf1 include:a.example a:h1.example a:h2.example a:h3.example a:h4.example -all']);
  const ok = await analyseSpf(r, 'ok.example');
  assert.equal(ok.lookups, 10);
  assert.deepEqual(ok.errors, []);
});

test('SPF: two records, a missing include target, void lookups, +all', async () => {
  const r = new FakeResolver();
  r.set('txt', 'two.example', ['v=spf1 -all', 'v=spf1 +all']);
  const two = await analyseSpf(r, 'two.example');
  assert.ok(two.errors.some((e) => /2 SPF records/.test(e)));
  r.set('txt', 'void.example', ['v=spf1 include:gone.example a:n1.example a:n2.example a:n3.example +all']);
  r.set('txt', 'n1.example', ['x']);
  const v = await analyseSpf(r, 'void.example');
  assert.ok(v.errors.some((e) => /gone.example has no SPF record/.test(e)), v.errors.join('; '));
  assert.equal(v.void_lookups, 3);
  assert.ok(v.errors.some((e) => /3 lookups found nothing/.test(e)));
  assert.ok(v.errors.some((e) => /"\+all" allows every host/.test(e)));
  const none = await analyseSpf(r, 'nothing.example');
  assert.equal(none.record, null);
  assert.equal(none.records_found, 0);
});

test('SPF: an include loop is cut, not followed forever', async () => {
  const r = new FakeResolver();
  r.set('txt', 'l1.example', ['v=spf1 include:l2.example -all']);
  r.set('txt', 'l2.example', ['v=spf1 include:l1.example -all']);
  const rep = await analyseSpf(r, 'l1.example');
  assert.ok(rep.errors.length > 0 || rep.children[0]!.errors.some((e) => /loop/.test(e)));
});
