import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LedgerEvent, LedgerWriter } from '../ledger/types.js';
import { LoginGuard } from './guard.js';
import { LOCK_NAME, MailboxLock } from './lock.js';
import { PasswordStore } from './passwords.js';
import { Pop3Session, type SessionIO } from './session.js';

class FakeLedger implements LedgerWriter {
  events: LedgerEvent[] = [];
  fail = false;
  append(events: LedgerEvent[]): Promise<void> {
    if (this.fail) return Promise.reject(new Error('disk full'));
    this.events.push(...events);
    return Promise.resolve();
  }
  close(): Promise<void> { return Promise.resolve(); }
}

interface Rig {
  dir: string; maildir: string; ledger: FakeLedger; out: string[]; io: SessionIO & { tlsStarted: number; closedCount: number };
  session: Pop3Session; send(line: string): Promise<string>; guard: LoginGuard;
}

const MSG1 = 'Return-Path: <a@b>\nReceived: from x (y [192.0.2.7])\n\tby mx (mailproof) with ESMTP id 0NVXBYDR8VNM;\n\tFri\nMessage-ID: <m1@x>\n\n.dot\nbody\n';

async function rig(t: { after(fn: () => void): void }, opts: { plaintext?: boolean; secure?: boolean; guard?: LoginGuard; maxAuthFailures?: number } = {}): Promise<Rig> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-p3s-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const maildir = path.join(dir, 'demo.test', 'demo');
  for (const s of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(maildir, s), { recursive: true });
  fs.writeFileSync(path.join(maildir, 'new', '100.M1.h,S=1'), MSG1);
  fs.writeFileSync(path.join(maildir, 'new', '200.M1.h,S=2'), 'Subject: two\n\nsecond\n');
  const passwords = new PasswordStore(path.join(dir, 'passwords'));
  await passwords.set('demo@demo.test', 'secret pw', { N: 1024, r: 8, p: 1 });
  const ledger = new FakeLedger();
  const out: string[] = [];
  const io = {
    clientIp: '192.0.2.7', secure: opts.secure ?? false, tlsAvailable: true, tlsStarted: 0, closedCount: 0,
    write: (s: string) => { out.push(s); },
    writeData: (b: Buffer) => { out.push(b.toString('latin1')); return Promise.resolve(); },
    startTls() { this.tlsStarted++; },
    close() { this.closedCount++; },
  };
  const guard = opts.guard ?? new LoginGuard(100);
  const session = new Pop3Session(io, {
    node: 'n1', ledger, passwords, guard,
    maildirOf: (a) => (a === 'demo@demo.test' ? maildir : null),
    allowPlaintextAuth: opts.plaintext ?? true, maxAuthFailures: opts.maxAuthFailures ?? 3,
  });
  session.greet();
  out.length = 0;
  return {
    dir, maildir, ledger, out, io, session, guard,
    async send(line) {
      out.length = 0;
      await session.line(Buffer.from(line, 'latin1'));
      return out.join('');
    },
  };
}

const kinds = (l: FakeLedger): string[] => l.events.map((e) => e.kind);

test('login, STAT, LIST, UIDL, RETR with CRLF and dot-stuffing, a pop3.retr event with the REF and Message-ID', async (t) => {
  const r = await rig(t);
  assert.equal(await r.send('USER Demo@Demo.test'), '+OK send PASS\r\n');
  assert.match(await r.send('PASS secret pw'), /^\+OK 2 messages \(\d+ octets\)/);
  assert.deepEqual(r.ledger.events.map((e) => [e.kind, e.verdict, e.rcpt, e.client_ip, e.source]), [['pop3.login', 'pass', 'demo@demo.test', '192.0.2.7', 'pop3']]);
  const size1 = Buffer.byteLength(MSG1.replace(/\n/g, '\r\n'));
  assert.equal(await r.send('LIST'), `+OK 2 messages\r\n1 ${size1}\r\n2 24\r\n.\r\n`);
  assert.equal(await r.send('UIDL 2'), '+OK 2 200.M1.h,S=2\r\n');
  const retr = await r.send('RETR 1');
  assert.equal(retr, `+OK ${size1} octets\r\n` + MSG1.replace(/\n/g, '\r\n').replace('\r\n.dot', '\r\n..dot') + '.\r\n');
  const ev = r.ledger.events.at(-1)!;
  assert.equal(ev.kind, 'pop3.retr');
  assert.equal(ev.ref, '0NVXBYDR8VNM');
  assert.equal(ev.message_id, 'm1@x');
  assert.equal(ev.size, size1);
  assert.deepEqual(ev.details, { uidl: '100.M1.h,S=1' });
  assert.equal(await r.send('TOP 2 0'), '+OK top of message follows\r\nSubject: two\r\n\r\n.\r\n');
  assert.equal(r.ledger.events.length, 2, 'TOP is not a retrieval');
});

test('DELE takes effect at QUIT only: events first, then the file goes', async (t) => {
  const r = await rig(t);
  await r.send('USER demo@demo.test');
  await r.send('PASS secret pw');
  assert.equal(await r.send('DELE 1'), '+OK message 1 deleted\r\n');
  assert.match(await r.send('RETR 1'), /^-ERR message is deleted/);
  assert.equal(await r.send('STAT'), '+OK 1 24\r\n');
  assert.ok(fs.existsSync(path.join(r.maildir, 'new', '100.M1.h,S=1')), 'still there before QUIT');
  assert.ok(fs.existsSync(path.join(r.maildir, LOCK_NAME)), 'the mailbox is locked while the session holds it');
  assert.match(await r.send('QUIT'), /^\+OK/);
  assert.deepEqual(fs.readdirSync(path.join(r.maildir, 'new')), ['200.M1.h,S=2']);
  assert.ok(!fs.existsSync(path.join(r.maildir, LOCK_NAME)), 'unlocked');
  const dele = r.ledger.events.find((e) => e.kind === 'pop3.dele')!;
  assert.equal(dele.ref, '0NVXBYDR8VNM');
  assert.equal(dele.message_id, 'm1@x');
  assert.deepEqual(r.ledger.events.at(-1)!.details, { retr: 0, dele: 1, dropped: false, method: 'user' });
  assert.equal(r.io.closedCount, 1);
});

test('RSET unmarks; a dropped connection deletes nothing and logs dropped', async (t) => {
  const r = await rig(t);
  await r.send('USER demo@demo.test');
  await r.send('PASS secret pw');
  await r.send('DELE 1');
  assert.equal(await r.send('RSET'), '+OK 2 ' + (Buffer.byteLength(MSG1.replace(/\n/g, '\r\n')) + 24) + '\r\n');
  await r.send('DELE 2');
  await r.session.drop();
  assert.equal(fs.readdirSync(path.join(r.maildir, 'new')).length, 2);
  assert.ok(!kinds(r.ledger).includes('pop3.dele'));
  assert.deepEqual(r.ledger.events.at(-1)!.details, { retr: 0, dele: 0, dropped: true, method: 'user' });
  assert.ok(!fs.existsSync(path.join(r.maildir, LOCK_NAME)));
});

test('when the ledger cannot record the deletions, QUIT answers -ERR and deletes nothing', async (t) => {
  const r = await rig(t);
  await r.send('USER demo@demo.test');
  await r.send('PASS secret pw');
  await r.send('DELE 1');
  r.ledger.fail = true;
  assert.match(await r.send('QUIT'), /^-ERR \[SYS\/TEMP\].*nothing was deleted/);
  assert.equal(fs.readdirSync(path.join(r.maildir, 'new')).length, 2);
});

test('wrong password: -ERR [AUTH], a reject event; the session closes after max_auth_failures', async (t) => {
  const r = await rig(t, { maxAuthFailures: 2 });
  await r.send('USER demo@demo.test');
  assert.equal(await r.send('PASS wrong'), '-ERR [AUTH] invalid user name or password\r\n');
  assert.deepEqual(r.ledger.events.map((e) => [e.kind, e.verdict, e.rcpt, (e.details as { reason: string }).reason]), [['pop3.login', 'reject', 'demo@demo.test', 'bad_credentials']]);
  await r.send('USER nobody@demo.test');
  assert.match(await r.send('PASS secret pw'), /^-ERR \[AUTH\] invalid user name or password\r\n-ERR \[AUTH\] too many/);
  assert.equal(r.ledger.events[1]!.rcpt, 'nobody@demo.test');
  assert.ok(r.session.closed);
});

test('hostile user names are cleaned before they reach the ledger', async (t) => {
  const r = await rig(t);
  await r.send('USER ev\x00il\rname\x1b[31m');
  assert.match(await r.send('PASS x'), /^-ERR \[AUTH\]/);
  const rcpt = r.ledger.events[0]!.rcpt!;
  assert.doesNotMatch(rcpt, /[\x00-\x1f]/);
  assert.match(rcpt, /^ev\\x00il\\x0dname\\x1b\[31m$/);
});

test('too many failures from one address in a minute: refused without checking the password', async (t) => {
  let now = 1_000_000;
  const guard = new LoginGuard(2, () => now);
  const r = await rig(t, { guard, maxAuthFailures: 100 });
  for (const pw of ['a', 'b']) { await r.send('USER demo@demo.test'); await r.send(`PASS ${pw}`); }
  await r.send('USER demo@demo.test');
  assert.match(await r.send('PASS secret pw'), /^-ERR \[AUTH\] too many failed logins from your address/);
  assert.equal((r.ledger.events.at(-1)!.details as { reason: string }).reason, 'rate_limited');
  now += 61_000;
  await r.send('USER demo@demo.test');
  assert.match(await r.send('PASS secret pw'), /^\+OK/);
});

test('plaintext auth is refused before STLS when not allowed; CAPA shows STLS but not USER', async (t) => {
  const r = await rig(t, { plaintext: false });
  const capa = await r.send('CAPA');
  assert.match(capa, /\r\nSTLS\r\n/);
  assert.doesNotMatch(capa, /USER|SASL/);
  assert.match(await r.send('USER demo@demo.test'), /^-ERR \[AUTH\] plaintext authentication is disabled/);
  assert.match(await r.send('AUTH PLAIN ' + Buffer.from('\0demo@demo.test\0secret pw').toString('base64')), /^-ERR \[AUTH\] plaintext/);
  assert.equal(r.ledger.events.length, 0);
  assert.equal(await r.send('STLS'), '+OK begin TLS negotiation\r\n');
  assert.equal(r.io.tlsStarted, 1);
  assert.equal(r.session.takeTlsRequest(), true);
});

test('AUTH PLAIN with and without initial response; a foreign authzid is refused', async (t) => {
  const r = await rig(t, { secure: true });
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  assert.equal(await r.send('AUTH PLAIN'), '+ \r\n');
  assert.match(await r.send('*'), /^-ERR authentication cancelled/);
  assert.match(await r.send('AUTH PLAIN ' + b64('other@demo.test\0demo@demo.test\0secret pw')), /^-ERR \[AUTH\]/);
  assert.equal(await r.send('AUTH PLAIN'), '+ \r\n');
  assert.match(await r.send(b64('\0demo@demo.test\0secret pw')), /^\+OK 2 messages/);
  assert.deepEqual(r.ledger.events.at(-1)!.details, { method: 'plain', tls: true });
});

test('a second session on a locked mailbox gets [IN-USE]; a stale lock of a dead process is taken over', async (t) => {
  const r1 = await rig(t);
  await r1.send('USER demo@demo.test');
  await r1.send('PASS secret pw');
  // Same Maildir, second session.
  const r2 = await rig(t);
  const lock = MailboxLock.acquire(r2.maildir);
  assert.ok(lock);
  await r2.send('USER demo@demo.test');
  assert.match(await r2.send('PASS secret pw'), /^-ERR \[IN-USE\]/);
  assert.equal((r2.ledger.events.at(-1)!.details as { reason: string }).reason, 'in_use');
  lock.release();
  fs.writeFileSync(path.join(r2.maildir, LOCK_NAME), '999999999\n');
  await r2.send('USER demo@demo.test');
  assert.match(await r2.send('PASS secret pw'), /^\+OK/);
  assert.equal(fs.readFileSync(path.join(r2.maildir, LOCK_NAME), 'utf8'), `${process.pid}\n`);
});

test('commands out of state, bad numbers and unknown commands get -ERR and the session goes on', async (t) => {
  const r = await rig(t);
  assert.match(await r.send('STAT'), /^-ERR/);
  assert.match(await r.send('PASS x'), /^-ERR USER first/);
  assert.match(await r.send('\x00\x01\x02'), /^-ERR unknown command/);
  r.session.tooLong();
  await r.send('USER demo@demo.test');
  await r.send('PASS secret pw');
  for (const c of ['RETR', 'RETR 0', 'RETR 3', 'RETR -1', 'RETR 99999999999', 'TOP 1', 'DELE x', 'LIST 7']) {
    assert.match(await r.send(c), /^-ERR/, c);
  }
  assert.equal(await r.send('NOOP'), '+OK\r\n');
});
