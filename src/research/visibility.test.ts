import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nonPublicAddress, nonPublicName } from '../dns/public-name.js';
import type { StoredEvent } from '../ledger/types.js';
import { hideInternals, visibleEvent } from './visibility.js';

// The rule of what a customer may see, on its own; web/customer-scope.test.ts
// drives it through pages, API and reports.

test('hideInternals: internal keys go at any depth, paths and the removed values are masked where texts quote them', () => {
  const d = {
    files: ['/var/lib/mailproof/maildir/a.test/bob/new/1'],
    reason: "EACCES: permission denied, open '/var/lib/mailproof/maildir/a.test/bob/tmp/1' via 10.0.0.53:53",
    evidence: { mx: { server: '10.0.0.53:53', records: ['v=spf1 ip4:192.0.2.0/24 include:_spf.example.com -all'] } },
    url: 'see https://example.com/a/b/c for help',
    rcpts: 3,
    subject: 'the dns server is down',
  };
  assert.deepEqual(hideInternals(d), {
    reason: "EACCES: permission denied, open '[internal]' via [internal]",
    evidence: { mx: { records: ['v=spf1 ip4:192.0.2.0/24 include:_spf.example.com -all'] } },
    url: 'see https://example.com/a/b/c for help',
    subject: 'the dns server is down',
  });
});

test('visibleEvent: a session\'s counts and other domains\' mailboxes are not the customer\'s', () => {
  const base = { id: 1, ts: 0, node: 'n1', source: 'gateway' } as const;
  assert.equal(visibleEvent({ ...base, kind: 'session.close', details: { transactions: 4, delivered: 3 } } as StoredEvent, ['a.test']).details, null);
  const e = { ...base, kind: 'message.delivered', rcpt: 'x@a.test', details: { mailboxes: ['x@a.test', 'y@b.test'], orig_to: 'z@b.test' } } as StoredEvent;
  assert.deepEqual(visibleEvent(e, ['a.test']).details, { mailboxes: ['x@a.test'] });
  assert.equal(visibleEvent(e, null), e, 'staff: unchanged');
});

test('public names and addresses: what a customer may look up', () => {
  for (const n of ['example.com', 'mail.example.de.', 'xn--mnchen-3ya.de']) assert.equal(nonPublicName(n), null, n);
  for (const n of ['intranet', 'db.internal', 'printer.local', 'nas.lan', 'router.home.arpa', 'localhost', '5.2.0.192.in-addr.arpa', 'a.onion', '10.0.0.1', '[::1]', 'host.123']) {
    assert.ok(nonPublicName(n), n);
  }
  assert.match(nonPublicName('vpn.corp.example.net', ['corp.example.net'])!, /internal network/);
  assert.equal(nonPublicName('corpexample.net', ['corp.example.net']), null);
  for (const a of ['192.0.2.1', '203.0.113.5', '2001:db8::1', '8.8.8.8']) assert.equal(nonPublicAddress(a), null, a);
  for (const a of ['10.1.2.3', '172.31.0.1', '192.168.0.1', '127.0.0.2', '169.254.0.1', '100.100.0.1', '0.0.0.0', '224.0.0.1', '::', '::1', 'fd12::1', 'fe80::1%eth0', '::ffff:192.168.0.1']) {
    assert.ok(nonPublicAddress(a), a);
  }
});
