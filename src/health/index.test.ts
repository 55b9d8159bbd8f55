import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Health, persistHealth, readHealth, healthDir } from './index.js';

test('state changes: down on failure, up again on success, failures counted', () => {
  let t = 1000;
  const h = new Health(() => t);
  let changes = 0;
  h.onChange(() => changes++);
  h.ok('dns');
  assert.equal(h.get('dns')?.state, 'up');
  t = 2000;
  h.fail('clamd', 'connect ECONNREFUSED');
  h.fail('clamd', 'connect ECONNREFUSED');
  assert.deepEqual(h.get('clamd'), { state: 'down', since: 2000, last_ok: null, last_error: { at: 2000, reason: 'connect ECONNREFUSED' }, failures: 2 });
  t = 3000;
  h.ok('clamd');
  assert.equal(h.get('clamd')?.state, 'up');
  assert.equal(h.get('clamd')?.since, 3000);
  assert.equal(h.get('clamd')?.failures, 0);
  h.ok('clamd');
  assert.equal(changes, 3, 'a change is reported when a state begins, not on every call');
});

test('the state file appears, follows changes, is skipped when its process is gone, and is removed on stop', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-health-'));
  const h = new Health();
  const p = persistHealth(h, dir, 'n1');
  assert.equal(readHealth(dir).length, 1);
  h.fail('rspamd', 'timed out');
  await new Promise((r) => setTimeout(r, 400));
  const [snap] = readHealth(dir);
  assert.equal(snap?.node, 'n1');
  assert.equal(snap?.components.rspamd?.state, 'down');
  // A file left by a process that died (kill -9) must not show as running.
  fs.writeFileSync(path.join(healthDir(dir), '999999999.json'), JSON.stringify({ node: 'ghost', pid: 999999999, written: 0, components: {} }));
  assert.deepEqual(readHealth(dir).map((s) => s.node), ['n1']);
  p.stop();
  assert.equal(readHealth(dir).length, 0);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a standing warning is set, reported once, kept in the state file beside up/down, and cleared', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-health-'));
  const h = new Health();
  let changes = 0;
  h.onChange(() => changes++);
  const p = persistHealth(h, dir, 'n1');
  h.ok('clamd');
  h.warn('clamd', 'test signatures only: not protecting anyone');
  h.warn('clamd', 'test signatures only: not protecting anyone');
  assert.equal(changes, 2, 'the same warning again is no change');
  assert.equal(h.warning('clamd'), 'test signatures only: not protecting anyone');
  await new Promise((r) => setTimeout(r, 400));
  const [snap] = readHealth(dir);
  assert.deepEqual(snap?.warnings, { clamd: 'test signatures only: not protecting anyone' });
  assert.equal(snap?.components.clamd?.state, 'up');
  h.warn('clamd', null);
  assert.equal(h.warning('clamd'), undefined);
  assert.equal(changes, 3);
  await new Promise((r) => setTimeout(r, 400));
  assert.deepEqual(readHealth(dir)[0]?.warnings, {});
  p.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});
