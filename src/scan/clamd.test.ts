// The INSTREAM client against a tiny in-process fake clamd that decodes the
// framing byte by byte. The real clamd is tested in test/e2e/50-clamd.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ClamdClient, parseInstreamReply, scanMessage, describePart } from './clamd.js';

interface Received {
  command: string;
  /** Chunk lengths as framed, the zero terminator included. */
  frames: number[];
  data: Buffer;
}

type Behaviour =
  /** Reply to the complete stream. */
  | { kind: 'reply'; reply: (data: Buffer) => string }
  /** Answer "size limit exceeded" and close once more than `limit` bytes arrived. */
  | { kind: 'limit'; limit: number }
  /** Read everything, never answer. */
  | { kind: 'silent' }
  /** Close without a reply after `after` bytes. */
  | { kind: 'hangup'; after: number };

class FakeClamd {
  server: net.Server;
  received: Received[] = [];
  behaviour: Behaviour = { kind: 'reply', reply: () => 'stream: OK' };
  port = 0;
  socketPath: string;
  private sockets = new Set<net.Socket>();

  constructor(socketPath: string) {
    this.socketPath = socketPath;
    this.server = net.createServer((s) => this.handle(s));
  }

  async listenTcp(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  handle(s: net.Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => { /* client went away */ });
    let buf = Buffer.alloc(0);
    let command: string | null = null;
    const rec: Received = { command: '', frames: [], data: Buffer.alloc(0) };
    const parts: Buffer[] = [];
    let total = 0;
    let done = false;
    const beh = this.behaviour;
    s.on('data', (d: Buffer) => {
      if (done) return;
      buf = Buffer.concat([buf, d]);
      if (command === null) {
        const nul = buf.indexOf(0);
        if (nul < 0) return;
        command = buf.subarray(0, nul).toString('latin1');
        rec.command = command;
        this.received.push(rec);
        buf = buf.subarray(nul + 1);
        if (command === 'zPING') {
          done = true;
          s.end('PONG\0');
          return;
        }
        if (command === 'zVERSION') {
          done = true;
          s.end('ClamAV 1.4.6/27000/Fake\0');
          return;
        }
      }
      while (buf.length >= 4) {
        const len = buf.readUInt32BE(0);
        if (len === 0) {
          rec.frames.push(0);
          rec.data = Buffer.concat(parts);
          done = true;
          if (beh.kind === 'reply') s.end(`${beh.reply(rec.data)}\0`);
          else if (beh.kind === 'hangup') s.destroy();
          return;
        }
        if (buf.length < 4 + len) break;
        rec.frames.push(len);
        parts.push(buf.subarray(4, 4 + len));
        total += len;
        buf = buf.subarray(4 + len);
        if (beh.kind === 'limit' && total > beh.limit) {
          done = true;
          s.end('INSTREAM size limit exceeded. ERROR\0');
          return;
        }
      }
      if (beh.kind === 'hangup' && total + buf.length >= beh.after) {
        done = true;
        s.destroy();
      }
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

const EICAR_MARK = 'FAKE-EICAR';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-clamd-unit-'));
let fake: FakeClamd;
let unixFake: FakeClamd;

before(async () => {
  fake = new FakeClamd('');
  await fake.listenTcp();
  unixFake = new FakeClamd(path.join(dir, 'clamd.sock'));
  await new Promise<void>((r) => unixFake.server.listen(unixFake.socketPath, r));
});
after(async () => {
  await fake.close();
  await unixFake.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function client(o: { chunkBytes?: number; maxStreamBytes?: number; timeoutMs?: number } = {}): ClamdClient {
  return new ClamdClient({ address: { host: '127.0.0.1', port: fake.port }, ...o });
}

function scanner(data: Buffer): string {
  const m = data.toString('latin1').includes(EICAR_MARK);
  return m ? 'stream: Fake.EICAR FOUND' : 'stream: OK';
}

test('parseInstreamReply: OK, FOUND, ERROR, extended info, all-match, garbage', () => {
  assert.deepEqual(parseInstreamReply('stream: OK'), { kind: 'clean' });
  assert.deepEqual(parseInstreamReply('stream: Win.Test.EICAR_HDB-1 FOUND'), { kind: 'infected', signature: 'Win.Test.EICAR_HDB-1', signatures: ['Win.Test.EICAR_HDB-1'] });
  assert.deepEqual(parseInstreamReply('stream: Eicar-Signature(44d88612fea8a8f36de82e1278abb02f:68) FOUND'), { kind: 'infected', signature: 'Eicar-Signature', signatures: ['Eicar-Signature'] });
  assert.deepEqual(parseInstreamReply('stream: A FOUND\0stream: B FOUND\0stream: OK'), { kind: 'infected', signature: 'A', signatures: ['A', 'B'] });
  assert.deepEqual(parseInstreamReply('INSTREAM size limit exceeded. ERROR'), { kind: 'error', code: 'too_large', reason: 'INSTREAM size limit exceeded. ERROR' });
  assert.deepEqual(parseInstreamReply('stream: Can\'t allocate memory ERROR'), { kind: 'error', code: 'clamd', reason: 'stream: Can\'t allocate memory ERROR' });
  assert.equal(parseInstreamReply('').kind, 'error');
  const bad = parseInstreamReply('UNKNOWN COMMAND\r\x1b');
  assert.equal(bad.kind === 'error' && bad.code, 'protocol');
  assert.ok(bad.kind === 'error' && !/[\r\x1b]/.test(bad.reason), 'reply cleaned');
});

test('INSTREAM framing: command, 4-byte big-endian lengths, zero terminator, bytes intact', async () => {
  fake.behaviour = { kind: 'reply', reply: scanner };
  fake.received = [];
  const data = Buffer.alloc(10000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
  const r = await client({ chunkBytes: 4096 }).scan(data);
  assert.equal(r.kind, 'clean');
  assert.equal(r.raw, 'stream: OK');
  assert.equal(r.bytes, 10000);
  assert.ok(r.ms >= 0);
  const rec = fake.received[0]!;
  assert.equal(rec.command, 'zINSTREAM');
  assert.deepEqual(rec.frames, [4096, 4096, 1808, 0]);
  assert.deepEqual(rec.data, data);
});

test('an empty input is a zero terminator only', async () => {
  fake.behaviour = { kind: 'reply', reply: scanner };
  fake.received = [];
  const r = await client().scan(Buffer.alloc(0));
  assert.equal(r.kind, 'clean');
  assert.deepEqual(fake.received[0]!.frames, [0]);
});

test('FOUND gives the signature and the raw reply', async () => {
  fake.behaviour = { kind: 'reply', reply: scanner };
  const r = await client().scan(Buffer.from(`xx ${EICAR_MARK} yy`));
  assert.equal(r.kind, 'infected');
  assert.equal(r.kind === 'infected' && r.signature, 'Fake.EICAR');
  assert.equal(r.raw, 'stream: Fake.EICAR FOUND');
});

test('a spooled file is streamed; a missing file is an io error', async () => {
  fake.behaviour = { kind: 'reply', reply: scanner };
  fake.received = [];
  const file = path.join(dir, 'spooled');
  const data = Buffer.concat([Buffer.alloc(300000, 0x61), Buffer.from(EICAR_MARK)]);
  fs.writeFileSync(file, data);
  const r = await client({ chunkBytes: 65536 }).scan({ path: file });
  assert.equal(r.kind, 'infected');
  assert.deepEqual(fake.received[0]!.data, data);
  assert.deepEqual(fake.received[0]!.frames, [65536, 65536, 65536, 65536, 37866, 0]);
  const missing = await client().scan({ path: path.join(dir, 'nope') });
  assert.equal(missing.kind === 'error' && missing.code, 'io');
});

test('a unix socket works the same', async () => {
  unixFake.behaviour = { kind: 'reply', reply: scanner };
  const c = new ClamdClient({ address: { socket: unixFake.socketPath } });
  assert.equal((await c.scan(Buffer.from(EICAR_MARK))).kind, 'infected');
  assert.deepEqual((await c.ping()).ok, true);
  assert.equal(c.describe(), `unix:${unixFake.socketPath}`);
});

test('PING and VERSION', async () => {
  const p = await client().ping();
  assert.equal(p.ok, true);
  assert.equal(p.raw, 'PONG');
  assert.equal(await client().version(), 'ClamAV 1.4.6/27000/Fake');
});

test('input over maxStreamBytes is refused before sending', async () => {
  fake.received = [];
  const r = await client({ maxStreamBytes: 1000 }).scan(Buffer.alloc(1001));
  assert.equal(r.kind === 'error' && r.code, 'too_large');
  assert.equal(r.raw, null);
  assert.equal(fake.received.length, 0, 'nothing sent');
});

test('clamd\'s "size limit exceeded" while we still write is too_large, not a broken pipe', async () => {
  fake.behaviour = { kind: 'limit', limit: 100000 };
  const r = await client({ chunkBytes: 16384 }).scan(Buffer.alloc(8 * 1024 * 1024));
  assert.equal(r.kind, 'error');
  assert.equal(r.kind === 'error' && r.code, 'too_large', JSON.stringify(r));
  assert.equal(r.raw, 'INSTREAM size limit exceeded. ERROR');
});

test('no reply in time is a timeout', async () => {
  fake.behaviour = { kind: 'silent' };
  const t0 = Date.now();
  const r = await client({ timeoutMs: 300 }).scan(Buffer.from('x'));
  assert.equal(r.kind === 'error' && r.code, 'timeout');
  assert.ok(Date.now() - t0 < 2000);
});

test('a connection closed without a reply is an error, never clean', async () => {
  fake.behaviour = { kind: 'hangup', after: 1000 };
  const r = await client({ chunkBytes: 512 }).scan(Buffer.alloc(200000));
  assert.equal(r.kind, 'error');
  assert.ok(r.kind === 'error' && (r.code === 'protocol'), JSON.stringify(r));
});

test('nothing listening is a connect error', async () => {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  const r = await new ClamdClient({ address: { host: '127.0.0.1', port } }).scan(Buffer.from('x'));
  assert.equal(r.kind === 'error' && r.code, 'connect');
  assert.match(r.kind === 'error' ? r.reason : '', /ECONNREFUSED/);
  const u = await new ClamdClient({ address: { socket: path.join(dir, 'none.sock') } }).ping();
  assert.equal(u.ok, false);
});

test('an aborted signal ends the scan', async () => {
  fake.behaviour = { kind: 'silent' };
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  const r = await client({ timeoutMs: 10000 }).scan(Buffer.from('x'), ac.signal);
  assert.equal(r.kind === 'error' && r.code, 'aborted');
});

// scanMessage in 'parts' mode: parts first, then the whole message.

function mime(parts: Array<{ name?: string; type?: string; body: string; b64?: boolean }>): Buffer {
  const lines = ['From: a@example.org', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="XX"', ''];
  for (const p of parts) {
    lines.push('--XX', `Content-Type: ${p.type ?? 'application/octet-stream'}`);
    if (p.name) lines.push(`Content-Disposition: attachment; filename="${p.name}"`);
    if (p.b64) lines.push('Content-Transfer-Encoding: base64');
    lines.push('', p.b64 ? Buffer.from(p.body).toString('base64') : p.body);
  }
  lines.push('--XX--', '');
  return Buffer.from(lines.join('\r\n'));
}

test('scanMessage names the infected attachment, decoded', async (t) => {
  // Its own server: a connection an earlier test gave up on may still arrive at the shared one.
  const own = new FakeClamd('');
  await own.listenTcp();
  t.after(() => own.close());
  own.behaviour = { kind: 'reply', reply: scanner };
  const msg = mime([{ type: 'text/plain', body: 'hello' }, { name: 'invoice.zip', body: `zz${EICAR_MARK}zz`, b64: true }, { name: 'later.txt', body: 'x' }]);
  const r = await scanMessage(new ClamdClient({ address: { host: '127.0.0.1', port: own.port } }), msg, { mode: 'parts' });
  assert.equal(r.kind, 'infected');
  assert.ok(r.kind === 'infected');
  assert.equal(r.signature, 'Fake.EICAR');
  assert.deepEqual(r.part, { path: '2', filename: 'invoice.zip', contentType: 'application/octet-stream', within: [] });
  assert.equal(r.summary, 'Fake.EICAR in attachment invoice.zip');
  assert.equal(own.received.length, 2, 'stops at the finding: the third part and the whole message are not scanned');
  assert.deepEqual(r.scans.map((s) => [s.target, s.kind, s.part?.path]), [['part', 'clean', '1'], ['part', 'infected', '2']]);
  assert.equal(r.parts, 2);
});

test('scanMessage: clean parts, then the whole message; a finding only there has no part', async () => {
  // The mark split over two parts: no part has it, the whole message does.
  fake.behaviour = { kind: 'reply', reply: (d) => (/FAKE-[^]*EICAR/.test(d.toString('latin1')) ? 'stream: Whole.Only FOUND' : 'stream: OK') };
  const msg = mime([{ body: 'FAKE-' }, { body: 'EICAR' }]);
  const r = await scanMessage(client(), msg, { mode: 'parts' });
  assert.equal(r.kind, 'infected');
  assert.equal(r.kind === 'infected' && r.part, null);
  assert.equal(r.summary, 'Whole.Only in the message');
  assert.deepEqual(r.scans.map((s) => s.target), ['part', 'part', 'message']);

  fake.behaviour = { kind: 'reply', reply: scanner };
  const clean = await scanMessage(client(), mime([{ body: 'a' }, { name: 'b.txt', body: 'b' }]), { mode: 'parts' });
  assert.equal(clean.kind, 'clean');
  assert.equal(clean.summary, 'no virus found');
  assert.deepEqual(clean.scans.map((s) => [s.target, s.raw]), [['part', 'stream: OK'], ['part', 'stream: OK'], ['message', 'stream: OK']]);
});

test('scanMessage: a scanner error is an error, never clean', async () => {
  fake.behaviour = { kind: 'hangup', after: 1 };
  const r = await scanMessage(client(), mime([{ name: 'a.bin', body: 'abc' }]), { mode: 'parts' });
  assert.equal(r.kind, 'error');
  assert.match(r.summary, /^virus scan failed: .*attachment a\.bin/);
  const whole = await scanMessage(client(), mime([{ name: 'a.bin', body: 'abc' }]));
  assert.equal(whole.kind, 'error');
  assert.match(whole.summary, /^virus scan failed: .*\(scanning the whole message\)$/);
  const down = await scanMessage(new ClamdClient({ address: { socket: path.join(dir, 'none.sock') } }), mime([{ body: 'a' }]));
  assert.equal(down.kind === 'error' && down.code, 'connect');
});

for (const mode of ['parts', 'whole'] as const) test(`scanMessage (${mode}): over a MIME limit is limits_exceeded, unless the whole message is infected`, async () => {
  fake.behaviour = { kind: 'reply', reply: scanner };
  const many = mime(Array.from({ length: 30 }, (_, i) => ({ name: `f${i}.txt`, body: `part ${i}` })));
  const r = await scanMessage(client(), many, { limits: { maxParts: 10 }, mode });
  assert.equal(r.kind, 'limits_exceeded');
  assert.ok(r.kind === 'limits_exceeded');
  assert.equal(r.limit, 'parts');
  assert.equal(r.max, 10);
  assert.match(r.summary, /parts limit of 10/);
  assert.equal(r.scans[r.scans.length - 1]!.target, 'message', 'the whole message was still scanned');

  const bad = mime([...Array.from({ length: 30 }, (_, i) => ({ body: `part ${i}` })), { name: 'x.exe', body: EICAR_MARK }]);
  const r2 = await scanMessage(client(), bad, { limits: { maxParts: 10 }, mode });
  assert.equal(r2.kind, 'infected');
  assert.equal(r2.kind === 'infected' && r2.part, null);
});

test('scanMessage: evidence is bounded', async () => {
  fake.behaviour = { kind: 'reply', reply: scanner };
  const many = mime(Array.from({ length: 150 }, (_, i) => ({ body: `part ${i}` })));
  const r = await scanMessage(client(), many, { mode: 'parts' });
  assert.equal(r.kind, 'clean');
  assert.equal(r.scans.length, 100);
  assert.equal(r.scansOmitted, 51);
  assert.equal(r.parts, 150);
});

test('describePart and summaries are ASCII only', async () => {
  assert.equal(describePart({ path: '2.1', filename: null, contentType: 'text/plain', within: ['fwd.eml'] }), 'part 2.1 (text/plain) in attached message fwd.eml');
  fake.behaviour = { kind: 'reply', reply: scanner };
  const r = await scanMessage(client(), mime([{ name: 'r\u00e9sum\u00e9\x07.exe', body: EICAR_MARK }]));
  assert.equal(r.kind, 'infected');
  assert.match(r.summary, /^[\x20-\x7e]+$/);
});

test('scanMessage: a large part of a spooled message is streamed to clamd from a temporary file beside it, then removed', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-clamd-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const own = new FakeClamd('');
  await own.listenTcp();
  t.after(() => own.close());
  own.behaviour = { kind: 'reply', reply: scanner };
  const big = 'x'.repeat(2 * 1024 * 1024) + EICAR_MARK;
  const file = path.join(dir, 'msg');
  fs.writeFileSync(file, mime([{ type: 'text/plain', body: 'hello' }, { name: 'big.bin', body: big, b64: true }]));
  const r = await scanMessage(new ClamdClient({ address: { host: '127.0.0.1', port: own.port } }), { path: file }, { mode: 'parts' });
  assert.equal(r.kind, 'infected');
  assert.deepEqual(r.kind === 'infected' && r.part, { path: '2', filename: 'big.bin', contentType: 'application/octet-stream', within: [] });
  assert.equal(own.received[1]!.data.toString('latin1'), big, 'the decoded part, whole');
  assert.equal(r.scans[1]!.bytes, big.length);
  assert.deepEqual(fs.readdirSync(dir), ['msg']);
});

// scanMessage in 'whole' mode (the default): one stream for a clean message;
// the parts only to name what clamd found. The fake matches raw bytes, so
// the marks below are in parts without base64 (clamd decodes base64 itself:
// test/e2e/50-clamd).

async function ownFake(t: { after: (fn: () => Promise<void>) => void }, reply: (d: Buffer) => string): Promise<{ fake: FakeClamd; client: ClamdClient }> {
  const own = new FakeClamd('');
  await own.listenTcp();
  t.after(() => own.close());
  own.behaviour = { kind: 'reply', reply };
  return { fake: own, client: new ClamdClient({ address: { host: '127.0.0.1', port: own.port } }) };
}

test('scanMessage (whole): a clean message is one stream of the raw message, and no MIME walk', async (t) => {
  const { fake: own, client: c } = await ownFake(t, scanner);
  const msg = mime([{ type: 'text/plain', body: 'hello' }, { name: 'a.pdf', body: '%PDF-1.4 x', b64: true }, { name: 'b.txt', body: 'b' }]);
  const r = await scanMessage(c, msg, { checkLimits: false });
  assert.equal(r.kind, 'clean');
  assert.equal(own.received.length, 1);
  assert.deepEqual(own.received[0]!.data, msg, 'the message as it is');
  assert.deepEqual(r.scans.map((s) => [s.target, s.kind, s.bytes, s.raw]), [['message', 'clean', msg.length, 'stream: OK']]);
  assert.equal(r.parts, null, 'not walked');
  // With the limits checked here, the walk runs (and counts the parts), still one stream.
  const counted = await scanMessage(c, msg);
  assert.equal(counted.kind, 'clean');
  assert.equal(counted.parts, 3);
  assert.equal(own.received.length, 2);
});

test('scanMessage (whole): a finding sends the parts one by one, up to the infected one, to name the attachment', async (t) => {
  const { fake: own, client: c } = await ownFake(t, scanner);
  const msg = mime([{ type: 'text/plain', body: 'hello' }, { name: 'invoice.zip', body: `zz${EICAR_MARK}zz` }, { name: 'later.txt', body: 'x' }]);
  const r = await scanMessage(c, msg);
  assert.equal(r.kind, 'infected');
  assert.deepEqual(r.kind === 'infected' && r.part, { path: '2', filename: 'invoice.zip', contentType: 'application/octet-stream', within: [] });
  assert.equal(r.summary, 'Fake.EICAR in attachment invoice.zip');
  assert.deepEqual(r.scans.map((s) => [s.target, s.kind, s.part?.path]), [['message', 'infected', undefined], ['part', 'clean', '1'], ['part', 'infected', '2']]);
  assert.deepEqual(own.received.map((x) => x.data.length), [msg.length, 5, EICAR_MARK.length + 4], 'the third part is not scanned');
});

test('scanMessage (whole): a finding no part carries stays on the message; a failure while naming keeps the finding', async (t) => {
  // The mark split over two parts: only the whole message has it.
  const split = await ownFake(t, (d) => (/FAKE-[^]*EICAR/.test(d.toString('latin1')) ? 'stream: Whole.Only FOUND' : 'stream: OK'));
  const r = await scanMessage(split.client, mime([{ body: 'FAKE-' }, { body: 'EICAR' }]));
  assert.equal(r.kind, 'infected');
  assert.equal(r.kind === 'infected' && r.part, null);
  assert.equal(r.kind === 'infected' && r.signature, 'Whole.Only');
  assert.equal(r.summary, 'Whole.Only in the message');
  assert.deepEqual(r.scans.map((s) => [s.target, s.kind]), [['message', 'infected'], ['part', 'clean'], ['part', 'clean']]);

  // clamd finds it, then fails on the first part: still infected, on the message.
  let n = 0;
  const flaky = await ownFake(t, () => (n++ === 0 ? 'stream: Fake.EICAR FOUND' : 'Can\'t allocate memory ERROR'));
  const f = await scanMessage(flaky.client, mime([{ name: 'a.bin', body: EICAR_MARK }]));
  assert.equal(f.kind, 'infected');
  assert.equal(f.kind === 'infected' && f.part, null);
  assert.deepEqual(f.scans.map((s) => [s.target, s.kind]), [['message', 'infected'], ['part', 'error']]);
});
