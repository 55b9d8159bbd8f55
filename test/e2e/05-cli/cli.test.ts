// The command line: errors that name the key and the fix, exit codes, the
// serve shortcuts for throwaway instances.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, run, startServer } from '../../helpers/server.js';
import { sendMail } from '../../helpers/smtp-client.js';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'mp-cli-'));
}

test('a bad configuration stops serve with exit 78 and names every wrong key', async () => {
  const dir = tmp();
  const cfg = path.join(dir, 'bad.yaml');
  fs.writeFileSync(cfg, 'smtp:\n  max_recipients: lots\n  listen: [nonsense]\ncolour: blue\n');
  const r = await run(['serve', '--config', cfg, '--data-dir', dir]);
  assert.equal(r.code, 78);
  assert.match(r.stderr, /smtp\.max_recipients: .*expected number/);
  assert.match(r.stderr, /smtp\.listen\.0: expected HOST:PORT/);
  assert.match(r.stderr, /colour: unknown key; remove it or check its spelling/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace for a config error');
});

test('usage errors exit 64; config --check validates', async () => {
  assert.equal((await run(['frobnicate'])).code, 64);
  assert.equal((await run(['trace', '--bogus'])).code, 64);
  assert.equal((await run(['trace', '--data-dir', tmp()])).code, 64, 'trace without a filter');
  const ok = await run(['config', '--check', '--data-dir', tmp(), '-o', 'smtp.max_recipients=5']);
  assert.equal(ok.code, 0);
  assert.match(ok.stdout, /configuration is valid/);
  const shown = await run(['config', '--data-dir', tmp(), '-o', 'smtp.max_recipients=7']);
  assert.match(shown.stdout, /max_recipients: 7/);
  assert.equal((await run(['config', '--check', '-o', 'smtp.max_recipients=0'])).code, 78);
});

test('serve --smtp-listen --domain --mailbox starts a throwaway instance without a config file', async () => {
  const dir = tmp();
  const port = await freePort();
  const mp = await startServer({
    dataDir: dir, port,
    config: { domains: undefined },
    args: ['--domain', 'shop.example', '--mailbox', 'orders@shop.example', '--smtp-listen', `127.0.0.1:${port}`],
  });
  try {
    const ok = await sendMail(port, { from: 'c@example.org', to: ['orders@shop.example'], body: 'Subject: order\n\n1 item\n' });
    assert.match(ok.final ?? '', /^250 /);
    const bad = await sendMail(port, { from: 'c@example.org', to: ['demo@demo.test'], body: 'x' });
    assert.match(bad.replies.find((r) => r?.startsWith('550')) ?? '', /^550 5\.7\.1 Relaying denied/, 'the demo domain is not served');
    assert.equal(fs.readdirSync(path.join(dir, 'maildir', 'shop.example', 'orders', 'new')).length, 1);
  } finally {
    await mp.stop();
  }
});

test('trace text output quotes hostile values so they cannot forge lines', async () => {
  const mp = await startServer();
  try {
    // smtp-server refuses control bytes in addresses (501 5.1.7); a quote gets through.
    const sent = await sendMail(mp.port, { from: 'ev"il@example.org', to: ['demo@demo.test'], body: 'Subject: x\n\ny\n' });
    assert.match(sent.final ?? '', /^250 /);
    const dataDir = mp.dataDir;
    const r = await run(['trace', '--data-dir', dataDir, '--rcpt', 'demo@demo.test']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /DELIVERED {2}from="ev\\"il@example.org" to="demo@demo.test"/);
  } finally {
    await mp.stop();
  }
});
