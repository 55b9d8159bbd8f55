// The command line: errors that name the key and the fix (a listen address
// in use too), exit codes, the serve shortcuts for throwaway instances, and
// hints that name the instance they were printed by.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { BIN, freePort, run, startServer } from '../../helpers/server.js';
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

/** True when nothing listens on 127.0.0.1:port. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** Journal stream locks (<stream>/LOCK) left under dir: a stopped serve leaves none. */
function locksUnder(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => path.basename(f) === 'LOCK');
}

async function occupied(t: TestContext): Promise<number> {
  const port = await freePort();
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(port, '127.0.0.1', () => resolve()));
  t.after(() => new Promise<void>((resolve) => s.close(() => resolve())));
  return port;
}

function listenConfig(dir: string, listen: { smtp: string; pop3: string; web: string }): string {
  const file = path.join(dir, 'listen.yaml');
  // Single HOST:PORT values, as a newcomer writes them.
  fs.writeFileSync(file, `data_dir: ${dir}\nsmtp:\n  listen: ${listen.smtp}\npop3:\n  listen: ${listen.pop3}\nweb:\n  listen: ${listen.web}\nlog:\n  level: warn\n`);
  return file;
}

test('a listen address in use: one line naming the key and where to change it, exit 78, nothing left running', async (t) => {
  const busy = await occupied(t);
  const [smtp, pop3, web] = [await freePort(), await freePort(), await freePort()];
  const inUse = (key: string, where: string): string =>
    `mailproof: ${key} 127.0.0.1:${busy}: the address is already in use (another mailproof or another program); ${where} or stop the other program\n`;

  await t.test('web.listen (POP3 had started: it stops again)', async () => {
    const dir = tmp();
    const cfg = listenConfig(dir, { smtp: `127.0.0.1:${smtp}`, pop3: `127.0.0.1:${pop3}`, web: `127.0.0.1:${busy}` });
    const r = await run(['serve', '--config', cfg]);
    assert.equal(r.code, 78, r.stdout + r.stderr);
    assert.equal(r.stderr, inUse('web.listen', `change web.listen in ${cfg} (or -o web.listen=HOST:PORT)`));
    assert.ok(await portFree(pop3), 'POP3 listened and was stopped');
    assert.deepEqual(locksUnder(dir), []);
  });

  await t.test('smtp.listen, one process (POP3 and web had started: they stop again)', async () => {
    const dir = tmp();
    const cfg = listenConfig(dir, { smtp: `127.0.0.1:${busy}`, pop3: `127.0.0.1:${pop3}`, web: `127.0.0.1:${web}` });
    const r = await run(['serve', '--config', cfg]);
    assert.equal(r.code, 78, r.stdout + r.stderr);
    assert.equal(r.stderr, inUse('smtp.listen', `change smtp.listen in ${cfg} (or -o smtp.listen=HOST:PORT)`));
    assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at /, 'no stack trace');
    assert.ok(await portFree(pop3) && await portFree(web));
    assert.deepEqual(locksUnder(dir), []);
  });

  await t.test('smtp.listen with workers: said once, by the primary; no worker left', async () => {
    const dir = tmp();
    const cfg = listenConfig(dir, { smtp: `127.0.0.1:${busy}`, pop3: '[]', web: `127.0.0.1:${web}` });
    const r = await run(['serve', '--config', cfg, '-o', 'smtp.workers=3']);
    assert.equal(r.code, 78, r.stdout + r.stderr);
    assert.equal(r.stderr, inUse('smtp.listen', `change smtp.listen in ${cfg} (or -o smtp.listen=HOST:PORT)`));
    assert.ok(await portFree(web));
    assert.deepEqual(locksUnder(dir), []);
    const left = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(cfg));
    assert.deepEqual(left, [], 'no worker process is left');
  });

  await t.test('without a config file the fix is -o', async () => {
    const dir = tmp();
    const r = await run(['serve', '--data-dir', dir, '-o', `smtp.listen=127.0.0.1:${smtp}`, '-o', 'pop3.listen=[]', '-o', `web.listen=127.0.0.1:${busy}`]);
    assert.equal(r.code, 78, r.stdout + r.stderr);
    assert.equal(r.stderr, inUse('web.listen', 'choose another address with -o web.listen=HOST:PORT (or web.listen in a --config file)'));
  });
});

test('a port below 1024 without the privilege names the key and the fix, exit 78', async (t) => {
  if (Number(fs.readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8')) <= 81) {
    t.skip('this system lets anybody listen on low ports');
    return;
  }
  // As root, the test runs serve as nobody; the data directory is nobody's.
  const uid = process.getuid?.() === 0 ? 65534 : undefined;
  const dir = tmp();
  fs.chmodSync(dir, 0o755);
  const data = path.join(dir, 'data');
  fs.mkdirSync(data);
  if (uid !== undefined) fs.chownSync(data, uid, uid);
  const cfg = path.join(dir, 'low.yaml');
  fs.writeFileSync(cfg, `data_dir: ${data}\nsmtp: { listen: "127.0.0.1:0" }\npop3: { listen: [] }\nweb: { listen: "127.0.0.1:81" }\nlog: { level: warn }\n`);
  const r = spawnSync(process.execPath, [BIN, 'serve', '--config', cfg], { uid, gid: uid, encoding: 'utf8', timeout: 60_000 });
  if (uid !== undefined && r.status !== 78 && /EACCES|permission denied|Cannot find module/i.test(r.stderr) && !/web\.listen/.test(r.stderr)) {
    t.skip(`nobody cannot run the program from here: ${r.stderr.split('\n')[0]}`);
    return;
  }
  assert.equal(r.status, 78, r.stdout + r.stderr);
  assert.equal(r.stderr, `mailproof: web.listen 127.0.0.1:81: no permission to listen there (a port below 1024 needs root or the capability CAP_NET_BIND_SERVICE); change web.listen in ${cfg} (or -o web.listen=HOST:PORT) to a port above 1023, or give the program that capability (the systemd unit that scripts/install-service.sh installs does: AmbientCapabilities=CAP_NET_BIND_SERVICE)\n`);
});

test('the hints serve prints carry its --config and --data-dir, quoted for the shell, and work as printed', async (t) => {
  const dir = path.join(tmp(), 'data dir with space');
  fs.mkdirSync(dir);
  const webPort = await freePort();
  const mp = await startServer({ dataDir: dir, config: { web: { listen: [`127.0.0.1:${webPort}`] } }, args: ['--data-dir', dir] });
  // One hook, in this order: the server writes into the directory until it has stopped.
  t.after(async () => {
    await mp.stop();
    fs.rmSync(path.dirname(dir), { recursive: true, force: true });
  });
  const cfg = path.join(dir, 'test-config.yaml');
  const m = /create a login with: ((?:mailproof|node \S*mailproof\.js) user add NAME --role staff .*)\n/.exec(mp.output());
  assert.ok(m, mp.output());
  assert.ok(m[1]!.endsWith(` --config '${cfg}' --data-dir '${dir}'`), m[1]);
  // Pasted into a shell (NAME filled in), it writes the account where this server reads it.
  const pw = path.join(path.dirname(dir), 'pw');
  fs.writeFileSync(pw, 'a-password-1\n');
  const cmd = m[1]!.replace(/^(mailproof|node \S*mailproof\.js) /, `'${process.execPath}' '${BIN}' `).replace('NAME', 'admin');
  const r = spawnSync('sh', ['-c', `${cmd} --password-file '${pw}'`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const users = JSON.parse(fs.readFileSync(path.join(dir, 'web-users.json'), 'utf8')) as { users: { name: string; role: string }[] };
  assert.deepEqual(users.users.map((u) => [u.name, u.role]), [['admin', 'staff']]);
  // `user list` and a second `user add` say the same instance.
  const list = await run(['user', 'list', '--data-dir', dir]);
  assert.match(list.stdout, /^admin\tstaff\n$/);
  const empty = await run(['user', 'list', '--data-dir', path.join(path.dirname(dir), 'other')]);
  assert.match(empty.stdout, new RegExp(`create one with: .* user add NAME --role staff --data-dir ${path.join(path.dirname(dir), 'other')}\\n`));
});
