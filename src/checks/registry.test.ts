import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../log/logger.js';
import { buildChecks } from './registry.js';

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
