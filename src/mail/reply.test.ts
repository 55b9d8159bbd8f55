import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newRef, REF_PATTERN } from './ref.js';
import { render } from './reply.js';

test('REFs are 12 Crockford base32 symbols and do not repeat', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 20000; i++) {
    const r = newRef();
    assert.match(r, REF_PATTERN);
    seen.add(r);
  }
  assert.equal(seen.size, 20000);
});

test('rendered reply: enhanced code, text, ref and optional URL', () => {
  const r = render({ code: 550, enhanced: '5.1.1', text: 'No such mailbox' }, 'ABCDEFGHJKMN', null);
  assert.equal(r.line, '5.1.1 No such mailbox (ref ABCDEFGHJKMN)');
  const u = render({ code: 550, enhanced: '5.1.1', text: 'No such mailbox' }, 'ABCDEFGHJKMN', 'https://mx.example/ref/');
  assert.equal(u.line, '5.1.1 No such mailbox (ref ABCDEFGHJKMN, https://mx.example/ref/ABCDEFGHJKMN)');
});

test('client text cannot bring control bytes, non-ASCII or length into a reply', () => {
  const evil = 'a\r\n250 fake\u0000\u00e9' + 'x'.repeat(2000);
  const r = render({ code: 550, enhanced: '5.1.1', text: `No such mailbox <${evil}>` }, 'ABCDEFGHJKMN', 'https://mx.example/ref/');
  const full = `${r.code} ${r.line}`;
  assert.match(full, /^[\x20-\x7e]+$/);
  assert.ok(Buffer.byteLength(full) + 2 <= 512, `length ${full.length}`);
  assert.ok(full.endsWith('(ref ABCDEFGHJKMN, https://mx.example/ref/ABCDEFGHJKMN)'));
});
