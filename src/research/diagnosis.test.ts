import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FINDINGS } from '../checks/findings.js';
import type { StoredEvent } from '../ledger/types.js';
import { checksOf, CODES, DIAGNOSIS, findingCode } from './diagnosis.js';

test('every finding of every check has an entry in the diagnosis table, and nothing else does', () => {
  assert.deepEqual(Object.keys(DIAGNOSIS).sort(), Object.keys(FINDINGS).sort());
  for (const [check, findings] of Object.entries(FINDINGS)) {
    const rule = DIAGNOSIS[check as keyof typeof DIAGNOSIS];
    assert.deepEqual(Object.keys(rule.findings).sort(), [...findings].sort(), check);
    for (const code of [...Object.values(rule.findings), rule.other]) {
      assert.ok(code === null || (CODES as readonly string[]).includes(code), `${check}: ${code}`);
    }
  }
});

const event = (check: string, verdict: string, evidence: Record<string, unknown> = {}): StoredEvent => ({
  id: 1, ts: 0, node: 'n', source: 'gateway', kind: 'check.result', check_name: check, verdict, details: { evidence },
} as StoredEvent);

test('findingCode: by finding, by the check when none is recorded, and only refusals (and counting flags)', () => {
  assert.equal(findingCode(event('sender_domain', 'reject', { finding: 'mx_is_ip' })), 'sender_mx_is_ip');
  assert.equal(findingCode(event('sender_domain', 'reject', { finding: 'null_mx' })), 'sender_domain_unresolvable');
  assert.equal(findingCode(event('sender_domain', 'reject', {})), null);
  assert.equal(findingCode(event('client_identity', 'flag', { finding: 'dynamic_name' })), 'sender_dynamic_ip');
  assert.equal(findingCode(event('client_identity', 'tempfail', { finding: 'no_ptr' })), null);
  assert.equal(findingCode(event('dnsbl', 'reject', { zones: [] })), 'sender_ip_blocklisted');
  assert.equal(findingCode(event('dnsbl', 'pass', {})), null);
  assert.equal(findingCode(event('spf', 'reject', { result: 'fail' })), 'spf_fail');
  assert.equal(findingCode(event('spf', 'flag', { finding: 'softfail' })), null);
  assert.equal(findingCode(event('attachments', 'reject', { rule: 'double_extension' })), 'virus');
  assert.equal(findingCode(event('attachments', 'reject', { rule: 'encrypted_archive' })), null);
  assert.equal(findingCode(event('attachments', 'reject', {})), null);
  assert.equal(findingCode(event('postfix', 'reject', { finding: 'other' })), null);
  assert.equal(findingCode(event('sender_domain', 'reject', { finding: 'toString' })), null);
});

test('checksOf: the checks whose findings give a code', () => {
  assert.deepEqual(checksOf('virus')?.sort(), ['attachments', 'virus']);
  assert.deepEqual(checksOf('sender_mx_is_ip'), ['sender_domain']);
  assert.deepEqual(checksOf('unknown_recipient'), ['recipient']);
  assert.equal(checksOf('delivered'), undefined);
});

test('a 4xx from a check that could not judge is no finding: an SPF DNS error, clamd down, a recipient not verifiable for now', () => {
  assert.equal(findingCode(event('spf', 'tempfail', { finding: 'temperror', component: 'dns' })), null);
  assert.equal(findingCode(event('virus', 'tempfail', { component: 'clamd' })), null);
  assert.equal(findingCode(event('recipient', 'tempfail')), null);
  // The same checks refusing on what they found keep their code, and so does a spam score in the deferring band.
  assert.equal(findingCode(event('spf', 'reject', { finding: 'fail' })), 'spf_fail');
  assert.equal(findingCode(event('virus', 'reject', { finding: 'infected' })), 'virus');
  assert.equal(findingCode(event('recipient', 'reject', { finding: 'unknown' })), 'unknown_recipient');
  assert.equal(findingCode(event('spam', 'tempfail', { finding: 'spam' })), 'spam');
});
