// The rspamd client against its reply parser and an in-process HTTP server
// standing in for rspamd (test/e2e/60-spam runs the real one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { RspamdClient, parseRspamdReply, rspamdHeaders } from './rspamd.js';
import { RSPAMD_RBL_SYMBOLS, rspamdSettings } from './rspamd-settings.js';

// Replies of the real rspamd 3.4 (Debian bookworm), shortened.
const GTUBE_REPLY = '{"is_skipped":true,"score":15.0,"required_score":15.0,"action":"reject","symbols":{"GTUBE":{"name":"GTUBE","score":0.0,"metric_score":0.0}},"messages":{"smtp_message":"Gtube pattern"},"message-id":"x@example.org","time_real":0.002498}';
const CLEAN_REPLY = '{"is_skipped":false,"score":-0.1,"required_score":15.0,"action":"no action","symbols":{"MIME_TRACE":{"name":"MIME_TRACE","score":0.0,"metric_score":0.0,"options":["0:+"]},"MIME_GOOD":{"name":"MIME_GOOD","score":-0.100000,"metric_score":-0.100000,"description":"Known content-type","options":["text/plain"]},"HFILTER_HELO_IP_A":{"name":"HFILTER_HELO_IP_A","score":1.0,"metric_score":1.0,"description":"Helo A IP != hostname IP","options":["mail.example.org"]}},"messages":{},"message-id":"abc.123@example.org","time_real":0.948613,"milter":{"remove_headers":{"X-Spam":0}}}';

test('parseRspamdReply: GTUBE is a reject', () => {
  const v = parseRspamdReply(200, GTUBE_REPLY);
  assert.deepEqual(v, {
    kind: 'scored', backend: 'rspamd', score: 15, threshold: 15, spam: true, action: 'reject',
    symbols: [{ name: 'GTUBE', score: 0 }],
  });
});

test('parseRspamdReply: a clean message, symbols by contribution', () => {
  const v = parseRspamdReply(200, CLEAN_REPLY);
  assert.equal(v.kind, 'scored');
  if (v.kind !== 'scored') return;
  assert.equal(v.score, -0.1);
  assert.equal(v.threshold, 15);
  assert.equal(v.spam, false);
  assert.equal(v.action, 'no action');
  assert.deepEqual(v.symbols, [
    { name: 'HFILTER_HELO_IP_A', score: 1 },
    { name: 'MIME_TRACE', score: 0 },
    { name: 'MIME_GOOD', score: -0.1 },
  ]);
});

test('parseRspamdReply: other actions are not "spam"', () => {
  for (const action of ['add header', 'greylist', 'soft reject', 'rewrite subject']) {
    const v = parseRspamdReply(200, JSON.stringify({ score: 7, required_score: 15, action }));
    assert.equal(v.kind, 'scored');
    if (v.kind === 'scored') {
      assert.equal(v.spam, false);
      assert.equal(v.action, action);
      assert.deepEqual(v.symbols, []);
    }
  }
});

test('parseRspamdReply: errors are typed', () => {
  assert.deepEqual(parseRspamdReply(400, '{"error":"Invalid IP header"}'),
    { kind: 'error', backend: 'rspamd', code: 'scanner', reason: 'rspamd answered HTTP 400: Invalid IP header' });
  assert.deepEqual(parseRspamdReply(502, '<html>bad gateway</html>'),
    { kind: 'error', backend: 'rspamd', code: 'scanner', reason: 'rspamd answered HTTP 502: <html>bad gateway</html>' });
  assert.equal(parseRspamdReply(200, 'pong').kind, 'error');
  assert.deepEqual(parseRspamdReply(200, '[1,2]'), { kind: 'error', backend: 'rspamd', code: 'protocol', reason: 'rspamd\'s reply is not a JSON object' });
  const noScore = parseRspamdReply(200, '{"required_score":15,"action":"reject"}');
  assert.equal(noScore.kind === 'error' && noScore.code, 'protocol');
  const noAction = parseRspamdReply(200, '{"score":1,"required_score":15}');
  assert.equal(noAction.kind === 'error' && noAction.code, 'protocol');
  const strScore = parseRspamdReply(200, '{"score":"15","required_score":15,"action":"reject"}');
  assert.equal(strScore.kind === 'error' && strScore.code, 'protocol');
  // An error reason never carries control bytes from the reply into a log line.
  const ctl = parseRspamdReply(500, '{"error":"a\\r\\nInjected: yes"}');
  assert.ok(ctl.kind === 'error' && !/[\r\n]/.test(ctl.reason), JSON.stringify(ctl));
});

test('rspamdHeaders: envelope to headers, cleaned', () => {
  assert.deepEqual(rspamdHeaders({
    clientIp: '192.0.2.1', helo: 'mail.example.org', ptr: 'mail.example.org', mailFrom: 'a@example.org',
    rcpts: ['b@example.com', 'c@example.com'], queueId: '7KQ2M9XH4PTV',
  }), {
    IP: '192.0.2.1', Helo: 'mail.example.org', Hostname: 'mail.example.org', From: 'a@example.org',
    Rcpt: ['b@example.com', 'c@example.com'], 'Queue-Id': '7KQ2M9XH4PTV',
  });
  assert.deepEqual(rspamdHeaders({ mailFrom: '' }), { From: '<>' });
  assert.deepEqual(rspamdHeaders({ helo: null, ptr: null, rcpts: [] }), {});
  // CR/LF from a client cannot add a header; UTF-8 goes out as its bytes.
  const h = rspamdHeaders({ helo: 'x\r\nSettings-ID: off', mailFrom: 'jörg@example.org' });
  assert.equal(h.Helo, 'x??Settings-ID: off');
  assert.equal(Buffer.from(h.From as string, 'latin1').toString('utf8'), 'jörg@example.org');
});

interface Seen { method: string; url: string; headers: http.IncomingHttpHeaders; rawHeaders: string[]; body: Buffer }

/** A stand-in for rspamd's worker: records the request, answers with handler's reply. */
async function fakeRspamd(handler: (req: Seen, res: http.ServerResponse) => void): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const sockets = new Set<net.Socket>();
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks) };
      seen.push(s);
      handler(s, res);
    });
  });
  srv.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const { port } = srv.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); srv.close(() => r()); }),
  };
}

test('RspamdClient: POST /checkv2 with the envelope and the message', async (t) => {
  const f = await fakeRspamd((_req, res) => { res.setHeader('Content-Type', 'application/json'); res.end(CLEAN_REPLY); });
  t.after(() => f.close());
  const c = new RspamdClient({ url: f.url });
  const msg = Buffer.from('Subject: hi\n\nhello\n');
  const r = await c.scan({ buffer: msg }, { clientIp: '192.0.2.1', helo: 'h.example', mailFrom: '', rcpts: ['a@x.test', 'b@x.test'], queueId: 'REF1' });
  assert.equal(r.kind, 'scored');
  assert.equal(r.raw, CLEAN_REPLY);
  assert.equal(r.bytes, msg.length);
  assert.equal(f.seen.length, 1);
  const s = f.seen[0]!;
  assert.equal(s.method, 'POST');
  assert.equal(s.url, '/checkv2');
  assert.deepEqual(s.body, msg);
  assert.equal(s.headers.ip, '192.0.2.1');
  assert.equal(s.headers.helo, 'h.example');
  assert.equal(s.headers.from, '<>');
  assert.equal(s.headers['queue-id'], 'REF1');
  assert.equal(s.headers['content-length'], String(msg.length));
  // One Rcpt header per recipient.
  const rcpts = s.rawHeaders.filter((_v, i) => i % 2 === 1 && s.rawHeaders[i - 1]!.toLowerCase() === 'rcpt');
  assert.deepEqual(rcpts, ['a@x.test', 'b@x.test']);
});

test('RspamdClient: a spooled file is streamed', async (t) => {
  const f = await fakeRspamd((_req, res) => res.end(GTUBE_REPLY));
  t.after(() => f.close());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-rspamd-unit-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'msg');
  const msg = Buffer.alloc(3 * 1024 * 1024 + 7, 'a');
  fs.writeFileSync(file, msg);
  const r = await new RspamdClient({ url: `${f.url}/` }).scan({ path: file });
  assert.equal(r.kind, 'scored');
  assert.equal(r.bytes, msg.length);
  assert.equal(f.seen[0]!.body.length, msg.length);
  assert.equal(f.seen[0]!.url, '/checkv2');

  const missing = await new RspamdClient({ url: f.url }).scan({ path: path.join(dir, 'nope') });
  assert.equal(missing.kind === 'error' && missing.code, 'io');
});

test('RspamdClient: nobody listening is a connect error, at once', async () => {
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const r = await new RspamdClient({ url: `http://127.0.0.1:${port}`, timeoutMs: 5000 }).scan(Buffer.from('x'));
  assert.equal(r.kind, 'error');
  if (r.kind !== 'error') return;
  assert.equal(r.code, 'connect');
  assert.equal(r.raw, null);
  assert.ok(r.ms < 2000, `took ${r.ms} ms`);
  assert.equal(await new RspamdClient({ url: `http://127.0.0.1:${port}` }).ping(500), false);
});

test('RspamdClient: a silent server is a timeout', async (t) => {
  const f = await fakeRspamd(() => { /* never answers */ });
  t.after(() => f.close());
  const t0 = Date.now();
  const r = await new RspamdClient({ url: f.url, timeoutMs: 300 }).scan(Buffer.from('x'));
  assert.equal(r.kind === 'error' && r.code, 'timeout');
  assert.ok(Date.now() - t0 < 2000);
});

test('RspamdClient: the caller can abort', async (t) => {
  const f = await fakeRspamd(() => { /* never answers */ });
  t.after(() => f.close());
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  const r = await new RspamdClient({ url: f.url, timeoutMs: 10000 }).scan(Buffer.from('x'), {}, { signal: ac.signal });
  assert.equal(r.kind === 'error' && r.code, 'aborted');
  assert.ok(r.ms < 2000);
});

test('RspamdClient: limits on the message and the reply', async (t) => {
  const f = await fakeRspamd((_req, res) => res.end(JSON.stringify({ score: 1, required_score: 15, action: 'no action', pad: 'x'.repeat(5000) })));
  t.after(() => f.close());
  const big = await new RspamdClient({ url: f.url, maxMessageBytes: 10 }).scan(Buffer.alloc(11));
  assert.equal(big.kind === 'error' && big.code, 'too_large');
  assert.equal(f.seen.length, 0, 'an oversized message is not sent');
  const r = await new RspamdClient({ url: f.url, maxResponseBytes: 1000 }).scan(Buffer.from('x'));
  assert.equal(r.kind === 'error' && r.code, 'protocol');
  assert.ok(r.kind === 'error' && /over 1000 bytes/.test(r.reason));
});

test('RspamdClient: HTTP errors and ping', async (t) => {
  const f = await fakeRspamd((req, res) => {
    if (req.url === '/ping') { res.end('pong\r\n'); return; }
    res.statusCode = 400;
    res.end('{"error":"bad request"}');
  });
  t.after(() => f.close());
  const c = new RspamdClient({ url: f.url });
  const r = await c.scan(Buffer.from('x'));
  assert.equal(r.kind === 'error' && r.code, 'scanner');
  assert.equal(r.raw, '{"error":"bad request"}');
  assert.equal(await c.ping(), true);
  assert.throws(() => new RspamdClient({ url: 'ftp://127.0.0.1/' }), /http: or https:/);
  assert.throws(() => new RspamdClient({ url: f.url, extraHeaders: { 'Settings-ID': 'a\r\nb' } }), /Invalid character/);
  assert.throws(() => new RspamdClient({ url: f.url, extraHeaders: { 'Bad Name': 'x' } }), /HTTP token/);
});

test('rspamdSettings: groups for SPF, DKIM, ARC and DMARC, the rule symbols for the client-address lists', () => {
  assert.equal(rspamdSettings(undefined), null);
  assert.equal(rspamdSettings({ spf: false, dkim: false, arc: false, dmarc: false, rbl: false }), null);
  assert.deepEqual(JSON.parse(rspamdSettings({ spf: true, dmarc: true })!), { groups_disabled: ['spf', 'dmarc'] });
  assert.deepEqual(JSON.parse(rspamdSettings({ spf: true, dkim: true, arc: true, dmarc: true, rbl: true })!), {
    groups_disabled: ['spf', 'dkim', 'arc', 'dmarc'], symbols_disabled: [...RSPAMD_RBL_SYMBOLS],
  });
  assert.deepEqual(JSON.parse(rspamdSettings({ rbl: true }, ['MY_RBL'])!), { symbols_disabled: ['MY_RBL'] });
  // Never the group "rbl": it would stop the URL lists (SURBL, URIBL, DBL) too.
  assert.doesNotMatch(rspamdSettings({ rbl: true })!, /groups_disabled/);
  assert.equal(rspamdSettings({ rbl: true }, []), null);
});

test('RspamdClient: what to skip goes in one Settings header; an operator\'s own settings header wins', async (t) => {
  const f = await fakeRspamd((_req, res) => { res.setHeader('Content-Type', 'application/json'); res.end(CLEAN_REPLY); });
  t.after(() => f.close());
  const msg = Buffer.from('Subject: hi\n\nhello\n');
  await new RspamdClient({ url: f.url }).scan(msg, { clientIp: '192.0.2.1' }, { skip: { spf: true, rbl: true } });
  assert.deepEqual(JSON.parse(String(f.seen[0]!.headers.settings)), { groups_disabled: ['spf'], symbols_disabled: [...RSPAMD_RBL_SYMBOLS] });
  await new RspamdClient({ url: f.url, rblSymbols: ['LOCAL_RBL'] }).scan(msg, {}, { skip: { rbl: true } });
  assert.deepEqual(JSON.parse(String(f.seen[1]!.headers.settings)), { symbols_disabled: ['LOCAL_RBL'] });
  await new RspamdClient({ url: f.url }).scan(msg, {}, {});
  assert.equal(f.seen[2]!.headers.settings, undefined, 'nothing to skip, no header');
  await new RspamdClient({ url: f.url, extraHeaders: { 'Settings-ID': 'inbound' } }).scan(msg, {}, { skip: { spf: true } });
  assert.equal(f.seen[3]!.headers.settings, undefined);
  assert.equal(f.seen[3]!.headers['settings-id'], 'inbound');
  assert.throws(() => new RspamdClient({ url: f.url, rblSymbols: ['BAD\r\nX: y'] }), /not a symbol name/);
});
