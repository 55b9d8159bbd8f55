// scanners.spam.rspamd_skip against a real rspamd 3.4 with its SPF, DKIM,
// DMARC, ARC and block-list modules on (the test helper turns them off by
// default), asking a DNS server of this test on loopback that records every
// query. With mailproof's checks for those enforced, the spam check's
// Settings header keeps rspamd from running them: no R_SPF_*/DKIM/DMARC/RBL
// symbols in its reply, and none of their DNS queries, while its URL lists
// (SURBL, URIBL, DBL) still run. With rspamd_skip=none rspamd makes them all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import packet from 'dns-packet';
import { loadConfig } from '../../../src/config/load.js';
import type { Logger } from '../../../src/log/logger.js';
import { spamChecks } from '../../../src/checks/spam/index.js';
import { testContext } from '../../../src/checks/testing.js';
import type { Verdict } from '../../../src/checks/types.js';
import { buildSpam } from '../../../src/runtime/services.js';
import { requireTool } from '../../helpers/env.js';
import { startRspamd, type RspamdInstance } from '../../helpers/rspamd.js';

const CLIENT = '198.51.100.7';
const REVERSED = '7.100.51.198';

/** A DNS server on loopback that records the questions: SPF and DMARC records for sender.example, a Spamhaus listing for CLIENT, NXDOMAIN else. */
async function recordingDns(): Promise<{ address: string; queries: string[]; close(): Promise<void> }> {
  const queries: string[] = [];
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, peer) => {
    let q: packet.Packet;
    try {
      q = packet.decode(msg);
    } catch {
      return;
    }
    const question = q.questions?.[0];
    if (!question) return;
    queries.push(`${question.type} ${question.name.toLowerCase()}`);
    const name = question.name.toLowerCase();
    const answers: packet.Answer[] = [];
    if (question.type === 'TXT' && name === 'sender.example') answers.push({ type: 'TXT', name, ttl: 60, data: 'v=spf1 ip4:192.0.2.0/24 -all' });
    if (question.type === 'TXT' && name === '_dmarc.sender.example') answers.push({ type: 'TXT', name, ttl: 60, data: 'v=DMARC1; p=reject' });
    if (question.type === 'A' && name === `${REVERSED}.zen.spamhaus.org`) answers.push({ type: 'A', name, ttl: 60, data: '127.0.0.4' });
    const reply = packet.encode({
      id: q.id, type: 'response', flags: packet.AUTHORITATIVE_ANSWER | (answers.length ? 0 : 3 /* NXDOMAIN */),
      questions: q.questions, answers,
    });
    sock.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  return {
    address: `127.0.0.1:${sock.address().port}`,
    queries,
    close: () => new Promise<void>((r) => sock.close(() => r())),
  };
}

const MESSAGE = Buffer.from([
  `Received: from mail.sender.example (mail.sender.example [${CLIENT}]) by mx.demo.test with ESMTP id 7KQ2M9XH4PTV; Sun, 6 Dec 2026 04:00:00 +0000`,
  'DKIM-Signature: v=1; a=rsa-sha256; d=sender.example; s=sel; c=relaxed/relaxed; h=from:to:subject; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA',
  'From: Anna Schmidt <anna@sender.example>', 'To: Bob <bob@demo.test>', 'Subject: Agenda for Thursday',
  'Message-ID: <agenda.1@sender.example>', 'Date: Sun, 6 Dec 2026 04:00:00 +0000', 'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8', '',
  'Hi Bob, the notes are at http://cheap-pills-shop.biz/notes as promised. Best regards, Anna', '',
].join('\n'));

const OURS = /^(R_SPF_|SPF_|R_DKIM_|DKIM_|DMARC_|ARC_|RBL_|RECEIVED_SPAMHAUS|RCVD_IN_DNSWL|MAILSPIKE|RWL_MAILSPIKE|VIOLATED_DIRECT_SPF)/;

test('rspamd skips SPF, DKIM, ARC, DMARC and the client-address block lists that mailproof checked', async (t) => {
  if (!requireTool(t, 'rspamd')) return;
  const dns = await recordingDns();
  let rspamd: RspamdInstance | null = null;
  t.after(async () => {
    await rspamd?.stop();
    await dns.close();
  });
  const on = '';
  rspamd = await startRspamd({ nameservers: [dns.address], localD: { 'spf.conf': on, 'dkim.conf': on, 'dmarc.conf': on, 'arc.conf': on, 'rbl.conf': on } });
  const url = rspamd.url;

  const scan = async (overrides: string[]): Promise<{ v: Verdict; symbols: string[]; queries: string[] }> => {
    const cfg = loadConfig({
      dataDir: '/nonexistent',
      overrides: ['scanners.spam.backend=rspamd', `scanners.spam.address=${url}`, 'checks.dnsbl.zones=[{zone: zen.spamhaus.org, type: block}]', ...overrides],
    });
    const [check] = spamChecks(cfg.checks.spam, cfg, { warn: () => undefined } as unknown as Logger);
    assert.ok(check);
    const base = testContext('data');
    const ctx = testContext('data', {
      session: { ...base.session, clientIp: CLIENT, helo: 'mail.sender.example', ptr: 'mail.sender.example' },
      tx: { ref: '7KQ2M9XH4PTV', mailFrom: 'anna@sender.example', declaredSize: null, rcpts: ['bob@demo.test'] },
      message: { size: MESSAGE.length, header: Buffer.alloc(0), messageId: '<agenda.1@sender.example>', subject: 'Agenda for Thursday', body: { buffer: MESSAGE } },
      // What the MAIL and connect stages of mailproof judged for this client.
      earlier: new Map<string, Verdict>([['spf', { kind: 'flag', tag: 'spf_fail', reason: 'SPF fail' }], ['dnsbl', { kind: 'pass' }]]),
    }, { spam: buildSpam(cfg) });
    dns.queries.length = 0;
    const v = await check.run(ctx);
    const raw = JSON.parse(String(v.evidence?.raw)) as { symbols: Record<string, unknown> };
    return { v, symbols: Object.keys(raw.symbols), queries: [...dns.queries] };
  };

  // First (rspamd caches DNS answers): told what mailproof checked.
  const skipped = await scan([]);
  t.diagnostic(`skipped: symbols ${skipped.symbols.join(' ')}; queries ${skipped.queries.join(', ')}`);
  assert.deepEqual(skipped.v.evidence?.scanner_skipped, ['spf', 'dkim', 'arc', 'dmarc', 'rbl']);
  assert.deepEqual(skipped.symbols.filter((s) => OURS.test(s)), [], 'no SPF, DKIM, ARC, DMARC or client-address RBL symbol');
  assert.deepEqual(skipped.queries.filter((q) => q === 'TXT sender.example' || q.includes('_dmarc.') || q.includes('_domainkey.') || q.startsWith(`A ${REVERSED}.`)), [],
    'none of their lookups');
  assert.ok(skipped.queries.some((q) => q.startsWith('A cheap-pills-shop.biz.')), `the URL lists still run: ${skipped.queries.join(', ')}`);

  // rspamd_skip=none: rspamd makes its own lookups and its rules fire.
  const all = await scan(['scanners.spam.rspamd_skip=none']);
  t.diagnostic(`all: symbols ${all.symbols.join(' ')}; queries ${all.queries.join(', ')}`);
  assert.equal(all.v.evidence?.scanner_skipped, undefined);
  assert.ok(all.symbols.includes('R_SPF_FAIL'), all.symbols.join(' '));
  assert.ok(all.symbols.includes('DMARC_POLICY_REJECT'), all.symbols.join(' '));
  assert.ok(all.symbols.some((s) => s.startsWith('RBL_SPAMHAUS')), all.symbols.join(' '));
  for (const q of ['TXT sender.example', 'TXT _dmarc.sender.example', `A ${REVERSED}.zen.spamhaus.org`]) assert.ok(all.queries.includes(q), `${q} in ${all.queries.join(', ')}`);

  // Only what our enforced checks did: with checks.spf in dry-run rspamd checks SPF itself again.
  const spfDry = await scan(['checks.spf.mode=dry-run']);
  assert.deepEqual(spfDry.v.evidence?.scanner_skipped, ['dkim', 'arc', 'dmarc', 'rbl']);
  assert.ok(spfDry.symbols.includes('R_SPF_FAIL'), spfDry.symbols.join(' '));
  assert.ok(!spfDry.symbols.some((s) => s.startsWith('DMARC_') || s.startsWith('RBL_')), spfDry.symbols.join(' '));
});
