import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nonPublicAddress, nonPublicName } from '../dns/public-name.js';
import type { StoredEvent } from '../ledger/types.js';
import { tempLedger } from '../../test/helpers/temp-ledger.js';
import { evidenceOf } from './evidence.js';
import { search } from './search.js';
import { DOMAIN, NOW, REFS, storyEvents, T0 } from './testing.js';
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

test('a customer\'s journeys carry no Maildir path, resolver, local or downstream address, nor other recipients; staff keep them all', async () => {
  const { reader, done } = await tempLedger(storyEvents(), 'mp-visible-');
  try {
    const window = { domain: DOMAIN, since: T0 - 3600e3, until: NOW, now: NOW };
    const staff = await search(reader, window, { lang: 'en' });
    const customer = await search(reader, window, { lang: 'en', scope: [DOMAIN] });
    const internals = [
      '/var/lib/mailproof/maildir', // message.delivered files
      '10.0.0.53', // the resolver that answered (check evidence server)
      '10.0.0.2:25', // our own address the session came in on (session.connect local)
      'mailstore.internal', // the downstream SMTP server, by address and in its reply
      'other@elsewhere.test', // another recipient of the same transaction
      'clamd', '127.0.0.1:3310', 'FOUND', // the scanner's socket and raw answer
    ];
    const details = (r: typeof staff): string => JSON.stringify(r.journeys.map((j) => j.events.map((e) => e.details)));
    for (const x of internals) {
      assert.ok(details(staff).includes(x), `staff see ${x}`);
      assert.ok(!details(customer).includes(x), `a customer sees ${x}`);
    }
    // What the customer needs stays: the DNSBL answer and TTL, the signature and the file, its own mailbox.
    const lines = (ref: string): string => JSON.stringify(evidenceOf(customer.journeys.find((j) => j.ref === ref)!, 'en'));
    assert.match(lines(REFS.pbl), /Spamhaus ZEN: 7\.2\.0\.192\.zen\.spamhaus\.org -> 127\.0\.0\.10 \(listed as dynamic\/end-user address space \(PBL\)\), TTL 60 s/);
    assert.match(lines(REFS.pdf), /"Virus signature","value":"Pdf\.Exploit\.CVE_2018_4990-1"/);
    assert.match(lines(REFS.pdf), /"File","value":"Rechnung-2026-12\.pdf"/);
    assert.match(lines(REFS.fetched), /"Mailbox","value":"buchhaltung@kunde\.test"/);
    assert.doesNotMatch(lines(REFS.fetched), /elsewhere/);
    // The downstream reply is kept, with the host name masked.
    const relay = customer.journeys.find((j) => j.ref === REFS.relay)!.events.find((e) => e.kind === 'message.delivered')!;
    assert.equal((relay.details as { reply?: string }).reply, '250 2.0.0 Ok: queued as 4ABC on [internal]');
  } finally { await done(); }
});

test('a secret is masked as a whole value only', () => {
  const d = { local: '127.0.0.1:2525', reason: 'from 127.0.0.1 to 127.0.0.10 and 127.0.0.1:2525' };
  assert.deepEqual(hideInternals(d), { reason: 'from [internal] to 127.0.0.10 and [internal]' });
});
