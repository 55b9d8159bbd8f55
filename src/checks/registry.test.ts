// The checks as the gateway builds them: a reload keeps what did not change;
// at DATA the virus and the spam check talk to their scanners at the same
// time, and when both refuse the virus refusal is the answer, whichever
// scanner answered first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../log/logger.js';
import type { ClamdClient, ScanResult } from '../scan/clamd.js';
import type { SpamResult, SpamScanner } from '../scan/spam-types.js';
import { testContext } from './testing.js';
import { buildChecks, buildPipeline } from './registry.js';

const log = createLogger('silent');
const cfg = (...o: string[]) => loadConfig({ dataDir: '/tmp/mp-registry', overrides: ['hostname=mx.test', 'checks.greylist.mode=enforce', ...o] });

test('a reload keeps the checks of a module whose inputs did not change, and makes anew those whose did', () => {
  const first = buildChecks(cfg(), log);
  const next = buildChecks(cfg('dns.timeout_ms=900', 'checks.greylist.delay_s=60', 'domains={other.test: {mailboxes: [x]}}'), log, first);
  const same = (k: string): boolean => first.modules.get(k as never)!.checks.every((c, i) => next.modules.get(k as never)!.checks[i] === c);
  // Rate counts live in the check: a change elsewhere must not reset them.
  assert.ok(same('rate'));
  assert.ok(same('relay'));
  // The SPF check's time budget follows dns.*; the greylist follows its own settings.
  assert.ok(!same('spf'));
  assert.ok(!same('greylist'));
  assert.equal(typeof first.modules.get('greylist')!.checks[0]!.close, 'function', 'the greylist check can give its file back');
  // A module switched off is gone from the pipeline.
  const off = buildChecks(cfg('checks.greylist.mode=off'), log, next);
  assert.equal(off.modules.has('greylist'), false);
  assert.equal(off.pipeline.forStage('rcpt').some((c) => c.check.name === 'greylist'), false);
  assert.equal(next.pipeline.forStage('rcpt').some((c) => c.check.name === 'greylist'), true);
});


test('a reload makes the spam check anew when what it tells rspamd to skip may change', () => {
  const spam = ['scanners.spam.backend=rspamd', 'checks.dnsbl.zones=[{zone: bl.example, type: block}]'];
  const first = buildChecks(cfg(...spam), log);
  const spamCheck = (b: ReturnType<typeof buildChecks>) => b.modules.get('spam')!.checks[0];
  assert.equal(spamCheck(buildChecks(cfg(...spam, 'dns.timeout_ms=900'), log, first)), spamCheck(first), 'unrelated change: kept');
  for (const o of ['checks.spf.mode=dry-run', 'checks.dmarc.mode=off', 'checks.dnsbl.mode=dry-run', 'checks.dnsbl.zones=[{zone: bl.example, type: allow}]', 'scanners.spam.rspamd_skip=none']) {
    assert.notEqual(spamCheck(buildChecks(cfg(...spam, o), log, first)), spamCheck(first), o);
  }
});

/** Resolves when `n` parties have arrived: a scanner waiting here for the other cannot finish before the other started. */
function barrier(n: number): () => Promise<void> {
  let arrived = 0;
  let open!: () => void;
  const all = new Promise<void>((r) => { open = r; });
  return () => {
    if (++arrived === n) open();
    return all;
  };
}

function clamdFake(result: ScanResult, before: () => Promise<void>): ClamdClient {
  return {
    describe: () => '127.0.0.1:3310',
    version: () => Promise.resolve('ClamAV 1.4.6/27500/Fake'),
    scan: async () => {
      await before();
      return result;
    },
  } as unknown as ClamdClient;
}

function spamFake(result: SpamResult, before: () => Promise<void>): SpamScanner {
  return {
    backend: 'rspamd',
    scan: async () => {
      await before();
      return result;
    },
  };
}

const INFECTED: ScanResult = { kind: 'infected', signature: 'Eicar-Signature', signatures: ['Eicar-Signature'], raw: 'stream: Eicar-Signature FOUND', ms: 1, bytes: 10 };
const CLEAN: ScanResult = { kind: 'clean', raw: 'stream: OK', ms: 1, bytes: 10 };
const SPAM: SpamResult = { kind: 'scored', backend: 'rspamd', score: 20, threshold: 15, spam: true, action: 'reject', symbols: [], raw: '{}', ms: 1, bytes: 10 };
const HAM: SpamResult = { ...SPAM, score: 1, spam: false, action: 'no action' };

function run(clamd: ClamdClient, spam: SpamScanner) {
  const c = loadConfig({
    dataDir: '/nonexistent',
    overrides: ['scanners.clamd.address=127.0.0.1:3310', 'scanners.spam.backend=rspamd', 'checks.allowlist.networks=[]', 'checks.dmarc.mode=off', 'checks.attachments.mode=off'],
  });
  const body = Buffer.from('Subject: hi\n\nhello\n');
  const ctx = testContext('data', {
    tx: { ref: 'REF1', mailFrom: 'a@sender.example', declaredSize: null, rcpts: ['b@demo.test'] },
    message: { size: body.length, header: Buffer.alloc(0), messageId: null, subject: 'hi', body: { buffer: body } },
  }, { clamd, spam });
  return buildPipeline(c, log).run('data', ctx, false);
}

test('DATA: clamd and rspamd are asked side by side, not one after the other', async () => {
  // Each scanner answers only once both were asked: run one after the
  // other, the first would wait for ever (and the runner's timeout fire).
  const both = barrier(2);
  const out = await run(clamdFake(CLEAN, both), spamFake(HAM, both));
  assert.deepEqual(out.records.map((r) => [r.check, r.verdict.kind]), [['virus', 'pass'], ['spam', 'pass']]);
  assert.equal(out.decision, null);
});

test('DATA: both refuse: the virus refusal is the answer, also when rspamd answered first', async () => {
  let spamDone!: () => void;
  const spamAnswered = new Promise<void>((r) => { spamDone = r; });
  // clamd answers only after rspamd has answered.
  const out = await run(clamdFake(INFECTED, () => spamAnswered), spamFake(SPAM, () => Promise.resolve().then(() => spamDone())));
  assert.equal(out.decision?.check, 'virus');
  assert.equal(out.decision?.reply.code, 554);
  assert.deepEqual(out.records.map((r) => [r.check, r.verdict.kind]), [['virus', 'reject'], ['spam', 'reject']]);
  // Spam alone refuses with its own reply.
  const spamOnly = await run(clamdFake(CLEAN, () => Promise.resolve()), spamFake(SPAM, () => Promise.resolve()));
  assert.equal(spamOnly.decision?.check, 'spam');
  assert.equal(spamOnly.decision?.reply.code, 550);
});
