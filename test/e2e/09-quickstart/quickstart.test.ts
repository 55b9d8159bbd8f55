// The real scripts/quickstart.sh, as a newcomer runs it, in a temporary data
// directory on free loopback ports: it starts clamd and rspamd (private
// instances here, where systemd does not run services) with the project's
// test signatures, and mailproof on its embedded defaults refuses an EICAR
// attachment and GTUBE during DATA with the checks' explained replies and a
// REF, delivers a clean message through both scanners, and says in the log
// and in `mailproof status` that it has test signatures only. SIGTERM stops
// mailproof and then every scanner process of that data directory.
//
// Slow on a cold rspamd (it compiles hyperscan databases: 1-3 minutes); the
// compiled databases are shared with test/helpers/rspamd.ts through the same
// cache directory, so a run after the rspamd tests starts in seconds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { missingTool, requireTool } from '../../helpers/env.js';
import { freePort, listNew, ROOT, run } from '../../helpers/server.js';
import { serverLines, swaks } from '../../helpers/swaks.js';

// In two halves, so that this file is not itself found by a virus scanner.
const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR' + '-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';
const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';
const REF = /\(ref ([0-9A-HJKMNP-TV-Z]{12})\)$/;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Proc { pid: number; pgid: number; comm: string }

/**
 * Live processes (zombies do not count) of the quick start on dir: its
 * environment names the data directory (the script exports it to all it
 * starts), or it holds a file under it open. rspamd rewrites its environment
 * for its process titles, but keeps its log open.
 */
function processesOf(dir: string): Proc[] {
  const out: Proc[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
    } catch {
      continue;
    }
    // proc(5): "pid (comm) state ppid pgrp ..."
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') continue;
    let mine = false;
    try {
      mine = fs.readFileSync(`/proc/${e}/environ`, 'latin1').split('\0').includes(`MAILPROOF_DATA_DIR=${dir}`);
    } catch { /* gone, or not readable */ }
    if (!mine) {
      try {
        mine = fs.readdirSync(`/proc/${e}/fd`).some((fd) => {
          try {
            return fs.readlinkSync(`/proc/${e}/fd/${fd}`).startsWith(`${dir}/`);
          } catch {
            return false;
          }
        });
      } catch { /* gone, or not readable */ }
    }
    if (mine) out.push({ pid: Number(e), pgid: Number(fields[2]), comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) });
  }
  return out;
}

/** The PID in a private scanner's pid file ("PID STARTTIME"). */
function pidFromFile(file: string): number {
  const pid = Number(fs.readFileSync(file, 'utf8').split(' ')[0]);
  assert.ok(pid > 0, `no pid in ${file}`);
  return pid;
}

test('scripts/quickstart.sh: clamd and rspamd filter on the embedded defaults, and stop with it', { timeout: 25 * 60 * 1000 }, async (t) => {
  for (const tool of ['bash', 'clamd', 'freshclam', 'rspamd', 'swaks', 'openssl', 'setsid']) {
    if (!requireTool(t, tool)) return;
  }
  // What the script would otherwise install with apt-get (scripts/install-test-deps.sh installs them).
  for (const [pkg, file] of [['fonts-dejavu-core', '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf'], ['fonts-wqy-microhei', '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc']] as const) {
    if (!fs.existsSync(file)) { missingTool(t, pkg); return; }
  }
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-quickstart-')));
  const [smtpPort, webPort, pop3Port] = [await freePort(), await freePort(), await freePort()];
  const env = {
    ...process.env,
    MAILPROOF_DATA_DIR: dir,
    MAILPROOF_SMTP_LISTEN: `127.0.0.1:${smtpPort}`,
    MAILPROOF_WEB_LISTEN: `127.0.0.1:${webPort}`,
    MAILPROOF_POP3_LISTEN: `127.0.0.1:${pop3Port}`,
    // The suite runs from the dist/ it built; a rebuild would replace it under the other tests.
    MAILPROOF_QUICKSTART_BUILD: '0',
    MAILPROOF_QUICKSTART_SCANNERS: 'private',
    // No download: a machine with a network would fetch the real database,
    // and this test is about what happens without one.
    MAILPROOF_FRESHCLAM_TIMEOUT: '0',
    // The cache test/helpers/rspamd.ts uses: warm after the rspamd tests.
    MAILPROOF_RSPAMD_CACHE: process.env.MAILPROOF_RSPAMD_CACHE ?? path.join(os.tmpdir(), 'mailproof-rspamd-cache'),
  };
  const qs = spawn('bash', [path.join(ROOT, 'scripts/quickstart.sh')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  qs.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  qs.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((resolve) => qs.once('exit', (code) => resolve(code)));
  let stopped = false;
  // Registration order: the quick start stops before its directory goes.
  t.after(async () => {
    if (!stopped && qs.exitCode === null) {
      qs.kill('SIGTERM');
      const late = setTimeout(() => qs.kill('SIGKILL'), 60000);
      await exited;
      clearTimeout(late);
    }
    // Whatever a failed run left behind (the script killed before it could stop them).
    for (const p of processesOf(dir)) {
      try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
    }
  });
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));

  // Up to 15 minutes: rspamd's cold start on a busy 2-core machine.
  const deadline = Date.now() + 15 * 60 * 1000;
  while (!out.includes('mailproof: SMTP on')) {
    if (qs.exitCode !== null) assert.fail(`quickstart.sh exited with ${qs.exitCode} before mailproof listened:\n${out}`);
    if (Date.now() > deadline) assert.fail(`mailproof did not listen within 15 minutes:\n${out}`);
    await sleep(200);
  }
  const started = out;
  t.diagnostic(started.split('\n').filter((l) => /rspamd: ready after/.test(l)).join(' '));
  assert.match(started, /quickstart: scanners: private clamd and rspamd under /);
  assert.match(started, /WARNING: clamd has the project's TEST SIGNATURES ONLY/);
  assert.match(started, /NOT\s+(quickstart: )?PROTECTING ANYONE/);
  const server = ['--server', `127.0.0.1:${smtpPort}`, '--to', 'demo@demo.test', '--from', 'anna@sender.example'];

  await t.test('the generated configuration: embedded defaults plus the scanners', () => {
    const conf = fs.readFileSync(path.join(dir, 'quickstart.yaml'), 'utf8');
    assert.match(conf, new RegExp(`^    address: "${dir}/scanners/clamd/clamd\\.sock"$`, 'm'));
    assert.match(conf, /^ {4}backend: rspamd$/m);
    assert.match(conf, /^ {4}address: "http:\/\/127\.0\.0\.1:\d+"$/m);
    assert.match(conf, /^ {4}scan_allowlisted: true$/m);
  });

  await t.test('mailproof itself warns: test signatures only, from clamd\'s own VERSION', async () => {
    const until = Date.now() + 30000;
    while (!out.includes('mailproof: WARNING: test signatures only: not protecting anyone')) {
      assert.ok(Date.now() < until, `no warning from mailproof:\n${out}`);
      await sleep(200);
    }
    assert.match(out, /"level":40,[^\n]*"clamd_version":"ClamAV [0-9.]+"[^\n]*"msg":"test signatures only: not protecting anyone/);
  });

  await t.test('an EICAR attachment: 554 5.7.1 at the end of DATA, naming signature and attachment, with a REF', async () => {
    const file = path.join(dir, 'eicar.com');
    fs.writeFileSync(file, EICAR);
    const r = await swaks([...server, '--attach', `@${file}`]);
    const lines = serverLines(r.out);
    assert.ok(lines.some((l) => l.startsWith('354 ')), r.out);
    const final = lines.find((l) => /^5\d\d /.test(l));
    assert.match(final ?? '', /^554 5\.7\.1 Virus found: Mailproof\.Test\.EICAR(\.UNOFFICIAL)? in attachment eicar\.com; the message was not accepted\. Clean the sending computer and send again \(ref [0-9A-Z]{12}\)$/, r.out);
    assert.ok(lines.indexOf(final!) > lines.findIndex((l) => l.startsWith('354 ')), 'refused after DATA, in the session');
    const tr = await run(['trace', '--data-dir', dir, '--json', '--ref', REF.exec(final!)![1]!]);
    assert.equal(tr.code, 0, tr.stderr);
    const j = (JSON.parse(tr.stdout) as { journeys: { outcome: string; diagnosis: string[] }[] }).journeys;
    assert.equal(j[0]?.outcome, 'rejected');
    assert.ok(j[0]?.diagnosis.includes('virus'), JSON.stringify(j[0]?.diagnosis));
  });

  await t.test('GTUBE from this machine: 550 5.7.1 with score and limit, with a REF', async () => {
    const r = await swaks([...server, '--header', 'Subject: test', '--body', `This is the GTUBE test string:\n\n${GTUBE}\n`]);
    const lines = serverLines(r.out);
    const final = lines.find((l) => /^5\d\d /.test(l));
    assert.match(final ?? '', /^550 5\.7\.1 Message refused as spam: score \d+\.\d+ is at or over the limit \d+\.\d+ \(ref [0-9A-Z]{12}\)$/, r.out);
    assert.ok(lines.indexOf(final!) > lines.findIndex((l) => l.startsWith('354 ')), 'refused after DATA, in the session');
  });

  await t.test('a clean message is delivered, scanned by both', async () => {
    const r = await swaks([...server, '--header', 'Subject: agenda', '--body', 'Hi, the agenda for Thursday is attached to the calendar entry.\n']);
    const final = serverLines(r.out).find((l) => /^\d\d\d 2\.0\.0 /.test(l));
    assert.match(final ?? '', /^250 2\.0\.0 .*\(ref [0-9A-Z]{12}\)$/, r.out);
    const ref = REF.exec(final!)![1]!;
    const box = path.join(dir, 'maildir', 'demo.test', 'demo', 'new');
    const text = listNew(box).map((f) => fs.readFileSync(path.join(box, f), 'utf8')).find((m) => m.includes(`id ${ref}`));
    assert.ok(text, `no stored message with id ${ref}`);
    assert.match(text, /^X-Spam-Status: No, score=-?\d+\.\d+ required=\d+\.\d+ scanner=rspamd$/m);
    const tr = await run(['trace', '--data-dir', dir, '--json', '--ref', ref]);
    const events = (JSON.parse(tr.stdout) as { journeys: { events: { kind: string; check_name?: string; verdict?: string }[] }[] }).journeys[0]?.events ?? [];
    assert.deepEqual(events.filter((e) => e.kind === 'check.result' && (e.check_name === 'virus' || e.check_name === 'spam')).map((e) => [e.check_name, e.verdict]).sort(),
      [['spam', 'pass'], ['virus', 'pass']]);
  });

  await t.test('mailproof status: test signatures only; --probe with the generated configuration too', async () => {
    let st = await run(['status', '--data-dir', dir]);
    const until = Date.now() + 30000;
    while (!st.stdout.includes('WARNING clamd: test signatures only: not protecting anyone')) {
      assert.ok(Date.now() < until, st.stdout + st.stderr);
      await sleep(300);
      st = await run(['status', '--data-dir', dir]);
    }
    assert.equal(st.code, 0, st.stdout + st.stderr);
    assert.match(st.stdout, /^ {2}clamd +up /m);
    const probe = await run(['status', '--probe', '--json', '--config', path.join(dir, 'quickstart.yaml')]);
    const p = (JSON.parse(probe.stdout) as { probes: { component: string; ok: boolean; detail: string }[] }).probes;
    const clamd = p.find((x) => x.component === 'clamd');
    assert.equal(clamd?.ok, true, probe.stdout);
    assert.match(clamd.detail, /^ClamAV [0-9.]+ \(test signatures only: not protecting anyone\)$/);
    assert.equal(p.find((x) => x.component === 'rspamd')?.ok, true, probe.stdout);
  });

  await t.test('SIGTERM: mailproof stops, then clamd and rspamd; no process of the data directory is left', async () => {
    const clamdPid = pidFromFile(path.join(dir, 'scanners/clamd/quickstart.pid'));
    const rspamdPid = pidFromFile(path.join(dir, 'scanners/rspamd/quickstart.pid'));
    // The search finds them while they run (else "none left" would prove nothing).
    const running = processesOf(dir);
    assert.ok(running.some((p) => p.pid === clamdPid), JSON.stringify(running));
    assert.ok(running.some((p) => p.pid === rspamdPid), JSON.stringify(running));
    assert.ok(running.some((p) => p.pgid === rspamdPid && p.pid !== rspamdPid), `an rspamd worker: ${JSON.stringify(running)}`);
    assert.ok(running.some((p) => p.pid === qs.pid), 'the script itself');
    qs.kill('SIGTERM');
    const code = await exited;
    stopped = true;
    assert.equal(code, 0, out.slice(-3000));
    assert.match(out, /"msg":"stopped"[\s\S]*quickstart: stopping clamd[\s\S]*/);
    assert.match(out, /quickstart: stopping rspamd/);
    assert.deepEqual(processesOf(dir), []);
  });
});
