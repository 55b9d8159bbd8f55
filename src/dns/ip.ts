// IP addresses as DNS names: the reverse name for PTR lookups (RFC 1035
// section 3.5 in-addr.arpa, RFC 3596 section 2.5 ip6.arpa) and the query name
// for a DNSBL (RFC 5782 section 2.1 IPv4: reversed octets; section 2.4 IPv6:
// reversed nibbles, the same order as ip6.arpa).
import { isIP } from 'node:net';

/**
 * The address as the DNS layer uses it, or null if it is not one: an
 * IPv4-mapped IPv6 address (how a dual-stack socket shows an IPv4 client,
 * "::ffff:192.0.2.1") becomes the IPv4 address, a zone index ("%eth0") is
 * dropped, IPv6 is in its RFC 5952 text form ("2001:db8::1").
 */
export function canonicalIp(ip: string): string | null {
  let s = ip.trim();
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  const v = isIP(s);
  if (v === 4) return s;
  if (v !== 6) return null;
  const hex = ipv6Nibbles(s);
  // RFC 4291 section 2.5.5.2: ::ffff:0:0/96 holds an IPv4 address.
  if (hex.startsWith('00000000000000000000ffff')) {
    return [24, 26, 28, 30].map((i) => parseInt(hex.slice(i, i + 2), 16)).join('.');
  }
  return formatIpv6(hex);
}

/** RFC 5952 section 4: lower case, no leading zeros, the longest run (of 2 or more) of zero groups as "::". */
export function formatIpv6(nibbles: string): string {
  const groups = (nibbles.match(/.{4}/g) as string[]).map((g) => parseInt(g, 16).toString(16));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = Math.max(i, j);
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

function required(ip: string): string {
  const c = canonicalIp(ip);
  if (c === null) throw new RangeError(`not an IP address: ${JSON.stringify(ip.slice(0, 100))}`);
  return c;
}

/** The 32 hex digits of an IPv6 address (as accepted by net.isIP), most significant first. */
export function ipv6Nibbles(ip: string): string {
  let s = ip;
  // An embedded IPv4 tail ("::ffff:1.2.3.4", "64:ff9b::1.2.3.4") becomes two hex groups.
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    s = s.slice(0, v4.index) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const [head, tail] = s.includes('::') ? (s.split('::') as [string, string]) : [s, null];
  const hs = head === '' ? [] : head.split(':');
  const ts = tail === null || tail === '' ? [] : tail.split(':');
  const groups = tail === null ? hs : [...hs, ...Array<string>(8 - hs.length - ts.length).fill('0'), ...ts];
  if (groups.length !== 8) throw new RangeError(`not an IPv6 address: ${JSON.stringify(ip.slice(0, 100))}`);
  return groups.map((g) => g.toLowerCase().padStart(4, '0')).join('');
}

/** The labels that name the address in reverse order, without a zone: "1.2.0.192" or 32 nibbles. */
export function reversedLabels(ip: string): string {
  const c = required(ip);
  if (isIP(c) === 4) return c.split('.').map((o) => String(Number(o))).reverse().join('.');
  return ipv6Nibbles(c).split('').reverse().join('.');
}

/** "192.0.2.1" -> "1.2.0.192.in-addr.arpa"; "2001:db8::1" -> "1.0.0...8.b.d.0.1.0.0.2.ip6.arpa". Throws RangeError for a non-address. */
export function reverseName(ip: string): string {
  const c = required(ip);
  return `${reversedLabels(c)}.${isIP(c) === 4 ? 'in-addr.arpa' : 'ip6.arpa'}`;
}

/** The name a DNSBL is asked for: "127.0.0.2" with zone "dnsbl.test" -> "2.0.0.127.dnsbl.test" (RFC 5782 section 2). */
export function dnsblName(ip: string, zone: string): string {
  const z = zone.toLowerCase().replace(/^\.+|\.+$/g, '');
  if (z === '') throw new RangeError('empty DNSBL zone');
  return `${reversedLabels(ip)}.${z}`;
}

/** The address a reverse name stands for, or null ("1.2.0.192.in-addr.arpa" -> "192.0.2.1"). */
export function ipFromReverseName(name: string): string | null {
  const n = name.toLowerCase().replace(/\.$/, '');
  let m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/.exec(n);
  if (m) {
    const ip = m.slice(1).reverse().map(Number).join('.');
    return isIP(ip) === 4 ? ip : null;
  }
  m = /^((?:[0-9a-f]\.){32})ip6\.arpa$/.exec(n);
  if (m) {
    return canonicalIp(formatIpv6((m[1] as string).split('.').filter(Boolean).reverse().join('')));
  }
  return null;
}

/**
 * The network a client address belongs to, as "192.0.2.0/24" or
 * "2001:db8:1:2::/64": senders with a pool of outgoing servers retry from
 * another address of the same network, and an IPv6 host usually owns a whole
 * /64 (or more), so limits per client count per network, not per address.
 * An address that is not one (cannot happen for a socket peer) stays as it is.
 */
export function clientNetwork(ip: string, v4Prefix = 24, v6Prefix = 64): string {
  const c = canonicalIp(ip);
  if (c === null) return ip;
  if (!c.includes(':')) {
    if (v4Prefix >= 32) return c;
    const n = c.split('.').reduce((a, o) => a * 256 + Number(o), 0);
    const size = 2 ** (32 - v4Prefix);
    const base = n - (n % size);
    return `${[24, 16, 8, 0].map((s) => Math.floor(base / 2 ** s) % 256).join('.')}/${v4Prefix}`;
  }
  if (v6Prefix >= 128) return c;
  const bits = BigInt(`0x${ipv6Nibbles(c)}`);
  const masked = (bits >> BigInt(128 - v6Prefix)) << BigInt(128 - v6Prefix);
  return `${formatIpv6(masked.toString(16).padStart(32, '0'))}/${v6Prefix}`;
}
