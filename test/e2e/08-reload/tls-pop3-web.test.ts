// What a reload gives besides the domains: a renewed certificate for new
// STARTTLS (SMTP) and STLS (POP3) handshakes, new POP3 mailboxes, and web
// accounts (which the web server reads at every login anyway).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { requireTool } from '../../helpers/env.js';
import { freePort, run, startServer } from '../../helpers/server.js';
import { RawSmtp } from '../../helpers/smtp-client.js';
import { readConfig, reload, writeConfig } from './reload-helpers.js';

function makeCert(dir: string, name: string): { cert: string; key: string; fingerprint: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}.mx.test.invalid`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  return { cert, key, fingerprint: new X509Certificate(fs.readFileSync(cert)).fingerprint256 };
}

/** The fingerprint of the certificate a new STARTTLS session gets. */
async function smtpCertificate(port: number): Promise<string> {
  const c = await RawSmtp.connect(port);
  try {
    assert.match((await c.reply())!, /^220 /);
    assert.match((await c.cmd('EHLO probe.example.org'))!, /STARTTLS/);
    assert.match((await c.cmd('STARTTLS'))!, /^220 /);
    return await handshake(c.socket);
  } finally {
    c.socket.destroy();
  }
}

function handshake(socket: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    // The test certificates are self-made: what is compared is the fingerprint.
    const s = tls.connect({ socket, rejectUnauthorized: false }, () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.destroy();
    });
    s.once('error', reject);
  });
}

/** A POP3 client: one line a command. */
async function pop3(port: number): Promise<{ cmd(line: string): Promise<string>; greeting: string; socket: net.Socket; close(): void }> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  let buf = '';
  const waiting: Array<(l: string) => void> = [];
  const lines: string[] = [];
  socket.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    let i;
    while ((i = buf.indexOf('\r\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const w = waiting.shift();
      if (w) w(l); else lines.push(l);
    }
  });
  const next = (): Promise<string> => (lines.length ? Promise.resolve(lines.shift()!) : new Promise((r) => waiting.push(r)));
  const greeting = await next();
  return {
    greeting, socket,
    cmd: (line) => { socket.write(`${line}\r\n`); return next(); },
    close: () => socket.destroy(),
  };
}

test('TLS: a renewed certificate and key are used by new STARTTLS (SMTP) and STLS (POP3) handshakes after SIGHUP', async (t) => {
  if (!requireTool(t, 'openssl')) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-reload-tls-'));
  const live = { cert: path.join(dir, 'live.crt'), key: path.join(dir, 'live.key') };
  const one = makeCert(dir, 'one');
  const two = makeCert(dir, 'two');
  assert.notEqual(one.fingerprint, two.fingerprint);
  fs.copyFileSync(one.cert, live.cert);
  fs.copyFileSync(one.key, live.key);
  const pop3Port = await freePort();
  const mp = await startServer({
    config: { smtp: { tls_cert: live.cert, tls_key: live.key }, pop3: { listen: [`127.0.0.1:${pop3Port}`] } },
  });
  t.after(async () => {
    await mp.stop();
    fs.rmSync(mp.dataDir, { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const stls = async (): Promise<string> => {
    const p = await pop3(pop3Port);
    assert.match(await p.cmd('STLS'), /^\+OK/);
    try { return await handshake(p.socket); } finally { p.close(); }
  };
  assert.equal(await smtpCertificate(mp.port), one.fingerprint);
  assert.equal(await stls(), one.fingerprint);

  // A certificate renewed in place (as certbot does), then SIGHUP.
  fs.copyFileSync(two.cert, live.cert);
  fs.copyFileSync(two.key, live.key);
  const outcome = await reload(mp);
  assert.match(outcome.msg, /^reloaded: tls certificate renewed$/);
  assert.equal(await smtpCertificate(mp.port), two.fingerprint);
  assert.equal(await stls(), two.fingerprint);

  // A key that does not belong to the certificate is refused; the renewed pair stays.
  fs.copyFileSync(one.key, live.key);
  const refused = await reload(mp);
  assert.match(refused.msg, /^reload refused: smtp\.tls_cert \/ smtp\.tls_key: cannot use the certificate and key/);
  assert.equal(await smtpCertificate(mp.port), two.fingerprint);
});

test('POP3: a mailbox added by a reload can log in; before the reload it cannot', async (t) => {
  const pop3Port = await freePort();
  const mp = await startServer({
    config: { domains: { 'keep.test': { mailboxes: ['k'] } }, pop3: { listen: [`127.0.0.1:${pop3Port}`], allow_plaintext_auth: true } },
  });
  const pwFile = path.join(mp.dataDir, 'pw.txt');
  t.after(async () => { await mp.stop(); fs.rmSync(mp.dataDir, { recursive: true, force: true }); });
  const login = async (p: Awaited<ReturnType<typeof pop3>>): Promise<string> => {
    await p.cmd('USER n@new.test');
    return p.cmd('PASS secret-pop3-pw');
  };

  const cfg = readConfig(mp);
  cfg.domains = { 'keep.test': { mailboxes: ['k'] }, 'new.test': { mailboxes: ['n'] } };
  writeConfig(mp, cfg);
  fs.writeFileSync(pwFile, 'secret-pop3-pw\n');
  const set = await run(['mailbox', 'set-password', 'n@new.test', '--password-file', pwFile, '--config', mp.configFile]);
  assert.equal(set.code, 0, set.stderr);

  const early = await pop3(pop3Port);
  assert.match(await login(early), /^-ERR/, 'the running server does not know the mailbox yet');
  early.close();
  // Opened before the reload, logging in after it: the login finds the new mailbox.
  const open = await pop3(pop3Port);
  assert.match((await reload(mp)).msg, /^reloaded: domains \+new\.test$/);
  assert.match(await login(open), /^\+OK/);
  assert.match(await open.cmd('QUIT'), /^\+OK/);
  open.close();
  const late = await pop3(pop3Port);
  assert.match(await login(late), /^\+OK/);
  late.close();
});

test('web accounts: one added while serve runs logs in at once (read at every login), and after SIGHUP too', async (t) => {
  const webPort = await freePort();
  const mp = await startServer({ config: { web: { listen: [`127.0.0.1:${webPort}`] } } });
  t.after(async () => { await mp.stop(); fs.rmSync(mp.dataDir, { recursive: true, force: true }); });
  const base = `http://127.0.0.1:${webPort}`;
  const login = async (name: string, password: string): Promise<number> => {
    const form = await fetch(`${base}/login`);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
    const cookie = form.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const r = await fetch(`${base}/login`, {
      method: 'POST', redirect: 'manual',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrf, name, password }).toString(),
    });
    return r.status;
  };
  assert.equal(await login('late', 'late-web-password-1'), 401, 'no such account yet');
  const pwFile = path.join(mp.dataDir, 'web-pw.txt');
  fs.writeFileSync(pwFile, 'late-web-password-1\n');
  const add = await run(['user', 'add', 'late', '--role', 'staff', '--password-file', pwFile, '--config', mp.configFile]);
  assert.equal(add.code, 0, add.stderr);
  assert.equal(await login('late', 'late-web-password-1'), 303, 'the new account logs in without a reload');
  assert.match((await reload(mp)).msg, /^reloaded: no changes$/);
  assert.equal(await login('late', 'late-web-password-1'), 303);
  assert.equal(await login('late', 'wrong-password'), 401);
});
