// `mailproof status`: what an operator runs to see whether DNS, clamd and the
// spam scanner work, against real services on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireTool } from '../../helpers/env.js';
import { startClamd } from '../../helpers/clamd.js';
import { startDnsServer } from '../../helpers/dns-server.js';
import { freePort, run, startServer } from '../../helpers/server.js';

test('status lists the running gateway; --probe reports real components up and dead ones down', async (t) => {
  if (!requireTool(t, 'knotd') || !requireTool(t, 'clamd')) return;
  const dns = await startDnsServer({ zones: { 'status.test': ['mx.status.test. 60 IN A 127.0.0.1'] } });
  t.after(() => dns.stop());
  const clamd = await startClamd();
  t.after(() => clamd.stop());
  const deadPort = await freePort();

  const mp = await startServer({ config: { hostname: 'mx.status.test', dns: { servers: [dns.address] } } });
  t.after(async () => { await mp.stop(); fs.rmSync(mp.dataDir, { recursive: true, force: true }); });

  const plain = await run(['status', '--data-dir', mp.dataDir, '-o', `dns.servers=[${dns.address}]`]);
  assert.equal(plain.code, 0, plain.stdout + plain.stderr);
  assert.match(plain.stdout, /^node \S+ pid \d+/m);

  const up = await run(['status', '--probe', '--json', '--data-dir', mp.dataDir, '-o', 'hostname=mx.status.test',
    '-o', `dns.servers=[${dns.address}]`, '-o', `scanners.clamd.address=${clamd.tcp.host}:${clamd.tcp.port}`]);
  assert.equal(up.code, 0, up.stdout + up.stderr);
  const upJson = JSON.parse(up.stdout) as { probes: { component: string; ok: boolean; detail: string }[] };
  assert.deepEqual(upJson.probes.map((p) => [p.component, p.ok]), [['dns', true], ['clamd', true]]);
  assert.match(upJson.probes[0]!.detail, /^NOERROR/);

  const down = await run(['status', '--probe', '--data-dir', mp.dataDir,
    '-o', `dns.servers=[127.0.0.1:${deadPort}]`, '-o', 'dns.timeout_ms=300', '-o', 'dns.attempts=1',
    '-o', `scanners.clamd.address=127.0.0.1:${deadPort}`]);
  assert.equal(down.code, 1, down.stdout + down.stderr);
  assert.match(down.stdout, /dns\s+down/);
  assert.match(down.stdout, /clamd\s+down/);
});

test('status without a running gateway says so and exits 3', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-status-'));
  const r = await run(['status', '--data-dir', dir]);
  assert.equal(r.code, 3);
  assert.match(r.stdout, /no running gateway/);
  fs.rmSync(dir, { recursive: true, force: true });
});
