import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../log/logger.js';
import { hashSessionId, SessionFile, sessionsFile, type StoredSession } from './session-file.js';
import { SessionStore } from './sessions.js';

const TTL = 60 * 60e3;
const HOUR = 3600e3;
const STAFF = { name: 'staff1', role: 'staff' as const, domains: [] };
const CUST = { name: 'custa', role: 'customer' as const, domains: ['a.test'] };

function setup(t: import('node:test').TestContext) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-sessions-'));
  const stores: SessionStore[] = [];
  t.after(() => {
    for (const s of stores) s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const file = sessionsFile(dir);
  const lines: Array<{ level: number; msg: string }> = [];
  const destination = new Writable({ write(chunk: Buffer, _e, cb) { for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as { level: number; msg: string }); cb(); } });
  const log = createLogger('info', {}, { destination });
  let clock = Date.parse('2024-05-01T10:00:00Z');
  const now = (): number => clock;
  /** A store over the file, as `serve` makes one at start; writes only when told (close/flush) or at once for a logout. */
  const open = (max = 100000): SessionStore => {
    const s = new SessionStore(TTL, now, max, { persist: new SessionFile(file, log), flushMs: HOUR, log });
    stores.push(s);
    return s;
  };
  const stored = (): StoredSession[] => (JSON.parse(fs.readFileSync(file, 'utf8')) as { sessions: StoredSession[] }).sessions;
  return { dir, file, lines, open, stored, advance: (ms: number) => { clock += ms; }, now };
}

test('sessions: written at stop, read back at start; the cookie of before works after', (t) => {
  const { file, open, stored } = setup(t);
  const a = open();
  const s1 = a.create(STAFF);
  const s2 = a.create(CUST);
  // A login is written later (batched), not on the spot.
  assert.equal(fs.existsSync(file), false);
  a.close();
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(stored().length, 2);

  const b = open();
  assert.equal(b.size, 2);
  const back = b.get(s2.id);
  assert.ok(back);
  assert.deepEqual({ id: back.id, user: back.user, role: back.role, domains: back.domains }, { id: s2.id, user: 'custa', role: 'customer', domains: ['a.test'] });
  assert.equal(b.get(s1.id)?.user, 'staff1');
  assert.equal(b.get('not-a-session-id'), null);
});

test('sessions: the file holds hashes of the ids, never an id', (t) => {
  const { file, open, stored } = setup(t);
  const a = open();
  const ids = [a.create(STAFF).id, a.create(CUST).id];
  a.close();
  const text = fs.readFileSync(file, 'utf8');
  for (const id of ids) assert.ok(!text.includes(id), 'a session id is on disk');
  assert.deepEqual(stored().map((s) => s.sha256).sort(), ids.map(hashSessionId).sort());
  // The hash as a cookie is no login.
  const b = open();
  assert.equal(b.get(hashSessionId(ids[0]!)), null);
  assert.equal(b.get(ids[0])?.user, 'staff1');
});

test('sessions: a logout leaves the file at once; so do the sessions of a removed account', (t) => {
  const { open, stored } = setup(t);
  const a = open();
  const s1 = a.create(STAFF);
  const s2 = a.create(CUST);
  const s3 = a.create(CUST);
  a.flush();
  assert.equal(stored().length, 3);
  a.destroy(s1.id);
  // No flush, no close: a crash now must not bring the logged-out cookie back.
  assert.deepEqual(stored().map((s) => s.sha256).sort(), [s2.id, s3.id].map(hashSessionId).sort());
  a.destroyUser('custa');
  assert.deepEqual(stored(), []);
  const b = open();
  assert.equal(b.get(s1.id), null);
  assert.equal(b.get(s2.id), null);
});

test('sessions: expired ones are dropped at start and leave the file; use pushes the idle expiry, and that is kept', (t) => {
  const { open, stored, advance } = setup(t);
  const a = open();
  const idle = a.create(STAFF);
  const busy = a.create(CUST);
  advance(TTL / 2);
  assert.ok(a.get(busy.id));
  a.close();
  // Past the idle one's expiry, before the busy one's (pushed at TTL/2).
  advance(TTL / 2 + 1);
  const b = open();
  assert.equal(b.size, 1);
  assert.equal(b.get(idle.id), null);
  assert.equal(b.get(busy.id)?.user, 'custa');
  b.close();
  assert.deepEqual(stored().map((s) => s.sha256), [hashSessionId(busy.id)]);
  // And once that one expires too, the next write leaves no entry.
  advance(TTL + 1);
  const c = open();
  assert.equal(c.get(busy.id), null);
  c.close();
  assert.deepEqual(stored(), []);
});

test('sessions: a damaged file is no sessions and a warning, not a crash; the next login writes a good one', (t) => {
  const { file, lines, open, stored } = setup(t);
  for (const body of ['{"sessions": [', '', '[1,2,3]', 'null', '{"sessions": "x"}']) {
    fs.writeFileSync(file, body, { mode: 0o600 });
    lines.length = 0;
    const a = open();
    assert.equal(a.size, 0, body);
    assert.ok(lines.some((l) => l.level === 40 && /web sessions: starting with no sessions/.test(l.msg)), `${body}: ${JSON.stringify(lines)}`);
  }
  const a = open();
  const s = a.create(STAFF);
  a.close();
  assert.deepEqual(stored().map((x) => x.sha256), [hashSessionId(s.id)]);
});

test('sessions: entries that are not sessions are dropped with a warning, the good ones kept', (t) => {
  const { file, lines, open, now } = setup(t);
  const good = { sha256: hashSessionId('good-id'), user: 'staff1', role: 'staff', domains: [], expires: now() + TTL };
  const bad = [
    { ...good, sha256: 'good-id' },
    { ...good, sha256: hashSessionId('x1'), role: 'admin' },
    { ...good, sha256: hashSessionId('x2'), user: 'a b/../c' },
    { ...good, sha256: hashSessionId('x3'), expires: 'tomorrow' },
    { ...good, sha256: hashSessionId('x4'), domains: 'a.test' },
    null, 7, 'x',
  ];
  fs.writeFileSync(file, JSON.stringify({ version: 1, sessions: [good, ...bad] }), { mode: 0o600 });
  const a = open();
  assert.equal(a.size, 1);
  assert.equal(a.get('good-id')?.user, 'staff1');
  assert.equal(a.get('x1'), null);
  assert.ok(lines.some((l) => l.level === 40 && /not sessions were dropped/.test(l.msg)));
});

test('sessions: the cap holds for what is read back: the newest stay', (t) => {
  const { open, advance } = setup(t);
  const a = open();
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) { ids.push(a.create(STAFF).id); advance(1000); }
  a.close();
  const b = open(2);
  assert.equal(b.size, 2);
  assert.deepEqual(ids.map((id) => b.get(id) !== null), [false, false, true, true]);
  // And a login into a full store pushes the oldest out.
  const c = open(2);
  const fresh = c.create(CUST);
  assert.equal(c.size, 2);
  assert.ok(c.get(fresh.id));
});

test('sessions: a file that cannot be written is an error in the log; the sessions go on in memory', (t) => {
  const { dir, lines, open } = setup(t);
  const a = open();
  const s = a.create(STAFF);
  // The data directory gone (or read-only): the write fails.
  fs.rmSync(dir, { recursive: true, force: true });
  a.destroy(a.create(CUST).id);
  assert.ok(lines.some((l) => l.level === 50 && /cannot write the sessions file/.test(l.msg)), JSON.stringify(lines));
  assert.equal(a.get(s.id)?.user, 'staff1');
});

test('sessions: without a place to keep them, nothing is written (the in-memory store of tests and of buildWebApp alone)', (t) => {
  const { dir } = setup(t);
  const a = new SessionStore(TTL);
  const s = a.create(STAFF);
  assert.equal(a.get(s.id)?.user, 'staff1');
  a.destroy(s.id);
  a.close();
  assert.equal(a.get(s.id), null);
  assert.deepEqual(fs.readdirSync(dir), []);
});
