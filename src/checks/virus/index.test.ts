import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../config/load.js';
import type { Logger } from '../../log/logger.js';
import type { ClamdClient, ScanResult, ScanSource } from '../../scan/clamd.js';
import { walkParts } from '../../scan/parts.js';
import { mimeMessage } from '../attachments/test-files.js';
import { Pipeline } from '../pipeline.js';
import { testContext } from '../testing.js';
import { ComponentError, type Verdict } from '../types.js';
import { virusChecks } from './index.js';

const EICAR_SIG = 'Mailproof.Test.EICAR.UNOFFICIAL';
const MARK = 'FAKE-VIRUS-MARK';

/**
 * Whether MARK is in the input, as clamd with ScanMail sees a message: in
 * its raw bytes, or in a decoded MIME part (base64 here), attached messages
 * included.
 */
async function marked(buf: Buffer): Promise<boolean> {
  if (buf.includes(MARK)) return true;
  if (!/^content-type: multipart\//im.test(buf.toString('latin1'))) return false;
  for await (const item of walkParts(buf)) {
    if (item.kind === 'part' && 'buffer' in item.part.body && item.part.body.buffer.includes(MARK)) return true;
  }
  return false;
}

/**
 * A stand-in for ClamdClient in unit tests (the real clamd is in
 * test/e2e/50-clamd and 51-content): "finds" MARK in any input, and in the
 * decoded parts of a MIME message, as clamd's mail parser does.
 */
class FakeClamd {
  scans = 0;
  versions = 0;
  constructor(private readonly behave: 'ok' | 'down' | 'hang' | 'too_large' = 'ok') {}
  describe(): string {
    return '127.0.0.1:3310';
  }
  async version(): Promise<string | null> {
    this.versions++;
    return this.behave === 'ok' ? 'ClamAV 1.4.3/27500/Thu Nov 26 08:00:00 2026' : null;
  }
  async scan(src: ScanSource, signal?: AbortSignal): Promise<ScanResult> {
    this.scans++;
    const buf = Buffer.isBuffer(src) ? src : 'buffer' in src ? src.buffer : Buffer.alloc(0);
    const base = { ms: 1, bytes: buf.length };
    if (this.behave === 'down') return { kind: 'error', code: 'connect', reason: 'cannot connect to clamd at 127.0.0.1:3310: ECONNREFUSED', raw: null, ...base };
    if (this.behave === 'too_large') return { kind: 'error', code: 'too_large', reason: 'INSTREAM size limit exceeded. ERROR', raw: 'INSTREAM size limit exceeded. ERROR', ...base };
    if (this.behave === 'hang') {
      // As the real client: a signal that fired before the scan began (a slow
      // MIME walk under load) ends it at once; waiting for an 'abort' event
      // that already happened would hang with nothing keeping the loop alive.
      const aborted = { kind: 'error' as const, code: 'aborted' as const, reason: 'scan aborted', raw: null, ...base };
      if (signal?.aborted) return aborted;
      return new Promise((resolve) => signal?.addEventListener('abort', () => resolve(aborted)));
    }
    if (await marked(buf)) return { kind: 'infected', signature: EICAR_SIG, signatures: [EICAR_SIG], raw: `stream: ${EICAR_SIG} FOUND`, ...base };
    return { kind: 'clean', raw: 'stream: OK', ...base };
  }
}

function logger(): { log: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const log = { warn: (_o: unknown, m: string) => warnings.push(m) } as unknown as Logger;
  return { log, warnings };
}

function config(overrides: string[] = []) {
  return loadConfig({ dataDir: '/nonexistent', overrides: ['scanners.clamd.address=127.0.0.1:3310', ...overrides] });
}

async function run(msg: Buffer, clamd: FakeClamd, overrides: string[] = []): Promise<Verdict> {
  const cfg = config(overrides);
  const [c] = virusChecks(cfg.checks.virus, cfg, logger().log);
  assert.ok(c);
  return c.run(testContext('data', { message: { size: msg.length, header: Buffer.alloc(0), messageId: null, subject: null, body: { buffer: msg } } }, { clamd: clamd as unknown as ClamdClient }));
}

test('no clamd configured: no check, and one warning that nothing is scanned', () => {
  const cfg = loadConfig({ dataDir: '/nonexistent' });
  const { log, warnings } = logger();
  assert.deepEqual(virusChecks(cfg.checks.virus, cfg, log), []);
  assert.deepEqual(warnings, ['no virus scanning: scanners.clamd.address is not set (checks.virus does nothing)']);
});

test('a configured clamd: one DATA check on component clamd, not bypassable', () => {
  const cfg = config();
  const { log, warnings } = logger();
  const [c, ...rest] = virusChecks(cfg.checks.virus, cfg, log);
  assert.equal(rest.length, 0);
  assert.equal(c?.stage, 'data');
  assert.equal(c?.component, 'clamd');
  assert.equal(c?.bypassable, false);
  assert.deepEqual(warnings, []);
});

test('a virus in an attachment: 554 5.7.1 naming the signature and the file, with the scans as evidence', async () => {
  const clamd = new FakeClamd();
  const v = await run(mimeMessage([{ filename: 'Rechnung.doc', type: 'application/msword', content: `xx ${MARK} xx` }]), clamd);
  assert.equal(v.kind, 'reject');
  assert.deepEqual(v.kind === 'reject' && v.reply, {
    code: 554, enhanced: '5.7.1',
    text: `Virus found: ${EICAR_SIG} in attachment Rechnung.doc; the message was not accepted. Clean the sending computer and send again`,
  });
  const e = v.evidence!;
  assert.equal(e.signature, EICAR_SIG);
  assert.equal(e.part, '2');
  assert.equal(e.filename, 'Rechnung.doc');
  assert.equal(e.content_type, 'application/msword');
  assert.equal(e.raw, `stream: ${EICAR_SIG} FOUND`);
  assert.equal(e.clamd, '127.0.0.1:3310');
  assert.equal(e.clamd_version, 'ClamAV 1.4.3/27500/Thu Nov 26 08:00:00 2026');
  // The whole message first (one stream for a clean one); its finding sent
  // the parts to clamd one by one to name the attachment.
  assert.deepEqual((e.scans as Array<Record<string, unknown>>).map((x) => ({ ...x, bytes: x.target === 'message' ? 'n' : x.bytes })), [
    { target: 'message', bytes: 'n', result: 'infected', raw: `stream: ${EICAR_SIG} FOUND`, ms: 1 },
    { target: 'part', part: '1', filename: null, bytes: 20, result: 'clean', raw: 'stream: OK', ms: 1 },
    { target: 'part', part: '2', filename: 'Rechnung.doc', bytes: MARK.length + 6, result: 'infected', raw: `stream: ${EICAR_SIG} FOUND`, ms: 1 },
  ]);
  assert.equal(clamd.scans, 3);
  // checks.virus.scan=parts: part by part, stopping at the finding; the same reply and evidence.
  const partsClamd = new FakeClamd();
  const p = await run(mimeMessage([{ filename: 'Rechnung.doc', type: 'application/msword', content: `xx ${MARK} xx` }]), partsClamd, ['checks.virus.scan=parts']);
  assert.deepEqual(p.kind === 'reject' && p.reply, v.kind === 'reject' && v.reply);
  assert.deepEqual((p.evidence?.scans as Array<Record<string, unknown>>).map((x) => [x.target, x.part, x.result]), [['part', '1', 'clean'], ['part', '2', 'infected']]);
  for (const k of ['signature', 'part', 'filename', 'content_type', 'raw', 'clamd', 'clamd_version'] as const) assert.deepEqual(p.evidence?.[k], e[k], k);
  assert.equal(v.kind === 'reject' && v.reason, `virus ${EICAR_SIG} in attachment Rechnung.doc`);
});

test('found in an attached message, or only in the whole message: the reply says where', async () => {
  const inner = mimeMessage([{ filename: 'eicar.com', type: 'application/octet-stream', content: MARK }], { boundary: '=_i' }).toString('latin1');
  const nested = await run(mimeMessage([], { extraParts: ['--=_b', 'Content-Type: message/rfc822; name="fw.eml"', 'Content-Disposition: attachment; filename="fw.eml"', '', inner] }), new FakeClamd());
  assert.equal(nested.kind === 'reject' && nested.reply.text,
    `Virus found: ${EICAR_SIG} in attachment eicar.com in attached message fw.eml; the message was not accepted. Clean the sending computer and send again`);
  assert.deepEqual(nested.evidence?.within, ['fw.eml']);
  // In a preamble, which no part holds: only the whole-message scan sees it.
  const pre = Buffer.from(['MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b"', '', MARK, '--b', 'Content-Type: text/plain', '', 'hi', '--b--', ''].join('\r\n'));
  const whole = await run(pre, new FakeClamd());
  assert.equal(whole.kind === 'reject' && whole.reply.text, `Virus found: ${EICAR_SIG} in the message; the message was not accepted. Clean the sending computer and send again`);
  assert.equal(whole.evidence?.part, null);
});

test('a client-sent file name reaches the reply cleaned', async () => {
  const name = '=?UTF-8?B?' + Buffer.from('Übersicht\r\nX-Evil: 1.doc').toString('base64') + '?=';
  const v = await run(mimeMessage([{ filename: name, type: 'application/msword', content: MARK }]), new FakeClamd());
  assert.equal(v.kind === 'reject' && v.reply.text, `Virus found: ${EICAR_SIG} in attachment ?bersicht X-Evil: 1.doc; the message was not accepted. Clean the sending computer and send again`);
});

test('a clean message passes after one clamd stream; in parts mode the evidence lists the scans, bounded', async () => {
  const atts = Array.from({ length: 30 }, (_, i) => ({ filename: `f${i}.txt`, type: 'text/plain', content: `file ${i}` }));
  const clamd = new FakeClamd();
  const v = await run(mimeMessage(atts), clamd);
  assert.equal(v.kind, 'pass');
  assert.equal(v.evidence?.result, 'clean');
  assert.equal(clamd.scans, 1, 'the whole message, once');
  assert.deepEqual((v.evidence?.scans as Array<Record<string, unknown>>).map((x) => [x.target, x.result]), [['message', 'clean']]);
  assert.equal(v.evidence?.parts, undefined, 'not walked');

  const parts = new FakeClamd();
  const p = await run(mimeMessage(atts), parts, ['checks.virus.scan=parts']);
  assert.equal(p.kind, 'pass');
  assert.equal(p.evidence?.result, 'clean');
  assert.equal(p.evidence?.parts, 31);
  assert.equal((p.evidence?.scans as unknown[]).length, 20);
  assert.equal(p.evidence?.scans_omitted, 12, '31 parts and the whole message, 20 listed');
  assert.equal(parts.scans, 32);
});

test('clamd down: a ComponentError for clamd, which the pipeline turns into 451 4.3.0', async () => {
  const msg = mimeMessage([{ filename: 'a.pdf', type: 'application/pdf', content: '%PDF-1.4' }]);
  await assert.rejects(run(msg, new FakeClamd('down')), (e: unknown) => {
    assert.ok(e instanceof ComponentError);
    assert.equal(e.component, 'clamd');
    assert.match(e.message, /^connect: cannot connect to clamd at 127\.0\.0\.1:3310: ECONNREFUSED \(scanning the whole message\)$/);
    return true;
  });
  await assert.rejects(run(msg, new FakeClamd('down'), ['checks.virus.scan=parts']), (e: unknown) => {
    assert.ok(e instanceof ComponentError);
    assert.match(e.message, /^connect: cannot connect to clamd at 127\.0\.0\.1:3310: ECONNREFUSED \(scanning part 1 \(text\/plain\)\)$/);
    return true;
  });
  const cfg = config();
  const checks = virusChecks(cfg.checks.virus, cfg, logger().log);
  const pipeline = new Pipeline(checks.map((check) => ({ check, settings: cfg.checks.virus })));
  const ctx = testContext('data', { message: { size: msg.length, header: Buffer.alloc(0), messageId: null, subject: null, body: { buffer: msg } } }, { clamd: new FakeClamd('down') as unknown as ClamdClient });
  const out = await pipeline.run('data', ctx, true);
  assert.equal(out.decision?.reply.code, 451);
  assert.equal(out.decision?.reply.enhanced, '4.3.0');
  assert.deepEqual(out.records.map((r) => [r.check, r.verdict.kind, 'component' in r.verdict ? r.verdict.component : null]), [['virus', 'error', 'clamd']]);
  assert.equal(ctx.deps.health.get('clamd')?.state, 'down');
});

test('clamd hanging: the scan is given up after scanners.clamd.timeout_ms', async () => {
  const msg = mimeMessage([{ filename: 'a.pdf', type: 'application/pdf', content: '%PDF-1.4' }]);
  await assert.rejects(run(msg, new FakeClamd('hang'), ['scanners.clamd.timeout_ms=150']), (e: unknown) => {
    assert.ok(e instanceof ComponentError);
    assert.equal(e.component, 'clamd');
    assert.equal(e.message, 'aborted: clamd did not finish the scan within 150 ms');
    return true;
  });
});

test('a message over clamd\'s stream limit: 451 (our setup), with the component in the evidence', async () => {
  const v = await run(mimeMessage([]), new FakeClamd('too_large'));
  assert.equal(v.kind, 'tempfail');
  assert.deepEqual(v.kind === 'tempfail' && v.reply, { code: 451, enhanced: '4.3.0', text: 'Temporary problem while scanning your message for viruses; please try again later' });
  assert.equal(v.evidence?.component, 'clamd');
  assert.equal(v.evidence?.code, 'too_large');
});

test('MIME limits: left to the attachment policy when it is enforced, refused here when it is not', async () => {
  const lines = ['MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b"', ''];
  for (let i = 0; i < 30; i++) lines.push('--b', 'Content-Type: text/plain', '', `p${i}`);
  lines.push('--b--', '');
  const bomb = Buffer.from(lines.join('\r\n'));
  // Enforced policy: it walks the message and refuses it; this check does
  // not repeat the walk for a message clamd found clean (whole mode), and
  // meets the limit itself in parts mode.
  const left = await run(bomb, new FakeClamd(), ['checks.attachments.max_parts=10']);
  assert.equal(left.kind, 'pass');
  assert.equal(left.evidence?.result, 'clean');
  const leftParts = await run(bomb, new FakeClamd(), ['checks.attachments.max_parts=10', 'checks.virus.scan=parts']);
  assert.equal(leftParts.kind, 'pass');
  assert.equal(leftParts.evidence?.result, 'limits_exceeded');
  assert.equal(leftParts.evidence?.limit, 'parts');
  const own = await run(bomb, new FakeClamd(), ['checks.attachments.max_parts=10', 'checks.attachments.mode=dry-run']);
  assert.equal(own.kind, 'reject');
  assert.deepEqual(own.kind === 'reject' && own.reply, { code: 552, enhanced: '5.3.4', text: 'Message has more than 10 MIME parts; it was not accepted. Send the content in several simpler messages' });
});
