// The two DNS seed cases of docs/design.md end to end, with a real throwaway
// Postfix as the sender's MTA: what its bounce tells the sender must be our
// exact reply with its REF.
// (a) an in-house server on a dynamic DSL address that is on a block list;
// (b) a sender domain whose MX is an IP address instead of a host name.
// Postfix's smtp client binds 127.0.0.1, so 127.0.0.1 plays the DSL host
// here. Its bounces go to a third, plain mailproof (the "sender's mailbox"),
// so they are not refused by the checks under test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { IN_CI, requireTool } from '../../helpers/env.js';
import { startDnsServer } from '../../helpers/dns-server.js';
import { pollUntil, startPostfix } from '../../helpers/postfix.js';
import { listNew, startServer, type Instance } from '../../helpers/server.js';

const REF = '[0-9A-HJKMNP-TV-Z]{12}';
const WAIT_MS = 90000;

const ZONES: Record<string, string[]> = {
  test: [
    'dsl-customer.test. 300 IN MX 10 mail.good.test.',
    'mail.good.test. 600 IN A 127.0.0.22',
    '127-0-0-1.dyn.dsl.example.test. 3600 IN A 127.0.0.1',
    'ipmx.test. 300 IN MX 10 192.0.2.1.',
  ],
  'zen.test': ['1.0.0.127.zen.test. 900 IN A 127.0.0.10'],
  '127.in-addr.arpa': ['1.0.0.127.in-addr.arpa. 3600 IN PTR 127-0-0-1.dyn.dsl.example.test.'],
};

const ZEN = { zone: 'zen.test', name: 'zen.test', codes: { '127.0.0.2': 'a source of spam (SBL)', '127.0.0.10-127.0.0.11': 'dynamic/end-user address space (PBL)' } };

function message(from: string, to: string, messageId: string): string {
  return [`From: ${from}`, `To: ${to}`, 'Subject: seed case', `Message-ID: ${messageId}`, `Date: ${new Date().toUTCString()}`, '', 'Hello.', ''].join('\r\n');
}

async function waitForText(dir: string, needle: string, describe: () => string): Promise<string> {
  return pollUntil(() => {
    for (const name of listNew(dir)) {
      try {
        const text = fs.readFileSync(path.join(dir, name), 'utf8');
        if (text.includes(needle)) return text;
      } catch { /* being written */ }
    }
    return null;
  }, { timeoutMs: WAIT_MS, what: `a bounce containing ${needle} in ${dir}`, describe });
}

test('seed cases through a real Postfix: the bounce carries our reply and REF', async (t) => {
  if (!requireTool(t, 'postfix') || !requireTool(t, 'knotd')) return;
  if (process.getuid && process.getuid() !== 0) {
    if (IN_CI) throw new Error('the Postfix end-to-end test needs root');
    t.skip('needs root to run a throwaway Postfix');
    return;
  }
  const dns = await startDnsServer({ zones: ZONES });
  const stops: Array<() => Promise<unknown>> = [() => dns.stop()];
  t.after(async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  });
  const started: Instance[] = [];
  const start = async (config: Record<string, unknown>): Promise<Instance> => {
    const mp = await startServer({ config: { dns: { servers: [dns.address] }, ...config } });
    started.push(mp);
    stops.push(async () => { await mp.stop(); fs.rmSync(mp.dataDir, { recursive: true, force: true }); });
    return mp;
  };
  // The customer's gateways under test, and the senders' own mailboxes (loopback allow-listed: takes the bounces).
  const gwA = await start({ checks: { allowlist: { networks: [] }, dnsbl: { zones: [ZEN] }, spf: { mode: 'off' }, dmarc: { mode: 'off' } } });
  const gwB = await start({
    domains: { 'demo2.test': { mailboxes: ['alice'], aliases: {} } },
    checks: { allowlist: { networks: [] }, client_identity: { mode: 'off' }, spf: { mode: 'off' }, dmarc: { mode: 'off' } },
  });
  const sink = await start({ domains: { 'dsl-customer.test': { mailboxes: ['boss'], aliases: {} }, 'ipmx.test': { mailboxes: ['info'], aliases: {} } } });
  const to = (p: number) => `smtp:[127.0.0.1]:${p}`;
  const pf = await startPostfix({
    relayTo: { host: gwA.host, port: gwA.port },
    relayDomains: ['demo.test', 'demo2.test'],
    main: { transport_maps: `inline:{demo2.test=${to(gwB.port)}, dsl-customer.test=${to(sink.port)}, ipmx.test=${to(sink.port)}}` },
  });
  stops.push(() => pf.stop());
  const describe = (): string => `--- postfix log ---\n${pf.log()}\n${started.map((m) => `--- mailproof ${m.port} ---\n${m.output()}`).join('\n')}`;
  const tag = randomBytes(6).toString('hex');

  await t.test('(a) dynamic DSL address on a block list', async () => {
    const messageId = `<dsl-${tag}@dsl-customer.test>`;
    await pf.submit('boss@dsl-customer.test', ['alice@demo.test'], message('boss@dsl-customer.test', 'alice@demo.test', messageId));
    const text = await waitForText(sink.newDir('boss@dsl-customer.test'), messageId, describe);
    const flat = text.replace(/\s+/g, ' ');
    const m = new RegExp(`Diagnostic-Code: smtp; 554 5\\.7\\.1 Your server's address 127\\.0\\.0\\.1 is listed on zen\\.test as dynamic/end-user address space \\(PBL\\); send through your provider's mail server \\(ref (${REF})\\)`).exec(flat);
    assert.ok(m, `no 554 with our text and REF in the bounce:\n${text}`);
    const { journeys } = await gwA.trace(['--rcpt', 'alice@demo.test']);
    const j = journeys.find((x) => x.ref === m[1]);
    assert.ok(j, `no journey ${m[1]}`);
    const ev = (name: string) => j.events.find((e) => e.kind === 'check.result' && e.check_name === name) as { verdict: string; details: { evidence: Record<string, unknown> } } | undefined;
    assert.equal(ev('dnsbl')?.verdict, 'reject');
    // The dynamic PTR is recorded too: the research sees both findings.
    assert.equal(ev('client_identity')?.verdict, 'reject');
    assert.deepEqual((ev('client_identity')!.details.evidence.ptr as { records: string[] }).records, ['127-0-0-1.dyn.dsl.example.test']);
  });

  await t.test('(b) sender domain whose MX is an IP address', async () => {
    const messageId = `<ipmx-${tag}@ipmx.test>`;
    await pf.submit('info@ipmx.test', ['alice@demo2.test'], message('info@ipmx.test', 'alice@demo2.test', messageId));
    const text = await waitForText(sink.newDir('info@ipmx.test'), messageId, describe);
    const flat = text.replace(/\s+/g, ' ');
    const m = new RegExp(`Diagnostic-Code: smtp; 550 5\\.1\\.8 The MX record of ipmx\\.test points to an IP address \\(192\\.0\\.2\\.1\\) instead of a host name \\(RFC 5321 section 5\\.1\\); ask your mail provider to fix the MX record \\(ref (${REF})\\)`).exec(flat);
    assert.ok(m, `no 550 5.1.8 with our text and REF in the bounce:\n${text}`);
    const { journeys } = await gwB.trace(['--rcpt', 'alice@demo2.test']);
    const j = journeys.find((x) => x.ref === m[1]);
    assert.ok(j, `no journey ${m[1]}`);
    assert.equal(j.outcome, 'rejected');
  });
});
