// The outside services for the benchmark of the checks (issue 3): a real
// DNS server (Knot) with the zones the load needs, clamd with the project's
// test signatures, rspamd. They are the same programs the end-to-end tests
// run (test/helpers), started once for the whole run.
//
// Knot listens on 127.0.0.153 port 53 (BENCH_DNS_HOST sets another loopback
// address, so two benchmarks can run side by side), because Postfix (the
// peer with equivalent smtpd_*_restrictions) asks DNS through the C library,
// which reads /etc/resolv.conf and knows no port: its Postfix runs in a
// private mount namespace where a resolv.conf naming that address is
// bind-mounted over /etc/resolv.conf (the machine's own file is never touched).
import fs from 'node:fs';
import path from 'node:path';
import { startDnsServer, type DnsServer } from '../../test/helpers/dns-server.js';
import { startClamd, type ClamdInstance } from '../../test/helpers/clamd.js';
import { startRspamd, type RspamdInstance } from '../../test/helpers/rspamd.js';
import { register } from './proc.js';

export const DNS_HOST = dnsHost(process.env.BENCH_DNS_HOST);

/** The Knot server's address: loopback only, since the benchmark sends nothing anywhere else. */
function dnsHost(v: string | undefined): string {
  const h = v?.trim() || '127.0.0.153';
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)) throw new Error(`BENCH_DNS_HOST must be a 127.x.y.z address, not ${h}`);
  return h;
}
/** What smtp-source sends as: a sender domain with MX and SPF, a HELO name with A, the client's PTR pointing at it. */
export const CLIENT = { from: 'sender@bench.test', helo: 'mail.bench.test' } as const;

export const ZONES: Record<string, string[]> = {
  'bench.test': [
    'bench.test. 3600 IN MX 10 mail.bench.test.',
    'mail.bench.test. 3600 IN A 127.0.0.1',
    'bench.test. 3600 IN TXT "v=spf1 ip4:127.0.0.0/8 -all"',
    '_dmarc.bench.test. 3600 IN TXT "v=DMARC1; p=none"',
  ],
  // PTR of the load generator's address, forward-confirmed by mail.bench.test A.
  '127.in-addr.arpa': ['1.0.0.127.in-addr.arpa. 3600 IN PTR mail.bench.test.'],
  // A block list on which the load generator is not listed (NXDOMAIN, the common case).
  'bl.bench.test': ['2.0.0.127.bl.bench.test. 3600 IN A 127.0.0.2', '2.0.0.127.bl.bench.test. 3600 IN TXT "listed for the benchmark"'],
};

export interface CheckServices {
  dns: DnsServer;
  clamd: ClamdInstance | null;
  rspamd: RspamdInstance | null;
  /** A resolv.conf naming the Knot server, for Postfix's private mount namespace. */
  resolvConf: string;
  stop(): Promise<void>;
}

export async function startCheckServices(work: string, scanners: boolean): Promise<CheckServices> {
  const dns = await startDnsServer({ zones: ZONES, host: DNS_HOST, port: 53 });
  register(`dir ${dns.dir}`);
  const resolvConf = path.join(work, 'resolv.conf');
  fs.writeFileSync(resolvConf, `nameserver ${DNS_HOST}\noptions attempts:2 timeout:2\n`, { mode: 0o644 });
  let clamd: ClamdInstance | null = null;
  let rspamd: RspamdInstance | null = null;
  try {
    if (scanners) {
      clamd = await startClamd();
      rspamd = await startRspamd();
    }
  } catch (err) {
    await clamd?.stop();
    await dns.stop();
    throw err;
  }
  return {
    dns, clamd, rspamd, resolvConf,
    async stop() {
      await rspamd?.stop().catch(() => undefined);
      await clamd?.stop().catch(() => undefined);
      await dns.stop();
    },
  };
}

/**
 * -o settings for mailproof with the checks on. 'dns': what Postfix's
 * restrictions below do too (DNSBL, client PTR with forward confirmation,
 * HELO, sender domain, SPF). 'all': plus DKIM/DMARC, the attachment policy,
 * clamd and rspamd.
 */
export function mailproofCheckSettings(svc: CheckServices, level: 'none' | 'dns' | 'all'): string[] {
  if (level === 'none') {
    // The gateway alone: the four checks of the gateway issue, nothing that asks anyone.
    return [];
  }
  const s = [
    'checks.allowlist.networks=[]',
    // On, so their cost is measured, but never reached by the load.
    'checks.rate.connections_per_minute=1000000000', 'checks.rate.messages_per_hour=1000000000',
    `dns.servers=[${DNS_HOST}:53]`,
    'checks.dnsbl.zones=[{zone: bl.bench.test, type: block, weight: 1, name: bl.bench.test, codes: {"127.0.0.2": "listed for the benchmark"}}]',
  ];
  if (level === 'dns') {
    s.push('checks.dmarc.mode=off', 'checks.attachments.mode=off');
  } else {
    if (svc.clamd) s.push(`scanners.clamd.address=${svc.clamd.tcp.host}:${svc.clamd.tcp.port}`);
    // RBL_BENCH: the benchmark rspamd's one RBL rule (filter-services.ts), as
    // an operator names the rules of its own rspamd: mailproof's DNSBL check
    // asks the same list, so rspamd is told to skip it (scanners.spam.rspamd_skip).
    if (svc.rspamd) s.push('scanners.spam.backend=rspamd', `scanners.spam.address=${svc.rspamd.url}`, 'scanners.spam.rspamd_rbl_symbols=[RBL_BENCH]');
  }
  return s;
}

/** main.cf settings for Postfix doing what mailproof's 'dns' level does, in smtpd restrictions. */
export function postfixCheckParams(): Record<string, string> {
  return {
    smtpd_peername_lookup: 'yes',
    smtpd_helo_required: 'yes',
    smtpd_client_restrictions: 'reject_rbl_client bl.bench.test=127.0.0.2, reject_unknown_client_hostname',
    smtpd_helo_restrictions: 'reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname',
    smtpd_sender_restrictions: 'reject_non_fqdn_sender, reject_unknown_sender_domain',
    // SPF through Debian's postfix-policyd-spf-python, as a Postfix site would.
    smtpd_recipient_restrictions: 'reject_unauth_destination, check_policy_service unix:private/policyd-spf',
    'policyd-spf_time_limit': '3600',
  };
}
