import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { collect, discard , utf8Header } from './collect.js';

function streamOf(chunks: string[]): Readable {
  return Readable.from(chunks.map((c) => Buffer.from(c, 'latin1')));
}

test('CRLF becomes LF even when a chunk ends between CR and LF', async () => {
  const c = await collect(streamOf(['Subject: a\r', '\nMessage-ID: <x@y>\r\n\r', '\nbody\r\nline\r']), os.tmpdir());
  assert.ok('buffer' in c.body);
  assert.equal(c.body.buffer.toString('latin1'), 'Subject: a\nMessage-ID: <x@y>\n\nbody\nline\r');
  assert.equal(c.messageId, 'x@y');
  assert.equal(c.subject, 'a');
  assert.equal(c.size, c.body.buffer.length);
});

test('RFC 2047 subjects are decoded; folded headers unfolded', async () => {
  const c = await collect(streamOf(['Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n  aus Bonn\r\nMessage-ID:\r\n <id@x>\r\n\r\nb\r\n']), os.tmpdir());
  assert.equal(c.subject, 'Grüße aus Bonn');
  assert.equal(c.messageId, 'id@x');
});

test('large messages go to a spool file, which discard removes', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-spool-'));
  const big = 'Subject: big\r\n\r\n' + ('y'.repeat(998) + '\r\n').repeat(3000);
  const c = await collect(streamOf([big.slice(0, 500000), big.slice(500000)]), dir);
  assert.ok('path' in c.body);
  assert.equal(fs.statSync(c.body.path).size, c.size);
  // Every CRLF lost its CR: two in the header, one per body line.
  assert.equal(c.size, Buffer.byteLength(big) - 3002);
  await discard(c);
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('a message without header/body separator still parses', async () => {
  const c = await collect(streamOf(['just text without headers']), os.tmpdir());
  assert.equal(c.messageId, null);
  assert.equal(c.size, 25);
});

test('bare CR and bare LF are counted with the first offset; reject keeps them, normalize makes them line ends', async () => {
  // Chunks split inside a CRLF and right after a bare CR.
  const chunks = ['Subject: a\r\n\r\nouter\r', '.\r', '\nnext\nlast\r'];
  const kept = await collect(streamOf(chunks), os.tmpdir());
  assert.deepEqual(kept.bare, { cr: 2, lf: 1, first: 19 });
  assert.ok('buffer' in kept.body);
  assert.equal(kept.body.buffer.toString('latin1'), 'Subject: a\n\nouter\r.\nnext\nlast\r');
  const norm = await collect(streamOf(chunks), os.tmpdir(), 'normalize');
  assert.deepEqual(norm.bare, { cr: 2, lf: 1, first: 19 });
  assert.ok('buffer' in norm.body);
  assert.equal(norm.body.buffer.toString('latin1'), 'Subject: a\n\nouter\n.\nnext\nlast\n');
  assert.equal(norm.size, norm.body.buffer.length);
  const clean = await collect(streamOf(['Subject: a\r\n\r\nbody\r', '\nline\r\n']), os.tmpdir());
  assert.deepEqual(clean.bare, { cr: 0, lf: 0, first: null });
});

test('a raw UTF-8 subject is read as UTF-8 (RFC 6532); bytes that are not UTF-8 stay Latin-1', () => {
  assert.equal(utf8Header(Buffer.from('Angebot für Dezember', 'utf8').toString('latin1')), 'Angebot für Dezember');
  assert.equal(utf8Header(Buffer.from('Gr\xfc\xdfe', 'latin1').toString('latin1')), 'Grüße');
  assert.equal(utf8Header('plain'), 'plain');
});
