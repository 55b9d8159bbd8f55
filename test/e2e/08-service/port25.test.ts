// The MX on port 25 as the service runs it: an unprivileged user whose only
// privilege is CAP_NET_BIND_SERVICE (what the systemd unit's
// AmbientCapabilities= gives), started here with setpriv. With the
// capability it takes mail on 127.0.0.25:25 and stops on SIGTERM; without it
// it refuses in one line that names smtp.listen and the fix, exits 78 and
// leaves nothing running.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { requireTool } from '../../helpers/env.js';
import { BIN, freePort, listNew, ROOT } from '../../helpers/server.js';
import { asUser, assertReadableBy, requireRoot, throwawayUser, undoStack, type ServiceUser } from '../../helpers/service-user.js';
import { sendMail } from '../../helpers/smtp-client.js';

const HOST = '127.0.0.25';
const ADDRESS = `${HOST}:25`;

/** Whether something listens on HOST:25 or on every address's port 25 (which a bind to HOST:25 would meet too). */
async function port25Taken(): Promise<string | null> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    s.listen(25, HOST, () => s.close(() => resolve(null)));
  });
}

async function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, host);
    c.once('connect', () => { c.destroy(); resolve(false); });
    c.once('error', () => resolve(true));
  });
}

/** A data directory the user owns (mode 0700) under a directory it may enter, and a config file it may read. */
function instanceDir(undo: Undo, user: ServiceUser, extra: Record<string, unknown> = {}): { dir: string; data: string; cfg: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-service-'));
  undo(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.chmodSync(dir, 0o755);
  const data = path.join(dir, 'data');
  fs.mkdirSync(data, { mode: 0o700 });
  fs.chownSync(data, user.uid, user.gid);
  const cfg = path.join(dir, 'mailproof.yaml');
  fs.writeFileSync(cfg, YAML.stringify({
    hostname: 'mx.test.invalid',
    node: 'service-test',
    data_dir: data,
    log: { level: 'info' },
    smtp: { listen: [ADDRESS] },
    pop3: { listen: [] },
    web: { listen: [] },
    checks: { allowlist: { networks: ['127.0.0.0/8'] } },
    domains: { 'demo.test': { mailboxes: ['demo'] } },
    ...extra,
  }), { mode: 0o644 });
  return { dir, data, cfg };
}

function serveAs(user: ServiceUser, bindCap: boolean, cfg: string): { proc: ChildProcess; output: () => string; stderr: () => string; exited: Promise<number | null> } {
  const proc = spawn('setpriv', [...asUser(user, { bindCap }), process.execPath, BIN, 'serve', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { out += d.toString(); err += d.toString(); });
  // 'close': the output is complete, not only the process gone.
  const exited = new Promise<number | null>((resolve) => proc.once('close', (code) => resolve(code)));
  return { proc, output: () => out, stderr: () => err, exited };
}

type Undo = ReturnType<typeof undoStack>;

/** Root, setpriv, port 25 on HOST free, a user that can read the build: or why not. */
async function prepare(t: TestContext, undo: Undo): Promise<ServiceUser | null> {
  if (!requireRoot(t) || !requireTool(t, 'setpriv')) return null;
  const taken = await port25Taken();
  if (taken) throw new Error(`${ADDRESS} cannot be bound (${taken}): something else listens on port 25 there or on all addresses (a local MTA?); stop it for this test`);
  const user = throwawayUser(undo);
  assertReadableBy(user, [process.execPath, path.join(ROOT, 'bin'), path.join(ROOT, 'dist'), path.join(ROOT, 'node_modules'), path.join(ROOT, 'package.json')]);
  return user;
}

test('serve as an unprivileged user with CAP_NET_BIND_SERVICE only: listens on port 25, takes a message (250), stops on SIGTERM', async (t) => {
  const undo = undoStack(t);
  const user = await prepare(t, undo);
  if (!user) return;
  const { data, cfg } = instanceDir(undo, user);
  const mp = serveAs(user, true, cfg);
  undo(async () => {
    if (mp.proc.exitCode === null && mp.proc.signalCode === null) mp.proc.kill('SIGKILL');
    await mp.exited;
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start within 60 s:\n${mp.output()}`)), 60_000);
    mp.proc.stdout!.on('data', () => { if (mp.output().includes('mailproof: SMTP on')) { clearTimeout(timer); resolve(); } });
    void mp.exited.then((code) => { clearTimeout(timer); reject(new Error(`serve exited with ${code}:\n${mp.output()}`)); });
  });
  assert.match(mp.output(), new RegExp(`mailproof: SMTP on ${ADDRESS.replace(/\./g, '\\.')};`));
  // The process runs as the user, without any capability but the one.
  const status = fs.readFileSync(`/proc/${mp.proc.pid}/status`, 'utf8');
  assert.match(status, new RegExp(`^Uid:\\s+${user.uid}\\s+${user.uid}\\s+${user.uid}\\s+${user.uid}$`, 'm'));
  const capEff = BigInt(`0x${/^CapEff:\s+([0-9a-f]+)$/m.exec(status)![1]}`);
  assert.equal(capEff, 1n << 10n, `only CAP_NET_BIND_SERVICE (bit 10) is effective: ${capEff.toString(16)}`);

  const sent = await sendMail(25, { host: HOST, from: 'sender@example.org', to: ['demo@demo.test'], body: 'Subject: via port 25\r\n\r\nhello\r\n' });
  assert.match(sent.final ?? '', /^250 2\.0\.0 /, JSON.stringify(sent.replies));
  const box = path.join(data, 'maildir', 'demo.test', 'demo', 'new');
  const files = listNew(box);
  assert.equal(files.length, 1);
  // The message is the user's, in a data directory nobody else may enter.
  assert.equal(fs.statSync(path.join(box, files[0]!)).uid, user.uid);
  const top = fs.statSync(data);
  assert.equal(top.uid, user.uid);
  assert.equal(top.mode & 0o777, 0o700);

  mp.proc.kill('SIGTERM');
  assert.equal(await mp.exited, 0, mp.output());
  assert.match(mp.output(), /"msg":"stopped"/);
  assert.equal((await port25Taken()), null, 'port 25 is free again');
});

test('serve as an unprivileged user without the capability: one line naming smtp.listen and the fix, exit 78, nothing left running', async (t) => {
  if (Number(fs.readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8')) <= 25) {
    t.skip('this system lets any user listen on port 25 (net.ipv4.ip_unprivileged_port_start)');
    return;
  }
  const undo = undoStack(t);
  const user = await prepare(t, undo);
  if (!user) return;
  // The web server starts before SMTP: it must be stopped again when SMTP cannot listen.
  const web = await freePort();
  const { cfg } = instanceDir(undo, user, { web: { listen: [`127.0.0.1:${web}`] } });
  const mp = serveAs(user, false, cfg);
  undo(async () => {
    if (mp.proc.exitCode === null && mp.proc.signalCode === null) mp.proc.kill('SIGKILL');
    await mp.exited;
  });
  const code = await mp.exited;
  assert.equal(code, 78, mp.output());
  // Logs are JSON lines on stdout; stderr has the one line a person reads (in the journal, with the unit).
  assert.equal(mp.stderr(),
    `mailproof: smtp.listen ${ADDRESS}: no permission to listen there (a port below 1024 needs root or the capability CAP_NET_BIND_SERVICE); `
    + `change smtp.listen in ${cfg} (or -o smtp.listen=HOST:PORT) to a port above 1023, or give the program that capability `
    + '(the systemd unit that scripts/install-service.sh installs does: AmbientCapabilities=CAP_NET_BIND_SERVICE)\n', mp.output());
  assert.doesNotMatch(mp.output(), /\n\s+at /, 'no stack trace');
  assert.ok(await portFree(web), 'the web server it had started is stopped');
  const left = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(cfg));
  assert.deepEqual(left, [], 'no process of this instance is left');
});
