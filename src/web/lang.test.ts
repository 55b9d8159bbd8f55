import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptLanguage, negotiateLang, validTimeZone } from './lang.js';

test('Accept-Language: the highest q of de and en wins; other languages are passed over', () => {
  assert.equal(acceptLanguage('de-DE,de;q=0.9,en;q=0.8'), 'de');
  assert.equal(acceptLanguage('fr-FR, en;q=0.5, de;q=0.4'), 'en');
  assert.equal(acceptLanguage('en;q=0.3, de-AT;q=0.7'), 'de');
  assert.equal(acceptLanguage('fr, it'), null);
  assert.equal(acceptLanguage('de;q=0, en;q=0.1'), 'en');
  assert.equal(acceptLanguage(''), null);
  assert.equal(acceptLanguage(undefined), null);
});

test('the switch beats the cookie, the cookie beats the browser, the browser beats the default', () => {
  assert.equal(negotiateLang({ query: 'de', cookie: 'en', acceptLanguage: 'en', fallback: 'en' }), 'de');
  assert.equal(negotiateLang({ query: 'xx', cookie: 'de', acceptLanguage: 'en', fallback: 'en' }), 'de');
  assert.equal(negotiateLang({ acceptLanguage: 'de-CH', fallback: 'en' }), 'de');
  assert.equal(negotiateLang({ acceptLanguage: 'fr', fallback: 'de' }), 'de');
});

test('time zones: IANA names pass, forged cookie values do not', () => {
  assert.ok(validTimeZone('Europe/Berlin'));
  assert.ok(validTimeZone('UTC'));
  assert.ok(!validTimeZone('Mars/Olympus'));
  assert.ok(!validTimeZone('<script>'));
  assert.ok(!validTimeZone(''));
});
