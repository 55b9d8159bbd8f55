// The demo's little world: a customer domain, the senders of the classic
// stories (docs/design.md "The classic findings"), each on a loopback address of
// its own (127.0.0.0/8 is all loopback on Linux, no setup needed), and the
// DNS that describes them. Everything lives under .demo, a name no real
// resolver answers for, and 127.in-addr.arpa.
import { ZoneSet } from './dns-server.js';

export const CUSTOMER_DOMAIN = 'kunde.demo';
export const MAILBOXES = ['info', 'chef', 'buchhaltung', 'mueller'] as const;
export const GATEWAY_HOSTNAME = `mx.${CUSTOMER_DOMAIN}`;
/** The demo's block list (RFC 5782 layout). */
export const DNSBL_ZONE = 'bl.demo';
export const DNSBL_NAME = 'Demo-Blocklist';

/** Sending servers: loopback address, the name its PTR gives (null: none), the HELO it uses. */
export const HOSTS = {
  /** A well-run business partner: PTR, forward-confirmed, in its domain's SPF. */
  partner: { ip: '127.0.0.10', ptr: 'mail.partner.demo', helo: 'mail.partner.demo' },
  /** A server that sends in the name of bank.demo without being in its SPF. */
  forger: { ip: '127.0.0.12', ptr: 'mail.fremdserver.demo', helo: 'mail.fremdserver.demo' },
  /** An in-house Exchange behind a DSL line: a generic, dynamic PTR. */
  dsl: { ip: '127.0.0.23', ptr: '127-0-0-23.dyn.example-dsl.demo', helo: 'exchange.handwerk-meier.demo' },
  /** A small provider whose customer domain has an IP address as MX. */
  hoster: { ip: '127.0.0.31', ptr: 'smtp.billig-hoster.demo', helo: 'smtp.billig-hoster.demo' },
  /** A web form's mailer that uses a sender domain that does not exist. */
  webform: { ip: '127.0.0.32', ptr: 'www.webformular.demo', helo: 'www.webformular.demo' },
  /** A new server whose PTR is missing at first; its admin adds it during the demo. */
  newserver: { ip: '127.0.0.44', ptr: 'mail.neuer-server.demo', helo: 'mail.neuer-server.demo' },
  /** A server on the block list. */
  listed: { ip: '127.0.0.66', ptr: 'mail.spamschleuder.demo', helo: 'mail.spamschleuder.demo' },
} as const;

/** POP3 clients in the customer's office. */
export const OFFICE = {
  /** The boss's PC, leaves mail on the server. */
  bossPc: '127.0.0.100',
  /** The forgotten PC in the warehouse that fetches and deletes. */
  oldPc: '127.0.0.200',
} as const;

/** The IP literal that baeckerei-ip-mx.demo names as its MX (RFC 5321 section 5.1 wants a host name). */
export const IP_MX_DOMAIN = 'baeckerei-ip-mx.demo';
/** A sender domain that does not exist at all (NXDOMAIN). */
export const NX_DOMAIN = 'gibts-nicht.demo';

export function reverseName(ip: string): string {
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
}

/**
 * The demo zones. The negative-answer TTL (SOA minimum, RFC 2308 section 5)
 * is 1 s, so a record added during the demo is seen at once.
 */
export function demoZones(): ZoneSet {
  const z = new ZoneSet();
  const soa = { mname: 'ns.demo', rname: 'hostmaster.demo', minimum: 1, ttl: 1 };
  z.addZone('demo', soa);
  z.addZone('127.in-addr.arpa', soa);
  z.add({ name: 'ns.demo', type: 'A', data: '127.0.0.153' });

  // The customer: our gateway is its MX.
  z.add({ name: CUSTOMER_DOMAIN, type: 'MX', data: { preference: 10, exchange: GATEWAY_HOSTNAME } });
  z.add({ name: GATEWAY_HOSTNAME, type: 'A', data: '127.0.0.1' });
  z.add({ name: reverseName('127.0.0.1'), type: 'PTR', data: GATEWAY_HOSTNAME });
  z.add({ name: CUSTOMER_DOMAIN, type: 'TXT', data: 'v=spf1 mx -all' });

  // Every sending host: forward and (except the new server, at first) reverse.
  for (const h of Object.values(HOSTS)) {
    z.add({ name: h.ptr, type: 'A', data: h.ip });
    if (h !== HOSTS.newserver) z.add({ name: reverseName(h.ip), type: 'PTR', data: h.ptr });
  }

  // Sender domains, each with an MX, an address and SPF naming its server.
  const senderDomain = (domain: string, mx: string, spf: string | null): void => {
    z.add({ name: domain, type: 'MX', data: { preference: 10, exchange: mx } });
    if (spf) z.add({ name: domain, type: 'TXT', data: spf });
  };
  senderDomain('partner.demo', HOSTS.partner.ptr, `v=spf1 ip4:${HOSTS.partner.ip} -all`);
  // bank.demo's own mail server is 127.0.0.11; the forger at 127.0.0.12 is not in its SPF.
  z.add({ name: 'mail.bank.demo', type: 'A', data: '127.0.0.11' });
  senderDomain('bank.demo', 'mail.bank.demo', 'v=spf1 ip4:127.0.0.11 -all');
  senderDomain('handwerk-meier.demo', HOSTS.dsl.helo, null);
  z.add({ name: HOSTS.dsl.helo, type: 'A', data: HOSTS.dsl.ip });
  senderDomain('neuer-kunde.demo', HOSTS.newserver.ptr, `v=spf1 ip4:${HOSTS.newserver.ip} -all`);
  senderDomain('spamschleuder.demo', HOSTS.listed.ptr, `v=spf1 ip4:${HOSTS.listed.ip} -all`);
  senderDomain('webformular.demo', HOSTS.webform.ptr, null);
  // The IP literal as MX target: in DNS it is just a name made of digits, which is why the mistake is possible.
  z.add({ name: IP_MX_DOMAIN, type: 'MX', data: { preference: 10, exchange: HOSTS.hoster.ip } });
  z.add({ name: IP_MX_DOMAIN, type: 'TXT', data: `v=spf1 ip4:${HOSTS.hoster.ip} -all` });
  // NX_DOMAIN: deliberately absent.

  // The block list lists 127.0.0.66 (RFC 5782 section 2.1: A 127.0.0.2 and a TXT with the reason).
  const listedName = `${HOSTS.listed.ip.split('.').reverse().join('.')}.${DNSBL_ZONE}`;
  z.add({ name: listedName, type: 'A', data: '127.0.0.2' });
  z.add({ name: listedName, type: 'TXT', data: 'Listed in the mailproof demo block list: sent spam to spam traps' });
  // RFC 5782 section 5: a list answers for 127.0.0.2 and not for 127.0.0.1, so clients can test it.
  z.add({ name: `2.0.0.127.${DNSBL_ZONE}`, type: 'A', data: '127.0.0.2' });
  return z;
}

/** The demo's "admin fixes the PTR" moment. */
export function addNewServerPtr(z: ZoneSet): void {
  z.add({ name: reverseName(HOSTS.newserver.ip), type: 'PTR', data: HOSTS.newserver.ptr });
}
