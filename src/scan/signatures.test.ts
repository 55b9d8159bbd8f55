import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeClamdVersion, signatureWarning, TEST_SIGNATURES_ONLY } from './signatures.js';

test('the official database: engine, daily version and date', () => {
  assert.deepEqual(judgeClamdVersion('ClamAV 1.4.6/27500/Tue Dec  1 09:12:00 2026'),
    { kind: 'official', engine: '1.4.6', version: 27500, date: 'Tue Dec  1 09:12:00 2026' });
  assert.deepEqual(judgeClamdVersion('ClamAV 0.103.11/26830/Mon Mar  6 08:22:31 2023\n'),
    { kind: 'official', engine: '0.103.11', version: 26830, date: 'Mon Mar  6 08:22:31 2023' });
  assert.equal(signatureWarning(judgeClamdVersion('ClamAV 1.4.6/27500/Tue Dec  1 09:12:00 2026'), '127.0.0.1:3310'), null);
});

test('no database version (clamd 1.4.6 with only the test signatures says "ClamAV 1.4.6"): test signatures only', () => {
  const s = judgeClamdVersion('ClamAV 1.4.6');
  assert.deepEqual(s, { kind: 'unofficial_only', engine: '1.4.6' });
  const w = signatureWarning(s, 'unix:/var/lib/mailproof/scanners/clamd/clamd.sock') ?? '';
  assert.ok(w.startsWith(`${TEST_SIGNATURES_ONLY}: `), w);
  assert.match(w, /clamd 1\.4\.6 at unix:\/var\/lib\/mailproof\/scanners\/clamd\/clamd\.sock/);
  assert.match(w, /freshclam/);
});

test('no answer or an answer we do not understand: no judgement, no warning', () => {
  for (const raw of [null, '', 'PONG', 'ClamAV', 'ClamAV 1.4.6/0/Thu Jan  1 00:00:00 1970', 'clamav 1.4.6', 'UNKNOWN COMMAND', 'ClamAV 1.4.6/abc/x']) {
    const s = judgeClamdVersion(raw);
    assert.deepEqual(s, { kind: 'unknown' }, String(raw));
    assert.equal(signatureWarning(s, 'x'), null);
  }
});
