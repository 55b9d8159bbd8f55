// Is a name or an address part of the public Internet? The diagnostics that
// customers may run resolve names with the gateway's own resolver, which
// often also answers for the operator's internal zones (split horizon) and
// for private addresses (PTR of 10.x hosts): a customer must not be able to
// map the operator's network through it. Staff may check anything.
import { BlockList } from 'node:net';
import { canonicalIp } from './ip.js';

/**
 * Names that are never public: RFC 6761 special-use names (localhost, test,
 * example, invalid), RFC 6762 .local, RFC 7686 .onion, RFC 8375 home.arpa,
 * RFC 9476 .alt, .internal (reserved by ICANN for private use, 2024), all of
 * .arpa (reverse zones: a PTR of a private address is an internal name), and
 * the names home networks and companies commonly use without owning them
 * (ICANN's name-collision list: .lan, .home, .corp, .localdomain, ...).
 */
const RESERVED_SUFFIXES = [
  'localhost', 'local', 'test', 'example', 'invalid', 'onion', 'alt', 'internal', 'arpa',
  'lan', 'home', 'corp', 'intranet', 'private', 'localdomain', 'domain', 'intra', 'priv',
];

/**
 * Addresses that are not on the public Internet: RFC 1122 "this network" and
 * loopback, RFC 1918 private, RFC 6598 shared (CGN), RFC 3927 link-local,
 * RFC 6890 protocol assignments, multicast and the reserved 240/4 and
 * broadcast; IPv6 unspecified, loopback, RFC 4193 unique local, link-local,
 * site-local (deprecated but routed inside some networks) and multicast.
 */
const NOT_PUBLIC = (() => {
  const bl = new BlockList();
  for (const [net, bits] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
    ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4]] as const) bl.addSubnet(net, bits, 'ipv4');
  for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8]] as const) bl.addSubnet(net, bits, 'ipv6');
  return bl;
})();

/** Why an address may not be checked by a customer, or null when it is public. Not an address at all: null too (the check itself says so). */
export function nonPublicAddress(addr: string): string | null {
  const ip = canonicalIp(addr);
  if (ip === null) return null;
  return NOT_PUBLIC.check(ip, ip.includes(':') ? 'ipv6' : 'ipv4')
    ? `${ip} is a private, loopback, link-local or reserved address, not one on the public Internet`
    : null;
}

/**
 * Why a name may not be checked by a customer, or null when it is a public
 * name. `internal`: the operator's own zones (web.internal_domains).
 */
export function nonPublicName(name: string, internal: readonly string[] = []): string | null {
  const n = name.trim().toLowerCase().replace(/\.$/, '');
  if (canonicalIp(n) !== null || /^\[.*\]$/.test(n)) return `${JSON.stringify(name.slice(0, 100))} is an address, not a domain name; check it as an IP address`;
  const labels = n.split('.');
  if (labels.length < 2) return `${JSON.stringify(n.slice(0, 100))} has a single label: not a name on the public Internet`;
  // A top-level domain is never all digits (RFC 3696 section 2): such a name is an address in disguise.
  if (/^\d+$/.test(labels[labels.length - 1]!)) return `${JSON.stringify(n.slice(0, 100))} is not a name on the public Internet`;
  const under = (zone: string): boolean => n === zone || n.endsWith(`.${zone}`);
  const reserved = RESERVED_SUFFIXES.find(under);
  if (reserved) return `names under .${reserved} are reserved or internal, not on the public Internet`;
  const own = internal.map((z) => z.toLowerCase().replace(/\.$/, '')).find(under);
  if (own) return `names under ${own} belong to this provider's internal network`;
  return null;
}
