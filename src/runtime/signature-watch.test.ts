import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Health } from '../health/index.js';
import { createLogger } from '../log/logger.js';
import { TEST_SIGNATURES_ONLY } from '../scan/signatures.js';
import { watchSignatures } from './signature-watch.js';

/** A clamd whose VERSION answers come from a list (the last one repeats); null = no answer. */
function fakeClamd(answers: (string | null)[]) {
  let i = 0;
  return {
    asked: 0,
    describe: () => 'unix:/tmp/clamd.sock',
    version(): Promise<string | null> {
      this.asked++;
      const a = answers[Math.min(i++, answers.length - 1)] ?? null;
      return Promise.resolve(a);
    },
  };
}

const quiet = createLogger('silent');

test('test signatures only: a standing warning from the first answer on, announced once', async () => {
  const clamd = fakeClamd(['ClamAV 1.4.6']);
  const health = new Health();
  const lines: string[] = [];
  const w = watchSignatures(clamd, health, quiet, { everyMs: 5, announce: (l) => lines.push(l) });
  await w.settled();
  assert.match(health.warning('clamd') ?? '', new RegExp(`^${TEST_SIGNATURES_ONLY}: clamd 1\\.4\\.6 at unix:/tmp/clamd\\.sock`));
  while (clamd.asked < 4) await new Promise((r) => setTimeout(r, 5));
  w.stop();
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(lines[0]!, /^mailproof: WARNING: test signatures only: not protecting anyone/);
});

test('no answer keeps asking and judges nothing; real signatures later clear the warning', async () => {
  const clamd = fakeClamd([null, 'ClamAV 1.4.6', 'ClamAV 1.4.6/27500/Tue Dec  1 09:12:00 2026']);
  const health = new Health();
  const lines: string[] = [];
  const w = watchSignatures(clamd, health, quiet, { everyMs: 5, retryMs: 5, announce: (l) => lines.push(l) });
  await w.settled();
  assert.equal(health.warning('clamd'), undefined, 'clamd not answering is no judgement');
  while (clamd.asked < 2 || health.warning('clamd') === undefined) await new Promise((r) => setTimeout(r, 2));
  while (health.warning('clamd') !== undefined) await new Promise((r) => setTimeout(r, 2));
  w.stop();
  assert.equal(lines.length, 1);
});

test('the official database: no warning; stop() ends the asking', async () => {
  const clamd = fakeClamd(['ClamAV 1.4.6/27500/Tue Dec  1 09:12:00 2026']);
  const health = new Health();
  const w = watchSignatures(clamd, health, quiet, { everyMs: 5, announce: () => assert.fail('nothing to announce') });
  await w.settled();
  assert.equal(health.warning('clamd'), undefined);
  w.stop();
  const asked = clamd.asked;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(clamd.asked, asked);
});
