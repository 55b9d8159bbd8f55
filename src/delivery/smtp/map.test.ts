import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mapRefusal, parseReply } from './map.js';
import { DeliveredMemory } from '../memory.js';
import { finalReply } from '../../smtp/gateway.js';
import type { FailedCopy } from '../types.js';

test('parseReply reads code, enhanced code and text; hostile bytes are cleaned', () => {
  assert.deepEqual(parseReply("550 5.1.1 <x@y.test> User doesn't exist: x@y.test"), { code: 550, enhanced: '5.1.1', text: "<x@y.test> User doesn't exist: x@y.test" });
  assert.deepEqual(parseReply('250 ok'), { code: 250, enhanced: null, text: 'ok' });
  const evil = parseReply('452 4.2.2 full\r\n\x1b[31m');
  assert.equal(evil.code, 452);
  assert.doesNotMatch(evil.text, /[\r\n\x1b]/);
  assert.equal(parseReply('garbage').code, null);
});

test('mapRefusal: our text and codes, never the downstream text', () => {
  const unknown = mapRefusal(parseReply("550 5.1.1 <x@y.test> User doesn't exist: x@y.test"), 'x@y.test');
  assert.deepEqual([unknown.code, unknown.enhanced], [550, '5.1.1']);
  assert.doesNotMatch(unknown.text, /doesn't exist/);
  assert.deepEqual([mapRefusal(parseReply('552 5.2.2 <a@b> Quota exceeded'), 'a@b').code, mapRefusal(parseReply('452 4.2.2 <a@b> Quota exceeded'), 'a@b').code], [552, 452]);
  const t = mapRefusal(parseReply('421 4.3.2 shutting down /var/secret/path'), 'a@b');
  assert.deepEqual([t.code, t.enhanced], [451, '4.3.2']);
  assert.doesNotMatch(t.text, /secret/);
  // A class mismatch (5xx with a 4.x.x enhanced code) is not trusted.
  assert.equal(mapRefusal(parseReply('554 4.0.0 odd'), 'a@b').enhanced, '5.0.0');
});

const box = (local: string) => ({ local, domain: 'lmtp.test' });
const fail = (local: string, temporary: boolean, code: 452 | 552): FailedCopy => ({
  mailbox: box(local), temporary, target: 'lmtp', details: {},
  reply: { code, enhanced: temporary ? '4.2.2' : '5.2.2', text: `The mailbox <${local}@lmtp.test> is full` },
});
const stored = (local: string) => ({ mailbox: box(local), location: 'lmtp:x', target: 'lmtp', details: {} });

test('finalReply: 250 only when all stored; mixed is never 250', () => {
  assert.equal(finalReply({ stored: [stored('a')], failed: [], bodyHash: null }).code, 250);
  assert.equal(finalReply({ stored: [], failed: [fail('b', false, 552)], bodyHash: null }).code, 552);
  assert.equal(finalReply({ stored: [], failed: [fail('b', false, 552), fail('c', true, 452)], bodyHash: null }).code, 452);
  const mixedTemp = finalReply({ stored: [stored('a')], failed: [fail('b', true, 452)], bodyHash: null });
  assert.deepEqual([mixedTemp.code, mixedTemp.enhanced], [451, '4.3.0']);
  const mixedPerm = finalReply({ stored: [stored('a')], failed: [fail('b', false, 552)], bodyHash: null });
  assert.equal(mixedPerm.code, 552);
  assert.match(mixedPerm.text, /the other recipients got the message/);
});

test('DeliveredMemory remembers per body+sender+recipient for 3 days, forgets after a 250', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-mem-'));
  let now = 1_000_000;
  const m = new DeliveredMemory(dir, () => now);
  try {
    m.remember('h1', 'S@x.test', [{ rcpt: 'A@lmtp.test', ref: 'R1' }]);
    assert.equal(m.already('h1', 's@x.test', 'a@lmtp.test'), 'R1');
    assert.equal(m.already('h1', 's@x.test', 'b@lmtp.test'), null);
    assert.equal(m.already('h2', 's@x.test', 'a@lmtp.test'), null);
    assert.equal(m.already('h1', 'other@x.test', 'a@lmtp.test'), null);
    now += 3 * 24 * 3600 * 1000 + 1;
    assert.equal(m.already('h1', 's@x.test', 'a@lmtp.test'), null, 'expired');
    m.remember('h3', '', [{ rcpt: 'a@lmtp.test', ref: 'R2' }]);
    m.forget('h3', '');
    assert.equal(m.already('h3', '', 'a@lmtp.test'), null);
  } finally {
    m.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
