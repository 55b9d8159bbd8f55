import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maskRecipients } from './mask.js';

test('a recipient is masked as stored and in the ASCII-safe form a reply text has', () => {
  const P = '[R]';
  // As received: U+00E4 and a control byte; the ledger escapes the control byte.
  const stored = 'n\u00e4body\\x01@a.test';
  assert.equal(maskRecipients('550 5.1.1 No such mailbox <n?body?@a.test> here (ref X)', [stored], P), '550 5.1.1 No such mailbox <[R]> here (ref X)');
  assert.equal(maskRecipients('for n\u00e4body\\x01@a.test', [stored], P), 'for [R]');
  assert.equal(maskRecipients('No such mailbox <Carol.Secret@B.test>; carol.secret quoted alone', ['carol.secret@b.test'], P), 'No such mailbox <[R]>; [R] quoted alone');
  assert.equal(maskRecipients('other <x@b.test> stays', ['carol@b.test'], P), 'other <x@b.test> stays');
  // Regex characters in an address are literal.
  assert.equal(maskRecipients('a+b.c@d.test and aXbYc@dZtest', ['a+b.c@d.test'], P), '[R] and aXbYc@dZtest');
});
