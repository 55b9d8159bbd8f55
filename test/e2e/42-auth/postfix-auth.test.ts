// The SPF/DMARC seed case with a real sending MTA: a throwaway Debian Postfix
// on 127.0.0.1 sends mail from a domain that publishes DMARC p=reject and an
// SPF record that does not list 127.0.0.1. mailproof refuses it during the
// session; the bounce Postfix writes back to the sender must carry our reply
// text and REF, and that REF must lead to the evidence in the ledger.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { IN_CI, requireTool } from '../../helpers/env.js';
import { startDnsServer } from '../../helpers/dns-server.js';
import { pollUntil, startPostfix, type PostfixInstance } from '../../helpers/postfix.js';
import { listNew, startServer, type Instance } from '../../helpers/server.js';

const WAIT_MS = 60000;
const REF = '[0-9A-HJKMNP-TV-Z]{12}';

const ZONE = [
  'pfreject.test. 3600 IN TXT "v=spf1 ip4:192.0.2.1 -all"',
  '_dmarc.pfreject.test. 900 IN TXT "v=DMARC1; p=reject"',
  // Postfix's own name (HELO, MAILER-DAEMON of the bounce): no SPF, no DMARC.
  'mta.pfsender.test. 300 IN A 127.0.0.1',
];

test('a real Postfix sending for a DMARC p=reject domain whose SPF excludes it gets a bounce with our reply and REF', async (t) => {
  if (!requireTool(t, 'knotd') || !requireTool(t, 'postfix')) return;
  if (process.getuid && process.getuid() !== 0) {
    if (IN_CI) throw new Error('the Postfix end-to-end test needs root (Postfix master runs as root)');
    t.skip('needs root to run a throwaway Postfix');
    return;
  }
  let mp: Instance | null = null;
  let pf: PostfixInstance | null = null;
  const dns = await startDnsServer({ zones: { test: ZONE } });
  t.after(async () => {
    try {
      await pf?.stop();
    } finally {
      if (mp) {
        await mp.stop();
        fs.rmSync(mp.dataDir, { recursive: true, force: true });
      }
      await dns.stop();
    }
  });
  mp = await startServer({
    config: {
      dns: { servers: [dns.address] },
      checks: { allowlist: { networks: [] }, client_identity: { mode: 'off' }, sender_domain: { mode: 'off' }, dnsbl: { mode: 'off' } },
      domains: { 'demo.test': { mailboxes: ['demo', 'alice'] }, 'pfreject.test': { mailboxes: ['ceo'] } },
    },
  });
  pf = await startPostfix({ relayTo: { host: mp.host, port: mp.port }, hostname: 'mta.pfsender.test', relayDomains: ['demo.test', 'pfreject.test'] });
  const server = mp;
  const postfix = pf;
  const describe = (): string => `--- postfix log ---\n${postfix.log()}\n--- mailproof output ---\n${server.output()}`;
  const tag = randomBytes(6).toString('hex');
  const messageId = `<spf-${tag}@pfreject.test>`;

  const qid = await postfix.submit('ceo@pfreject.test', ['alice@demo.test'], [
    'From: The CEO <ceo@pfreject.test>', 'To: Alice <alice@demo.test>', `Subject: urgent transfer ${tag}`,
    `Message-ID: ${messageId}`, `Date: ${new Date().toUTCString()}`, '', 'Please pay the invoice today.', '',
  ].join('\r\n'));

  const bounced = await pollUntil(() => postfix.deliveries().find((d) => d.queueId === qid && d.status !== 'deferred'), {
    timeoutMs: WAIT_MS, what: `Postfix to give up on ${qid}`, describe,
  });
  assert.equal(bounced.status, 'bounced', bounced.line);
  assert.equal(bounced.dsn, '5.7.23', bounced.line);

  // The notice went through mailproof (null sender, HELO mta.pfsender.test) to the sender's mailbox.
  const dir = server.newDir('ceo@pfreject.test');
  const text = await pollUntil(() => {
    for (const f of listNew(dir)) {
      const s = fs.readFileSync(path.join(dir, f), 'utf8');
      if (s.includes(messageId)) return s;
    }
    return null;
  }, { timeoutMs: WAIT_MS, what: `the bounce in ${dir}`, describe });
  const flat = text.replace(/\s+/g, ' ');
  const m = new RegExp(`550 5\\.7\\.23 SPF check failed: pfreject\\.test does not allow 127\\.0\\.0\\.1 to send its mail \\(RFC 7208\\); send through a server listed in its SPF record or fix the record \\(ref (${REF})\\)`).exec(flat);
  assert.ok(m, `no SPF reply with a REF in the bounce:\n${text}`);
  const ref = m[1]!;
  assert.match(flat, /Status: 5\.7\.23/);
  // The bounce itself was checked too and carries our Authentication-Results:
  // the null sender is checked by its HELO name (RFC 7208 section 2.4).
  assert.match(text, /^Return-Path: <>\nAuthentication-Results: mx\.test\.invalid;\n\tspf=none \(127\.0\.0\.1\) smtp\.helo=mta\.pfsender\.test;\n\tdkim=none;\n\tdmarc=none header\.from=pfsender\.test;\n\tarc=none\n/);

  // The REF leads to the refusal and its evidence.
  const { journeys } = await server.trace(['--rcpt', 'alice@demo.test']);
  const j = journeys.find((x) => x.ref === ref);
  assert.ok(j, `no journey ${ref}: ${JSON.stringify(journeys, null, 2)}`);
  assert.equal(j.outcome, 'rejected');
  assert.equal(j.mail_from, 'ceo@pfreject.test');
  assert.match(String(j.reply), new RegExp(`^550 5\\.7\\.23 SPF check failed: .*\\(ref ${ref}\\)$`));
  const ev = j.events.find((e) => e.kind === 'check.result' && e.check_name === 'spf') as { verdict: string; details: { evidence: Record<string, unknown> } } | undefined;
  assert.ok(ev, JSON.stringify(j.events, null, 1));
  assert.equal(ev.verdict, 'reject');
  assert.equal(ev.details.evidence.record, 'v=spf1 ip4:192.0.2.1 -all');
  assert.equal(ev.details.evidence.client_ip, '127.0.0.1');
  assert.equal(ev.details.evidence.helo, 'mta.pfsender.test');
  await postfix.waitForQueueEmpty(WAIT_MS);
});
