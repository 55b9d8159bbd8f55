// Hostile bytes through a real socket: control bytes, CR/LF, NUL, UTF-8 and
// raw 8-bit in HELO, MAIL FROM and RCPT TO; an endless command line; a client
// that talks before the greeting; a hostile Subject. Every reply stays
// printable ASCII in lines under 512 octets, nothing the client sends can
// forge a reply line or a log line, and the server keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { eventsOf } from '../../helpers/ledger.js';
import { listNew, startServer, type Instance } from '../../helpers/server.js';
import { RawSmtp, sendMail } from '../../helpers/smtp-client.js';

const MARK = 'INJECTED';

interface Captured {
  client: RawSmtp;
  /** Every byte the server sent on this connection so far. */
  bytes(): Buffer;
}

async function open(port: number): Promise<Captured> {
  const client = await RawSmtp.connect(port);
  const chunks: Buffer[] = [];
  client.socket.on('data', (d: Buffer) => chunks.push(d));
  return { client, bytes: () => Buffer.concat(chunks) };
}

/** Problems with what a server sent: non-printable bytes, long lines, bad framing, forged lines. */
function replyProblems(raw: Buffer): string[] {
  const problems: string[] = [];
  const text = raw.toString('latin1');
  if (text.length > 0 && !text.endsWith('\r\n')) problems.push(`output does not end with CRLF: ${JSON.stringify(text.slice(-60))}`);
  const lines = text.split('\r\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (const line of lines) {
    const show = JSON.stringify(line.slice(0, 120));
    for (let i = 0; i < line.length; i++) {
      const c = line.charCodeAt(i);
      if (c < 0x20 || c > 0x7e) {
        problems.push(`byte 0x${c.toString(16).padStart(2, '0')} at ${i} in reply line ${show}`);
        break;
      }
    }
    if (line.length + 2 > 512) problems.push(`reply line of ${line.length + 2} octets: ${show}`);
    if (!/^[2-5]\d\d(?:[ -]|$)/.test(line)) problems.push(`not a reply line: ${show}`);
    // Client text may be echoed inside a line (made printable); it must never start one.
    if (/^250 fake/i.test(line) || line.startsWith(MARK)) problems.push(`injected text starts a reply line: ${show}`);
  }
  return problems;
}

async function finish(s: Captured): Promise<void> {
  if (!s.client.closed) await s.client.cmd('QUIT').catch(() => null);
  await s.client.close();
  assert.deepEqual(replyProblems(s.bytes()), [], 'every reply line is printable ASCII, < 512 octets, not forged');
}

const b = (...parts: (string | number[])[]): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

interface EventRow {
  kind: string;
  client_ip: string | null;
  rcpt: string | null;
  mail_from: string | null;
  helo: string | null;
  reply: string | null;
  details: string | null;
}

async function events(dataDir: string, where = '1=1', params: unknown[] = []): Promise<EventRow[]> {
  return (await eventsOf<EventRow>({ dataDir }, where, ...params))
    .map(({ kind, client_ip, rcpt, mail_from, helo, reply, details }) => ({ kind, client_ip, rcpt, mail_from, helo, reply, details }));
}

/** Polls the ledger (its writes are asynchronous) until `min` events match, for a bounded time. */
async function waitForEvents(dataDir: string, pred: (e: EventRow) => boolean, min = 1, timeoutMs = 5000): Promise<EventRow[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hits = (await events(dataDir)).filter(pred);
    if (hits.length >= min || Date.now() > deadline) return hits;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function limitOf(e: EventRow): string | null {
  try {
    return (JSON.parse(e.details ?? '{}') as { limit?: string }).limit ?? null;
  } catch {
    return null;
  }
}

/** Every output line that starts with "{" must be one complete JSON object; nothing client-sent may start a line. */
function logProblems(output: string): string[] {
  const problems: string[] = [];
  for (const line of output.split('\n')) {
    if (/[\u202a-\u202e\u2066-\u2069\u200e\u200f]/.test(line)) problems.push(`raw bidi control in a log line: ${JSON.stringify(line.slice(0, 200))}`);
    if (line.startsWith('{')) {
      try {
        JSON.parse(line);
      } catch {
        problems.push(`log line is not JSON: ${JSON.stringify(line.slice(0, 200))}`);
      }
    } else if (line.includes(MARK) || /^250 fake/.test(line)) {
      problems.push(`client text starts or sits in a non-JSON log line: ${JSON.stringify(line.slice(0, 200))}`);
    }
  }
  return problems;
}

test('hostile input through a real socket', { timeout: 240_000 }, async (t) => {
  let srv: Instance | null = null;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-test-'));
  try {
    srv = await startServer({ dataDir });
    const port = srv.port;

    await t.test('HELO/EHLO with control bytes, CR, NUL, UTF-8 and 8-bit', async () => {
      const s = await open(port);
      assert.match((await s.client.reply()) ?? '', /^220 /);
      const hostile = [
        b('HELO a', [0], 'b.example'),
        b('HELO caf', [0xc3, 0xa9], '.example'),
        b('HELO ', [0xe9], 't', [0xe9], '.example'),
        b('HELO x', [0x01, 0x1b], '[31mred', [0x7f, 0x85, 0x9b], '.example'),
        b(`EHLO ok.example\r250 fake ${MARK}`),
        b('EHLO ok.example', [0x0b, 0x0c]),
        b('EHLO [127.0.0.1]', [0]),
        // U+202E RIGHT-TO-LEFT OVERRIDE: a log viewer would show "evil.txt.exe" reversed.
        b('EHLO evil', [0xe2, 0x80, 0xae], 'exe.txt.example'),
        b('HELO <script>alert(1)</script>'),
        b('EHLO ', 'x'.repeat(600), '.example'),
        b('EHLO ', [0xff, 0xfe, 0xfd]),
      ];
      for (const line of hostile) {
        const r = await s.client.cmd(line);
        assert.ok(r !== null, `the server answers ${JSON.stringify(line.toString('latin1'))}`);
      }
      await finish(s);
    });

    await t.test('MAIL FROM with control bytes, CR, NUL, UTF-8 and 8-bit', async () => {
      const s = await open(port);
      assert.match((await s.client.reply()) ?? '', /^220 /);
      assert.match((await s.client.cmd('EHLO client.example.org')) ?? '', /^250[ -]/);
      const hostile = [
        b('MAIL FROM:<a', [0], 'b@example.org>'),
        b('MAIL FROM:<j', [0xc3, 0xb6], 's@ex', [0xc3, 0xa4], 'mple.org> SMTPUTF8'),
        b('MAIL FROM:<j', [0xc3, 0xb6], 's@example.org>'),
        b('MAIL FROM:<', [0xff, 0xfe], '@example.org>'),
        b(`MAIL FROM:<x@example.org>\r250 fake ${MARK}`),
        b('MAIL FROM:<x@example.org> BODY=8BITMIME', [0x01]),
        b('MAIL FROM:<"', [0x1b], '[2J"@example.org>'),
        b('MAIL FROM:<x@example.org> SIZE=', [0xff]),
        b(`MAIL FROM:<${MARK}\r\n250 fake@example.org>`),
        b('MAIL FROM:<', 'a'.repeat(400), '@', 'b'.repeat(400), '.example>'),
      ];
      for (const line of hostile) {
        const r = await s.client.cmd(line);
        assert.ok(r !== null, `the server answers ${JSON.stringify(line.toString('latin1'))}`);
        // The CRLF variant is two commands; the second ("250 fake...") gets its own reply.
        if (line.includes('\r\n')) assert.ok((await s.client.reply()) !== null);
        if (r.startsWith('250')) assert.match((await s.client.cmd('RSET')) ?? '', /^250 /);
      }
      await finish(s);
    });

    await t.test('RCPT TO with control bytes, CR/LF, NUL, UTF-8 and 8-bit', async () => {
      const s = await open(port);
      assert.match((await s.client.reply()) ?? '', /^220 /);
      assert.match((await s.client.cmd('EHLO client.example.org')) ?? '', /^250[ -]/);
      assert.match((await s.client.cmd('MAIL FROM:<sender@example.org>')) ?? '', /^250 /);
      // The classic: a CRLF inside the address makes the rest a second command.
      s.client.write('RCPT TO:<x@demo.test>\r\n250 fake\r\n');
      const first = await s.client.reply();
      const second = await s.client.reply();
      assert.ok(first !== null && second !== null);
      assert.doesNotMatch(first, /^250 fake/m);
      assert.doesNotMatch(second, /^250 fake/m);
      assert.match(second, /^5\d\d /, '"250 fake" is an unknown command, not a reply');
      const hostile = [
        b('RCPT TO:<demo@demo.test', [0], '>'),
        b('RCPT TO:<d', [0xc3, 0xa9], 'mo@demo.test>'),
        b('RCPT TO:<', [0xe9], '@demo.test>'),
        b(`RCPT TO:<x@demo.test>\r250 fake ${MARK}`),
        b(`RCPT TO:<${MARK}\r250-fake@demo.test>`),
        b('RCPT TO:<x@dem', [0], 'o.test>'),
        b('RCPT TO:<demo@demo.test> NOTIFY=', [0x01]),
        b('RCPT TO:<x', [0x1b, 0x5b, 0x32, 0x4a, 0x07], '@demo.test>'),
        b('RCPT TO:<', [0x85, 0xa0, 0xff], 'x@demo.test>'),
        b('RCPT TO:<', 'u'.repeat(480), '@demo.test>'),
        b('RCPT TO:<x@', 'd'.repeat(300), '.demo.test>'),
      ];
      for (const line of hostile) {
        const r = await s.client.cmd(line);
        assert.ok(r !== null, `the server answers ${JSON.stringify(line.toString('latin1'))}`);
      }
      await finish(s);
    });

    await t.test('garbage commands: NUL, 8-bit, escape sequences', async () => {
      const s = await open(port);
      assert.match((await s.client.reply()) ?? '', /^220 /);
      const hostile = [
        b([0, 1, 2, 3]),
        b([0xff, 0xfe, 0xfd], ' ', [0x80]),
        b([0x1b], `]0;${MARK}`, [0x07]),
        b('VRFY <', [0], `>\r${MARK}`),
        b('NOOP ', [0xe9, 0], ` ${MARK}`),
      ];
      for (const line of hostile) {
        const r = await s.client.cmd(line);
        assert.ok(r !== null, `the server answers ${JSON.stringify(line.toString('latin1'))}`);
      }
      await finish(s);
    });

    await t.test('a 1 MB command line: 421 and close; other clients keep being served', async () => {
      // A client in the middle of its session while the flood comes in.
      const other = await open(port);
      assert.match((await other.client.reply()) ?? '', /^220 /);
      assert.match((await other.client.cmd('EHLO other.example.org')) ?? '', /^250[ -]/);

      for (const flood of [`EHLO ${'a'.repeat(1024 * 1024)}\r\n`, `MAIL FROM:<${'b'.repeat(1024 * 1024)}`]) {
        const s = await open(port);
        assert.match((await s.client.reply()) ?? '', /^220 /);
        s.client.write(flood);
        const r = await s.client.reply(10_000);
        assert.match(r ?? '', /^421 4\.5\.0 /, 'line too long: 421');
        assert.equal(await s.client.reply(10_000), null, 'and the connection is closed');
        await s.client.close();
        assert.deepEqual(replyProblems(s.bytes()), []);
      }
      const limits = await waitForEvents(dataDir, (e) => e.kind === 'session.limit' && limitOf(e) === 'line_length', 2);
      assert.equal(limits.length, 2, 'one session.limit event per flooded session');

      assert.match((await other.client.cmd('MAIL FROM:<sender@example.org>')) ?? '', /^250 /);
      assert.match((await other.client.cmd('RCPT TO:<demo@demo.test>')) ?? '', /^250 /);
      assert.match((await other.client.cmd('DATA')) ?? '', /^354 /);
      assert.match((await other.client.cmd('Subject: still here\r\n\r\nbody\r\n.')) ?? '', /^250 /);
      await finish(other);
      const fresh = await sendMail(port, { from: 'sender@example.org', to: ['demo@demo.test'], body: 'Subject: fresh\r\n\r\nfresh client\r\n' });
      assert.match(fresh.final ?? '', /^250 /, 'a new client is served');
    });

    await t.test('a bare CR in a header (header injection) is refused with 550 5.6.0 (smtp.bare_line_ends)', async () => {
      const s = await open(port);
      assert.match((await s.client.reply()) ?? '', /^220 /);
      assert.match((await s.client.cmd('EHLO client.example.org')) ?? '', /^250[ -]/);
      assert.match((await s.client.cmd('MAIL FROM:<sender@example.org>')) ?? '', /^250 /);
      assert.match((await s.client.cmd('RCPT TO:<demo@demo.test>')) ?? '', /^250 /);
      assert.match((await s.client.cmd('DATA')) ?? '', /^354 /);
      s.client.write(b(`Subject: hi\r${MARK}-HEADER: x\r\n\r\nbody\r\n`));
      assert.match((await s.client.cmd('.')) ?? '', /^550 5\.6\.0 .*bare CR or LF/);
      await finish(s);
    });

    await t.test('hostile Subject (<script>, ESC, 8-bit): stored as sent, trace JSON parses', async () => {
      const token = `hostile-${randomBytes(4).toString('hex')}`;
      const message = b(
        'From: <sender@example.org>\r\n',
        'To: <demo@demo.test>\r\n',
        `Message-ID: <${token}@hostile.test>\r\n`,
        `Subject: hi ${MARK}-HEADER: x <script>alert(1)</script> `, [0xe9, 0xff, 0xfe, 0x1b], ' caf', [0xc3, 0xa9], ' ', [0xe2, 0x98, 0x83], '\r\n',
        '\r\n',
        'body <script>alert(2)</script>\r\n',
        [0xe9, 0xe8], ' 8-bit body\r\n',
        `END ${token}\r\n`,
      );
      const s = await open(port);
      assert.match((await s.client.reply()) ?? '', /^220 /);
      assert.match((await s.client.cmd('EHLO client.example.org')) ?? '', /^250[ -]/);
      assert.match((await s.client.cmd('MAIL FROM:<sender@example.org> BODY=8BITMIME')) ?? '', /^250 /);
      assert.match((await s.client.cmd('RCPT TO:<demo@demo.test>')) ?? '', /^250 /);
      assert.match((await s.client.cmd('DATA')) ?? '', /^354 /);
      s.client.write(message);
      assert.match((await s.client.cmd('.')) ?? '', /^250 /);
      await finish(s);

      const newDir = srv!.newDir('demo@demo.test');
      const mine = listNew(newDir).map((f) => fs.readFileSync(path.join(newDir, f))).filter((buf) => buf.includes(token));
      assert.equal(mine.length, 1, 'stored once');
      const stored = mine[0]!;
      const expected = Buffer.from(message.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
      assert.ok(stored.subarray(stored.length - expected.length).equals(expected), 'stored byte for byte as sent (CRLF -> LF)');
      const prefix = stored.subarray(0, stored.length - expected.length).toString('latin1');
      assert.match(prefix, /(?:^|\n)Received: /, 'our own header block has the Received: line');
      assert.ok(/^[\x20-\x7e\t\n]*$/.test(prefix), 'our own header is printable ASCII');

      const { journeys } = await srv!.trace(['--rcpt', 'demo@demo.test']);
      const j = journeys.find((x) => String(x.message_id ?? '').includes(token));
      assert.ok(j, 'the journey is found by its Message-ID');
      assert.equal(j.outcome, 'delivered');
      const received = j.events.find((e) => e.kind === 'data.received');
      const subject = (received?.details as { subject?: unknown } | undefined)?.subject;
      assert.equal(typeof subject, 'string');
      assert.ok(!/[\x00-\x1f\x7f]/.test(subject as string), `the recorded subject has no control characters: ${JSON.stringify(subject)}`);
      assert.ok((subject as string).includes('<script>'), 'the subject is recorded as text');
    });

    await t.test('ledger: rows of the hostile sessions are there and their details parse', async () => {
      const all = await events(dataDir);
      assert.ok(all.some((e) => e.kind === 'rcpt.rejected' && e.rcpt === 'x@demo.test'), 'the RCPT of x@demo.test was recorded as rejected');
      const bad = all.filter((e) => {
        if (e.details === null) return false;
        try { JSON.parse(e.details); return false; } catch { return true; }
      });
      assert.deepEqual(bad, []);
    });

    await t.test('log output: every JSON line parses, no client text breaks a line', async () => {
      assert.equal(await srv!.stop(), 0);
      const out = srv!.output();
      assert.ok(out.split('\n').filter((l) => l.startsWith('{')).length > 10, 'the server logged');
      assert.deepEqual(logProblems(out), []);
    });
  } finally {
    await srv?.kill9().catch(() => undefined);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a client that talks before the greeting gets 421 and a session.limit event', { timeout: 120_000 }, async (t) => {
  let srv: Instance | null = null;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-test-'));
  try {
    srv = await startServer({ dataDir, config: { smtp: { greeting_delay_ms: 500 } } });
    const port = srv.port;

    await t.test('EHLO before the 220: 421 and close', async () => {
      const s = await open(port);
      const t0 = Date.now();
      s.client.write('EHLO early.example.org\r\n');
      const r = await s.client.reply(5000);
      assert.match(r ?? '', /^421 4\.7\.0 /);
      assert.doesNotMatch(r ?? '', /^220/m, 'no greeting before the 421');
      assert.ok(Date.now() - t0 < 2000, 'refused at once');
      assert.equal(await s.client.reply(5000), null, 'and the connection is closed');
      await s.client.close();
      assert.deepEqual(replyProblems(s.bytes()), []);
    });

    await t.test('the ledger has a session.limit event (early_talker) with the client address', async () => {
      const found = await waitForEvents(dataDir, (e) => e.kind === 'session.limit');
      // Give a late second event a chance to show up, so "exactly one" means something.
      if (found.length) await new Promise((r) => setTimeout(r, 300));
      const hits = await events(dataDir, "kind = 'session.limit'");
      const kinds = (await events(dataDir)).map((e) => e.kind);
      assert.equal(hits.length, 1, `session.limit events; the ledger holds: ${JSON.stringify(kinds)}`);
      assert.equal(limitOf(hits[0]!), 'early_talker');
      assert.equal(hits[0]!.client_ip, '127.0.0.1');
    });

    await t.test('a client that waits gets the 220 after the delay and is served', async () => {
      const s = await open(port);
      const t0 = Date.now();
      assert.match((await s.client.reply(5000)) ?? '', /^220 /);
      assert.ok(Date.now() - t0 >= 400, 'the greeting waited for the delay');
      await finish(s);
      const r = await sendMail(port, { from: 'sender@example.org', to: ['demo@demo.test'], body: 'Subject: patient\r\n\r\nwaited\r\n' });
      assert.match(r.final ?? '', /^250 /);
    });

    await t.test('log output: every JSON line parses', async () => {
      assert.equal(await srv!.stop(), 0);
      assert.deepEqual(logProblems(srv!.output()), []);
    });
  } finally {
    await srv?.kill9().catch(() => undefined);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
