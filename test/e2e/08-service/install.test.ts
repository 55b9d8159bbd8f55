// scripts/install-service.sh into a temporary root (--root), so the machine
// keeps its /etc and /var: the account it makes (removed afterwards), the
// data directory (the account's, 0700), the configuration (root's, readable
// by the group, never overwritten), the unit with this checkout's real
// paths, which systemd-analyze verify accepts; and the refusals that come
// before anything is installed.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../src/config/load.js';
import { requireTool } from '../../helpers/env.js';
import { ROOT } from '../../helpers/server.js';
import { lookupUser, removeUser, requireRoot, throwawayName, undoStack } from '../../helpers/service-user.js';

const SCRIPT = path.join(ROOT, 'scripts/install-service.sh');
const NODE = fs.realpathSync(process.execPath);

function install(args: string[]): { status: number | null; stdout: string; stderr: string } {
  // node on PATH is the one running the tests (the installer's default --node).
  const env = { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}` };
  const r = spawnSync('bash', [SCRIPT, ...args], { encoding: 'utf8', env, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A temporary root the (throwaway) service user may enter, as / is. */
function tempRoot(undo: ReturnType<typeof undoStack>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-install-'));
  fs.chmodSync(dir, 0o755);
  undo(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function modeOwner(p: string): { mode: string; uid: number; gid: number } {
  const s = fs.statSync(p);
  return { mode: (s.mode & 0o7777).toString(8), uid: s.uid, gid: s.gid };
}

/** The unit's settings, KEY -> values in order. */
function settings(unit: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of unit.split('\n')) {
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (kv) m.set(kv[1]!, [...(m.get(kv[1]!) ?? []), kv[2]!]);
  }
  return m;
}

function prepare(t: TestContext): ReturnType<typeof undoStack> | null {
  if (!requireRoot(t) || !requireTool(t, 'setpriv') || !requireTool(t, 'useradd')) return null;
  return undoStack(t);
}

test('install-service.sh --root: account, data directory, configuration and unit; systemd-analyze verify accepts the unit', async (t) => {
  const undo = prepare(t);
  if (!undo) return;
  const root = tempRoot(undo);
  const name = throwawayName('mp-i');
  undo(() => removeUser(name));
  const r = install(['--root', root, '--user', name]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`created system user ${name} `));
  assert.match(r.stdout, new RegExp(`installed under ${root}; nothing enabled or started`));

  // The account: a system one, no login shell, its home the data directory (not made by useradd).
  const pw = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim().split(':');
  const user = lookupUser(name);
  assert.ok(user.uid > 0 && user.uid < 1000, `a system uid: ${user.uid}`);
  assert.equal(pw[5], '/var/lib/mailproof');
  assert.match(pw[6]!, /\/nologin$/);
  assert.equal(execFileSync('id', ['-gn', name], { encoding: 'utf8' }).trim(), name);

  const data = path.join(root, 'var/lib/mailproof');
  assert.deepEqual(modeOwner(data), { mode: '700', uid: user.uid, gid: user.gid });
  assert.deepEqual(modeOwner(path.join(root, 'etc/mailproof')), { mode: '750', uid: 0, gid: user.gid });
  const cfg = path.join(root, 'etc/mailproof/mailproof.yaml');
  assert.deepEqual(modeOwner(cfg), { mode: '640', uid: 0, gid: user.gid });
  // The starter configuration is valid and says port 25 and the data directory.
  const check = spawnSync(process.execPath, [path.join(ROOT, 'bin/mailproof.js'), 'config', '--config', cfg], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stderr);
  assert.match(check.stdout, /^data_dir: \/var\/lib\/mailproof$/m);
  assert.match(check.stdout, /^ {2}listen:\n {4}- 0\.0\.0\.0:25$/m);

  const unitFile = path.join(root, 'etc/systemd/system/mailproof.service');
  assert.equal(modeOwner(unitFile).mode, '644');
  const unit = fs.readFileSync(unitFile, 'utf8');
  assert.doesNotMatch(unit, /@[A-Z_]+@/, 'every placeholder is filled in');
  const s = settings(unit);
  const one = (k: string): string | undefined => s.get(k)?.[0];
  const args = `--config /etc/mailproof/mailproof.yaml --data-dir /var/lib/mailproof`;
  assert.equal(one('ExecStart'), `${NODE} ${ROOT}/bin/mailproof.js serve ${args}`);
  assert.equal(one('ExecStartPre'), `${NODE} ${ROOT}/bin/mailproof.js config --check ${args}`);
  assert.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID');
  assert.equal(one('User'), name);
  assert.equal(one('Group'), name);
  assert.equal(one('AmbientCapabilities'), 'CAP_NET_BIND_SERVICE');
  assert.equal(one('CapabilityBoundingSet'), 'CAP_NET_BIND_SERVICE');
  assert.equal(one('ReadWritePaths'), '/var/lib/mailproof');
  for (const [k, v] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['PrivateTmp', 'yes'], ['ProtectHome', 'yes'], ['Restart', 'on-failure']]) {
    assert.equal(one(k!), v, k);
  }
  assert.equal(s.has('MemoryDenyWriteExecute'), false, 'V8 needs write+execute memory');
  // Stop waits longer than serve's own drain: smtp.shutdown_grace_s (default 30) plus the 10 s it adds.
  const defaults = loadConfig({});
  assert.ok(Number(/^(\d+)s$/.exec(one('TimeoutStopSec') ?? '')?.[1]) > defaults.smtp.shutdown_grace_s + 10, one('TimeoutStopSec'));
  assert.ok(Number(one('LimitNOFILE')) > defaults.smtp.max_connections, 'room for smtp.max_connections');

  // systemd's own reading of the unit (it checks that ExecStart's program exists).
  const analyze = requireTool(t, 'systemd-analyze');
  if (analyze) {
    const v = spawnSync(analyze, ['verify', unitFile], { encoding: 'utf8' });
    const about = `${v.stdout}${v.stderr}`.split('\n').filter((l) => l.includes('mailproof'));
    assert.equal(v.status, 0, v.stdout + v.stderr);
    assert.deepEqual(about, [], 'no warning about the unit');
  }

  // A second run keeps the configuration and takes back a data directory a root `serve` wrote into.
  fs.appendFileSync(cfg, '# edited by the operator\n');
  fs.writeFileSync(path.join(data, 'store.sqlite'), 'x', { mode: 0o644 });
  const again = install(['--root', root, '--user', name]);
  assert.equal(again.status, 0, again.stdout + again.stderr);
  assert.match(again.stdout, new RegExp(`user ${name} exists`));
  assert.match(fs.readFileSync(cfg, 'utf8'), /# edited by the operator\n$/);
  assert.equal(fs.statSync(path.join(data, 'store.sqlite')).uid, user.uid);
  assert.deepEqual(modeOwner(data), { mode: '700', uid: user.uid, gid: user.gid });
});

test('install-service.sh refuses, before installing anything, a program the service user cannot read or that the unit would hide', async (t) => {
  const undo = prepare(t);
  if (!undo) return;
  const root = tempRoot(undo);
  const name = throwawayName('mp-i');
  undo(() => removeUser(name));
  // A built checkout in a directory only root may enter (a clone under /root, a umask of 077).
  const locked = path.join(root, 'locked');
  const app = path.join(locked, 'mailproof');
  for (const d of ['bin', 'dist/src/cli', 'node_modules', 'deploy/systemd']) fs.mkdirSync(path.join(app, d), { recursive: true });
  for (const f of ['bin/mailproof.js', 'dist/src/cli/main.js', 'package.json']) fs.writeFileSync(path.join(app, f), '');
  fs.copyFileSync(path.join(ROOT, 'deploy/systemd/mailproof.service.in'), path.join(app, 'deploy/systemd/mailproof.service.in'));
  fs.chmodSync(locked, 0o700);
  const target = path.join(root, 'target');
  fs.mkdirSync(target);
  const r = install(['--root', target, '--user', name, '--app', app]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, new RegExp(`install-service: the user ${name} cannot read the program: .*${locked.replace(/[.]/g, '\\.')}`));
  assert.match(r.stderr, /chmod -R o\+rX/);
  assert.deepEqual(fs.readdirSync(target), [], 'nothing installed');

  // ProtectHome=yes would hide a program under /home or /root from the service.
  const home = install(['--root', target, '--user', name, '--app', '/root/mailproof']);
  assert.notEqual(home.status, 0);
  assert.match(home.stderr, /\/root\/mailproof is under \/home, \/root or \/run\/user, which the unit hides from the service \(ProtectHome=yes\)/);
  // A data directory of the system's own is not chowned to the service.
  const varDir = install(['--root', target, '--user', name, '--data-dir', '/var']);
  assert.notEqual(varDir.status, 0);
  assert.match(varDir.stderr, /--data-dir \/var: give a directory of mailproof's own/);
  assert.deepEqual(fs.readdirSync(target), []);
});

test('install-service.sh where systemd is not PID 1 (a container): installs, says so, starts nothing', async (t) => {
  if (fs.existsSync('/run/systemd/system')) {
    // It would enable and start the unit: that is for a real installation, not a test.
    t.skip('systemd runs this machine');
    return;
  }
  const undo = prepare(t);
  if (!undo) return;
  const dir = tempRoot(undo);
  const name = throwawayName('mp-i');
  undo(() => removeUser(name));
  // Every path in the temp directory, so the real run touches nothing of the machine but the (removed) account.
  const r = install(['--user', name, '--data-dir', `${dir}/data`, '--config', `${dir}/etc/mailproof.yaml`, '--unit-dir', `${dir}/units`]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const pid1 = fs.readFileSync('/proc/1/comm', 'utf8').trim();
  assert.match(r.stdout, new RegExp(`systemd is not running here \\(PID 1 is ${pid1.replace(/[^A-Za-z0-9_-]/g, '.')}\\): installed the user, directories, configuration and unit above, nothing started\\.`));
  assert.match(r.stdout, /systemctl daemon-reload && systemctl enable --now mailproof/);
  const unit = fs.readFileSync(path.join(dir, 'units/mailproof.service'), 'utf8');
  assert.match(unit, new RegExp(`^ExecStart=${NODE} ${ROOT}/bin/mailproof\\.js serve --config ${dir}/etc/mailproof\\.yaml --data-dir ${dir}/data$`, 'm'));
  assert.match(unit, new RegExp(`^ReadWritePaths=${dir}/data$`, 'm'));
  assert.equal(fs.statSync(path.join(dir, 'data')).mode & 0o777, 0o700);
  assert.equal(fs.statSync(path.join(dir, 'data')).uid, lookupUser(name).uid);
});
