import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeDiff, diffConfig, effectiveConfig, isEmptyDiff } from './diff.js';
import { loadConfig } from './load.js';

const base = ['-o', 'hostname=mx.test'];
function cfg(...overrides: string[]): ReturnType<typeof loadConfig> {
  const o = [...base, ...overrides].filter((x) => x !== '-o');
  return loadConfig({ dataDir: '/tmp/mp-diff', overrides: o });
}

test('the same configuration is no change', () => {
  const d = diffConfig(cfg('domains={a.test: {mailboxes: [x]}}'), cfg('domains={a.test: {mailboxes: [x]}}'));
  assert.ok(isEmptyDiff(d));
  assert.equal(describeDiff(d), '');
});

test('domains added, removed and changed are named; a changed mailbox list is a changed domain', () => {
  const old = cfg('domains={a.test: {mailboxes: [x]}, b.test: {mailboxes: [y]}}');
  const next = cfg('domains={a.test: {mailboxes: [x, z]}, c.test: {mailboxes: [w]}}');
  const d = diffConfig(old, next);
  assert.deepEqual(d.domains, { added: ['c.test'], removed: ['b.test'], changed: ['a.test'] });
  assert.deepEqual(d.restart, []);
  assert.equal(describeDiff(d), 'domains +c.test -b.test ~a.test');
});

test('checks, scanners, dns and the TLS files apply now; listeners, workers, data_dir, store, node need a restart', () => {
  const old = cfg();
  const next = loadConfig({
    dataDir: '/tmp/mp-diff-other',
    overrides: [
      'hostname=mx.test', 'checks.dnsbl.zones=[{zone: bl.test}]', 'scanners.clamd.address=127.0.0.1:3310', 'dns.timeout_ms=900',
      'smtp.tls_cert=/etc/c.pem', 'smtp.tls_key=/etc/k.pem',
      'smtp.listen=[127.0.0.1:2626]', 'smtp.workers=2', 'node=other', 'ledger.store=/tmp/s.sqlite', 'pop3.listen=[]',
    ],
  });
  const d = diffConfig(old, next);
  assert.deepEqual(d.applied.sort(), ['checks.dnsbl.zones', 'dns.timeout_ms', 'scanners.clamd.address', 'smtp.tls_cert', 'smtp.tls_key']);
  assert.deepEqual(d.restart.sort(), ['data_dir', 'ledger.store', 'node', 'pop3.listen', 'smtp.listen', 'smtp.workers']);
  assert.ok(!isEmptyDiff(d));
});

test('the effective configuration takes the reloadable parts and keeps the old values of the rest', () => {
  const old = cfg('domains={a.test: {mailboxes: [x]}}');
  const next = loadConfig({
    dataDir: '/tmp/mp-diff-other',
    overrides: ['hostname=mx.test', 'domains={c.test: {mailboxes: [w]}}', 'checks.greylist.mode=enforce', 'smtp.listen=[127.0.0.1:2626]', 'smtp.max_recipients=5', 'smtp.tls_cert=/c', 'smtp.tls_key=/k'],
  });
  const e = effectiveConfig(old, next);
  assert.deepEqual(Object.keys(e.domains), ['c.test']);
  assert.equal(e.checks.greylist.mode, 'enforce');
  assert.equal(e.smtp.tls_cert, '/c');
  assert.deepEqual(e.smtp.listen, old.smtp.listen);
  assert.equal(e.smtp.max_recipients, old.smtp.max_recipients);
  assert.equal(e.data_dir, old.data_dir);
  assert.deepEqual(e.paths, old.paths);
  // Reloading the effective configuration again changes nothing that needs a restart.
  assert.deepEqual(diffConfig(old, e).restart, []);
});
