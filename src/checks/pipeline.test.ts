import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testContext } from './testing.js';
import { Pipeline } from './pipeline.js';
import type { Check, CheckContext, Verdict } from './types.js';

const ctx: CheckContext = testContext('connect');

const reject: Verdict = { kind: 'reject', reply: { code: 550, enhanced: '5.7.1', text: 'no' }, reason: 'r' };

function check(name: string, v: Verdict | (() => Promise<Verdict>), o: Partial<Check> = {}): Check {
  return { name, stage: 'connect', bypassable: true, run: typeof v === 'function' ? v : () => v, ...o };
}
const enforce = { mode: 'enforce', on_error: 'tempfail' } as const;

test('the first reject in configured order decides; all are recorded', async () => {
  const p = new Pipeline([
    { check: check('a', { kind: 'pass' }), settings: enforce },
    { check: check('b', { kind: 'flag', tag: 't', reason: 'x' }), settings: enforce },
    { check: check('c', reject), settings: enforce },
    { check: check('d', { kind: 'tempfail', reply: { code: 451, enhanced: '4.7.1', text: 'later' }, reason: 'd' }), settings: enforce },
  ]);
  const out = await p.run('connect', ctx, false);
  assert.equal(out.decision?.check, 'c');
  assert.equal(out.decision?.kind, 'reject');
  assert.deepEqual(out.flags, ['t']);
  assert.deepEqual(out.records.map((r) => r.check), ['a', 'b', 'c', 'd']);
});

test('dry-run records the verdict but does not apply it; off does not run', async () => {
  let ran = false;
  const p = new Pipeline([
    { check: check('dry', reject), settings: { mode: 'dry-run', on_error: 'tempfail' } },
    { check: check('off', () => { ran = true; return Promise.resolve(reject); }), settings: { mode: 'off', on_error: 'tempfail' } },
  ]);
  const out = await p.run('connect', ctx, false);
  assert.equal(out.decision, null);
  assert.equal(ran, false);
  assert.equal(out.records[0]?.dryRun, true);
  assert.equal(out.records[0]?.verdict.kind, 'reject');
});

test('a check that throws or hangs is a tempfail by default, never a silent pass', async () => {
  const p = new Pipeline([
    { check: check('boom', () => Promise.reject(new Error('scanner down'))), settings: enforce },
  ]);
  const out = await p.run('connect', ctx, false);
  assert.equal(out.decision?.kind, 'tempfail');
  assert.equal(out.decision?.reply.code, 451);
  assert.match(out.decision!.reason, /scanner down/);

  const hang = new Pipeline([{ check: check('hang', () => new Promise<Verdict>(() => undefined), { timeoutMs: 50 }), settings: enforce }]);
  const h = await hang.run('connect', ctx, false);
  assert.equal(h.decision?.kind, 'tempfail');
  assert.match(h.decision!.reason, /timed out after 50 ms/);
});

test('on_error=pass lets mail through when a check fails, but records the error', async () => {
  const p = new Pipeline([{ check: check('boom', () => Promise.reject(new Error('down'))), settings: { mode: 'enforce', on_error: 'pass' } }]);
  const out = await p.run('connect', ctx, false);
  assert.equal(out.decision, null);
  assert.equal(out.records[0]?.verdict.kind, 'error');
});

test('an allow-list verdict skips bypassable checks, never the others', async () => {
  const p = new Pipeline([
    { check: check('wl', { kind: 'allow', reason: 'listed' }), settings: enforce },
    { check: check('bl', reject), settings: enforce },
    { check: check('relay', { ...reject, reason: 'relay' }, { bypassable: false }), settings: enforce },
  ]);
  const out = await p.run('connect', ctx, false);
  assert.equal(out.allowed, true);
  assert.equal(out.decision?.check, 'relay');
  const later = await p.run('connect', ctx, true);
  assert.deepEqual(later.records.map((r) => r.check), ['relay']);
});

test('checks of a stage run side by side, not one after the other', async () => {
  // Each check waits until all three have started: run one after the other,
  // the first would wait for ever (and the runner's timeout would fire).
  let started = 0;
  let release!: () => void;
  const allIn = new Promise<void>((r) => { release = r; });
  const gate = async (): Promise<Verdict> => {
    if (++started === 3) release();
    await allIn;
    return { kind: 'pass' };
  };
  const p = new Pipeline(['a', 'b', 'c'].map((n) => ({ check: check(n, gate, { timeoutMs: 5000 }), settings: enforce })));
  const out = await p.run('connect', ctx, false);
  assert.equal(started, 3);
  assert.deepEqual(out.records.map((r) => r.verdict.kind), ['pass', 'pass', 'pass']);
});

test('Health: an error or a tempfail naming a component marks it down, a verdict marks it up', async () => {
  const c = testContext('connect');
  const tempfail: Verdict = { kind: 'tempfail', reply: { code: 451, enhanced: '4.7.24', text: 'later' }, reason: 'SPF temperror', evidence: { component: 'dns' } };
  await new Pipeline([{ check: check('spf', tempfail, { component: 'dns' }), settings: enforce }]).run('connect', c, false);
  assert.equal(c.deps.health.get('dns')?.state, 'down');
  await new Pipeline([{ check: check('spf', { kind: 'pass' }, { component: 'dns' }), settings: enforce }]).run('connect', c, false);
  assert.equal(c.deps.health.get('dns')?.state, 'up');
  const boom = check('virus', () => Promise.reject(new Error('ECONNREFUSED')), { component: 'clamd' });
  const out = await new Pipeline([{ check: boom, settings: enforce }]).run('connect', c, false);
  assert.equal(c.deps.health.get('clamd')?.state, 'down');
  assert.equal(out.decision?.reply.code, 451);
  assert.deepEqual(out.records[0]?.verdict, { kind: 'error', reason: 'failed: ECONNREFUSED', component: 'clamd' });
});

test('an allow-list that answers at once keeps later bypassable checks from starting at all', async () => {
  let ran = 0;
  const costly = check('dnsbl', () => { ran++; return Promise.resolve({ kind: 'pass' } as Verdict); });
  const fixedCheck = check('relay', () => { ran += 100; return Promise.resolve({ kind: 'pass' } as Verdict); }, { bypassable: false });
  const out = await new Pipeline([
    { check: check('allowlist', { kind: 'allow', reason: 'trusted' }, { bypassable: false }), settings: enforce },
    { check: costly, settings: enforce },
    { check: fixedCheck, settings: enforce },
  ]).run('connect', ctx, false);
  assert.equal(ran, 100, 'the bypassable check was not started, the other one was');
  assert.equal(out.allowed, true);
  assert.deepEqual(out.records.map((r) => r.check), ['allowlist', 'relay']);
});
