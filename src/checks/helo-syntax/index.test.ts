import { test } from 'node:test';
import assert from 'node:assert/strict';
import { heloShape } from './index.js';

test('HELO shapes (RFC 5321 section 4.1.1.1 and 4.1.3)', () => {
  assert.equal(heloShape('mail.example.org'), 'fqdn');
  assert.equal(heloShape('mail.example.org.'), 'fqdn');
  assert.equal(heloShape('[192.0.2.1]'), 'address_literal');
  assert.equal(heloShape('[IPv6:2001:db8::1]'), 'address_literal');
  assert.equal(heloShape('[IPv6:192.0.2.1]'), 'invalid');
  assert.equal(heloShape('[999.1.1.1]'), 'invalid');
  assert.equal(heloShape('EXCHANGE01'), 'single_label');
  assert.equal(heloShape('192.0.2.1'), 'bare_ip');
  assert.equal(heloShape('under_score.example'), 'invalid');
  assert.equal(heloShape('-bad.example'), 'invalid');
  assert.equal(heloShape('host.123'), 'invalid');
  assert.equal(heloShape('a..b'), 'invalid');
  assert.equal(heloShape(`${'a'.repeat(64)}.example`), 'invalid');
});
