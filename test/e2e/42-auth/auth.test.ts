// SPF, DKIM, DMARC and ARC end to end: a real mailproof whose DNS is a real
// Knot server on loopback serving the test zones, clients from 127.0.0.x
// source addresses. What the unit tests cannot show: the answers of a real
// server (multi-string TXT for a DKIM key, NXDOMAIN/NODATA), the gateway
// turning verdicts into replies (delayed SPF rejection at RCPT, DMARC at
// DATA), the ledger's evidence, and the Authentication-Results header on the
// stored message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { dkimSign } from 'mailauth';
import { requireTool } from '../../helpers/env.js';
import { startDnsServer } from '../../helpers/dns-server.js';
import { listNew, startServer, type Instance } from '../../helpers/server.js';
import { sendMail } from '../../helpers/smtp-client.js';

const REF = /\(ref ([0-9A-HJKMNP-TV-Z]{12})\)$/;

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PRIVATE = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const PUBLIC_B64 = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

/** A TXT value longer than 255 octets as several character-strings (RFC 1035 section 3.3.14). */
function txt(value: string): string {
  return (value.match(/.{1,200}/g) ?? []).map((s) => `"${s}"`).join(' ');
}

// One zone for the whole .test TLD: every name the checks look up is in it,
// so a missing record is NXDOMAIN/NODATA, never REFUSED (a temporary failure).
const ZONE = [
  'spf-pass.test. 3600 IN TXT "v=spf1 ip4:127.0.0.32 -all"',
  '_dmarc.spf-pass.test. 1800 IN TXT "v=DMARC1; p=reject"',
  'spf-fail.test. 3600 IN TXT "v=spf1 ip4:192.0.2.1 -all"',
  // No SPF record at all, and a DMARC policy of reject: nothing can align.
  'dmarc-reject.test. 300 IN A 192.0.2.80',
  '_dmarc.dmarc-reject.test. 900 IN TXT "v=DMARC1; p=reject"',
  // Signs with DKIM; no SPF record.
  'signed.test. 300 IN A 192.0.2.81',
  '_dmarc.signed.test. 900 IN TXT "v=DMARC1; p=reject; adkim=s"',
  `sel._domainkey.signed.test. 600 IN TXT ${txt(`v=DKIM1; k=rsa; p=${PUBLIC_B64}`)}`,
];

function message(from: string, to: string, messageId: string): string {
  return [
    `From: Sender <${from}>`, `To: <${to}>`, `Subject: auth e2e ${messageId}`, `Message-ID: <${messageId}>`,
    `Date: ${new Date().toUTCString()}`, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=us-ascii', '',
    'Hello Alice,', '', 'this is a test.', '',
  ].join('\r\n');
}

function storedMessage(mp: Instance, rcpt: string, messageId: string): string {
  const dir = mp.newDir(rcpt);
  for (const f of listNew(dir)) {
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    if (text.includes(`Message-ID: <${messageId}>`)) return text;
  }
  throw new Error(`no stored message ${messageId} in ${dir}: ${listNew(dir).join(', ')}`);
}

type Ev = Record<string, unknown> & { details: Record<string, unknown> };

async function checkEvent(mp: Instance, rcpt: string, ref: string, check: string): Promise<Ev> {
  const { journeys } = await mp.trace(['--rcpt', rcpt]);
  const j = journeys.find((x) => x.ref === ref);
  assert.ok(j, `no journey ${ref}: ${JSON.stringify(journeys.map((x) => x.ref))}`);
  const ev = j.events.find((e) => e.kind === 'check.result' && e.check_name === check) as Ev | undefined;
  assert.ok(ev, `no check.result of ${check} in ${JSON.stringify(j.events, null, 1)}`);
  return ev;
}

/** The Authentication-Results field of a stored message, unfolded. */
function authResults(text: string): string {
  const m = /^Authentication-Results: [^\n]*(\n[ \t][^\n]*)*/m.exec(text);
  assert.ok(m, `no Authentication-Results in:\n${text}`);
  return m[0].replace(/\n[ \t]+/g, ' ');
}

test('SPF, DKIM and DMARC against a real Knot DNS', async (t) => {
  if (!requireTool(t, 'knotd')) return;
  const dns = await startDnsServer({ zones: { test: ZONE }, negativeTtl: 60 });
  t.after(() => dns.stop());
  const mp = await startServer({ config: { dns: { servers: [dns.address] }, checks: { allowlist: { networks: [] }, client_identity: { mode: 'off' }, sender_domain: { mode: 'off' }, dnsbl: { mode: 'off' } } } });
  t.after(async () => {
    await mp.stop();
    fs.rmSync(mp.dataDir, { recursive: true, force: true });
  });
  const tag = randomBytes(4).toString('hex');
  const describe = (): string => `--- mailproof ---\n${mp.output()}\n--- knot ---\n${dns.log()}`;

  await t.test('SPF fail: 550 5.7.23 at RCPT naming domain and address, the record and TTL in the ledger', async () => {
    const r = await sendMail(mp.port, {
      from: 'someone@spf-fail.test', to: ['alice@demo.test'], localAddress: '127.0.0.31',
      body: message('someone@spf-fail.test', 'alice@demo.test', `fail-${tag}@spf-fail.test`),
    });
    const rcpt = r.replies[3] ?? '';
    assert.match(rcpt, /^550 5\.7\.23 SPF check failed: spf-fail\.test does not allow 127\.0\.0\.31 to send its mail \(RFC 7208\); send through a server listed in its SPF record or fix the record \(ref [0-9A-Z]{12}\)$/, describe());
    assert.equal(r.final, null, 'no DATA after the only recipient was refused');
    const ref = REF.exec(rcpt)![1]!;
    const ev = await checkEvent(mp, 'alice@demo.test', ref, 'spf');
    assert.equal(ev.verdict, 'reject');
    assert.equal(ev.smtp_code, 550);
    assert.equal(ev.enhanced_code, '5.7.23');
    const e = ev.details.evidence as Record<string, unknown>;
    assert.equal(e.result, 'fail');
    assert.equal(e.domain, 'spf-fail.test');
    assert.equal(e.client_ip, '127.0.0.31');
    assert.equal(e.record, 'v=spf1 ip4:192.0.2.1 -all');
    assert.deepEqual(e.dns, [{ name: 'spf-fail.test', type: 'TXT', rcode: 'NOERROR', records: ['v=spf1 ip4:192.0.2.1 -all'], ttl: 3600 }]);
  });

  await t.test('SPF pass and aligned: delivered with spf=pass and dmarc=pass in Authentication-Results', async () => {
    const id = `pass-${tag}@spf-pass.test`;
    const r = await sendMail(mp.port, {
      from: 'news@spf-pass.test', to: ['alice@demo.test'], localAddress: '127.0.0.32',
      body: message('news@spf-pass.test', 'alice@demo.test', id),
    });
    assert.match(r.final ?? '', /^250 2\.0\.0 Message accepted and stored \(ref /, `${JSON.stringify(r.replies)}\n${describe()}`);
    const text = storedMessage(mp, 'alice@demo.test', id);
    assert.equal(authResults(text), 'Authentication-Results: mx.test.invalid; spf=pass (127.0.0.32) smtp.mailfrom=news@spf-pass.test; dkim=none; dmarc=pass (p=reject) header.from=spf-pass.test; arc=none');
    // Folded one method per line, above mailproof's Received header.
    assert.match(text, /^Return-Path: <news@spf-pass\.test>\nAuthentication-Results: mx\.test\.invalid;\n\tspf=pass [^\n]*;\n\tdkim=none;\n\tdmarc=pass [^\n]*;\n\tarc=none\nReceived: from /);
    const ref = REF.exec(r.final!)![1]!;
    const spf = await checkEvent(mp, 'alice@demo.test', ref, 'spf');
    assert.equal(spf.verdict, 'pass');
    assert.equal((spf.details.evidence as Record<string, unknown>).record, 'v=spf1 ip4:127.0.0.32 -all');
    const dm = await checkEvent(mp, 'alice@demo.test', ref, 'dmarc');
    assert.equal(dm.verdict, 'pass');
    const e = dm.details.evidence as Record<string, Record<string, unknown>>;
    assert.deepEqual(e.spf, { result: 'pass', domain: 'spf-pass.test', identity: 'mailfrom', source: 'mail_stage' });
    assert.equal(e.dmarc!.record, 'v=DMARC1; p=reject');
    assert.equal((e.dmarc!.alignment as { spf: { result: string } }).spf.result, 'spf-pass.test');
    assert.ok((e.dns as unknown as Array<Record<string, unknown>>).some((a) => a.name === '_dmarc.spf-pass.test' && a.ttl === 1800));
  });

  await t.test('DMARC p=reject with no SPF and no DKIM: 550 5.7.1 at DATA, evidence of the policy', async () => {
    const r = await sendMail(mp.port, {
      from: 'ceo@dmarc-reject.test', to: ['alice@demo.test'], localAddress: '127.0.0.34',
      body: message('ceo@dmarc-reject.test', 'alice@demo.test', `reject-${tag}@dmarc-reject.test`),
    });
    assert.match(r.replies[3] ?? '', /^250 /, 'SPF none lets the recipient through');
    assert.match(r.final ?? '', /^550 5\.7\.1 DMARC policy of dmarc-reject\.test says to reject mail that fails authentication: neither SPF nor a DKIM signature matches the From: domain \(RFC 7489\); the sender must sign with DKIM or send through a server in its SPF record \(ref [0-9A-Z]{12}\)$/, describe());
    const ref = REF.exec(r.final!)![1]!;
    const ev = await checkEvent(mp, 'alice@demo.test', ref, 'dmarc');
    assert.equal(ev.verdict, 'reject');
    assert.equal(ev.smtp_code, 550);
    assert.equal(ev.enhanced_code, '5.7.1');
    const e = ev.details.evidence as Record<string, Record<string, unknown>>;
    assert.equal(e.dmarc!.result, 'fail');
    assert.equal(e.dmarc!.policy, 'reject');
    assert.equal(e.dmarc!.record, 'v=DMARC1; p=reject');
    assert.deepEqual(e.spf, { result: 'none', domain: 'dmarc-reject.test', identity: 'mailfrom', source: 'mail_stage' });
    assert.deepEqual(e.dkim, []);
    assert.equal(listNew(mp.newDir('alice@demo.test')).some((f) => fs.readFileSync(path.join(mp.newDir('alice@demo.test'), f), 'utf8').includes(`reject-${tag}`)), false);
  });

  await t.test('DKIM-signed by the From: domain: delivered with dkim=pass and dmarc=pass', async () => {
    const id = `signed-${tag}@signed.test`;
    const raw = message('news@signed.test', 'alice@demo.test', id);
    const key = { signingDomain: 'signed.test', selector: 'sel', privateKey: PRIVATE };
    const sig = await dkimSign(raw, { ...key, signatureData: [key] });
    assert.deepEqual(sig.errors, []);
    const r = await sendMail(mp.port, { from: 'news@signed.test', to: ['alice@demo.test'], localAddress: '127.0.0.33', body: sig.signatures + raw });
    assert.match(r.final ?? '', /^250 2\.0\.0 /, `${JSON.stringify(r.replies)}\n${describe()}`);
    const ar = authResults(storedMessage(mp, 'alice@demo.test', id));
    assert.match(ar, /^Authentication-Results: mx\.test\.invalid; spf=none \(127\.0\.0\.33\) smtp\.mailfrom=news@signed\.test; dkim=pass header\.d=signed\.test header\.s=sel header\.b=\S{8}; dmarc=pass \(p=reject\) header\.from=signed\.test; arc=none$/);
    const ev = await checkEvent(mp, 'alice@demo.test', REF.exec(r.final!)![1]!, 'dmarc');
    const e = ev.details.evidence as Record<string, unknown>;
    assert.deepEqual((e.dkim as Array<Record<string, unknown>>).map((d) => [d.domain, d.selector, d.result, d.aligned]), [['signed.test', 'sel', 'pass', true]]);
    const key600 = (e.dns as Array<Record<string, unknown>>).find((a) => a.name === 'sel._domainkey.signed.test');
    assert.equal(key600?.ttl, 600);
    assert.equal(key600?.rcode, 'NOERROR');
  });

  await t.test('DNS down: 451 4.7.24 at RCPT, never a 5xx', async () => {
    await dns.stop();
    const r = await sendMail(mp.port, {
      from: 'someone@fresh.test', to: ['alice@demo.test'], localAddress: '127.0.0.35',
      body: message('someone@fresh.test', 'alice@demo.test', `down-${tag}@fresh.test`),
    });
    const rcpt = r.replies[3] ?? '';
    assert.match(rcpt, /^451 4\.7\.24 Temporary DNS error while checking the SPF record of fresh\.test; please try again later \(ref [0-9A-Z]{12}\)$/, describe());
    const ev = await checkEvent(mp, 'alice@demo.test', REF.exec(rcpt)![1]!, 'spf');
    assert.equal(ev.verdict, 'tempfail');
    const e = ev.details.evidence as Record<string, unknown>;
    assert.equal(e.result, 'temperror');
    assert.equal(e.component, 'dns');
    const answers = e.dns as Array<{ name: string; rcode: string }>;
    assert.equal(answers[0]?.name, 'fresh.test');
    assert.ok(['NETERROR', 'TIMEOUT'].includes(answers[0]!.rcode), JSON.stringify(answers));
  });
});
