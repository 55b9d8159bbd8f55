import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MaildirTarget, uniqueName } from './index.js';

function root(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'mp-maildir-'));
}

const msg = { prefix: Buffer.from('Received: x\n'), body: { buffer: Buffer.from('Subject: hi\n\nbody\n') }, size: 18 };

test('one copy per distinct mailbox in new/, nothing left in tmp/', async () => {
  const r = root();
  const t = new MaildirTarget(r, 'mx.test');
  const a = { domain: 'd.test', local: 'a' };
  const b = { domain: 'd.test', local: 'b' };
  const stored = await t.deliver(msg, [a, b, a]);
  assert.equal(stored.length, 2);
  for (const m of [a, b]) {
    const files = fs.readdirSync(path.join(r, 'd.test', m.local, 'new'));
    assert.equal(files.length, 1);
    assert.match(files[0]!, /,S=30$/);
    assert.equal(fs.readFileSync(path.join(r, 'd.test', m.local, 'new', files[0]!), 'utf8'), 'Received: x\nSubject: hi\n\nbody\n');
    assert.deepEqual(fs.readdirSync(path.join(r, 'd.test', m.local, 'tmp')), []);
  }
});

test('names sort the same as text and as numbers: microseconds have six digits', () => {
  // 5 ms and 120 ms into one second: unpadded, "M5000" would sort after "M120000" as text.
  const early = uniqueName('mx.test', 1, 1764300000005);
  const late = uniqueName('mx.test', 1, 1764300000120);
  assert.match(early, /^1764300000\.M005000P\d+Q\d+R[0-9a-f]{8}\.mx\.test,S=1$/);
  assert.deepEqual([late, early].sort(), [early, late]);
  assert.deepEqual([late, early].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })), [early, late]);
});

test('spooled bodies are copied from their file', async () => {
  const r = root();
  const spool = path.join(r, 'spool');
  fs.writeFileSync(spool, 'Subject: big\n\n' + 'x'.repeat(300000) + '\n');
  const t = new MaildirTarget(r, 'mx.test');
  const [c] = await t.deliver({ prefix: Buffer.from('Received: y\n'), body: { path: spool }, size: fs.statSync(spool).size }, [{ domain: 'd.test', local: 'a' }]);
  assert.equal(fs.statSync(c!.location).size, 12 + fs.statSync(spool).size);
});

test('all or none: when one mailbox cannot be written, no mailbox keeps a copy', async () => {
  const r = root();
  const t = new MaildirTarget(r, 'mx.test');
  const good = { domain: 'd.test', local: 'good' };
  const bad = { domain: 'd.test', local: 'bad' };
  await t.ensure(good);
  await t.ensure(bad);
  // new/ of the second mailbox is replaced by a file: the rename into it fails.
  fs.rmSync(path.join(r, 'd.test', 'bad', 'new'), { recursive: true });
  fs.writeFileSync(path.join(r, 'd.test', 'bad', 'new'), '');
  await assert.rejects(t.deliver(msg, [good, bad]), (e: Error & { temporary?: boolean }) => e.temporary === true);
  assert.deepEqual(fs.readdirSync(path.join(r, 'd.test', 'good', 'new')), []);
  assert.deepEqual(fs.readdirSync(path.join(r, 'd.test', 'good', 'tmp')), []);
  assert.deepEqual(fs.readdirSync(path.join(r, 'd.test', 'bad', 'tmp')), []);
});

test('concurrent deliveries into one mailbox all land and are all flushed', async () => {
  const r = root();
  const t = new MaildirTarget(r, 'mx.test');
  const box = { domain: 'd.test', local: 'busy' };
  const stored = await Promise.all(Array.from({ length: 50 }, () => t.deliver(msg, [box])));
  assert.equal(stored.length, 50);
  assert.equal(fs.readdirSync(path.join(r, 'd.test', 'busy', 'new')).length, 50);
});

test('sweepTmp removes only our own leftovers of dead processes (and ours older than 36 h)', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-sweep-'));
  const t = new MaildirTarget(root, 'mx.example.net', false);
  const box = { local: 'u', domain: 'example.net' };
  const dir = await t.ensure(box);
  const now = Date.now();
  const sec = Math.floor(now / 1000);
  const dead = `${sec}.M1P999999999Q1R0123abcd.mx.example.net,S=10`;
  const live = `${sec}.M1P${process.pid}Q2R0123abcd.mx.example.net,S=10`;
  const oldLive = `${sec - 37 * 3600}.M1P${process.pid}Q3R0123abcd.mx.example.net,S=10`;
  const otherHost = `${sec}.M1P999999999Q4R0123abcd.mx.other.net,S=10`;
  const dovecot = '1764230000.M123P4567.host,S=10';
  for (const n of [dead, live, oldLive, otherHost, dovecot]) fs.writeFileSync(path.join(dir, 'tmp', n), 'x');
  assert.equal(await t.sweepTmp(box, now), 2);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'tmp')).sort(), [live, otherHost, dovecot].sort());
  fs.rmSync(root, { recursive: true, force: true });
});
