// End to end with the real content scanners: Debian's rspamd 3.4 and
// SpamAssassin's spamd 4.0 as throwaway instances on loopback
// (test/helpers/rspamd.ts, test/helpers/spamd.ts). What the fakes in
// src/scan/*.test.ts cannot show: the real reply formats, GTUBE caught with a
// reject score, a clean message passing, the envelope arriving in rspamd's
// log, and a scanner that is down, hung or restarted giving typed errors in
// bounded time, then scores again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireTool } from '../../helpers/env.js';
import { startRspamd, type RspamdInstance } from '../../helpers/rspamd.js';
import { startSpamd, type SpamdInstance } from '../../helpers/spamd.js';
import { RspamdClient } from '../../../src/scan/rspamd.js';
import { SpamdClient } from '../../../src/scan/spamd.js';
import type { SpamEnvelope, SpamResult } from '../../../src/scan/spam-types.js';
import { receivedHeader, rfc5322Date } from '../../../src/smtp/received.js';

const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

const ENVELOPE: SpamEnvelope = {
  clientIp: '192.0.2.10',
  helo: 'mail.sender.example',
  ptr: 'mail.sender.example',
  mailFrom: 'anna@sender.example',
  rcpts: ['bob@demo.test'],
  queueId: '7KQ2M9XH4PTV',
};

/** A message as the gateway scans it: its Received: header on top, LF line ends. */
function message(subject: string, body: string[]): Buffer {
  const date = new Date();
  const received = receivedHeader({
    helo: ENVELOPE.helo ?? null, ptr: ENVELOPE.ptr ?? null, clientIp: ENVELOPE.clientIp!, hostname: 'mx.demo.test',
    protocol: 'ESMTP', ref: ENVELOPE.queueId!, rcpt: 'bob@demo.test', date,
  });
  return Buffer.from([
    received.trimEnd(),
    'From: Anna Schmidt <anna@sender.example>',
    'To: Bob <bob@demo.test>',
    `Subject: ${subject}`,
    `Message-ID: <${Date.now()}.${process.pid}.4711@sender.example>`,
    `Date: ${rfc5322Date(date)}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    ...body,
    '',
  ].join('\n'));
}

const SPAM = message('Test', ['This is the GTUBE test string:', '', GTUBE, '']);
const CLEAN = message('Agenda for Thursday', [
  'Hi Bob,',
  '',
  'thank you for the notes from last week. For Thursday I would suggest we go',
  'through the open points of the migration plan first and then look at the',
  'budget for the second quarter. If you need the room for longer, tell me.',
  '',
  'Best regards,',
  'Anna',
]);

function scored(r: SpamResult): Extract<SpamResult, { kind: 'scored' }> {
  assert.equal(r.kind, 'scored', JSON.stringify(r));
  return r as Extract<SpamResult, { kind: 'scored' }>;
}

function errored(r: SpamResult): Extract<SpamResult, { kind: 'error' }> {
  assert.equal(r.kind, 'error', JSON.stringify(r));
  return r as Extract<SpamResult, { kind: 'error' }>;
}

// A cold hyperscan cache makes rspamd's first start take minutes (helper).
test('real rspamd', { timeout: 20 * 60 * 1000 }, async (t) => {
  if (!requireTool(t, 'rspamd')) return;
  let r: RspamdInstance | null = null;
  t.after(async () => { await r?.stop(); });
  r = await startRspamd();
  const rs = r;
  t.diagnostic(`rspamd started in ${rs.startupMs} ms`);
  const client = new RspamdClient({ url: rs.url, timeoutMs: 15000 });
  assert.equal(await client.ping(10000), true);

  await t.test('GTUBE is a reject with the reject score', async () => {
    const v = scored(await client.scan(SPAM, ENVELOPE));
    assert.equal(v.backend, 'rspamd');
    assert.equal(v.action, 'reject');
    assert.equal(v.spam, true);
    assert.ok(v.threshold >= 10, `threshold ${v.threshold}`);
    assert.ok(v.score >= v.threshold, `score ${v.score} / ${v.threshold}`);
    assert.ok(v.symbols.some((s) => s.name === 'GTUBE'), JSON.stringify(v.symbols));
    assert.ok(v.raw?.includes('"GTUBE"'));
    assert.equal(v.bytes, SPAM.length);
  });

  await t.test('a clean message scores low', async () => {
    const v = scored(await client.scan(CLEAN, ENVELOPE));
    t.diagnostic(`clean: ${v.score} / ${v.threshold} (${v.action}): ${v.symbols.filter((s) => s.score).map((s) => `${s.name}=${s.score}`).join(' ')}`);
    assert.equal(v.spam, false);
    assert.equal(v.action, 'no action');
    assert.ok(v.score < 4, `score ${v.score}`);
  });

  await t.test('the envelope reaches rspamd (its log line)', async () => {
    scored(await client.scan(CLEAN, { ...ENVELOPE, queueId: 'ENVTEST00001', rcpts: ['bob@demo.test', 'carl@demo.test'] }));
    const line = rs.log().split('\n').find((l) => l.includes('rspamd_task_write_log') && l.includes('ENVTEST00001'));
    assert.ok(line, rs.log().slice(-3000));
    assert.match(line, /qid: <ENVTEST00001>/);
    assert.match(line, /ip: 192\.0\.2\.10/);
    assert.match(line, /from: <anna@sender\.example>/);
    assert.match(line, /rcpts: <bob@demo\.test,carl@demo\.test>/);
  });

  await t.test('a spooled message file gives the same verdict', async (t2) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-spam-e2e-'));
    t2.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'spool');
    fs.writeFileSync(file, SPAM);
    const v = scored(await client.scan({ path: file }, ENVELOPE));
    assert.equal(v.action, 'reject');
    assert.equal(v.bytes, SPAM.length);
  });

  await t.test('a hung rspamd is a timeout, not a hang', async () => {
    rs.pause();
    try {
      const t0 = Date.now();
      const e = errored(await new RspamdClient({ url: rs.url, timeoutMs: 1000 }).scan(CLEAN, ENVELOPE));
      assert.equal(e.code, 'timeout');
      assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
    } finally {
      rs.resume();
    }
    scored(await client.scan(CLEAN, ENVELOPE));
  });

  await t.test('stopped: a connect error at once; restarted: scores again', async () => {
    await rs.halt();
    const t0 = Date.now();
    const e = errored(await client.scan(SPAM, ENVELOPE));
    assert.equal(e.code, 'connect');
    assert.equal(e.backend, 'rspamd');
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
    assert.equal(await client.ping(500), false);

    await rs.start();
    t.diagnostic(`rspamd restarted in ${rs.startupMs} ms`);
    assert.equal(scored(await client.scan(SPAM, ENVELOPE)).action, 'reject');
  });

  await t.test('crashed (SIGKILL): a connect error; restarted: scores again', async () => {
    await rs.kill();
    assert.equal(errored(await client.scan(CLEAN, ENVELOPE)).code, 'connect');
    await rs.start();
    assert.equal(scored(await client.scan(CLEAN, ENVELOPE)).spam, false);
  });
});

test('real spamd (SpamAssassin)', { timeout: 10 * 60 * 1000 }, async (t) => {
  if (!requireTool(t, 'spamd')) return;
  let s: SpamdInstance | null = null;
  t.after(async () => { await s?.stop(); });
  s = await startSpamd();
  const sd = s;
  t.diagnostic(`spamd started in ${sd.startupMs} ms`);
  const address = { host: sd.host, port: sd.port };
  const client = new SpamdClient({ address, timeoutMs: 30000 });
  assert.equal(await client.ping(10000), true);

  await t.test('GTUBE is spam with a score of 1000 and more (REPORT)', async () => {
    const v = scored(await client.scan(SPAM, ENVELOPE));
    assert.equal(v.backend, 'spamd');
    assert.equal(v.spam, true);
    assert.equal(v.action, null);
    assert.ok(v.score >= 1000, `score ${v.score}`);
    assert.equal(v.threshold, 5);
    assert.deepEqual(v.symbols[0], { name: 'GTUBE', score: 1000 });
    assert.ok(v.raw?.includes('Content analysis details'), v.raw ?? '');
    assert.ok(!v.raw?.includes(GTUBE), 'the content preview stays out of the evidence');
  });

  await t.test('CHECK and SYMBOLS', async () => {
    const c = scored(await new SpamdClient({ address, command: 'CHECK' }).scan(SPAM));
    assert.ok(c.score >= 1000);
    assert.deepEqual(c.symbols, []);
    const y = scored(await new SpamdClient({ address, command: 'SYMBOLS' }).scan(SPAM));
    assert.ok(y.symbols.some((x) => x.name === 'GTUBE' && x.score === null), JSON.stringify(y.symbols));
  });

  await t.test('a clean message scores low', async () => {
    const v = scored(await client.scan(CLEAN, ENVELOPE));
    t.diagnostic(`clean: ${v.score} / ${v.threshold}: ${v.symbols.filter((x) => x.score).map((x) => `${x.name}=${x.score}`).join(' ')}`);
    assert.equal(v.spam, false);
    assert.ok(v.score < 3, `score ${v.score}`);
  });

  await t.test('a spooled message file gives the same verdict', async (t2) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-spam-e2e-'));
    t2.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'spool');
    fs.writeFileSync(file, SPAM);
    assert.equal(scored(await client.scan({ path: file })).spam, true);
  });

  await t.test('a hung spamd is a timeout, not a hang', async () => {
    sd.pause();
    try {
      const t0 = Date.now();
      const e = errored(await new SpamdClient({ address, timeoutMs: 1000 }).scan(CLEAN));
      assert.equal(e.code, 'timeout');
      assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
    } finally {
      sd.resume();
    }
    scored(await client.scan(CLEAN));
  });

  await t.test('down: a connect error at once; restarted: scores again', async () => {
    await sd.kill();
    const t0 = Date.now();
    const e = errored(await client.scan(SPAM));
    assert.equal(e.code, 'connect');
    assert.equal(e.backend, 'spamd');
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
    await sd.start();
    t.diagnostic(`spamd restarted in ${sd.startupMs} ms`);
    assert.equal(scored(await client.scan(SPAM)).spam, true);
  });
});
