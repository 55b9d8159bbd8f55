import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crlfSize, listMaildir, parseHeaderFacts, Pop3Encoder, uidlOf } from './maildir-view.js';

function encode(input: string, bodyLines: number | null = null, chunk = 3): string {
  const enc = new Pop3Encoder(bodyLines);
  const parts: Buffer[] = [];
  const b = Buffer.from(input, 'latin1');
  for (let i = 0; i < b.length; i += chunk) parts.push(enc.push(b.subarray(i, i + chunk)));
  parts.push(enc.end());
  return Buffer.concat(parts).toString('latin1');
}

test('LF becomes CRLF, CRLF stays, a leading "." is doubled, and the reply ends with "."', () => {
  assert.equal(encode('A: b\n\n.x\n..\nend\n'), 'A: b\r\n\r\n..x\r\n...\r\nend\r\n.\r\n');
  assert.equal(encode('A: b\r\n\r\n.\r\nz'), 'A: b\r\n\r\n..\r\nz\r\n.\r\n', 'a missing last line end is added');
  assert.equal(encode(''), '.\r\n');
});

test('TOP: header, blank line and n body lines', () => {
  const msg = 'A: 1\nB: 2\n\nl1\n.l2\nl3\n';
  assert.equal(encode(msg, 0), 'A: 1\r\nB: 2\r\n\r\n.\r\n');
  assert.equal(encode(msg, 2, 1), 'A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\n.\r\n');
  assert.equal(encode(msg, 99), 'A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n');
});

test('the size counts CRLF line ends and no dot-stuffing, as sent', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-p3v-'));
  try {
    const f = path.join(dir, 'm');
    const content = 'A: b\n\n.x\r\nend';
    fs.writeFileSync(f, content);
    const sent = encode(content);
    // Without the terminating ".\r\n", the stuffing "." and the added final CRLF.
    assert.equal(await crlfSize(f), sent.length - 3 - 1 - 2);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('UIDL: the Maildir base name, or a hash when it is too long or has odd bytes', () => {
  assert.equal(uidlOf('1795.M1P2Q3Rab.host,S=12:2,S'), '1795.M1P2Q3Rab.host,S=12');
  assert.match(uidlOf('x'.repeat(71)), /^[0-9a-f]{40}$/);
  assert.match(uidlOf('a b'), /^[0-9a-f]{40}$/);
});

test('the listing covers new/ and cur/, oldest first, each message once', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-p3v-'));
  try {
    for (const s of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(dir, s));
    fs.writeFileSync(path.join(dir, 'new', '200.M1.h,S=2'), 'b\n');
    fs.writeFileSync(path.join(dir, 'cur', '100.M1.h,S=2:2,S'), 'a\n');
    fs.writeFileSync(path.join(dir, 'cur', '200.M1.h,S=2:2,'), 'b\n');
    fs.writeFileSync(path.join(dir, 'tmp', '050.M1.h'), 'half');
    const list = await listMaildir(dir);
    assert.deepEqual(list.map((m) => [m.n, m.uidl, m.size]), [[1, '100.M1.h,S=2', 3], [2, '200.M1.h,S=2', 3]]);
    assert.deepEqual(await listMaildir(path.join(dir, 'missing')), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the REF comes from the topmost Received: only; Message-ID as the gateway reads it', () => {
  const ours = 'Return-Path: <a@b>\nReceived: from x (y [192.0.2.7])\n\tby mx (mailproof) with ESMTPS id 0NVXBYDR8VNM\n\tfor <d@d.test>;\n\tFri, 27 Nov 2026\nReceived: from z by q (mailproof) with ESMTP id ZZZZZZZZZZZZ;\nMessage-ID:\n <m1@example.org>\n\nReceived: body text\n';
  assert.deepEqual(parseHeaderFacts(Buffer.from(ours)), { ref: '0NVXBYDR8VNM', messageId: 'm1@example.org' });
  // A message that did not come through the gateway: a sender-written REF lower down is not believed.
  const forged = 'Received: from evil by somewhere; date\nReceived: by mx (mailproof) with ESMTP id 0NVXBYDR8VNM;\n\nx\n';
  assert.deepEqual(parseHeaderFacts(Buffer.from(forged)), { ref: null, messageId: null });
  assert.deepEqual(parseHeaderFacts(Buffer.from('\x00\x01garbage without header')), { ref: null, messageId: null });
});
