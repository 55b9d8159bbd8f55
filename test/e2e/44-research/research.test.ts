// Research end to end: real mail through the gateway against a real Knot, then
// `mailproof trace` names the cause in German with its proof, finds the
// mailbox the sender meant, says when a sender never tried, and rechecks a
// sender now beside what was recorded then.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { requireTool } from '../../helpers/env.js';
import { startDnsServer } from '../../helpers/dns-server.js';
import { run, startServer } from '../../helpers/server.js';
import { sendMail } from '../../helpers/smtp-client.js';

const ZONES: Record<string, string[]> = {
  test: [
    'good.test. 300 IN MX 10 mail.good.test.',
    'mail.good.test. 600 IN A 127.0.0.42',
    '127-0-0-41.dyn.dsl.example.test. 3600 IN A 127.0.0.41',
  ],
  'zen.test': ['41.0.0.127.zen.test. 900 IN A 127.0.0.11'],
  '127.in-addr.arpa': [
    '41.0.0.127.in-addr.arpa. 7200 IN PTR 127-0-0-41.dyn.dsl.example.test.',
    '42.0.0.127.in-addr.arpa. 86400 IN PTR mail.good.test.',
  ],
};

interface Finding { code: string; side: string; title: string; what: string; action: string; evidence: number[] }
interface J { ref: string; outcome: string; rcpt: string; diagnosis: string[]; explanations: Finding[]; near_misses: { kind: string; value: string }[]; events: { id: number; kind: string; check_name?: string }[]; recheck?: { ip: { problems: { code: string }[] } | null; domain: { domain: string } | null } }
interface Result { journeys: J[]; findings: Finding[]; near_misses: { kind: string; value: string; what?: string }[] }

test('trace explains, finds near misses, no_attempt_seen and rechecks, from real traffic', async (t) => {
  if (!requireTool(t, 'knotd')) return;
  const dns = await startDnsServer({ zones: ZONES });
  t.after(() => dns.stop());
  const mp = await startServer({
    config: {
      dns: { servers: [dns.address], timeout_ms: 1000 },
      domains: { 'kunde.test': { mailboxes: ['mueller', 'info'] } },
      checks: {
        allowlist: { networks: [] }, spf: { mode: 'off' }, dmarc: { mode: 'off' },
        dnsbl: { zones: [{ zone: 'zen.test', name: 'zen.test', type: 'block', weight: 1, codes: { '127.0.0.10-127.0.0.11': 'dynamic/end-user address space (PBL)' } }] },
      },
    },
  });
  t.after(async () => { await mp.stop(); fs.rmSync(mp.dataDir, { recursive: true, force: true }); });
  const cfg = ['--config', path.join(mp.dataDir, 'test-config.yaml')];
  const send = (ip: string, from: string, to: string) =>
    sendMail(mp.port, { from, to: [to], body: 'Subject: Angebot\n\nhallo\n', helo: 'mail.good.test', localAddress: ip });

  const blocked = await send('127.0.0.41', 'chef@good.test', 'info@kunde.test');
  assert.match(blocked.replies[3] ?? '', /^554 5\.7\.1 /);
  const typo = await send('127.0.0.42', 'office@good.test', 'meuller@kunde.test');
  assert.match(typo.replies[3] ?? '', /^550 5\.1\.1 /);
  const ok = await send('127.0.0.42', 'office@good.test', 'mueller@kunde.test');
  assert.match(ok.final ?? '', /^250 /);

  const de = await run(['trace', '--domain', 'kunde.test', '--lang', 'de', '--json', ...cfg]);
  assert.equal(de.code, 0, de.stderr);
  const r = JSON.parse(de.stdout) as Result;
  const byRcpt = new Map(r.journeys.map((j) => [j.rcpt, j]));

  const b = byRcpt.get('info@kunde.test')!;
  assert.deepEqual(b.diagnosis, ['sender_ip_blocklisted', 'sender_dynamic_ip']);
  const bl = b.explanations[0]!;
  assert.equal(bl.side, 'sender');
  assert.equal(bl.title, 'Server des Absenders auf einer Sperrliste');
  assert.match(bl.what, /Der sendende Server 127\.0\.0\.41 steht auf zen\.test;/);
  assert.match(b.explanations[1]!.what, /heißt 127-0-0-41\.dyn\.dsl\.example\.test/);
  // The proof: the dnsbl check's event and the refusal the sender got.
  const proof = b.events.filter((e) => bl.evidence.includes(e.id)).map((e) => `${e.kind}:${e.check_name ?? ''}`);
  assert.deepEqual(proof, ['check.result:dnsbl', 'rcpt.rejected:dnsbl']);

  const ty = byRcpt.get('meuller@kunde.test')!;
  assert.deepEqual(ty.diagnosis, ['unknown_recipient']);
  assert.deepEqual(ty.near_misses.map((n) => [n.kind, n.value]), [['similar_mailbox', 'mueller@kunde.test']]);
  assert.match(ty.explanations[0]!.what, /ähnliches Postfach existiert: mueller@kunde\.test/);

  // No POP3 server in this test (pop3.listen []): access to the Maildir is not recorded, so "not fetched" is not claimed.
  assert.deepEqual(byRcpt.get('mueller@kunde.test')!.diagnosis, ['delivered', 'access_not_recorded']);

  // --outcome narrows to what was refused.
  const rej = JSON.parse((await run(['trace', '--domain', 'kunde.test', '--outcome', 'rejected', '--json', ...cfg])).stdout) as Result;
  assert.deepEqual(rej.journeys.map((j) => j.rcpt).sort(), ['info@kunde.test', 'meuller@kunde.test']);

  // A sender nobody heard of: no_attempt_seen; a colleague of a sender we know: a near miss.
  const never = JSON.parse((await run(['trace', '--rcpt', 'info@kunde.test', '--from', 'boss@silent.test', '--json', ...cfg])).stdout) as Result;
  assert.deepEqual(never.journeys, []);
  assert.deepEqual(never.findings.map((f) => f.code), ['no_attempt_seen']);
  const colleague = JSON.parse((await run(['trace', '--rcpt', 'mueller@kunde.test', '--from', 'boss@good.test', '--json', ...cfg])).stdout) as Result;
  assert.deepEqual(colleague.findings, []);
  // The typo'd address first, as what it is (refused, not "a similar
  // mailbox exists"), then the colleagues of good.test who did write to kunde.test.
  assert.deepEqual(colleague.near_misses.map((n) => [n.kind, n.value]), [
    ['refused_similar_address', 'meuller@kunde.test'],
    ['other_sender_address', 'chef@good.test'],
    ['other_sender_address', 'office@good.test'],
  ]);
  assert.match(colleague.near_misses[0]!.what!, /^Mail for the similar address meuller@ was refused at \d\d:\d\d because it does not exist/);
  const text = await run(['trace', '--rcpt', 'info@kunde.test', '--from', 'boss@silent.test', ...cfg]);
  assert.match(text.stdout, /^no_attempt_seen: The sender never tried\. No connection from boss@silent\.test/m);

  // Recheck: the listing is still there now, the domain is fine.
  const re = JSON.parse((await run(['trace', '--rcpt', 'info@kunde.test', '--recheck', '--json', ...cfg])).stdout) as Result;
  const rc = re.journeys[0]!.recheck!;
  assert.equal(rc.domain?.domain, 'good.test');
  const codes = rc.ip!.problems.map((p) => p.code);
  assert.ok(codes.includes('sender_ip_blocklisted') && codes.includes('sender_dynamic_ip'), JSON.stringify(rc.ip));

  const bad = await run(['trace', '--domain', 'kunde.test', '--lang', 'fr', ...cfg]);
  assert.equal(bad.code, 64);
  assert.match(bad.stderr, /--lang must be en or de/);
});

const AUTH_ZONES: Record<string, string[]> = {
  test: [
    'good.test. 300 IN MX 10 mail.good.test.',
    'mail.good.test. 600 IN A 127.0.0.42',
    'good.test. 300 IN TXT "v=spf1 ip4:127.0.0.42 -all"',
    // The provider's classic mistake: an IP address as MX.
    'ipmx.test. 300 IN MX 10 192.0.2.1.',
    // Softfail passes SPF's own check (flag) but not DMARC, which asks to reject.
    'strict.test. 300 IN MX 10 mail.good.test.',
    'strict.test. 300 IN TXT "v=spf1 ip4:127.0.0.42 ~all"',
    '_dmarc.strict.test. 300 IN TXT "v=DMARC1; p=reject"',
  ],
  '127.in-addr.arpa': [
    '42.0.0.127.in-addr.arpa. 86400 IN PTR mail.good.test.',
    '43.0.0.127.in-addr.arpa. 86400 IN PTR mail.good.test.',
  ],
};

test('sender-side stories from real traffic: MX is an IP, SPF fail, DMARC reject, a 4xx retried and one never retried', async (t) => {
  if (!requireTool(t, 'knotd')) return;
  const dns = await startDnsServer({ zones: AUTH_ZONES });
  t.after(() => dns.stop());
  const mp = await startServer({
    config: {
      dns: { servers: [dns.address], timeout_ms: 1000 },
      domains: { 'kunde.test': { mailboxes: ['info', 'buero', 'post'] } },
      checks: { allowlist: { networks: [] }, client_identity: { mode: 'off' }, greylist: { mode: 'enforce', delay_s: 0 } },
    },
  });
  t.after(async () => { await mp.stop(); fs.rmSync(mp.dataDir, { recursive: true, force: true }); });
  const cfg = ['--config', path.join(mp.dataDir, 'test-config.yaml')];
  const send = (ip: string, from: string, to: string, header = from) =>
    sendMail(mp.port, { from, to: [to], body: `From: <${header}>\nSubject: story\n\nhallo\n`, helo: 'mail.good.test', localAddress: ip });
  const trace = async (args: string[]): Promise<J[]> => {
    const r = await run(['trace', ...args, '--json', ...cfg]);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as Result).journeys;
  };

  // Greylisting answers 451 to every new triplet first; a sender that tries again gets through.
  const first = await send('127.0.0.42', 'a@good.test', 'info@kunde.test');
  assert.match(first.replies[3] ?? '', /^451 4\.7\.1 /);
  const again = await send('127.0.0.42', 'a@good.test', 'info@kunde.test');
  assert.match(again.final ?? '', /^250 /);
  // ... and one that never does.
  const once = await send('127.0.0.42', 'b@good.test', 'buero@kunde.test');
  assert.match(once.replies[3] ?? '', /^451 4\.7\.1 /);

  // Refusals at MAIL are held until the first RCPT (delayed rejection), before greylisting.
  const ipmx = await send('127.0.0.42', 'x@ipmx.test', 'post@kunde.test');
  assert.match(ipmx.replies[3] ?? '', /^550 5\.1\.8 /);
  const spf = await send('127.0.0.43', 'x@good.test', 'post@kunde.test');
  assert.match(spf.replies[3] ?? '', /^550 5\.7\.23 /);
  const grey = await send('127.0.0.43', 'x@strict.test', 'post@kunde.test', 'boss@strict.test');
  assert.match(grey.replies[3] ?? '', /^451 4\.7\.1 /);
  const dmarc = await send('127.0.0.43', 'x@strict.test', 'post@kunde.test', 'boss@strict.test');
  assert.match(dmarc.final ?? '', /^550 5\.7\.1 /);

  const info = await trace(['--rcpt', 'info@kunde.test']);
  assert.deepEqual(info.map((j) => [j.outcome, j.diagnosis]), [
    ['tempfailed', ['tempfail_retried']],
    ['delivered', ['delivered', 'access_not_recorded']],
  ]);
  // Right after the 451 it is too early to blame the sender: pending, with the
  // cause of the 4xx and the time a retry is due; three hours on, it is.
  const young = (await trace(['--rcpt', 'buero@kunde.test']))[0]!;
  assert.deepEqual(young.diagnosis, ['tempfail_pending']);
  assert.match(young.explanations[0]!.what, /The reason: greylisting .*a retry is expected by \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
  const later = new Date(Date.now() + 3 * 3600e3).toISOString();
  const stale = (await trace(['--rcpt', 'buero@kunde.test', '--as-of', later]))[0]!;
  assert.deepEqual(stale.diagnosis, ['tempfail_not_retried']);
  assert.equal(stale.explanations[0]!.side, 'sender');

  const post = await trace(['--rcpt', 'post@kunde.test', '--outcome', 'rejected']);
  const codes = post.map((j) => j.diagnosis[0]);
  assert.deepEqual(codes, ['sender_mx_is_ip', 'spf_fail', 'dmarc_reject'], JSON.stringify(post.map((j) => [j.diagnosis, j.events.map((e) => e.kind)])));
  assert.match(post[0]!.explanations[0]!.what, /names 192\.0\.2\.1, an IP address instead of a host name/);
  assert.match(post[1]!.explanations[0]!.what, /SPF record of good\.test does not allow the server 127\.0\.0\.43/);
});
