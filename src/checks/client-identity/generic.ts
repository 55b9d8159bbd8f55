// Recognition of generic (dynamic, end-user) reverse DNS names: the names an
// access provider gives every address of a pool, e.g.
// "127-0-0-21.dyn.dsl.example.test", "dsl-21-0-0-127.pool.isp.example",
// "ip7f000015.cable.example". Mail servers have names of their own.
import { canonicalIp } from '../../dns/ip.js';

/** Words that access providers use in the names of their customers' addresses. */
export const DYNAMIC_WORDS: readonly string[] = [
  'dyn', 'dynamic', 'dynip', 'dsl', 'adsl', 'vdsl', 'xdsl', 'sdsl', 'dialup', 'dialin', 'dial', 'pool', 'dhcp',
  'cable', 'catv', 'ppp', 'pppoe', 'client', 'clients', 'customer', 'cust', 'broadband', 'residential', 'resnet',
  'dip', 'ftth', 'fttx', 'mobile',
];

export interface GenericFinding {
  /** What gave the name away: "address in name (127-0-0-21)", "word dyn". */
  why: string[];
}

/** The forms in which providers write an IPv4 address into a host name. */
function ipForms(ip: string): RegExp[] {
  const o = ip.split('.');
  if (o.length !== 4) return [];
  const sep = '[-._]?';
  const fwd = o.join(sep);
  const rev = [...o].reverse().join(sep);
  const padded = o.map((x) => x.padStart(3, '0'));
  const hex = o.map((x) => Number(x).toString(16).padStart(2, '0')).join('');
  const forms = [fwd, rev, padded.join(sep), [...padded].reverse().join(sep), hex];
  // Bounded by non-digits so 127-0-0-21 does not match inside 127-0-0-210.
  return forms.map((f) => new RegExp(`(^|[^0-9a-f])${f}($|[^0-9a-f])`, 'i'));
}

/**
 * Why `name` looks generic for `ip`, or null. The last two labels (the
 * provider's registered domain, roughly) are not searched for words, so
 * mail.cable-company.example is not generic for its name alone.
 */
export function genericName(name: string, ip: string, extra: RegExp[] = []): GenericFinding | null {
  const host = name.toLowerCase().replace(/\.$/, '');
  const why: string[] = [];
  const v4 = canonicalIp(ip);
  if (v4 && !v4.includes(':')) {
    for (const re of ipForms(v4)) {
      const m = re.exec(host);
      if (m) {
        why.push(`address in name (${m[0].replace(/^[^0-9a-f]|[^0-9a-f]$/gi, '')})`);
        break;
      }
    }
  }
  const labels = host.split('.');
  const searched = labels.length > 2 ? labels.slice(0, -2) : labels.slice(0, 1);
  const tokens = new Set(searched.flatMap((l) => l.split(/[^a-z]+/)).filter(Boolean));
  for (const w of DYNAMIC_WORDS) if (tokens.has(w)) why.push(`word ${w}`);
  for (const re of extra) if (re.test(host)) why.push(`pattern /${re.source}/`);
  return why.length ? { why } : null;
}
