// `mailproof check domain|ip`: the sender diagnostics against a real Knot
// serving the classic mistakes, with the gateway's own checks deciding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireTool } from '../../helpers/env.js';
import { startDnsServer } from '../../helpers/dns-server.js';
import { run } from '../../helpers/server.js';

const ZONES: Record<string, string[]> = {
  test: [
    'good.test. 300 IN MX 10 mail.good.test.',
    'mail.good.test. 600 IN A 127.0.0.22',
    '127-0-0-21.dyn.dsl.example.test. 3600 IN A 127.0.0.21',
    'good.test. 300 IN TXT "v=spf1 ip4:127.0.0.22 -all"',
    '_dmarc.good.test. 300 IN TXT "v=DMARC1; p=reject; rua=mailto:d@good.test"',
    'ipmx.test. 300 IN MX 10 192.0.2.1.',
    'noaddr.test. 300 IN MX 10 mail.noaddr.test.',
    'noaddr.test. 300 IN TXT "v=spf1 include:a.spf.test include:b.spf.test include:c.spf.test -all"',
    'a.spf.test. 300 IN TXT "v=spf1 a:h1.good.test a:h2.good.test a:h3.good.test a:h4.good.test -all"',
    'b.spf.test. 300 IN TXT "v=spf1 a:h1.good.test a:h2.good.test a:h3.good.test -all"',
    'c.spf.test. 300 IN TXT "v=spf1 mx:good.test ip4:300.1.1.1 -all"',
    '_dmarc.noaddr.test. 300 IN TXT "v=DMARC1; p=maybe"',
  ],
  'zen.test': ['21.0.0.127.zen.test. 900 IN A 127.0.0.10'],
  '127.in-addr.arpa': [
    '21.0.0.127.in-addr.arpa. 7200 IN PTR 127-0-0-21.dyn.dsl.example.test.',
    '22.0.0.127.in-addr.arpa. 86400 IN PTR mail.good.test.',
  ],
};

test('check domain and check ip name the classic mistakes with the gateway\'s own checks', async (t) => {
  if (!requireTool(t, 'knotd')) return;
  const dns = await startDnsServer({ zones: ZONES });
  t.after(() => dns.stop());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-check-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'mailproof.yaml'), [
    `data_dir: ${dir}`,
    `dns: { servers: ["${dns.address}"], timeout_ms: 1000 }`,
    'checks:',
    '  dnsbl:',
    '    zones:',
    '      - { zone: zen.test, name: zen.test, type: block, weight: 1, codes: { "127.0.0.10-127.0.0.11": "dynamic/end-user address space (PBL)" } }',
  ].join('\n'));
  const cfg = ['--config', path.join(dir, 'mailproof.yaml')];

  const good = await run(['check', 'domain', 'good.test', '--json', ...cfg]);
  assert.equal(good.code, 0, good.stdout + good.stderr);
  const g = JSON.parse(good.stdout) as { problems: unknown[]; mx: { exchange: string; addresses: string[] }[]; spf: { lookups: number }; dmarc: { policy: string }; checks: { check: string; verdict: string }[] };
  assert.deepEqual(g.problems, []);
  assert.deepEqual(g.mx, [{ preference: 10, exchange: 'mail.good.test', is_ip: false, addresses: ['127.0.0.22'] }]);
  assert.equal(g.spf.lookups, 0);
  assert.equal(g.dmarc.policy, 'reject');
  assert.deepEqual(g.checks.map((c) => [c.check, c.verdict]), [['sender_domain', 'pass']]);

  const ipmx = await run(['check', 'domain', 'IPMX.test.', ...cfg]);
  assert.equal(ipmx.code, 1, ipmx.stdout + ipmx.stderr);
  assert.match(ipmx.stdout, /192\.0\.2\.1 {2}<- an IP address, not a host name/);
  assert.match(ipmx.stdout, /ERROR sender_mx_is_ip/);
  // The reply the gateway would give a sender from that domain, from the same check.
  assert.match(ipmx.stdout, /the gateway would answer: 550 5\.1\.8 The MX record of ipmx\.test points to an IP address/);

  const bad = await run(['check', 'domain', 'noaddr.test', '--json', ...cfg]);
  assert.equal(bad.code, 1);
  const b = JSON.parse(bad.stdout) as { problems: { code: string; text: string }[]; spf: { lookups: number } };
  const codes = b.problems.map((p) => p.code);
  assert.ok(codes.includes('mx_without_address'), JSON.stringify(b.problems));
  // 3 includes + 4 + 3 + 1 (mx) = 11 lookups.
  assert.equal(b.spf.lookups, 11);
  assert.ok(codes.includes('spf_too_many_lookups'));
  assert.ok(b.problems.some((p) => p.code === 'spf_invalid' && p.text.includes('300.1.1.1')));
  assert.ok(b.problems.some((p) => p.code === 'dmarc_invalid' && /p= must be/.test(p.text)));

  const nx = await run(['check', 'domain', 'nowhere.test', '--json', ...cfg]);
  assert.ok((JSON.parse(nx.stdout) as { problems: { code: string }[] }).problems.some((p) => p.code === 'sender_domain_unresolvable'));

  const dsl = await run(['check', 'ip', '127.0.0.21', '--json', ...cfg]);
  assert.equal(dsl.code, 1, dsl.stdout + dsl.stderr);
  const d = JSON.parse(dsl.stdout) as { problems: { code: string }[]; ptr: string | null };
  assert.deepEqual(d.problems.map((p) => p.code).sort(), ['sender_dynamic_ip', 'sender_ip_blocklisted']);
  assert.equal(d.ptr, '127-0-0-21.dyn.dsl.example.test');

  const clean = await run(['check', 'ip', '127.0.0.22', ...cfg]);
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);
  assert.match(clean.stdout, /PTR \(forward-confirmed\): mail\.good\.test/);
  assert.match(clean.stdout, /problems: none found/);

  const junk = await run(['check', 'ip', '1.2.3.4\r\nX: y', ...cfg]);
  assert.equal(junk.code, 64);
  assert.match(junk.stderr, /not an IP address: "1\.2\.3\.4\\r\\nX: y"/);
});
