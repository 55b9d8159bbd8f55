import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dkimSign, sealMessage } from 'mailauth';
import type { ResolvedConfig } from '../../config/load.js';
import { FakeResolver } from '../../dns/fake.js';
import { testContext } from '../testing.js';
import type { Verdict } from '../types.js';
import { settings as dmarcSettings } from './config.js';
import { authResultsHeader, dmarcChecks, pvalue, type AuthFacts } from './index.js';

const cfg = { dns: { timeout_ms: 2000, attempts: 2 } } as ResolvedConfig;
const defaults = dmarcSettings.parse(undefined);

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PRIVATE = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const PUBLIC_B64 = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

function world(): FakeResolver {
  return new FakeResolver()
    .set('txt', '_dmarc.reject.test', ['v=DMARC1; p=reject'], { ttl: 900 })
    .set('txt', 'reject.test', ['v=spf1 -all'])
    .set('txt', '_dmarc.quar.test', ['v=DMARC1; p=quarantine'])
    .set('txt', '_dmarc.monitor.test', ['v=DMARC1; p=none'])
    .set('txt', '_dmarc.signed.test', ['v=DMARC1; p=reject; adkim=s'])
    .set('txt', 'sel._domainkey.signed.test', [`v=DKIM1; k=rsa; p=${PUBLIC_B64}`], { ttl: 600 })
    .set('txt', 'arc._domainkey.list.test', [`v=DKIM1; k=rsa; p=${PUBLIC_B64}`])
    .fail('txt', '_dmarc.tempdown.test', 'SERVFAIL');
}

function message(from: string, extra: string[] = []): string {
  return [...extra, `From: Someone <${from}>`, 'To: alice@demo.test', 'Subject: hello', 'Message-ID: <m1@x.test>', 'Date: Fri, 27 Nov 2026 07:00:00 +0000', '', 'Hello.', ''].join('\r\n');
}

async function signed(from: string): Promise<string> {
  const msg = message(from);
  // mailauth signs what signatureData lists (the top-level keys only type the options).
  const key = { signingDomain: 'signed.test', selector: 'sel', privateKey: PRIVATE };
  const r = await dkimSign(msg, { ...key, signatureData: [key] });
  assert.deepEqual(r.errors, []);
  return r.signatures + msg;
}

function spool(buf: Buffer): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dmarc-test-')), 'msg');
  fs.writeFileSync(file, buf);
  return file;
}

const spfVerdict = (result: string, domain: string): Verdict => ({
  kind: 'pass',
  evidence: { result, identity: 'mailfrom', domain, sender: `x@${domain}`, client_ip: '192.0.2.10', helo: 'client.test', record: null, comment: null, lookups: null, dns: [] },
});

async function run(o: { spool?: boolean; raw: string; from?: string; spf?: Verdict | null; r?: FakeResolver; settings?: Partial<typeof defaults>; lf?: boolean; helo?: string }) {
  const r = o.r ?? world();
  const [c] = dmarcChecks({ ...defaults, ...o.settings }, cfg);
  assert.ok(c);
  const raw = o.lf === false ? o.raw : o.raw.replace(/\r\n/g, '\n');
  const buf = Buffer.from(raw);
  const earlier = new Map<string, Verdict>();
  if (o.spf) earlier.set('spf', o.spf);
  const ctx = testContext('data', {
    session: { ...testContext('data').session, clientIp: '192.0.2.10', helo: o.helo ?? 'client.test' },
    tx: { ref: 'R', mailFrom: o.from ?? 'x@elsewhere.test', declaredSize: null, rcpts: ['alice@demo.test'] },
    message: { size: buf.length, header: buf.subarray(0, buf.indexOf('\n\n')), messageId: null, subject: null, body: o.spool ? { path: spool(buf) } : { buffer: buf } },
    earlier,
  }, { resolver: r });
  try {
    const v = await c.run(ctx);
    return { v, r, ev: v.evidence as Record<string, unknown> };
  } finally {
    const body = ctx.message!.body;
    if ('path' in body) fs.rmSync(path.dirname(body.path), { recursive: true, force: true });
  }
}

test('p=reject and nothing aligned: 550 5.7.1 with the policy named, evidence of record and alignment', async () => {
  const { v, ev } = await run({ raw: message('ceo@reject.test'), spf: spfVerdict('fail', 'reject.test') });
  assert.ok(v.kind === 'reject', JSON.stringify(v));
  assert.equal(v.reply.code, 550);
  assert.equal(v.reply.enhanced, '5.7.1');
  assert.match(v.reply.text, /^DMARC policy of reject\.test says to reject mail that fails authentication: /);
  const d = ev.dmarc as Record<string, unknown>;
  assert.equal(d.result, 'fail');
  assert.equal(d.policy, 'reject');
  assert.equal(d.record, 'v=DMARC1; p=reject');
  assert.deepEqual(d.alignment, { spf: { result: undefined, strict: false }, dkim: { result: undefined, strict: false, underSized: undefined } });
  assert.deepEqual(ev.spf, { result: 'fail', domain: 'reject.test', identity: 'mailfrom', source: 'mail_stage' });
  assert.ok((ev.dns as Array<{ name: string; ttl: number }>).some((a) => a.name === '_dmarc.reject.test' && a.ttl === 900));
  // Still a header, for dry-run mode.
  assert.match(v.headers?.[0] ?? '', /dmarc=fail \(p=reject\) header\.from=reject\.test/);
});

test('reject set to flag only flags', async () => {
  const { v } = await run({ raw: message('ceo@reject.test'), spf: spfVerdict('fail', 'reject.test'), settings: { reject: 'flag' } });
  assert.ok(v.kind === 'flag');
  assert.equal(v.tag, 'dmarc_reject');
});

test('p=quarantine: flagged with a header by default, 550 when configured', async () => {
  const { v } = await run({ raw: message('a@quar.test'), spf: spfVerdict('none', 'elsewhere.test') });
  assert.ok(v.kind === 'flag');
  assert.equal(v.tag, 'dmarc_quarantine');
  assert.equal(v.headers?.length, 2);
  assert.match(v.headers![1]!, /^X-Mailproof-DMARC: quarantine /);
  const r = await run({ raw: message('a@quar.test'), spf: spfVerdict('none', 'elsewhere.test'), settings: { quarantine: 'reject' } });
  assert.ok(r.v.kind === 'reject');
  assert.match(r.v.reply.text, /^DMARC policy of quar\.test says to quarantine /);
});

test('p=none and no DMARC record pass', async () => {
  const a = await run({ raw: message('a@monitor.test'), spf: spfVerdict('none', 'x.test') });
  assert.ok(a.v.kind === 'flag' && a.v.tag === 'dmarc_fail');
  const b = await run({ raw: message('a@nodmarc.test'), spf: spfVerdict('none', 'x.test') });
  assert.equal(b.v.kind, 'pass');
  assert.match(b.v.headers?.[0] ?? '', /dmarc=none header\.from=nodmarc\.test/);
});

test('aligned SPF pass passes DMARC', async () => {
  const { v } = await run({ raw: message('ceo@reject.test'), from: 'bounce@reject.test', spf: spfVerdict('pass', 'reject.test') });
  assert.equal(v.kind, 'pass');
  assert.match(v.headers![0]!, /spf=pass \(192\.0\.2\.10\) smtp\.mailfrom=x@reject\.test;\n\tdkim=none;\n\tdmarc=pass \(p=reject\) header\.from=reject\.test;\n\tarc=none$/);
});

test('a valid DKIM signature of the From: domain passes DMARC (LF line ends as stored)', async () => {
  const { v, ev } = await run({ raw: await signed('news@signed.test'), spf: spfVerdict('fail', 'elsewhere.test') });
  assert.equal(v.kind, 'pass', JSON.stringify(ev));
  const dkim = ev.dkim as Array<Record<string, unknown>>;
  assert.equal(dkim.length, 1);
  assert.equal(dkim[0]!.domain, 'signed.test');
  assert.equal(dkim[0]!.selector, 'sel');
  assert.equal(dkim[0]!.result, 'pass');
  assert.equal(dkim[0]!.aligned, true);
  assert.match(v.headers![0]!, /dkim=pass[^;]* header\.d=signed\.test header\.s=sel header\.b=\S{8};/);
  assert.match(v.headers![0]!, /dmarc=pass \(p=reject\) header\.from=signed\.test/);
});

test('a tampered signed message fails DKIM, then DMARC p=reject', async () => {
  const raw = (await signed('news@signed.test')).replace('Hello.', 'Hello, changed.');
  const { v, ev } = await run({ raw, spf: spfVerdict('none', 'elsewhere.test') });
  assert.ok(v.kind === 'reject');
  // mailauth calls a body hash mismatch "neutral" (RFC 6376 section 3.9 allows either): not a pass.
  const d = (ev.dkim as Array<{ result: string; comment: string }>)[0]!;
  assert.equal(d.result, 'neutral');
  assert.match(d.comment, /body hash/);
});

test('DNS failure at the DMARC record: 451 4.7.0', async () => {
  const { v } = await run({ raw: message('a@tempdown.test'), spf: spfVerdict('none', 'x.test') });
  assert.ok(v.kind === 'tempfail', JSON.stringify(v));
  assert.deepEqual(v.reply, { code: 451, enhanced: '4.7.0', text: 'Temporary DNS error while checking DKIM and DMARC for tempdown.test; please try again later' });
});

test('DNS failure at the DKIM key of a message that would fail: 4xx, not 5xx', async () => {
  const r = world().fail('txt', 'sel._domainkey.signed.test', 'TIMEOUT');
  const { v } = await run({ raw: await signed('news@signed.test'), spf: spfVerdict('none', 'x.test'), r });
  assert.ok(v.kind === 'tempfail', JSON.stringify(v));
  assert.equal(v.reply.code, 451);
});

test('without an SPF result from MAIL, SPF is evaluated here once', async () => {
  const r = world().set('txt', 'fwd.test', ['v=spf1 ip4:192.0.2.10 -all']);
  const { v, ev } = await run({ raw: message('ceo@reject.test'), from: 'x@fwd.test', spf: null, r });
  assert.ok(v.kind === 'reject');
  assert.deepEqual(ev.spf, { result: 'pass', domain: 'fwd.test', identity: 'mailfrom', source: 'dmarc_check' });
  assert.equal(r.queries.filter((q) => q === 'TXT fwd.test').length, 1);
  const again = world();
  await run({ raw: message('ceo@reject.test'), from: 'x@fwd.test', spf: spfVerdict('pass', 'fwd.test'), r: again });
  assert.equal(again.queries.filter((q) => q === 'TXT fwd.test').length, 0, 'SPF not evaluated twice');
});

test('Authentication-Results: client data cannot break the header', () => {
  const f: AuthFacts = {
    spf: { result: 'fail', identity: 'mailfrom', domain: 'x.test', sender: 'a"b\r\nX-Evil: 1@x.test', client_ip: '192.0.2.1', helo: 'h', record: null, comment: null, lookups: null, dns: [] },
    spfSource: 'mail_stage',
    dkim: [{ domain: 'd.test;\ndmarc=pass', selector: 's (x)', result: 'weird', aligned: false, algorithm: null, comment: 'bad)(\n', b: null }],
    headerFrom: ['a.test', 'b.test'],
    dmarc: false,
    arc: { result: 'none', comment: null, i: false, sealer: null },
  };
  const h = authResultsHeader('mx.local.test', f);
  const lines = h.split('\n');
  assert.equal(lines[0], 'Authentication-Results: mx.local.test;');
  assert.ok(lines.slice(1).every((l) => l.startsWith('\t')), h);
  assert.equal(lines.length, 5, h);
  assert.ok(!/[\r\x00-\x08\x0b-\x1f\x7f-\uffff]/.test(h), h);
  assert.match(h, /spf=fail \(192\.0\.2\.1\) smtp\.mailfrom="a\\"b\?\?X-Evil: 1@x\.test";/);
  assert.match(h, /dkim=permerror \(bad \?\) header\.d="d\.test;\?dmarc=pass" header\.s="s \(x\)";/);
  assert.match(h, /dmarc=permerror \(2 From: domains\);/);
  assert.equal(pvalue('user@example.test'), 'user@example.test');
  assert.equal(pvalue(''), '""');
});

test('null sender: smtp.helo in the header', () => {
  const f: AuthFacts = {
    spf: { result: 'none', identity: 'helo', domain: 'h.test', sender: 'postmaster@h.test', client_ip: '192.0.2.1', helo: 'h.test', record: null, comment: null, lookups: null, dns: [] },
    spfSource: 'mail_stage', dkim: [], headerFrom: ['a.test'], dmarc: false,
    arc: { result: 'none', comment: null, i: false, sealer: null },
  };
  assert.match(authResultsHeader('mx', f), /spf=none \(192\.0\.2\.1\) smtp\.helo=h\.test;/);
});

test('a passing ARC chain from a trusted sealer overrides a DMARC fail; untrusted, it does not', async () => {
  const msg = message('ceo@reject.test');
  const seal = await sealMessage(msg, {
    signingDomain: 'list.test', selector: 'arc', privateKey: PRIVATE,
    ...({ authResults: 'list.test; dmarc=pass header.from=reject.test', cv: 'none' } as object),
  });
  const raw = seal.toString() + msg;
  const trusted = await run({ raw, spf: spfVerdict('fail', 'reject.test'), settings: { arc_trusted_sealers: ['List.test'] } });
  assert.ok(trusted.v.kind === 'flag', JSON.stringify(trusted.v));
  assert.equal(trusted.v.tag, 'dmarc_fail_arc_override');
  assert.deepEqual(trusted.ev.arc, { result: 'pass', comment: 'i=1 dmarc=pass fromdomain=reject.test', i: 1, sealer: 'list.test' });
  assert.equal(trusted.ev.arc_override, 'list.test');
  assert.match(trusted.v.headers![0]!, /arc=pass \(i=1\)$/);
  const untrusted = await run({ raw, spf: spfVerdict('fail', 'reject.test') });
  assert.equal(untrusted.v.kind, 'reject');
});

test('neutral SPF (?all) passes', async () => {
  const { v } = await run({ raw: message('a@nodmarc.test'), spf: spfVerdict('neutral', 'x.test') });
  assert.match(v.headers![0]!, /spf=neutral /);
});

test('a large message spooled to a file is verified from the file', async () => {
  const { v } = await run({ raw: await signed('news@signed.test'), spf: spfVerdict('none', 'x.test'), spool: true });
  assert.equal(v.kind, 'pass');
  assert.match(v.headers![0]!, /dkim=pass /);
});
