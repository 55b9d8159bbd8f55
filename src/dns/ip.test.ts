import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalIp, dnsblName, ipFromReverseName, ipv6Nibbles, reverseName } from './ip.js';

test('reverse names for IPv4 and IPv6 (RFC 1035 section 3.5, RFC 3596 section 2.5)', () => {
  assert.equal(reverseName('192.0.2.1'), '1.2.0.192.in-addr.arpa');
  assert.equal(reverseName('2001:db8::1'), '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa');
  assert.equal(reverseName('2001:DB8:0:0:0:0:0:ABCD'), 'd.c.b.a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa');
  assert.equal(reverseName('::1'), `1.${'0.'.repeat(31)}ip6.arpa`);
  // A dual-stack socket shows IPv4 clients as IPv4-mapped IPv6: their PTR is in in-addr.arpa.
  assert.equal(reverseName('::ffff:192.0.2.1'), '1.2.0.192.in-addr.arpa');
  assert.equal(reverseName('::ffff:c000:201'), '1.2.0.192.in-addr.arpa');
  assert.throws(() => reverseName('192.0.2'), RangeError);
  assert.throws(() => reverseName('mx.example'), RangeError);
});

test('DNSBL query names (RFC 5782 section 2.1 and 2.4)', () => {
  assert.equal(dnsblName('127.0.0.2', 'dnsbl.test'), '2.0.0.127.dnsbl.test');
  assert.equal(dnsblName('127.0.0.2', 'DNSBL.test.'), '2.0.0.127.dnsbl.test');
  assert.equal(dnsblName('::FFFF:127.0.0.2', 'dnsbl.test'), '2.0.0.127.dnsbl.test');
  // RFC 5782 section 5: the IPv6 test address ::2 is listed.
  assert.equal(dnsblName('::2', 'dnsbl.test'), `2.${'0.'.repeat(31)}dnsbl.test`);
  assert.throws(() => dnsblName('127.0.0.2', ''), RangeError);
});

test('nibbles, canonical addresses and the way back', () => {
  assert.equal(ipv6Nibbles('64:ff9b::192.0.2.33'), '0064ff9b0000000000000000c0000221');
  assert.equal(ipv6Nibbles('1:2:3:4:5:6:7:8'), '00010002000300040005000600070008');
  assert.equal(ipv6Nibbles('::'), '0'.repeat(32));
  assert.equal(canonicalIp('fe80::1%eth0'), 'fe80::1');
  assert.equal(canonicalIp(' 192.0.2.1 '), '192.0.2.1');
  assert.equal(canonicalIp('2001:DB8::1'), '2001:db8::1');
  assert.equal(canonicalIp('1.2.3.4.5'), null);
  assert.equal(ipFromReverseName('1.2.0.192.in-addr.arpa.'), '192.0.2.1');
  assert.equal(ipFromReverseName(reverseName('2001:db8::1')), '2001:db8::1');
  assert.equal(canonicalIp('2001:0DB8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
  assert.equal(canonicalIp('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1');
  assert.equal(canonicalIp('0:0:0:0:0:0:0:0'), '::');
  assert.equal(canonicalIp('1:0:0:0:0:0:0:0'), '1::');
  assert.equal(ipFromReverseName('300.2.0.192.in-addr.arpa'), null);
  assert.equal(ipFromReverseName('mx.example'), null);
});
