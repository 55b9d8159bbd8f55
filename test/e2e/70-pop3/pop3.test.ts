// The POP3 server against real clients: Python's poplib and curl, plus a raw
// socket where exact bytes or a dropped connection matter. Mail is delivered
// through mailproof's own SMTP side first, so the REF in the ledger events is
// the one the 250 reply gave.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { requireTool } from '../../helpers/env.js';
import { freePort, listNew, run, startServer, BIN, type Instance } from '../../helpers/server.js';
import { sendMail } from '../../helpers/smtp-client.js';
import { testStore } from '../../helpers/event-table.js';
import type { StoredEvent } from '../../../src/ledger/types.js';

const REF = /\(ref ([0-9A-HJKMNP-TV-Z]{12})\)$/;
const DEMO = 'demo@demo.test';
const PW = 'correct horse battery';

// One poplib session: a list of steps, each answered with its reply (or the
// -ERR poplib raised), as JSON. "drop" closes the socket without QUIT.
const POPLIB = String.raw`
import json, poplib, ssl, sys
a = json.loads(sys.argv[1])
out = []
c = poplib.POP3(a['host'], a['port'], timeout=20)
def s(b): return b.decode('latin-1') if isinstance(b, bytes) else b
for step in a['steps']:
    op, args = step[0], step[1:]
    try:
        if op == 'stls':
            ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
            r = s(c.stls(ctx))
        elif op == 'capa':
            r = sorted(c.capa().keys())
        elif op in ('retr', 'top', 'list', 'uidl'):
            resp = getattr(c, op)(*args)
            r = {'resp': s(resp[0]), 'lines': [s(l) for l in resp[1]]}
        elif op == 'stat':
            r = list(c.stat())
        elif op == 'pass':
            r = s(c.pass_(*args))
        elif op == 'drop':
            c.sock.close(); r = 'dropped'
        else:
            r = s(getattr(c, op)(*args))
        out.append({'op': op, 'ok': r})
    except poplib.error_proto as e:
        out.append({'op': op, 'err': s(e.args[0])})
print(json.dumps(out))
`;

type Step = (string | number)[];
type Result = { op: string; ok?: unknown; err?: string };

function poplib(port: number, steps: Step[]): Promise<Result[]> {
  return new Promise((resolve, reject) => {
    const p = spawn('python3', ['-c', POPLIB, JSON.stringify({ host: '127.0.0.1', port, steps })]);
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as Result[]) : reject(new Error(`python3 exited ${code}: ${err}`))));
  });
}

function curl(args: string[]): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn('curl', ['-s', '-S', '--max-time', '20', ...args]);
    const out: Buffer[] = [];
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
  });
}

/** A raw POP3 client for exact bytes, hostile input and dropped connections. */
class RawPop {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;
  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.wake(); });
    socket.on('close', () => { this.closed = true; this.wake(); });
    socket.on('error', () => { this.closed = true; this.wake(); });
  }
  private wake(): void { const w = this.waiters; this.waiters = []; for (const f of w) f(); }
  static connect(port: number, localAddress?: string): Promise<RawPop> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1', localAddress }, () => resolve(new RawPop(s)));
      s.once('error', reject);
    });
  }
  /** The next reply: one line, or with multi up to and including the "." line. */
  async reply(multi = false): Promise<string> {
    const deadline = Date.now() + 15000;
    for (;;) {
      const text = this.buf.toString('latin1');
      const firstEnd = text.indexOf('\r\n');
      if (firstEnd >= 0) {
        const single = !multi || text.startsWith('-ERR');
        const term = single ? -1 : text.indexOf('\r\n.\r\n', firstEnd);
        const end = single ? firstEnd + 2 : term >= 0 ? term + 5 : -1;
        if (end > 0) {
          this.buf = this.buf.subarray(end);
          return text.slice(0, end);
        }
      }
      if (this.closed) return text;
      if (Date.now() > deadline) throw new Error(`no reply; buffer ${JSON.stringify(text.slice(0, 200))}`);
      await new Promise<void>((r) => { const t = setTimeout(r, 200); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
  }
  async cmd(line: string | Buffer, multi = false): Promise<string> {
    this.socket.write(typeof line === 'string' ? `${line}\r\n` : line);
    return this.reply(multi);
  }
  destroy(): void { this.socket.destroy(); }
}

async function pop3Events(mp: Instance): Promise<StoredEvent[]> {
  const r = await testStore(path.join(mp.dataDir, 'store.sqlite'));
  try {
    return (await r.query({ since: 0, limit: 100000 })).filter((e) => e.source === 'pop3');
  } finally {
    await r.close();
  }
}

async function waitFor<T>(what: string, f: () => Promise<T | undefined | null | false>): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await f();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function setPassword(mp: Instance, addr: string, pw: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, 'mailbox', 'set-password', addr, '--config', path.join(mp.dataDir, 'test-config.yaml')]);
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('close', (code) => resolve({ code, out }));
    p.stdin.end(`${pw}\n`);
  });
}

const crlf = (b: Buffer): string => b.toString('latin1').replace(/\r?\n/g, '\r\n');

test('POP3 with poplib and curl: content, DELE at QUIT only, locks, wrong passwords, hostile input, trace', async (t) => {
  if (!requireTool(t, 'python3') || !requireTool(t, 'curl')) return;
  const popPort = await freePort();
  const mp = await startServer({ config: { pop3: { listen: [`127.0.0.1:${popPort}`], allow_plaintext_auth: true } } });
  t.after(async () => { await mp.stop(); fs.rmSync(mp.dataDir, { recursive: true, force: true }); });
  assert.match(mp.output(), new RegExp(`mailproof: POP3 on 127\\.0\\.0\\.1:${popPort}`));

  const cfgFile = path.join(mp.dataDir, 'test-config.yaml');
  const set = await setPassword(mp, DEMO, PW);
  assert.equal(set.code, 0, set.out);
  assert.doesNotMatch(fs.readFileSync(path.join(mp.dataDir, 'passwords'), 'utf8'), /horse/);
  assert.equal(fs.statSync(path.join(mp.dataDir, 'passwords')).mode & 0o777, 0o600);
  const unknown = await run(['mailbox', 'set-password', 'team@demo.test', '--config', cfgFile, '--password-file', '/dev/null']);
  assert.equal(unknown.code, 64, 'an alias is not a mailbox');
  const list = await run(['mailbox', 'list', '--json', '--config', cfgFile]);
  assert.deepEqual((JSON.parse(list.stdout) as { mailboxes: { address: string; password: boolean }[] }).mailboxes.find((m) => m.address === DEMO), { address: DEMO, password: true });

  const m1 = await sendMail(mp.port, { from: 'sender@example.org', to: [DEMO], body: 'Subject: one\nMessage-ID: <e2e-1@example.org>\n\nfirst line\n.leading dot\n..two dots\nlast\n' });
  const m2 = await sendMail(mp.port, { from: 'sender@example.org', to: [DEMO], body: 'Subject: two\nMessage-ID: <e2e-2@example.org>\n\nsecond message\n' });
  const ref1 = REF.exec(m1.final ?? '')?.[1];
  const ref2 = REF.exec(m2.final ?? '')?.[1];
  assert.ok(ref1 && ref2, `${m1.final} / ${m2.final}`);
  const newDir = mp.newDir(DEMO);
  const files = listNew(newDir);
  assert.equal(files.length, 2);
  const stored = files.map((f) => fs.readFileSync(path.join(newDir, f)));
  const which = stored[0]!.includes('e2e-1@') ? 0 : 1;
  const [f1, f2] = which === 0 ? files : [files[1]!, files[0]!];
  const [c1, c2] = which === 0 ? stored : [stored[1]!, stored[0]!];
  const n1 = files.indexOf(f1!) + 1;
  const n2 = files.indexOf(f2!) + 1;

  await t.test('poplib: STAT, LIST, UIDL, TOP and RETR give what was delivered, with CRLF sizes', async () => {
    const r = await poplib(popPort, [['user', DEMO], ['pass', PW], ['stat'], ['list'], ['uidl'], ['top', n1, 0], ['retr', n1], ['retr', n2], ['quit']]);
    assert.ok(r.every((x) => x.ok !== undefined), JSON.stringify(r));
    const size1 = Buffer.byteLength(crlf(c1!), 'latin1');
    const size2 = Buffer.byteLength(crlf(c2!), 'latin1');
    assert.deepEqual(r[2]!.ok, [2, size1 + size2]);
    assert.deepEqual((r[3]!.ok as { lines: string[] }).lines.sort(), [`${n1} ${size1}`, `${n2} ${size2}`].sort());
    assert.deepEqual((r[4]!.ok as { lines: string[] }).lines.sort(), [`${n1} ${f1}`, `${n2} ${f2}`].sort());
    const top = (r[5]!.ok as { lines: string[] }).lines;
    assert.equal(top.join('\r\n') + '\r\n', crlf(c1!).split('\r\n\r\n')[0] + '\r\n\r\n');
    // poplib removes the dot-stuffing (RFC 1939 section 3) and the line ends.
    assert.equal((r[6]!.ok as { lines: string[] }).lines.join('\r\n') + '\r\n', crlf(c1!));
    assert.equal((r[7]!.ok as { lines: string[] }).lines.join('\r\n') + '\r\n', crlf(c2!));
    const retr = (await pop3Events(mp)).filter((e) => e.kind === 'pop3.retr');
    assert.deepEqual(retr.map((e) => [e.ref, e.message_id, e.rcpt, e.client_ip, e.size]).sort(),
      [[ref1, 'e2e-1@example.org', DEMO, '127.0.0.1', size1], [ref2, 'e2e-2@example.org', DEMO, '127.0.0.1', size2]].sort());
  });

  await t.test('raw bytes: RETR is CRLF-terminated and dot-stuffed; curl fetches the same message', async () => {
    const c = await RawPop.connect(popPort);
    try {
      assert.match(await c.reply(), /^\+OK/);
      await c.cmd(`USER ${DEMO}`);
      assert.match(await c.cmd(`PASS ${PW}`), /^\+OK 2 messages/);
      const raw = await c.cmd(`RETR ${n1}`, true);
      const body = crlf(c1!).replace(/\r\n\./g, '\r\n..');
      assert.equal(raw, `+OK ${Buffer.byteLength(crlf(c1!), 'latin1')} octets\r\n${body}.\r\n`);
      assert.match(raw, /\r\n\.\.leading dot\r\n\.\.\.two dots\r\n/);
      assert.match(await c.cmd('QUIT'), /^\+OK/);
    } finally {
      // A failure above must not leave the mailbox locked for the next subtests.
      c.destroy();
    }
    const got = await curl([`pop3://127.0.0.1:${popPort}/${n1}`, '-u', `${DEMO}:${PW}`]);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout.toString('latin1'), crlf(c1!));
  });

  await t.test('DELE then a dropped connection deletes nothing and writes no pop3.dele', async () => {
    const before = (await pop3Events(mp)).length;
    const c = await RawPop.connect(popPort);
    await c.reply();
    await c.cmd(`USER ${DEMO}`);
    await c.cmd(`PASS ${PW}`);
    assert.match(await c.cmd(`DELE ${n1}`), /^\+OK/);
    assert.match(await c.cmd(`DELE ${n2}`), /^\+OK/);
    c.destroy();
    const logout = await waitFor('the logout of the dropped session', async () => (await pop3Events(mp)).slice(before).find((e) => e.kind === 'pop3.logout'));
    assert.deepEqual(logout.details, { retr: 0, dele: 0, dropped: true, method: 'user' });
    assert.deepEqual(listNew(newDir), files);
    assert.equal((await pop3Events(mp)).filter((e) => e.kind === 'pop3.dele').length, 0);
  });

  await t.test('a second session on a locked mailbox gets [IN-USE]', async () => {
    const holder = await RawPop.connect(popPort);
    await holder.reply();
    await holder.cmd(`USER ${DEMO}`);
    assert.match(await holder.cmd(`PASS ${PW}`), /^\+OK/);
    const r = await poplib(popPort, [['user', DEMO], ['pass', PW]]);
    assert.match(r[1]!.err ?? '', /^-ERR \[IN-USE\]/);
    assert.match(await holder.cmd('QUIT'), /^\+OK/);
    holder.destroy();
    const again = await poplib(popPort, [['user', DEMO], ['pass', PW], ['quit']]);
    assert.match(String(again[1]!.ok), /^\+OK/, 'free again after QUIT');
  });

  await t.test('DELE then QUIT removes the file and records pop3.dele with the REF and Message-ID first', async () => {
    const r = await poplib(popPort, [['user', DEMO], ['pass', PW], ['dele', n1], ['quit']]);
    assert.ok(r.every((x) => x.ok !== undefined), JSON.stringify(r));
    // poplib's quit() returned: the +OK is out, so the event must already be there.
    const dele = (await pop3Events(mp)).filter((e) => e.kind === 'pop3.dele');
    assert.deepEqual(dele.map((e) => [e.ref, e.message_id, e.rcpt, e.client_ip, (e.details as { uidl: string }).uidl]),
      [[ref1, 'e2e-1@example.org', DEMO, '127.0.0.1', f1]]);
    assert.deepEqual(listNew(newDir), [f2]);
    const logout = (await pop3Events(mp)).filter((e) => e.kind === 'pop3.logout').at(-1)!;
    assert.deepEqual(logout.details, { retr: 0, dele: 1, dropped: false, method: 'user' });
  });

  await t.test('wrong passwords: -ERR and a pop3.login reject with the client IP', async () => {
    const got = await curl(['--interface', '127.0.0.5', `pop3://127.0.0.1:${popPort}/`, '-u', `${DEMO}:wrong`]);
    assert.notEqual(got.code, 0);
    const c = await RawPop.connect(popPort, '127.0.0.6');
    await c.reply();
    await c.cmd('USER nobody@demo.test');
    assert.equal(await c.cmd('PASS whatever'), '-ERR [AUTH] invalid user name or password\r\n');
    c.destroy();
    const rejects = await waitFor('two rejects', async () => {
      const l = (await pop3Events(mp)).filter((e) => e.kind === 'pop3.login' && e.verdict === 'reject' && (e.client_ip === '127.0.0.5' || e.client_ip === '127.0.0.6'));
      return l.length >= 2 && l;
    });
    assert.deepEqual(rejects.map((e) => [e.client_ip, e.rcpt]).sort(), [['127.0.0.5', DEMO], ['127.0.0.6', 'nobody@demo.test']]);
  });

  await t.test('hostile input: NUL/CR/LF in USER and a 1 MB line break neither the session nor the ledger', async () => {
    const c = await RawPop.connect(popPort, '127.0.0.7');
    await c.reply();
    assert.match(await c.cmd(Buffer.from('USER ev\x00il\rname\x1b[2J\r\n', 'latin1')), /^\+OK/);
    assert.match(await c.cmd('PASS x'), /^-ERR \[AUTH\]/);
    assert.match(await c.cmd(Buffer.concat([Buffer.alloc(1024 * 1024, 0x41), Buffer.from('\r\n')])), /^-ERR line too long/);
    // An LF alone ends a line: "USER a\nPASS b" are two commands, never one name with a newline.
    assert.match(await c.cmd('USER inj\nPASS'), /^\+OK send PASS/);
    assert.match(await c.reply(), /^-ERR/);
    assert.match(await c.cmd('CAPA', true), /^\+OK capability list follows\r\n[\s\S]*\r\n\.\r\n$/);
    await c.cmd(`USER ${DEMO}`);
    assert.match(await c.cmd(`PASS ${PW}`), /^\+OK 1 messages/);
    assert.match(await c.cmd('QUIT'), /^\+OK/);
    c.destroy();
    const mine = (await pop3Events(mp)).filter((e) => e.client_ip === '127.0.0.7');
    assert.ok(mine.some((e) => e.verdict === 'reject' && e.rcpt === 'ev\\x00il\\x0dname\\x1b[2j'), JSON.stringify(mine.map((e) => e.rcpt)));
    for (const e of mine) assert.doesNotMatch(JSON.stringify(e.rcpt), /[\x00-\x1f]/);
    assert.ok(mine.some((e) => e.kind === 'pop3.login' && e.verdict === 'pass'));
  });

  await t.test('trace --rcpt --json shows the pop3 events in the journey of the delivery', async () => {
    const { journeys } = await mp.trace(['--rcpt', DEMO]);
    const j = journeys.find((x) => x.ref === ref1)!;
    assert.ok(j, JSON.stringify(journeys.map((x) => x.ref)));
    const kinds = j.events.map((e) => e.kind);
    assert.ok(kinds.includes('message.delivered'));
    assert.ok(kinds.includes('pop3.retr'));
    assert.ok(kinds.includes('pop3.dele'));
    const dele = j.events.find((e) => e.kind === 'pop3.dele')!;
    assert.equal(dele.client_ip, '127.0.0.1');
    assert.equal(dele.source, 'pop3');
  });
});

test('POP3 without plaintext auth: USER refused before STLS; poplib STLS then login works', async (t) => {
  if (!requireTool(t, 'python3')) return;
  const popPort = await freePort();
  const mp = await startServer({ config: { pop3: { listen: [`127.0.0.1:${popPort}`] } } });
  t.after(async () => { await mp.stop(); fs.rmSync(mp.dataDir, { recursive: true, force: true }); });
  assert.equal((await setPassword(mp, DEMO, PW)).code, 0);
  const r = await poplib(popPort, [['capa'], ['user', DEMO], ['stls'], ['capa'], ['user', DEMO], ['pass', PW], ['stat'], ['quit']]);
  assert.ok((r[0]!.ok as string[]).includes('STLS'));
  assert.ok(!(r[0]!.ok as string[]).includes('USER'));
  assert.match(r[1]!.err ?? '', /^-ERR \[AUTH\] plaintext authentication is disabled/);
  assert.match(String(r[2]!.ok), /^\+OK/);
  assert.ok((r[3]!.ok as string[]).includes('USER') && !(r[3]!.ok as string[]).includes('STLS'), JSON.stringify(r[3]));
  assert.match(String(r[5]!.ok), /^\+OK 0 messages/);
  assert.deepEqual(r[6]!.ok, [0, 0]);
  const login = (await pop3Events(mp)).find((e) => e.kind === 'pop3.login')!;
  assert.deepEqual([login.verdict, login.details], ['pass', { method: 'user', tls: true }]);
  assert.equal((await pop3Events(mp)).filter((e) => e.kind === 'pop3.login').length, 1, 'the refused USER sent no password and is no login attempt');
});
