import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { MemoryBudget } from './part-body.js';
import { walkParts, type MimePart, type WalkItem, type WalkSource, type MimeLimits } from './parts.js';

async function walk(src: WalkSource, limits?: Partial<MimeLimits>): Promise<WalkItem[]> {
  const out: WalkItem[] = [];
  for await (const item of walkParts(src, limits)) out.push(item);
  return out;
}

/** The parts with their decoded content (small here: held in memory, so still there once the walk is over). */
function partsOf(items: WalkItem[]): Array<MimePart & { content: Buffer }> {
  return items.flatMap((i) => {
    if (i.kind !== 'part') return [];
    assert.ok('buffer' in i.part.body, `part ${i.part.path} went to a file`);
    return [{ ...i.part, content: i.part.body.buffer }];
  });
}

const crlf = (lines: string[]): Buffer => Buffer.from(lines.join('\r\n'));

/** A byte stream that counts what the walker pulled from it. */
function counting(buf: Buffer, chunk = 4096): { stream: Readable; pulled: () => number } {
  let pulled = 0;
  const stream = Readable.from((function* () {
    for (let off = 0; off < buf.length; off += chunk) {
      const c = buf.subarray(off, off + chunk);
      pulled += c.length;
      yield c;
    }
  })(), { objectMode: false });
  return { stream, pulled: () => pulled };
}

test('a single-part message is one part "1" with its body', async () => {
  const items = await walk(Buffer.from('From: a@example.org\nSubject: hi\n\nhello\nworld\n'));
  const parts = partsOf(items);
  assert.equal(items.length, 1);
  assert.equal(parts[0]!.path, '1');
  assert.equal(parts[0]!.contentType, 'text/plain');
  assert.equal(parts[0]!.filename, null);
  assert.equal(parts[0]!.depth, 0);
  assert.match(parts[0]!.content.toString(), /^hello\nworld/);
});

test('attachments are decoded (base64, quoted-printable) and carry their file names', async () => {
  const bin = Buffer.from([0, 1, 2, 255, 254, 13, 10, 65]);
  const msg = crlf([
    'From: a@example.org', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="outer"', '',
    'This is a multi-part message.',
    '--outer',
    'Content-Type: multipart/alternative; boundary=alt', '',
    '--alt', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable', '',
    'Gr=C3=BC=C3=9Fe, soft=', 'break',
    '--alt', 'Content-Type: text/html', '', '<p>hi</p>',
    '--alt--',
    '--outer',
    'Content-Type: application/octet-stream; name="ignored-name.bin"',
    'Content-Disposition: attachment; filename="invoice.bin"',
    'Content-Transfer-Encoding: base64', '',
    bin.toString('base64'),
    '--outer',
    'Content-Type: application/pdf',
    "Content-Disposition: attachment; filename*=utf-8''R%C3%A9sum%C3%A9.pdf",
    'Content-Transfer-Encoding: base64', '',
    Buffer.from('%PDF-1.4 fake').toString('base64'),
    '--outer',
    'Content-Type: text/plain; name="=?utf-8?Q?n=C3=B6tes.txt?="', '',
    'plain attachment',
    '--outer--', 'epilogue', '',
  ]);
  const parts = partsOf(await walk(msg));
  assert.deepEqual(parts.map((p) => [p.path, p.depth, p.contentType, p.filename]), [
    ['1.1', 2, 'text/plain', null],
    ['1.2', 2, 'text/html', null],
    ['2', 1, 'application/octet-stream', 'invoice.bin'],
    ['3', 1, 'application/pdf', 'Résumé.pdf'],
    ['4', 1, 'text/plain', 'nötes.txt'],
  ]);
  assert.equal(parts[0]!.content.toString('utf8'), 'Grüße, softbreak');
  assert.equal(parts[0]!.encoding, 'quoted-printable');
  assert.deepEqual(parts[2]!.content, bin);
  assert.equal(parts[2]!.disposition, 'attachment');
  assert.equal(parts[3]!.content.toString(), '%PDF-1.4 fake');
  assert.equal(parts[4]!.content.toString(), 'plain attachment');
});

test('LF-only line ends work the same', async () => {
  const msg = Buffer.from([
    'Content-Type: multipart/mixed; boundary=b', '', '--b', 'Content-Type: text/plain', '', 'one', '--b',
    'Content-Type: application/zip; name=a.zip', 'Content-Transfer-Encoding: base64', '', Buffer.from('PK\x03\x04zip').toString('base64'), '--b--', '',
  ].join('\n'));
  const parts = partsOf(await walk(msg));
  assert.deepEqual(parts.map((p) => [p.path, p.filename, p.content.toString('latin1')]), [['1', null, 'one'], ['2', 'a.zip', 'PK\x03\x04zip']]);
});

test('attached messages are walked too, inline or base64-encoded, with the container named in within', async () => {
  const inner = crlf([
    'From: x@example.net', 'Subject: inner', 'Content-Type: multipart/mixed; boundary="in"', '',
    '--in', 'Content-Type: text/plain', '', 'inner text',
    '--in', 'Content-Type: application/octet-stream', 'Content-Disposition: attachment; filename="deep.exe"', 'Content-Transfer-Encoding: base64', '',
    Buffer.from('MZ deep').toString('base64'),
    '--in--', '',
  ]);
  const msg = crlf([
    'Content-Type: multipart/mixed; boundary="out"', '',
    '--out', 'Content-Type: text/plain', '', 'see attached',
    '--out', 'Content-Type: message/rfc822', 'Content-Disposition: inline', '', inner.toString(),
    '--out', 'Content-Type: message/rfc822; name="fwd.eml"', 'Content-Disposition: attachment; filename="fwd.eml"', 'Content-Transfer-Encoding: base64', '',
    inner.toString('base64').replace(/.{76}/g, '$&\r\n'),
    '--out--', '',
  ]);
  const parts = partsOf(await walk(msg));
  assert.deepEqual(parts.map((p) => [p.path, p.depth, p.filename, p.within, p.content.toString()]), [
    ['1', 1, null, [], 'see attached'],
    ['2.1', 3, null, ['part 2'], 'inner text'],
    ['2.2', 3, 'deep.exe', ['part 2'], 'MZ deep'],
    ['3.1', 3, null, ['fwd.eml'], 'inner text'],
    ['3.2', 3, 'deep.exe', ['fwd.eml'], 'MZ deep'],
  ]);
});

test('a multipart without a boundary is one leaf, not lost', async () => {
  const parts = partsOf(await walk(Buffer.from('Content-Type: multipart/mixed\n\nhidden content\n')));
  assert.equal(parts.length, 1);
  assert.match(parts[0]!.content.toString(), /hidden content/);
});

test('reads a spooled file', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-parts-'));
  try {
    const file = path.join(dir, 'msg');
    fs.writeFileSync(file, crlf(['Content-Type: multipart/mixed; boundary=b', '', '--b', 'Content-Disposition: attachment; filename=x.txt', '', 'x'.repeat(300000), '--b--', '']));
    const seen: Array<[string | null, number, string]> = [];
    for await (const item of walkParts({ path: file })) {
      assert.equal(item.kind, 'part');
      if (item.kind !== 'part') continue;
      // Over the per-part cap for a spooled message: a file beside it, while the consumer has the part.
      const b = item.part.body;
      assert.ok('path' in b && path.dirname(b.path) === dir, JSON.stringify(b).slice(0, 100));
      seen.push([item.part.filename, item.part.size, fs.readFileSync(b.path, 'latin1')]);
    }
    assert.deepEqual(seen, [['x.txt', 300000, 'x'.repeat(300000)]]);
    assert.deepEqual(fs.readdirSync(dir), ['msg'], 'the part\'s file is gone once the walk moved on');
    await assert.rejects(walk({ path: path.join(dir, 'missing') }), /ENOENT/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('depth limit: a deeply nested bomb stops at the limit without being read whole', async () => {
  const depth = 50000; // ~3.7 MB: a tenth of it is well above any stream buffer (64 KiB from Node 22 on)
  const lines: string[] = ['Content-Type: multipart/mixed; boundary="b0"', ''];
  for (let i = 1; i < depth; i++) lines.push(`--b${i - 1}`, `Content-Type: multipart/mixed; boundary="b${i}"`, '');
  lines.push(`--b${depth - 1}`, 'Content-Type: text/plain', '', 'bottom');
  for (let i = depth - 1; i >= 0; i--) lines.push(`--b${i}--`);
  const buf = crlf(lines);
  const src = counting(buf);
  const items = await walk(src.stream, { maxDepth: 10 });
  assert.equal(items.length, 1);
  const last = items[0]!;
  assert.equal(last.kind, 'limits_exceeded');
  assert.equal(last.kind === 'limits_exceeded' && last.limit, 'depth');
  assert.equal(last.kind === 'limits_exceeded' && last.max, 10);
  assert.ok(src.pulled() < buf.length / 10, `pulled ${src.pulled()} of ${buf.length} bytes`);
});

test('depth limit counts attached messages', async () => {
  let msg = 'Content-Type: text/plain\r\n\r\nbottom\r\n';
  for (let i = 0; i < 6; i++) {
    msg = ['Content-Type: multipart/mixed; boundary="m"', '', '--m', 'Content-Type: message/rfc822', 'Content-Transfer-Encoding: base64', '',
      Buffer.from(msg).toString('base64'), '--m--', ''].join('\r\n');
  }
  const items = await walk(Buffer.from(msg), { maxDepth: 8 });
  const last = items[items.length - 1]!;
  assert.equal(last.kind, 'limits_exceeded');
  assert.equal(last.kind === 'limits_exceeded' && last.limit, 'depth');
  const ok = partsOf(await walk(Buffer.from(msg), { maxDepth: 12 }));
  assert.equal(ok.length, 1);
  assert.equal(ok[0]!.content.toString(), 'bottom\r\n');
  assert.equal(ok[0]!.within.length, 6);
});

test('parts limit: many parts stop at the limit, early', async () => {
  const n = 20000;
  const lines: string[] = ['Content-Type: multipart/mixed; boundary="b"', ''];
  for (let i = 0; i < n; i++) lines.push('--b', `Content-Disposition: attachment; filename="f${i}.txt"`, '', `part ${i}`);
  lines.push('--b--', '');
  const buf = crlf(lines);
  const src = counting(buf);
  const items = await walk(src.stream, { maxParts: 100 });
  const parts = partsOf(items);
  const last = items[items.length - 1]!;
  assert.equal(last.kind, 'limits_exceeded');
  assert.equal(last.kind === 'limits_exceeded' && last.limit, 'parts');
  assert.ok(parts.length >= 98 && parts.length <= 100, `${parts.length} parts before the limit`);
  assert.ok(src.pulled() < buf.length / 10, `pulled ${src.pulled()} of ${buf.length} bytes`);
});

test('decoded bytes limit', async () => {
  const big = Buffer.alloc(200000, 0x41);
  const msg = crlf(['Content-Type: multipart/mixed; boundary=b', '',
    '--b', 'Content-Disposition: attachment; filename=a.bin', 'Content-Transfer-Encoding: base64', '', big.toString('base64'),
    '--b', 'Content-Disposition: attachment; filename=b.bin', 'Content-Transfer-Encoding: base64', '', big.toString('base64'),
    '--b--', '']);
  const items = await walk(msg, { maxDecodedBytes: 300000 });
  assert.equal(items.length, 2);
  const first = items[0]!;
  assert.equal(first.kind === 'part' && first.part.filename, 'a.bin');
  assert.deepEqual(items[1], { kind: 'limits_exceeded', limit: 'decoded_bytes', max: 300000, at: '2' });
  assert.equal(partsOf(await walk(msg, { maxDecodedBytes: 400000 })).length, 2);
});

test('header size limit', async () => {
  const msg = Buffer.from(`Subject: ${'x'.repeat(5000)}\n\nbody\n`);
  const items = await walk(msg, { maxHeaderBytes: 1000 });
  assert.equal(items.length, 1);
  const only = items[0]!;
  assert.equal(only.kind === 'limits_exceeded' && only.limit, 'header_bytes');
});

test('breaking out of the walk ends it cleanly', async () => {
  const lines: string[] = ['Content-Type: multipart/mixed; boundary="b"', ''];
  for (let i = 0; i < 50; i++) lines.push('--b', '', `part ${i}`);
  lines.push('--b--', '');
  let seen = 0;
  for await (const item of walkParts(crlf(lines))) {
    assert.equal(item.kind, 'part');
    if (++seen === 3) break;
  }
  assert.equal(seen, 3);
});

// Memory: a part over the per-part cap, or beyond the shared budget, goes to
// a temporary file; the walk never holds more than the caps.

function bigParts(): { msg: Buffer; a: Buffer; b: Buffer } {
  const a = randomBytes(3 * 1024 * 1024 + 17);
  const b = randomBytes(2 * 1024 * 1024);
  const msg = crlf(['Content-Type: multipart/mixed; boundary=b', '',
    '--b', 'Content-Type: text/plain', 'Content-Transfer-Encoding: quoted-printable', '', 'small =C3=BC',
    '--b', 'Content-Disposition: attachment; filename=a.bin', 'Content-Transfer-Encoding: base64', '', a.toString('base64').replace(/.{76}/g, '$&\r\n'),
    '--b', 'Content-Type: message/rfc822', 'Content-Transfer-Encoding: base64', '',
    crlf(['Content-Type: application/octet-stream; name=b.bin', 'Content-Transfer-Encoding: base64', '', b.toString('base64').replace(/.{76}/g, '$&\r\n'), '']).toString('base64').replace(/.{76}/g, '$&\r\n'),
    '--b--', '']);
  return { msg, a, b };
}

test('large parts go to temporary files, decoded whole and in order; the walk holds no more than its caps', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-parts-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { msg, a, b } = bigParts();
  const budget = new MemoryBudget(256 * 1024);
  const seen: Array<[string, string | null, number, 'memory' | 'file', string]> = [];
  let mostHeld = 0;
  const timer = setInterval(() => { mostHeld = Math.max(mostHeld, budget.inUse); }, 1);
  for await (const item of walkParts(msg, {}, { maxHeldPartBytes: 64 * 1024, spillDir: dir, budget })) {
    assert.equal(item.kind, 'part');
    if (item.kind !== 'part') continue;
    const p = item.part;
    const bytes = 'buffer' in p.body ? p.body.buffer : fs.readFileSync(p.body.path);
    if ('path' in p.body) assert.equal(path.dirname(p.body.path), dir);
    seen.push([p.path, p.filename, p.size, 'buffer' in p.body ? 'memory' : 'file', createHash('sha256').update(bytes).digest('hex')]);
    mostHeld = Math.max(mostHeld, budget.inUse);
  }
  clearInterval(timer);
  const sha = (x: Buffer | string): string => createHash('sha256').update(x).digest('hex');
  assert.deepEqual(seen, [
    ['1', null, 8, 'memory', sha('small ü')],
    ['2', 'a.bin', a.length, 'file', sha(a)],
    ['3.1', 'b.bin', b.length, 'file', sha(b)],
  ]);
  assert.ok(mostHeld <= 64 * 1024, `held ${mostHeld} bytes`);
  assert.equal(budget.inUse, 0, 'everything given back');
  assert.deepEqual(fs.readdirSync(dir), [], 'no file left behind');
});

test('a used-up budget sends even a small part to a file; breaking out of the walk removes its file', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-parts-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { msg } = bigParts();
  for await (const item of walkParts(msg, {}, { maxHeldPartBytes: 1024 * 1024, spillDir: dir, budget: new MemoryBudget(0) })) {
    assert.ok(item.kind === 'part' && 'path' in item.part.body);
    assert.equal(fs.readFileSync(item.part.body.path, 'utf8'), 'small ü');
    break;
  }
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('the decoded bytes limit holds for parts in files too, and leaves no file', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-parts-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { msg } = bigParts();
  const items = await walk(msg, { maxDecodedBytes: 4 * 1024 * 1024 });
  assert.deepEqual(items.slice(-1), [{ kind: 'limits_exceeded', limit: 'decoded_bytes', max: 4 * 1024 * 1024, at: '3' }]);
  const spooled = path.join(dir, 'msg');
  fs.writeFileSync(spooled, msg);
  const again: WalkItem[] = [];
  for await (const item of walkParts({ path: spooled }, { maxDecodedBytes: 2 * 1024 * 1024 })) again.push(item);
  assert.deepEqual(again.map((i) => i.kind), ['part', 'limits_exceeded']);
  assert.deepEqual(fs.readdirSync(dir), ['msg']);
});
