// A full disk under the Maildirs: a message for two mailboxes that cannot be
// stored gets 451 4.3.0 and leaves no copy anywhere (all or none); once there
// is room again the same message is stored exactly once per mailbox.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { IN_CI } from '../../helpers/env.js';
import { listNew, startServer, type Instance } from '../../helpers/server.js';
import { RawSmtp, sendMail } from '../../helpers/smtp-client.js';

const BOXES = ['alice', 'bob'] as const;

/** Mounts a tmpfs; outside CI a failure skips the test, under CI it fails it. */
function mountTmpfs(t: TestContext, dir: string, options: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'pipe' });
    return true;
  } catch (err) {
    const why = `cannot mount a tmpfs (needs root): ${(err as Error).message.split('\n')[0]}`;
    if (IN_CI) throw new Error(why);
    t.skip(why);
    return false;
  }
}

function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  }
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/** Writes into `file` until the file system has no room left. */
function fillSpace(file: string): number {
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let total = 0;
  try {
    for (let size = chunk.length; size >= 1;) {
      try {
        const n = fs.writeSync(fd, chunk, 0, size);
        total += n;
        if (n < size) size = Math.floor(size / 2);
      } catch (err) {
        if (errno(err) !== 'ENOSPC') throw err;
        size = Math.floor(size / 2);
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return total;
}

/** Creates empty files in `dir` until no inode is left; returns their paths. */
function fillInodes(dir: string): string[] {
  fs.mkdirSync(dir);
  const made: string[] = [];
  for (let i = 0; i < 100_000; i++) {
    const f = path.join(dir, `f${i}`);
    try {
      fs.closeSync(fs.openSync(f, 'wx'));
    } catch (err) {
      if (errno(err) === 'ENOSPC') return made;
      throw err;
    }
    made.push(f);
  }
  throw new Error('the inode limit was never reached');
}

function message(token: string, to: string): string {
  return [
    'From: <sender@example.org>',
    `To: ${to}`,
    `Subject: disk full ${token}`,
    `Message-ID: <${token}@disk-full.test>`,
    '',
    ...Array.from({ length: 200 }, (_, k) => `line ${k} ${token} ${'y'.repeat(60)}`),
    `END ${token}`,
    '',
  ].join('\r\n');
}

interface Setup {
  mnt: string;
  srv: Instance;
  maildir(box: string, sub: 'new' | 'tmp' | 'cur'): string;
  /** Every file under new/ and tmp/ of alice and bob, as "box/sub/name (N bytes)". */
  files(): string[];
}

/**
 * A tmpfs as Maildir root (the ledger stays in the normal data dir), a server
 * on it, and cleanup in the right order: server, mount, directories.
 */
async function withTmpfsMaildir(t: TestContext, mountOptions: string, body: (s: Setup) => Promise<void>): Promise<void> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-diskfull-'));
  const mnt = path.join(base, 'mnt');
  fs.mkdirSync(mnt);
  let mounted = false;
  let srv: Instance | null = null;
  try {
    mounted = mountTmpfs(t, mnt, mountOptions);
    if (!mounted) return;
    srv = await startServer({ dataDir: path.join(base, 'data'), config: { delivery: { maildir_root: mnt } } });
    const maildir = (box: string, sub: 'new' | 'tmp' | 'cur'): string => path.join(mnt, 'demo.test', box, sub);
    const files = (): string[] => BOXES.flatMap((b) => (['new', 'tmp'] as const).flatMap((sub) => listNew(maildir(b, sub)).map((f) => {
      const size = fs.statSync(path.join(maildir(b, sub), f)).size;
      return `${b}/${sub}/${f} (${size} bytes)`;
    })));
    await body({ mnt, srv, maildir, files });
    assert.equal(await srv.stop(), 0);
  } finally {
    await srv?.kill9().catch(() => undefined);
    if (mounted) unmount(mnt);
    fs.rmSync(base, { recursive: true, force: true });
  }
}

async function outcomes(srv: Instance, rcpt: string): Promise<Map<string, string[]>> {
  const { journeys } = await srv.trace(['--rcpt', rcpt]);
  const out = new Map<string, string[]>();
  for (const j of journeys) {
    const tok = /<?([^@>]+)@disk-full\.test>?/.exec(String(j.message_id ?? ''))?.[1] ?? `ref:${String(j.ref)}`;
    out.set(tok, [...(out.get(tok) ?? []), String(j.outcome)]);
  }
  return out;
}

test('Maildir file system full: 451 and no copy for either recipient, then one copy each after space is freed', { timeout: 120_000 }, async (t) => {
  await withTmpfsMaildir(t, 'size=2m,mode=0700', async ({ mnt, srv, maildir, files }) => {
    const rcpts = BOXES.map((b) => `${b}@demo.test`);
    const token1 = `full-${randomBytes(4).toString('hex')}`;
    const filler = path.join(mnt, 'filler');

    await t.test('disk full: 451 4.3.0, neither mailbox keeps a copy in new/ or tmp/', async () => {
      const filled = fillSpace(filler);
      assert.ok(filled > 0);
      assert.equal(fs.statfsSync(mnt).bavail, 0, 'the file system is full');
      const r = await sendMail(srv.port, { from: 'sender@example.org', to: rcpts, body: message(token1, rcpts.join(', ')) });
      assert.match(r.final ?? '', /^451 4\.3\.0 /, `replies: ${JSON.stringify(r.replies)}`);
      assert.deepEqual(files(), [], 'all or none: no copy may remain in new/ or tmp/');
    });

    await t.test('the ledger says tempfailed for both recipients', async () => {
      for (const rcpt of rcpts) {
        assert.deepEqual((await outcomes(srv, rcpt)).get(token1), ['tempfailed'], rcpt);
      }
    });

    await t.test('space freed: 250 and exactly one copy in each mailbox', async () => {
      fs.rmSync(filler, { force: true });
      // A leftover of the failed attempt (see the test above) must not count.
      const before = new Map(BOXES.map((b) => [b, new Set(listNew(maildir(b, 'new')))]));
      const token2 = `free-${randomBytes(4).toString('hex')}`;
      const r = await sendMail(srv.port, { from: 'sender@example.org', to: rcpts, body: message(token2, rcpts.join(', ')) });
      assert.match(r.final ?? '', /^250 /, `replies: ${JSON.stringify(r.replies)}`);
      for (const b of BOXES) {
        const added = listNew(maildir(b, 'new')).filter((f) => !before.get(b)!.has(f));
        assert.equal(added.length, 1, `${b}: exactly one new copy`);
        const text = fs.readFileSync(path.join(maildir(b, 'new'), added[0]!), 'utf8');
        assert.ok(text.includes(`Message-ID: <${token2}@disk-full.test>`), `${b}: the copy is the resent message`);
        assert.ok(text.endsWith(`\nEND ${token2}\n`), `${b}: the copy is complete`);
        assert.equal(listNew(maildir(b, 'new')).filter((f) => fs.readFileSync(path.join(maildir(b, 'new'), f), 'utf8').includes(token1)).length, 0,
          `${b}: the refused message was not stored after all`);
      }
      for (const rcpt of rcpts) assert.deepEqual((await outcomes(srv, rcpt)).get(token2), ['delivered'], rcpt);
    });
  });
});

test('no inode left for the second copy (alias team@ -> alice, bob): 451 and the first copy is taken back', { timeout: 120_000 }, async (t) => {
  // Each Maildir copy after the first is a hard link, and on tmpfs a link
  // takes an inode: with exactly one inode free, the first copy is written and
  // the link for the second fails.
  await withTmpfsMaildir(t, 'size=4m,nr_inodes=64,mode=0700', async ({ mnt, srv, maildir, files }) => {
    const token1 = `inodes-${randomBytes(4).toString('hex')}`;
    const fillers = fillInodes(path.join(mnt, 'fill'));
    assert.ok(fillers.length > 0);
    fs.rmSync(fillers.pop()!); // exactly one inode free

    await t.test('one inode free: 451 4.3.0, no copy in new/ or tmp/', async () => {
      const r = await sendMail(srv.port, { from: 'sender@example.org', to: ['team@demo.test'], body: message(token1, '<team@demo.test>') });
      assert.match(r.final ?? '', /^451 4\.3\.0 /, `replies: ${JSON.stringify(r.replies)}`);
      assert.deepEqual(files(), [], 'all or none: no copy may remain in new/ or tmp/');
      assert.deepEqual((await outcomes(srv, 'team@demo.test')).get(token1), ['tempfailed']);
    });

    await t.test('inodes freed: 250, exactly one copy in each mailbox', async () => {
      for (const f of fillers) fs.rmSync(f);
      const before = new Map(BOXES.map((b) => [b, new Set(listNew(maildir(b, 'new')))]));
      const token2 = `inodes-ok-${randomBytes(4).toString('hex')}`;
      const r = await sendMail(srv.port, { from: 'sender@example.org', to: ['team@demo.test'], body: message(token2, '<team@demo.test>') });
      assert.match(r.final ?? '', /^250 /, `replies: ${JSON.stringify(r.replies)}`);
      for (const b of BOXES) {
        const added = listNew(maildir(b, 'new')).filter((f) => !before.get(b)!.has(f));
        assert.equal(added.length, 1, `${b}: exactly one new copy`);
        const text = fs.readFileSync(path.join(maildir(b, 'new'), added[0]!), 'utf8');
        assert.ok(text.includes(`<${token2}@disk-full.test>`) && text.endsWith(`\nEND ${token2}\n`), `${b}: complete copy of the resent message`);
      }
      for (const b of BOXES) assert.deepEqual(listNew(maildir(b, 'tmp')), [], `${b}: tmp/ is empty`);
    });
  });
});

test('ledger file system full after RCPT: no 250 and no copy in new/ (nothing accepted without a record)', { timeout: 120_000 }, async (t) => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-ledgerfull-'));
  const mnt = path.join(base, 'mnt');
  fs.mkdirSync(mnt);
  let mounted = false;
  let srv: Instance | null = null;
  let client: RawSmtp | null = null;
  try {
    mounted = mountTmpfs(t, mnt, 'size=2m,mode=0700');
    if (!mounted) return;
    srv = await startServer({ dataDir: path.join(base, 'data'), config: { ledger: { journal_dir: path.join(mnt, 'journal') } } });
    const newDir = srv.newDir('demo@demo.test');
    const tmpDir = path.join(path.dirname(newDir), 'tmp');
    const token = `ledger-${randomBytes(4).toString('hex')}`;
    const filler = path.join(mnt, 'filler');

    client = await RawSmtp.connect(srv.port);
    assert.match((await client.reply()) ?? '', /^220 /);
    assert.match((await client.cmd('EHLO client.example.org')) ?? '', /^250[ -]/);
    assert.match((await client.cmd('MAIL FROM:<sender@example.org>')) ?? '', /^250 /);
    assert.match((await client.cmd('RCPT TO:<demo@demo.test>')) ?? '', /^250 /);
    // The events so far were handed to the writer; give its commit a moment.
    await new Promise((r) => setTimeout(r, 300));
    fillSpace(filler);
    assert.match((await client.cmd('DATA')) ?? '', /^354 /);
    const body = message(token, '<demo@demo.test>').replace(/^\./gm, '..');
    const final = await client.cmd(body + '.');
    assert.match(final ?? '', /^4\d\d 4\.3\.0 /, 'a message that cannot be recorded is not accepted');
    // It is the journal that refused: its write failed for want of space.
    assert.match(srv.output(), /"err":"journal [^"]*ENOSPC[^"]*","session":"[^"]+","msg":"ledger write failed"/);
    assert.deepEqual(listNew(newDir), [], 'no copy in new/');
    assert.deepEqual(listNew(tmpDir), [], 'no copy in tmp/');
    await client.cmd('QUIT');
    await client.close();
    client = null;

    fs.rmSync(filler);
    const r = await sendMail(srv.port, { from: 'sender@example.org', to: ['demo@demo.test'], body: message(`${token}-2`, '<demo@demo.test>') });
    assert.match(r.final ?? '', /^250 /, `after space is freed the ledger works again: ${JSON.stringify(r.replies)}`);
    assert.equal(listNew(newDir).length, 1);
    assert.equal(await srv.stop(), 0);
  } finally {
    await client?.close();
    await srv?.kill9().catch(() => undefined);
    if (mounted) unmount(mnt);
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test('a broken ledger does not flood the log: each error a few times per window, then a count', { timeout: 120_000 }, async (t) => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-ledgerflood-'));
  const mnt = path.join(base, 'mnt');
  fs.mkdirSync(mnt);
  let mounted = false;
  let srv: Instance | null = null;
  try {
    mounted = mountTmpfs(t, mnt, 'size=2m,mode=0700');
    if (!mounted) return;
    srv = await startServer({ dataDir: path.join(base, 'data'), config: { ledger: { journal_dir: path.join(mnt, 'journal') } } });
    fillSpace(path.join(mnt, 'filler'));
    // Sessions with long senders until the journal can no longer grow (its
    // open segment may still have room at first), then 60 more that fail.
    const replies: string[] = [];
    let failing = 0;
    const t0 = Date.now();
    for (let i = 0; i < 400 && failing < 60; i++) {
      const c = await RawSmtp.connect(srv.port);
      await c.reply();
      await c.cmd(`EHLO flood${i}.example.org`);
      await c.cmd(`MAIL FROM:<${'x'.repeat(200)}@example.org>`);
      const r = (await c.cmd('RCPT TO:<demo@demo.test>')) ?? '';
      replies.push(r);
      if (/^451 /.test(r)) failing++;
      await c.cmd('QUIT');
      await c.close();
    }
    assert.ok(failing > 0, 'the broken ledger shows as 451');
    const failures = srv.output().split('\n').filter((l) => l.includes('"msg":"ledger write failed"'));
    t.diagnostic(`ledger error lines: ${failures.length}`);
    assert.ok(failures.length >= 1, 'the failure is logged');
    // 5 lines per 10 s window (log/throttle.ts); the 60 failing sessions alone
    // would write three or more each without it.
    const allowed = 5 * (Math.ceil((Date.now() - t0) / 10_000) + 1);
    assert.ok(failures.length <= allowed, `at most a burst per window, not one per event (${failures.length} > ${allowed})`);
  } finally {
    await srv?.kill9().catch(() => undefined);
    if (mounted) unmount(mnt);
    fs.rmSync(base, { recursive: true, force: true });
  }
});
