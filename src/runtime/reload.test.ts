import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type ResolvedConfig } from '../config/load.js';
import { createLogger } from '../log/logger.js';
import { loadTls } from '../net/tls.js';
import { describePlan, planReload, Reloader } from './reload.js';

function setup(t: { after(fn: () => void): void }): { dir: string; file: string; load: () => ResolvedConfig } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-reload-unit-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'c.yaml');
  fs.writeFileSync(file, 'hostname: mx.test\ndomains: {a.test: {mailboxes: [x]}}\n');
  return { dir, file, load: () => loadConfig({ file, dataDir: dir }) };
}

test('a scanner address the schema lets through but the client refuses is a refused reload, naming the key', (t) => {
  const { dir, file, load } = setup(t);
  const cfg = load();
  const tls = loadTls(null, null, path.join(dir, 'tls'), 'mx.test');
  fs.appendFileSync(file, 'scanners: {clamd: {address: "no port here"}}\n');
  const r = planReload(cfg, tls, load);
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.problems.join('\n') : '', /^scanners\.clamd\.address: "no port here" is neither HOST:PORT/);
});

test('a plan names what changed; the same files again are no change', (t) => {
  const { dir, file, load } = setup(t);
  const cfg = load();
  const tls = loadTls(null, null, path.join(dir, 'tls'), 'mx.test');
  const same = planReload(cfg, tls, load);
  assert.ok(same.ok);
  assert.equal(describePlan(same.plan), 'no changes');
  fs.writeFileSync(file, 'hostname: mx.test\ndomains: {b.test: {mailboxes: [x]}}\ndns: {timeout_ms: 700}\n');
  const r = planReload(cfg, tls, load);
  assert.ok(r.ok);
  assert.equal(describePlan(r.plan), 'domains +b.test -a.test; dns.timeout_ms');
  assert.equal(r.plan.tlsRenewed, false);
});

test('reloads run one at a time; a SIGHUP during one runs one more after it, and a failed apply keeps the running configuration', async (t) => {
  const { dir, file, load } = setup(t);
  const tls = loadTls(null, null, path.join(dir, 'tls'), 'mx.test');
  const applied: string[][] = [];
  let inFlight = 0;
  let fail = false;
  const reloader = new Reloader({ cfg: load(), tls }, load, async (plan) => {
    inFlight++;
    assert.equal(inFlight, 1, 'never two at once');
    await new Promise((r) => setTimeout(r, 20));
    inFlight--;
    if (fail) throw new Error('cannot build');
    applied.push(Object.keys(plan.cfg.domains));
  }, createLogger('silent'));
  fs.writeFileSync(file, 'hostname: mx.test\ndomains: {b.test: {mailboxes: [x]}}\n');
  const first = reloader.trigger();
  fs.writeFileSync(file, 'hostname: mx.test\ndomains: {c.test: {mailboxes: [x]}}\n');
  void reloader.trigger();
  void reloader.trigger();
  await first;
  // The first run read the file at once (b.test); the two SIGHUPs during it make one more run (c.test).
  assert.deepEqual(applied, [['b.test'], ['c.test']]);
  assert.deepEqual(Object.keys(reloader.cfg.domains), ['c.test']);
  fail = true;
  fs.writeFileSync(file, 'hostname: mx.test\ndomains: {d.test: {mailboxes: [x]}}\n');
  await reloader.trigger();
  assert.deepEqual(Object.keys(reloader.cfg.domains), ['c.test'], 'a failed apply changes nothing');
});
