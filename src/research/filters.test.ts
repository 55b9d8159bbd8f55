import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FilterError, filterErrorText, normalizeRef, parseFilter, parseLang } from './filters.js';

const errorOf = (f: () => unknown): FilterError => {
  try { f(); } catch (err) { if (err instanceof FilterError) return err; throw err; }
  throw new Error('no error');
};

test('filter errors name fields neutrally; each caller words the names its own way', () => {
  const none = errorOf(() => parseFilter({ since: '7d' }));
  assert.equal(none.message, 'needs at least one of rcpt, domain, from, ip, ref, message-id');
  assert.equal(none.format((f) => `--${f}`), 'needs at least one of --rcpt, --domain, --from, --ip, --ref, --message-id');
  const order = errorOf(() => parseFilter({ rcpt: 'a@b.test', until: '2026-01-02', 'as-of': '2026-01-01' }));
  assert.equal(order.format((f) => `--${f}`), '--until must not be after --as-of');
  // A value with "--" in it stays as it was typed.
  assert.match(errorOf(() => parseFilter({ rcpt: 'a@b.test', since: '--x' })).message, /^since --x: expected a date/);
  assert.equal(errorOf(() => parseLang('fr')).message, 'lang must be en or de, not "fr"');
  assert.equal(parseFilter({ ref: '7KQ2M9XJ4P1A' }).since, undefined, 'a REF searches all time');
});

test('every filter error has a code, its parameters and words for the search form in German and English', () => {
  const cases: { f: () => unknown; code: string; params: Record<string, string>; en: RegExp; de: RegExp }[] = [
    { f: () => parseFilter({}), code: 'no_criteria', params: {}, en: /^Enter at least a recipient, a recipient domain, a sender, an IP address, a REF or a Message-ID\.$/, de: /^Geben Sie mindestens einen Empfänger, eine Empfänger-Domain, einen Absender, eine IP-Adresse, eine REF oder eine Message-ID an\.$/ },
    { f: () => parseFilter({ rcpt: 'a@b.test', since: 'gestern' }), code: 'bad_time', params: { field: 'since', value: 'gestern' }, en: /^"gestern" in the field From is not a time\. Enter a date/, de: /^„gestern“ im Feld Von ist keine Zeitangabe\. Geben Sie ein Datum an/ },
    { f: () => parseLang('fr'), code: 'bad_lang', params: { field: 'lang', value: 'fr' }, en: /English \(en\) or German \(de\)/, de: /Deutsch \(de\) und Englisch \(en\)/ },
    { f: () => parseFilter({ rcpt: 'a@b.test', until: '2026-01-02', 'as-of': '2026-01-01' }), code: 'until_after_as_of', params: {}, en: /field Until must not be later than the field As of/, de: /Feld Bis darf nicht nach dem Feld Stand liegen/ },
    { f: () => parseFilter({ rcpt: 'a@b.test', outcome: 'lost' }), code: 'bad_outcome', params: { field: 'outcome', value: 'lost' }, en: /delivered, rejected, temporarily refused, not completed, no message sent/, de: /zugestellt, abgelehnt, vorübergehend abgewiesen/ },
    { f: () => parseFilter({ rcpt: 'a@b.test', limit: '0' }), code: 'bad_limit', params: { field: 'limit', value: '0' }, en: /whole number from 1 to 100000/, de: /ganze Zahl von 1 bis 100000/ },
    { f: () => parseFilter({ ref: '7KQ2M9XJ4P' }), code: 'bad_ref', params: { field: 'ref', value: '7KQ2M9XJ4P' }, en: /^A REF has 12 letters and digits, like 7KQ2M9XJ4P1A; check that it was copied completely\.$/, de: /^Eine REF hat 12 Buchstaben und Ziffern, etwa 7KQ2M9XJ4P1A; prüfen Sie, ob sie vollständig abgeschrieben wurde\.$/ },
  ];
  for (const c of cases) {
    const err = errorOf(c.f);
    assert.equal(err.code, c.code);
    assert.deepEqual({ ...err.params }, c.params, c.code);
    assert.match(filterErrorText(err, 'en'), c.en, c.code);
    assert.match(filterErrorText(err, 'de'), c.de, c.code);
    // The words for people name no parameter: no "rcpt", "--ref", "as-of".
    for (const lang of ['en', 'de'] as const) assert.doesNotMatch(filterErrorText(err, lang), /\brcpt\b|--|as-of|message-id\b/, `${c.code} ${lang}`);
  }
});

test('a malformed REF is an error, not an empty search; a REF as people copy it is found', () => {
  const bad = errorOf(() => parseFilter({ ref: '7KQ2M9XJ4P1' }));
  assert.equal(bad.message, 'ref "7KQ2M9XJ4P1" is not a REF: a REF has 12 letters and digits, like 7KQ2M9XJ4P1A');
  assert.equal(bad.format((f) => `--${f}`), '--ref "7KQ2M9XJ4P1" is not a REF: a REF has 12 letters and digits, like 7KQ2M9XJ4P1A');
  for (const v of ['<script>', '7KQ2M9XJ4P1A7', 'U'.repeat(12)]) assert.equal(errorOf(() => parseFilter({ ref: v })).code, 'bad_ref', v);
  // Lower case, spaces and dashes, and O/I/L read for 0/1/1 (Crockford base32 has no O, I, L).
  assert.equal(parseFilter({ ref: ' 7kq2-m9xj-4p1a ' }).ref, '7KQ2M9XJ4P1A');
  assert.equal(normalizeRef('7KQ2M9XJ4PIA'), '7KQ2M9XJ4P1A');
  assert.equal(normalizeRef('OKQ2M9XJ4PLA'), '0KQ2M9XJ4P1A');
  // Journey keys that are not REFs of ours still name a journey (ingested Postfix, sessions).
  assert.equal(parseFilter({ ref: 'pf:mx1:4F2A1B:lz3k' }).ref, 'pf:mx1:4F2A1B:lz3k');
  assert.equal(parseFilter({ ref: 'session:abc-1' }).ref, 'session:abc-1');
  // Other fields are not affected.
  assert.equal(parseFilter({ rcpt: 'a@b.test' }).ref, undefined);
});
