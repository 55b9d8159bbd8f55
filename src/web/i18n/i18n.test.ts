import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CATALOGUES, fill, textsOf } from './index.js';

test('German and English have the same keys, none empty, and the same placeholders', () => {
  const en = CATALOGUES.en;
  const de = CATALOGUES.de;
  assert.deepEqual(Object.keys(de).sort(), Object.keys(en).sort());
  const holes = (s: string): string[] => [...s.matchAll(/\{([a-z_]+)\}/g)].map((m) => m[1]!).sort();
  for (const k of Object.keys(en) as (keyof typeof en)[]) {
    assert.ok(en[k].trim() && de[k].trim(), `${k} is empty`);
    assert.deepEqual(holes(de[k]), holes(en[k]), `${k}: the placeholders differ`);
  }
});

test('the German catalogue is German: at most the words both languages share are the same', () => {
  // Words the two languages write alike (technical terms, names).
  const same = new Set(['Status', 'Message-ID', 'Server', 'Domain {name}', 'Referenz (REF)']);
  const en = CATALOGUES.en;
  const de = CATALOGUES.de;
  const copied = (Object.keys(en) as (keyof typeof en)[]).filter((k) => en[k] === de[k] && !same.has(en[k]));
  assert.deepEqual(copied, []);
});

test('parameters are filled in; a missing one stays visible', () => {
  assert.equal(textsOf('de')('search.count_other', { n: 3 }), '3 Nachrichten');
  assert.equal(fill('{a} and {b}', { a: 1 }), '1 and {b}');
});
