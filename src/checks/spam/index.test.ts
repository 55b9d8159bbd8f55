import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testContext } from '../testing.js';
import { ComponentError, type Verdict } from '../types.js';
import { loadConfig } from '../../config/load.js';
import type { ScanOptions, SpamEnvelope, SpamResult, SpamScanner, SpamSource } from '../../scan/spam-types.js';
import { Pipeline } from '../pipeline.js';
import { decide, fmtScore, rejectReply, spamCheckFor, spamHeaders } from './index.js';
import { alreadyChecked } from './known.js';

type Scored = Extract<SpamResult, { kind: 'scored' }>;
const none = { reject_score: null, tempfail_score: null, header_score: null };
const base = { mode: 'enforce', on_error: 'tempfail', scan_allowlisted: false, ...none } as const;

function scored(score: number, o: Partial<Scored> = {}): Scored {
  return {
    kind: 'scored', backend: 'rspamd', score, threshold: 15, spam: score >= 15, action: score >= 15 ? 'reject' : 'no action',
    symbols: [{ name: 'GTUBE', score: 0 }], raw: '{}', ms: 3, bytes: 10, ...o,
  };
}

class FakeScanner implements SpamScanner {
  readonly backend = 'rspamd' as const;
  calls: { source: SpamSource; env: SpamEnvelope | undefined; opts: ScanOptions | undefined }[] = [];
  constructor(private readonly result: SpamResult) {}
  scan(source: SpamSource, env?: SpamEnvelope, opts?: ScanOptions): Promise<SpamResult> {
    this.calls.push({ source, env, opts });
    return Promise.resolve(this.result);
  }
}

const message = { size: 5, header: Buffer.from(''), messageId: null, subject: null, body: { buffer: Buffer.from('hello') } };
const tx = { ref: 'REF123', mailFrom: 'a@sender.example', declaredSize: null, rcpts: ['b@demo.test'] };

test('score formatting: one decimal, two where needed', () => {
  assert.equal(fmtScore(1003), '1003.0');
  assert.equal(fmtScore(15), '15.0');
  assert.equal(fmtScore(2.1), '2.1');
  assert.equal(fmtScore(14.95), '14.95');
  assert.equal(fmtScore(-0.5), '-0.5');
});

test('thresholds: backend judgement by default', () => {
  assert.equal(decide(none, scored(1003)).outcome, 'reject');
  assert.equal(decide(none, scored(1003)).rejectAt, 15);
  assert.equal(decide(none, scored(2.1)).outcome, 'pass');
  assert.equal(decide(none, scored(7, { action: 'add header' })).outcome, 'flag');
  assert.equal(decide(none, scored(7, { action: 'rewrite subject' })).outcome, 'flag');
  // rspamd's "greylist"/"soft reject" actions do not defer unless tempfail_score says so.
  assert.equal(decide(none, scored(5, { action: 'soft reject' })).outcome, 'pass');
  // spamd: "Spam: True" is the judgement.
  assert.equal(decide(none, scored(6, { backend: 'spamd', threshold: 5, spam: true, action: null })).outcome, 'reject');
});

test('thresholds: configured scores win', () => {
  const s = { reject_score: 10, tempfail_score: 6, header_score: 3 };
  assert.deepEqual(decide(s, scored(10)), { outcome: 'reject', rejectAt: 10, limit: 10 });
  assert.deepEqual(decide(s, scored(9.99)), { outcome: 'tempfail', rejectAt: 10, limit: 6 });
  assert.equal(decide(s, scored(6)).outcome, 'tempfail');
  assert.equal(decide(s, scored(3)).outcome, 'flag');
  assert.equal(decide(s, scored(2.9)).outcome, 'pass');
  // A configured reject score above the backend's: the backend's "spam" no longer rejects.
  assert.equal(decide({ ...none, reject_score: 50 }, scored(20)).outcome, 'pass');
  assert.equal(decide({ ...none, reject_score: 50 }, scored(20)).rejectAt, 50);
});

test('header fields for accepted mail', () => {
  assert.deepEqual(spamHeaders(scored(2.1), decide(none, scored(2.1))), [
    'X-Spam-Score: 2.1',
    'X-Spam-Status: No, score=2.1 required=15.0 scanner=rspamd',
  ]);
  const flagged = scored(7, { action: 'add header' });
  assert.deepEqual(spamHeaders(flagged, decide(none, flagged)), [
    'X-Spam-Score: 7.0',
    'X-Spam-Status: Yes, score=7.0 required=15.0 scanner=rspamd',
    'X-Spam-Flag: YES',
  ]);
});

test('the reject reply gives score and limit, never rule names', () => {
  const r = scored(1003, { symbols: [{ name: 'GTUBE', score: 1000 }] });
  const reply = rejectReply(r, decide(none, r));
  assert.deepEqual(reply, { code: 550, enhanced: '5.7.1', text: 'Message refused as spam: score 1003.0 is at or over the limit 15.0' });
  assert.doesNotMatch(reply.text, /GTUBE/);
  // A forced reject below the score threshold (an rspamd module's forced action).
  const forced = scored(3, { spam: true, action: 'reject' });
  assert.equal(rejectReply(forced, decide(none, forced)).text, 'Message refused as spam by the content filter (score 3.0, limit 15.0)');
});

test('the check: reject with evidence, envelope passed to the scanner', async () => {
  const scanner = new FakeScanner(scored(1003, { symbols: [{ name: 'GTUBE', score: 1000 }, { name: 'R_X', score: 3 }] }));
  const c = spamCheckFor(base, 'rspamd', 1000);
  assert.equal(c.component, 'rspamd');
  assert.equal(c.stage, 'data');
  const v = await c.run(testContext('data', { tx, message, session: { ...testContext('data').session, helo: 'mail.sender.example', ptr: 'mail.sender.example' } }, { spam: scanner }));
  assert.equal(v.kind, 'reject');
  assert.ok(v.kind === 'reject');
  assert.equal(v.reply.code, 550);
  assert.deepEqual(v.evidence?.symbols, ['GTUBE(1000)', 'R_X(3)']);
  assert.equal(v.evidence?.score, 1003);
  assert.equal(v.evidence?.threshold, 15);
  assert.equal(v.evidence?.raw, '{}');
  assert.deepEqual(scanner.calls[0]?.env, {
    clientIp: '127.0.0.9', helo: 'mail.sender.example', ptr: 'mail.sender.example', mailFrom: 'a@sender.example', rcpts: ['b@demo.test'], queueId: 'REF123',
  });
});

test('the check: a clean message passes with headers; tempfail when configured', async () => {
  const clean = await spamCheckFor(base, 'rspamd', 1000).run(testContext('data', { tx, message }, { spam: new FakeScanner(scored(2.1)) }));
  assert.equal(clean.kind, 'pass');
  assert.deepEqual(clean.headers, ['X-Spam-Score: 2.1', 'X-Spam-Status: No, score=2.1 required=15.0 scanner=rspamd']);
  const deferred = await spamCheckFor({ ...base, tempfail_score: 8 }, 'rspamd', 1000).run(testContext('data', { tx, message }, { spam: new FakeScanner(scored(9)) }));
  assert.ok(deferred.kind === 'tempfail');
  assert.equal(deferred.reply.code, 451);
  assert.equal(deferred.reply.enhanced, '4.7.1');
  assert.match(deferred.reply.text, /score 9\.0 is at or over the limit 8\.0/);
});

test('the check: a scanner error is a ComponentError naming the backend', async () => {
  const down = new FakeScanner({ kind: 'error', backend: 'rspamd', code: 'connect', reason: 'cannot connect to rspamd at 127.0.0.1:1: ECONNREFUSED', raw: null, ms: 1, bytes: 0 });
  await assert.rejects(
    Promise.resolve(spamCheckFor(base, 'rspamd', 1000).run(testContext('data', { tx, message }, { spam: down }))),
    (e: unknown) => e instanceof ComponentError && e.component === 'rspamd' && /ECONNREFUSED/.test(e.message),
  );
});

test('the check: bounded symbol evidence', async () => {
  const symbols = Array.from({ length: 200 }, (_, i) => ({ name: `S${i}`, score: 0.1 }));
  const v = await spamCheckFor(base, 'rspamd', 1000).run(testContext('data', { tx, message }, { spam: new FakeScanner(scored(1, { symbols, raw: 'x'.repeat(100000) })) }));
  assert.equal((v.evidence?.symbols as string[]).length, 50);
  assert.equal(v.evidence?.symbols_total, 200);
  assert.ok((v.evidence?.raw as string).length < 9000);
});

test('what rspamd is told to skip: what an enforced check of ours judged, only with rspamd and rspamd_skip ours', () => {
  const zone = '{zone: bl.example, type: block}';
  const cfg = (o: string[] = []) => loadConfig({ dataDir: '/nonexistent', overrides: ['scanners.spam.backend=rspamd', `checks.dnsbl.zones=[${zone}]`, ...o] });
  const judgedBoth = testContext('data', { earlier: new Map<string, Verdict>([['spf', { kind: 'pass' }], ['dnsbl', { kind: 'pass' }]]) });
  const skipFor = alreadyChecked(cfg());
  assert.ok(skipFor);
  assert.deepEqual(skipFor(judgedBoth), { spf: true, dkim: true, arc: true, dmarc: true, rbl: true });
  // SPF and the block lists only when their check judged this transaction (not skipped, not failed).
  assert.deepEqual(skipFor(testContext('data', { earlier: new Map<string, Verdict>([['spf', { kind: 'skip', why: 'x' }]]) })),
    { spf: false, dkim: true, arc: true, dmarc: true, rbl: false });
  // An allowed client (its mail scanned with scan_allowlisted): mailproof's DMARC check does not run for it.
  assert.deepEqual(skipFor(testContext('data', { earlier: new Map<string, Verdict>([['allowlist', { kind: 'allow', reason: 'trusted' }]]) })),
    { spf: false, dkim: false, arc: false, dmarc: false, rbl: false });
  // A check in dry-run decides nothing: rspamd keeps its own.
  assert.deepEqual(alreadyChecked(cfg(['checks.spf.mode=dry-run', 'checks.dmarc.mode=off', 'checks.dnsbl.mode=dry-run']))!(judgedBoth),
    { spf: false, dkim: false, arc: false, dmarc: false, rbl: false });
  // Only allow-lists (a DNSWL) are no block-list lookup of ours.
  assert.equal(alreadyChecked(cfg(['checks.dnsbl.zones=[{zone: wl.example, type: allow}]']))!(judgedBoth).rbl, false);
  assert.equal(alreadyChecked(cfg(['scanners.spam.rspamd_skip=none'])), undefined);
  assert.equal(alreadyChecked(cfg(['scanners.spam.backend=spamd'])), undefined);
});

test('the check: tells the scanner what to skip, and says so in the evidence', async () => {
  const scanner = new FakeScanner(scored(2));
  const c = spamCheckFor(base, 'rspamd', 1000, () => ({ spf: true, dkim: true, arc: true, dmarc: true, rbl: false }));
  const v = await c.run(testContext('data', { tx, message }, { spam: scanner }));
  assert.deepEqual(scanner.calls[0]?.opts, { skip: { spf: true, dkim: true, arc: true, dmarc: true, rbl: false } });
  assert.deepEqual(v.evidence?.scanner_skipped, ['spf', 'dkim', 'arc', 'dmarc']);
  const plain = new FakeScanner(scored(2));
  const w = await spamCheckFor(base, 'rspamd', 1000).run(testContext('data', { tx, message }, { spam: plain }));
  assert.deepEqual(plain.calls[0]?.opts, {});
  assert.equal(w.evidence?.scanner_skipped, undefined);
});

test('an allow-listed client skips the spam check unless scan_allowlisted is set', async () => {
  const ctx = testContext('data', { tx, message }, { spam: new FakeScanner(scored(1003)) });
  const skipped = await new Pipeline([{ check: spamCheckFor(base, 'rspamd', 1000), settings: base }]).run('data', ctx, true);
  assert.equal(skipped.decision, null);
  assert.deepEqual(skipped.records, []);
  const scanned = await new Pipeline([{ check: spamCheckFor({ ...base, scan_allowlisted: true }, 'rspamd', 1000), settings: base }]).run('data', ctx, true);
  assert.equal(scanned.decision?.kind, 'reject');
  assert.equal(scanned.decision?.reply.code, 550);
});
