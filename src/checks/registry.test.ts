// The DATA stage as the gateway builds it (buildPipeline): the virus and the
// spam check talk to their scanners at the same time, and when both refuse
// the virus refusal is the answer, whichever scanner answered first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../config/load.js';
import type { Logger } from '../log/logger.js';
import type { ClamdClient, ScanResult } from '../scan/clamd.js';
import type { SpamResult, SpamScanner } from '../scan/spam-types.js';
import { buildPipeline } from './registry.js';
import { testContext } from './testing.js';

const log = { warn: () => undefined, info: () => undefined } as unknown as Logger;

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
  const cfg = loadConfig({
    dataDir: '/nonexistent',
    overrides: ['scanners.clamd.address=127.0.0.1:3310', 'scanners.spam.backend=rspamd', 'checks.allowlist.networks=[]', 'checks.dmarc.mode=off', 'checks.attachments.mode=off'],
  });
  const body = Buffer.from('Subject: hi\n\nhello\n');
  const ctx = testContext('data', {
    tx: { ref: 'REF1', mailFrom: 'a@sender.example', declaredSize: null, rcpts: ['b@demo.test'] },
    message: { size: body.length, header: Buffer.alloc(0), messageId: null, subject: 'hi', body: { buffer: body } },
  }, { clamd, spam });
  return buildPipeline(cfg, log).run('data', ctx, false);
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
