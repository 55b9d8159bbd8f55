// The spamd client against its reply parser and an in-process TCP server
// standing in for spamd (test/e2e/60-spam runs the real one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SpamdClient, parseReportTable, parseSpamdReply, spamdRequest, type SpamdCommand } from './spamd.js';

// Replies of the real spamd 4.0.1 (Debian bookworm) to a GTUBE message.
const CHECK_REPLY = 'SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1000.0 / 5.0\r\n\r\n';
const SYMBOLS_REPLY = 'SPAMD/1.1 0 EX_OK\r\nContent-length: 55\r\nSpam: True ; 1000.0 / 5.0\r\n\r\nGTUBE,MSGID_SHORT,NO_RECEIVED,NO_RELAYS,TVD_SPACE_RATIO';
const REPORT_BODY = 'Spam detection software, running on the system "vm",\nhas identified this incoming email as possible spam.  The original\nmessage has been attached to this so you can view it or label\nsimilar future email.  If you have any questions, see\n@@CONTACT_ADDRESS@@ for details.\n\nContent preview:  XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\n   \n\nContent analysis details:   (1000.0 points, 5.0 required)\n\n pts rule name              description\n---- ---------------------- --------------------------------------------------\n-0.0 NO_RECEIVED            Informational: message has no Received headers\n 0.0 MSGID_SHORT            Message-ID is unusually short\n-0.0 NO_RELAYS              Informational: message was not relayed via SMTP\n1000 GTUBE                  BODY: Generic Test for Unsolicited Bulk Email\n 0.0 TVD_SPACE_RATIO        No description available.\n\n';
const REPORT_REPLY = `SPAMD/1.1 0 EX_OK\r\nContent-length: ${Buffer.byteLength(REPORT_BODY)}\r\nSpam: True ; 1000.0 / 5.0\r\n\r\n${REPORT_BODY}`;
const ERROR_REPLY = 'SPAMD/1.0 76 Bad header line: (Content-Length contains non-numeric bytes)\r\n';

test('spamdRequest: the SPAMC/1.5 header block', () => {
  assert.equal(spamdRequest('REPORT', 123).toString(), 'REPORT SPAMC/1.5\r\nContent-length: 123\r\n\r\n');
  assert.equal(spamdRequest('CHECK', 0, 'mail\r\nx').toString(), 'CHECK SPAMC/1.5\r\nContent-length: 0\r\nUser: mail??x\r\n\r\n');
});

test('parseSpamdReply: CHECK', () => {
  assert.deepEqual(parseSpamdReply('CHECK', CHECK_REPLY),
    { kind: 'scored', backend: 'spamd', score: 1000, threshold: 5, spam: true, action: null, symbols: [] });
  assert.deepEqual(parseSpamdReply('CHECK', 'SPAMD/1.1 0 EX_OK\r\nSpam: False ; -0.3 / 5.0\r\n\r\n'),
    { kind: 'scored', backend: 'spamd', score: -0.3, threshold: 5, spam: false, action: null, symbols: [] });
  // Older spamd spells it Yes/No.
  const yes = parseSpamdReply('CHECK', 'SPAMD/1.1 0 EX_OK\r\nSpam: Yes ; 6.1 / 5.0\r\n\r\n');
  assert.equal(yes.kind === 'scored' && yes.spam, true);
});

test('parseSpamdReply: SYMBOLS gives names without scores', () => {
  const v = parseSpamdReply('SYMBOLS', SYMBOLS_REPLY);
  assert.equal(v.kind, 'scored');
  if (v.kind !== 'scored') return;
  assert.deepEqual(v.symbols.map((s) => s.name), ['GTUBE', 'MSGID_SHORT', 'NO_RECEIVED', 'NO_RELAYS', 'TVD_SPACE_RATIO']);
  assert.ok(v.symbols.every((s) => s.score === null));
});

test('parseSpamdReply: REPORT gives names with scores, highest first', () => {
  const v = parseSpamdReply('REPORT', REPORT_REPLY);
  assert.equal(v.kind, 'scored');
  if (v.kind !== 'scored') return;
  assert.equal(v.score, 1000);
  assert.deepEqual(v.symbols, [
    { name: 'GTUBE', score: 1000 },
    { name: 'MSGID_SHORT', score: 0 },
    { name: 'NO_RECEIVED', score: -0 },
    { name: 'NO_RELAYS', score: -0 },
    { name: 'TVD_SPACE_RATIO', score: 0 },
  ]);
});

test('parseReportTable: long names, negative scores, continuation lines', () => {
  const body = [
    'Content analysis details:   (2.1 points, 5.0 required)',
    '',
    ' pts rule name              description',
    '---- ---------------------- --------------------------------------------------',
    '-1.9 BAYES_00               BODY: Bayes spam probability is 0 to 1%',
    '                            [score: 0.0000]',
    ' 3.5 A_VERY_LONG_RULE_NAME_OVER_22 Something',
    '10.0 URIBL_BLACK            Contains an URL listed in the URIBL blacklist',
    '                            [URIs: example.test]',
    ' 0.5 T_lower_case_rule      lower case is allowed',
    '',
  ].join('\n');
  assert.deepEqual(parseReportTable(body), [
    { name: 'BAYES_00', score: -1.9 },
    { name: 'A_VERY_LONG_RULE_NAME_OVER_22', score: 3.5 },
    { name: 'URIBL_BLACK', score: 10 },
    { name: 'T_lower_case_rule', score: 0.5 },
  ]);
  assert.deepEqual(parseReportTable('a report template without a table\n'), []);
});

test('parseSpamdReply: errors are typed', () => {
  assert.deepEqual(parseSpamdReply('CHECK', ERROR_REPLY), {
    kind: 'error', backend: 'spamd', code: 'scanner',
    reason: 'spamd answered 76 Bad header line: (Content-Length contains non-numeric bytes)',
  });
  const cases: Array<[SpamdCommand, string]> = [
    ['CHECK', 'HTTP/1.1 200 OK\r\n\r\n'],
    ['CHECK', ''],
    ['CHECK', 'SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1000.0 / 5.0\r\n'], // no end of headers
    ['CHECK', 'SPAMD/1.1 0 EX_OK\r\n\r\n'], // no Spam: header
    ['CHECK', 'SPAMD/1.1 0 EX_OK\r\nSpam: maybe ; x / y\r\n\r\n'],
    ['SYMBOLS', 'SPAMD/1.1 0 EX_OK\r\nContent-length: 55\r\nSpam: True ; 1000.0 / 5.0\r\n\r\nGTUBE,MSG'], // cut short
  ];
  for (const [cmd, reply] of cases) {
    const v = parseSpamdReply(cmd, reply);
    assert.equal(v.kind === 'error' && v.code, 'protocol', JSON.stringify(reply));
  }
  const ctl = parseSpamdReply('CHECK', 'SPAMD/1.0 76 bad\x1b[31m\r\n');
  assert.ok(ctl.kind === 'error' && !/[\x00-\x1f]/.test(ctl.reason));
});

/** A stand-in for spamd: reads the request (header and Content-length bytes), answers with reply(). */
async function fakeSpamd(reply: (req: { head: string; body: Buffer }) => string | null): Promise<{ port: number; seen: Array<{ head: string; body: Buffer }>; close(): Promise<void> }> {
  const seen: Array<{ head: string; body: Buffer }> = [];
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => { /* client went away */ });
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString();
      const len = Number(/Content-length: (\d+)/.exec(head)?.[1] ?? 0);
      if (buf.length < end + 4 + len) return;
      const req = { head, body: buf.subarray(end + 4, end + 4 + len) };
      seen.push(req);
      const r = reply(req);
      if (r !== null) s.end(r);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return {
    port: (srv.address() as net.AddressInfo).port,
    seen,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); srv.close(() => r()); }),
  };
}

test('SpamdClient: REPORT over TCP, evidence without the content preview', async (t) => {
  const f = await fakeSpamd(() => REPORT_REPLY);
  t.after(() => f.close());
  const msg = Buffer.from('Subject: t\n\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\n');
  const r = await new SpamdClient({ address: { host: '127.0.0.1', port: f.port } }).scan(msg);
  assert.equal(r.kind, 'scored');
  if (r.kind !== 'scored') return;
  assert.equal(r.score, 1000);
  assert.equal(r.threshold, 5);
  assert.equal(r.spam, true);
  assert.equal(r.bytes, msg.length);
  assert.equal(f.seen[0]!.head, `REPORT SPAMC/1.5\r\nContent-length: ${msg.length}`);
  assert.deepEqual(f.seen[0]!.body, msg);
  assert.ok(r.raw?.startsWith(`SPAMD/1.1 0 EX_OK\nContent-length: ${Buffer.byteLength(REPORT_BODY)}\nSpam: True ; 1000.0 / 5.0\n\nContent analysis details:`), r.raw ?? '');
  assert.ok(!r.raw?.includes('Content preview'), 'message content stays out of the ledger');
  assert.ok(r.raw?.includes('1000 GTUBE'));
});

test('SpamdClient: CHECK and SYMBOLS, a spooled file', async (t) => {
  const f = await fakeSpamd((req) => (req.head.startsWith('CHECK') ? CHECK_REPLY : SYMBOLS_REPLY));
  t.after(() => f.close());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-spamd-unit-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'msg');
  fs.writeFileSync(file, Buffer.alloc(2 * 1024 * 1024 + 3, 'b'));
  const check = await new SpamdClient({ address: { host: '127.0.0.1', port: f.port }, command: 'CHECK' }).scan({ path: file });
  assert.equal(check.kind === 'scored' && check.score, 1000);
  assert.equal(check.bytes, 2 * 1024 * 1024 + 3);
  assert.equal(f.seen[0]!.body.length, 2 * 1024 * 1024 + 3);
  const sym = await new SpamdClient({ address: { host: '127.0.0.1', port: f.port }, command: 'SYMBOLS' }).scan({ buffer: Buffer.from('x') });
  assert.equal(sym.kind === 'scored' && sym.symbols.length, 5);
  assert.ok(sym.raw?.endsWith('GTUBE,MSGID_SHORT,NO_RECEIVED,NO_RELAYS,TVD_SPACE_RATIO'));
});

test('SpamdClient: refused, silent, oversized, aborted, error reply', async (t) => {
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const refused = await new SpamdClient({ address: { host: '127.0.0.1', port } }).scan(Buffer.from('x'));
  assert.equal(refused.kind === 'error' && refused.code, 'connect');
  assert.ok(refused.ms < 2000);
  assert.equal(await new SpamdClient({ address: { host: '127.0.0.1', port } }).ping(500), false);

  const silent = await fakeSpamd(() => null);
  t.after(() => silent.close());
  const t0 = Date.now();
  const to = await new SpamdClient({ address: { host: '127.0.0.1', port: silent.port }, timeoutMs: 300 }).scan(Buffer.from('x'));
  assert.equal(to.kind === 'error' && to.code, 'timeout');
  assert.ok(Date.now() - t0 < 2000);

  const ac = new AbortController();
  setTimeout(() => ac.abort(), 50);
  const ab = await new SpamdClient({ address: { host: '127.0.0.1', port: silent.port } }).scan(Buffer.from('x'), {}, { signal: ac.signal });
  assert.equal(ab.kind === 'error' && ab.code, 'aborted');

  const big = await new SpamdClient({ address: { host: '127.0.0.1', port: silent.port }, maxMessageBytes: 5 }).scan(Buffer.alloc(6));
  assert.equal(big.kind === 'error' && big.code, 'too_large');

  const chatty = await fakeSpamd(() => `SPAMD/1.1 0 EX_OK\r\nContent-length: 5000\r\nSpam: True ; 1.0 / 5.0\r\n\r\n${'x'.repeat(5000)}`);
  t.after(() => chatty.close());
  const over = await new SpamdClient({ address: { host: '127.0.0.1', port: chatty.port }, maxResponseBytes: 1000 }).scan(Buffer.from('x'));
  assert.equal(over.kind === 'error' && over.code, 'protocol');

  const erring = await fakeSpamd(() => ERROR_REPLY);
  t.after(() => erring.close());
  const er = await new SpamdClient({ address: { host: '127.0.0.1', port: erring.port } }).scan(Buffer.from('x'));
  assert.equal(er.kind === 'error' && er.code, 'scanner');
  assert.equal(er.raw, 'SPAMD/1.0 76 Bad header line: (Content-Length contains non-numeric bytes)\n');

  const closer = await fakeSpamd(() => '');
  t.after(() => closer.close());
  const cl = await new SpamdClient({ address: { host: '127.0.0.1', port: closer.port } }).scan(Buffer.from('x'));
  assert.equal(cl.kind === 'error' && cl.code, 'protocol');
});

test('SpamdClient: ping', async (t) => {
  const srv = net.createServer((s) => {
    s.on('data', () => s.end('SPAMD/1.5 0 PONG\r\n'));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  const port = (srv.address() as net.AddressInfo).port;
  assert.equal(await new SpamdClient({ address: { host: '127.0.0.1', port } }).ping(), true);
});
