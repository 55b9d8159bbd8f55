// End to end: the DNS-based checks (dnsbl, client_identity, helo,
// sender_domain) in a real mailproof against a real Knot DNS on loopback.
// Clients connect from different 127.0.0.x addresses, each with its own
// reverse DNS and list entries; every reply is asserted exactly, and the
// ledger must hold what the check saw (DNS answers with their TTLs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { requireTool } from '../../helpers/env.js';
import { startDnsServer, type DnsServer } from '../../helpers/dns-server.js';
import { startServer, type Instance } from '../../helpers/server.js';
import { sendMail } from '../../helpers/smtp-client.js';

const REF = '[0-9A-HJKMNP-TV-Z]{12}';

export const ZONES: Record<string, string[]> = {
  test: [
    'good.test. 300 IN MX 10 mail.good.test.',
    'mail.good.test. 600 IN A 127.0.0.22',
    'mail.liar.test. 600 IN A 127.0.0.99',
    'mail25.good.test. 600 IN A 127.0.0.25',
    '127-0-0-21.dyn.dsl.example.test. 3600 IN A 127.0.0.21',
    'amx.test. 400 IN A 127.0.0.22',
    'nullmx.test. 300 IN MX 0 .',
    // The provider's classic mistake: an IP address where a host name belongs.
    'ipmx.test. 300 IN MX 10 192.0.2.1.',
    'fresh.test. 300 IN MX 10 mail.good.test.',
    'mx2.test. 300 IN MX 10 mail.good.test.',
  ],
  // As Spamhaus ZEN: 127.0.0.2 SBL, 127.0.0.10/11 PBL, 127.255.255.x errors.
  'zen.test': [
    '2.0.0.127.zen.test. 900 IN A 127.0.0.2',
    '10.0.0.127.zen.test. 900 IN A 127.0.0.10',
    '30.0.0.127.zen.test. 900 IN A 127.255.255.254',
  ],
  'wl.test': ['40.0.0.127.wl.test. 1800 IN A 127.0.10.2'],
  '127.in-addr.arpa': [
    '2.0.0.127.in-addr.arpa. 3600 IN PTR mail.good.test.',
    '10.0.0.127.in-addr.arpa. 3600 IN PTR mail.good.test.',
    '21.0.0.127.in-addr.arpa. 7200 IN PTR 127-0-0-21.dyn.dsl.example.test.',
    '22.0.0.127.in-addr.arpa. 86400 IN PTR mail.good.test.',
    '24.0.0.127.in-addr.arpa. 3600 IN PTR mail.liar.test.',
    '25.0.0.127.in-addr.arpa. 3600 IN PTR mail25.good.test.',
    '30.0.0.127.in-addr.arpa. 3600 IN PTR mail.good.test.',
  ],
};

export const DNSBL_ZONES = [
  {
    zone: 'zen.test', name: 'zen.test', type: 'block', weight: 1,
    codes: {
      '127.0.0.2': 'a source of spam (SBL)',
      '127.0.0.4-127.0.0.7': 'an infected or hijacked machine (XBL)',
      '127.0.0.10-127.0.0.11': 'dynamic/end-user address space (PBL)',
    },
  },
  { zone: 'wl.test', name: 'wl.test', type: 'allow', weight: 1, codes: { '127.0.10.0-127.0.10.255': 'known good sender' } },
];

interface Ev { kind: string; check_name?: string; verdict?: string; details?: { evidence?: Record<string, unknown>; component?: string; reason?: string } }

async function journey(mp: Instance, rcpt: string, ref: string): Promise<Record<string, unknown> & { events: Ev[] }> {
  const { journeys } = await mp.trace(['--rcpt', rcpt]);
  const j = journeys.find((x) => x.ref === ref);
  assert.ok(j, `no journey ${ref} for ${rcpt}: ${JSON.stringify(journeys, null, 2)}`);
  return j as unknown as Record<string, unknown> & { events: Ev[] };
}

function checkEvent(j: { events: Ev[] }, name: string): Ev {
  const e = j.events.find((x) => x.kind === 'check.result' && x.check_name === name);
  assert.ok(e, `no check.result of ${name}: ${JSON.stringify(j.events, null, 2)}`);
  return e;
}

function refOf(reply: string | null | undefined): string {
  const m = new RegExp(`\\(ref (${REF})\\)`).exec(reply ?? '');
  assert.ok(m, `no REF in ${reply}`);
  return m[1]!;
}

test('DNS-based checks against a real Knot DNS', async (t) => {
  if (!requireTool(t, 'knotd')) return;
  let dns: DnsServer = await startDnsServer({ zones: ZONES });
  const mp = await startServer({
    config: { dns: { servers: [dns.address] }, checks: { allowlist: { networks: [] }, dnsbl: { zones: DNSBL_ZONES }, spf: { mode: 'off' }, dmarc: { mode: 'off' } } },
  });
  t.after(async () => {
    await mp.stop();
    fs.rmSync(mp.dataDir, { recursive: true, force: true });
    await dns.stop();
  });
  const send = (ip: string, from: string, to: string, helo = 'mail.good.test') =>
    sendMail(mp.port, { from, to: [to], body: 'Subject: dns checks\n\nhello\n', helo, localAddress: ip });

  await t.test('a PBL listing: 554 5.7.1 naming the list and the meaning, evidence with the answer and TTL', async () => {
    const r = await send('127.0.0.10', 'a@good.test', 'pbl@demo.test');
    assert.match(r.replies[3] ?? '', new RegExp(`^554 5\\.7\\.1 Your server's address 127\\.0\\.0\\.10 is listed on zen\\.test as dynamic/end-user address space \\(PBL\\); send through your provider's mail server \\(ref ${REF}\\)$`));
    const j = await journey(mp, 'pbl@demo.test', refOf(r.replies[3]));
    assert.equal(j.outcome, 'rejected');
    const e = checkEvent(j, 'dnsbl');
    assert.equal(e.verdict, 'reject');
    const zones = e.details!.evidence!.zones as Array<{ zone: string; query: string; answer: { records: string[]; ttl: number; rcode: string } }>;
    assert.deepEqual(zones.map((z) => [z.zone, z.query, z.answer.rcode, z.answer.records, z.answer.ttl]), [
      ['zen.test', '10.0.0.127.zen.test', 'NOERROR', ['127.0.0.10'], 900],
      ['wl.test', '10.0.0.127.wl.test', 'NXDOMAIN', [], 60],
    ]);
  });

  await t.test('an SBL listing names the SBL', async () => {
    const r = await send('127.0.0.2', 'a@good.test', 'sbl@demo.test');
    assert.match(r.replies[3] ?? '', /^554 5\.7\.1 Your server's address 127\.0\.0\.2 is listed on zen\.test as a source of spam \(SBL\); ask the list's operator to remove it once the cause is fixed \(ref /);
  });

  await t.test('a list error code (127.255.255.254) is no listing: accepted', async () => {
    const r = await send('127.0.0.30', 'a@good.test', 'alice@demo.test');
    assert.match(r.final ?? '', /^250 /);
    const e = checkEvent(await journey(mp, 'alice@demo.test', refOf(r.final)), 'dnsbl');
    assert.equal(e.verdict, 'pass');
    const zen = (e.details!.evidence!.zones as Array<{ zone: string; ignored: Array<{ code: string }> }>).find((z) => z.zone === 'zen.test')!;
    assert.deepEqual(zen.ignored.map((i) => i.code), ['127.255.255.254']);
  });

  await t.test('a dynamic DSL host name: 550 5.7.1, send through the provider; PTR and forward answers in evidence', async () => {
    const r = await send('127.0.0.21', 'a@good.test', 'dyn@demo.test');
    assert.match(r.replies[3] ?? '', new RegExp(`^550 5\\.7\\.1 Your server's address 127\\.0\\.0\\.21 has the generic host name 127-0-0-21\\.dyn\\.dsl\\.example\\.test, typical of dynamic/end-user addresses; send through your provider's mail server \\(ref ${REF}\\)$`));
    const j = await journey(mp, 'dyn@demo.test', refOf(r.replies[3]));
    const e = checkEvent(j, 'client_identity');
    assert.equal(e.verdict, 'reject');
    const ev = e.details!.evidence as { ptr: { name: string; records: string[]; ttl: number }; forward: Array<{ name: string; confirms: boolean; a: { records: string[]; ttl: number } }> };
    assert.deepEqual([ev.ptr.name, ev.ptr.records, ev.ptr.ttl], ['21.0.0.127.in-addr.arpa', ['127-0-0-21.dyn.dsl.example.test'], 7200]);
    assert.deepEqual([ev.forward[0]!.confirms, ev.forward[0]!.a.records, ev.forward[0]!.a.ttl], [true, ['127.0.0.21'], 3600]);
    assert.equal(j.client_ptr ?? '127-0-0-21.dyn.dsl.example.test', '127-0-0-21.dyn.dsl.example.test');
  });

  await t.test('no PTR: 450 4.7.25', async () => {
    const r = await send('127.0.0.23', 'a@good.test', 'noptr@demo.test');
    assert.match(r.replies[3] ?? '', /^450 4\.7\.25 Your server's address 127\.0\.0\.23 has no host name in DNS \(PTR record\); /);
    const e = checkEvent(await journey(mp, 'noptr@demo.test', refOf(r.replies[3])), 'client_identity');
    assert.equal((e.details!.evidence!.ptr as { rcode: string }).rcode, 'NXDOMAIN');
  });

  await t.test('a PTR name that does not resolve back is flagged, the mail accepted', async () => {
    const r = await send('127.0.0.24', 'a@good.test', 'alice@demo.test');
    assert.match(r.final ?? '', /^250 /);
    const e = checkEvent(await journey(mp, 'alice@demo.test', refOf(r.final)), 'client_identity');
    assert.equal(e.verdict, 'flag');
    assert.equal((e.details!.evidence!.forward as Array<{ confirms: boolean; a: { records: string[] } }>)[0]!.a.records[0], '127.0.0.99');
  });

  await t.test('an allow-listed (DNSWL) client skips the rest, even without a PTR', async () => {
    const r = await send('127.0.0.40', 'a@good.test', 'bob@demo.test');
    assert.match(r.final ?? '', /^250 /);
    const j = await journey(mp, 'bob@demo.test', refOf(r.final));
    assert.equal(checkEvent(j, 'dnsbl').verdict, 'allow');
    assert.ok(!j.events.some((e) => e.check_name === 'client_identity'), 'client_identity should have been skipped');
  });

  await t.test('a good client and sender domain pass, with the MX answer in evidence', async () => {
    const r = await send('127.0.0.22', 'a@mx2.test', 'alice@demo.test');
    assert.match(r.final ?? '', /^250 /);
    const j = await journey(mp, 'alice@demo.test', refOf(r.final));
    assert.equal(checkEvent(j, 'client_identity').verdict, 'pass');
    assert.equal(j.client_ptr ?? 'mail.good.test', 'mail.good.test');
    const e = checkEvent(j, 'sender_domain');
    assert.equal(e.verdict, 'pass');
    const mx = e.details!.evidence!.mx as { records: unknown[]; ttl: number; from_cache: boolean };
    assert.deepEqual([mx.records, mx.ttl], [[{ preference: 10, exchange: 'mail.good.test' }], 300]);
    assert.equal(mx.from_cache, false);
    // No MX, but an A record: the implicit MX.
    assert.match((await send('127.0.0.22', 'a@amx.test', 'alice@demo.test')).final ?? '', /^250 /);
  });

  await t.test('sender domains: MX is an IP address, null MX, NXDOMAIN', async () => {
    const ip = await send('127.0.0.22', 'a@ipmx.test', 'ipmx@demo.test');
    assert.match(ip.replies[3] ?? '', new RegExp(`^550 5\\.1\\.8 The MX record of ipmx\\.test points to an IP address \\(192\\.0\\.2\\.1\\) instead of a host name \\(RFC 5321 section 5\\.1\\); ask your mail provider to fix the MX record \\(ref ${REF}\\)$`));
    const e = checkEvent(await journey(mp, 'ipmx@demo.test', refOf(ip.replies[3])), 'sender_domain');
    assert.deepEqual((e.details!.evidence!.mx as { records: unknown[] }).records, [{ preference: 10, exchange: '192.0.2.1' }]);
    const nul = await send('127.0.0.22', 'a@nullmx.test', 'nullmx@demo.test');
    assert.match(nul.replies[3] ?? '', /^550 5\.7\.27 The sender domain nullmx\.test says it receives no mail \(null MX, RFC 7505\)/);
    const nx = await send('127.0.0.22', 'a@nowhere.test', 'nx@demo.test');
    assert.match(nx.replies[3] ?? '', /^550 5\.1\.8 The sender domain nowhere\.test does not exist in DNS; use a valid sender address \(ref /);
    const ne = checkEvent(await journey(mp, 'nx@demo.test', refOf(nx.replies[3])), 'sender_domain');
    assert.equal((ne.details!.evidence!.mx as { rcode: string; ttl: number }).rcode, 'NXDOMAIN');
  });

  await t.test('HELO: an address that is not the client\'s, our own name', async () => {
    const lit = await send('127.0.0.22', 'a@good.test', 'helo1@demo.test', '[127.0.0.99]');
    assert.match(lit.replies[3] ?? '', /^550 5\.7\.1 Your server introduced itself \(HELO\/EHLO\) as \[127\.0\.0\.99\], but connected from 127\.0\.0\.22; configure it to use its own fully qualified host name \(ref /);
    const e = checkEvent(await journey(mp, 'helo1@demo.test', refOf(lit.replies[3])), 'helo');
    assert.equal(e.verdict, 'reject');
    const us = await send('127.0.0.22', 'a@good.test', 'helo2@demo.test', 'mx.test.invalid');
    assert.match(us.replies[3] ?? '', /^550 5\.7\.1 Your server introduced itself \(HELO\/EHLO\) as mx\.test\.invalid, which is our own name, not yours;/);
    assert.match((await send('127.0.0.22', 'a@good.test', 'alice@demo.test', '[127.0.0.22]')).final ?? '', /^250 /);
  });

  await t.test('DNS down: 451 with the check naming component dns; accepted again once DNS is back', async () => {
    const port = dns.port;
    await dns.stop();
    const r = await send('127.0.0.25', 'a@fresh.test', 'down@demo.test');
    assert.match(r.replies[3] ?? '', /^451 4\.3\.0 /);
    const j = await journey(mp, 'down@demo.test', refOf(r.replies[3]));
    assert.equal(j.outcome, 'tempfailed');
    const e = checkEvent(j, 'dnsbl');
    assert.equal(e.verdict, 'error');
    assert.equal(e.details!.component, 'dns');
    dns = await startDnsServer({ zones: ZONES, port });
    const ok = await send('127.0.0.25', 'a@fresh.test', 'alice@demo.test');
    assert.match(ok.final ?? '', /^250 /, JSON.stringify(ok.replies));
  });
});
