import { BlockList, isIP } from 'node:net';

/** A BlockList of "10.0.0.0/8", "::1", "2001:db8::/32" (validated by the config schema). */
export function blockListOf(cidrs: string[]): BlockList {
  const bl = new BlockList();
  for (const c of cidrs) {
    const [addr, bits] = c.split('/') as [string, string | undefined];
    const fam = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) bl.addAddress(addr, fam);
    else bl.addSubnet(addr, Number(bits), fam);
  }
  return bl;
}

/** Whether the address is in the list; IPv4-mapped IPv6 (::ffff:a.b.c.d) counts as IPv4. */
export function inList(bl: BlockList, rawAddress: string | undefined | null): boolean {
  const a = (rawAddress ?? '').replace(/^::ffff:/i, '');
  const fam = isIP(a);
  if (!fam) return false;
  return bl.check(a, fam === 6 ? 'ipv6' : 'ipv4');
}
