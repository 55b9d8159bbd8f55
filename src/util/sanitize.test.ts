import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asciiSafe, logSafe } from './sanitize.js';

test('logSafe escapes control bytes and invisible reordering characters, keeps other UTF-8', () => {
  assert.equal(logSafe('Grüße aus Köln'), 'Grüße aus Köln');
  assert.equal(logSafe('evil\u202Etxt.exe'), 'evil\\u202etxt.exe');
  assert.equal(logSafe('a\u2066b\u2069c\u200bd\ufeff'), 'a\\u2066b\\u2069c\\u200bd\\ufeff');
  assert.equal(logSafe('line\u2028break\u0085x'), 'line\\u2028break\\x85x');
  assert.equal(logSafe('esc\x1b[31mred\r\nforged'), 'esc\\x1b[31mred\\x0d\\x0aforged');
  assert.equal(logSafe('x'.repeat(20), 5), 'xxxxx...');
});

test('asciiSafe leaves printable ASCII only', () => {
  assert.equal(asciiSafe('n\u00e4body\u202e@a.test'), 'n?body?@a.test');
});
