import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeMessageId } from './message-id.js';

test('one spelling of a Message-ID: brackets and blanks off, bounded, empty is none', () => {
  assert.equal(normalizeMessageId('<a.b@example.org>'), 'a.b@example.org');
  assert.equal(normalizeMessageId('  <a@x>  '), 'a@x');
  assert.equal(normalizeMessageId('a@x'), 'a@x');
  assert.equal(normalizeMessageId('<>'), null);
  assert.equal(normalizeMessageId(''), null);
  assert.equal(normalizeMessageId(null), null);
  // Only a matching pair is taken off: a half-bracketed value is kept as sent.
  assert.equal(normalizeMessageId('<a@x'), '<a@x');
  assert.equal(normalizeMessageId('<' + 'x'.repeat(2000) + '>')!.length, 998);
});
