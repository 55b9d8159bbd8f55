// SIGHUP with smtp.workers: 2: the primary validates and every worker
// switches; a worker started later in place of a dead one runs with the
// reloaded configuration, not with whatever the file holds by then.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startServer, type Instance } from '../../helpers/server.js';
import { sendMail } from '../../helpers/smtp-client.js';
import { childrenOf, logLine, readConfig, reload, sessionPids, writeConfig } from './reload-helpers.js';

async function toNew(mp: Instance, i: number): Promise<string | null> {
  return (await sendMail(mp.port, { from: `s${i}@example.org`, to: ['n@new.test'], body: `Subject: n${i}\n\nx\n`, localAddress: `127.0.3.${i + 1}` })).final;
}

test('two workers: after SIGHUP every worker takes the new domain; a replaced worker starts with the reloaded configuration', async (t) => {
  const mp = await startServer({ config: { smtp: { workers: 2 }, domains: { 'keep.test': { mailboxes: ['k'] } } } });
  t.after(async () => { await mp.stop(); fs.rmSync(mp.dataDir, { recursive: true, force: true }); });
  const workers = childrenOf(mp.proc.pid!);
  assert.equal(workers.length, 2);

  const before = await toNew(mp, 0);
  assert.equal(before, null, 'new.test is not local yet');

  const cfg = readConfig(mp);
  cfg.domains = { 'keep.test': { mailboxes: ['k'] }, 'new.test': { mailboxes: ['n'] } };
  writeConfig(mp, cfg);
  const from = mp.output().length;
  const outcome = await reload(mp);
  // The primary says "reloaded" once every worker answered.
  assert.match(outcome.msg, /^reloaded: domains \+new\.test$/);
  const switched = mp.output().slice(from).split('\n').filter((l) => l.includes('worker: new sessions use the reloaded configuration'));
  assert.deepEqual(new Set(switched.map((l) => (JSON.parse(l) as { pid: number }).pid)), new Set(workers));

  // Which worker takes a connection is the cluster's choice, not ours: keep
  // sending (each one must be accepted) until both have served one.
  const afterReload = mp.output().length;
  for (let round = 0; round < 20 && sessionPids(mp, afterReload).size < 2; round++) {
    const finals = await Promise.all(Array.from({ length: 10 }, (_, i) => toNew(mp, i + 1)));
    for (const f of finals) assert.match(f ?? '', /^250 2\.0\.0 /);
  }
  assert.deepEqual(sessionPids(mp, afterReload), new Set(workers), 'both workers took some of the new sessions');

  // The file now holds an error the primary would refuse; a worker that
  // read it at start would fail. A replacement asks the primary instead.
  fs.appendFileSync(mp.configFile, 'bogus_key: 1\n');
  const died = mp.output().length;
  process.kill(workers[0]!, 'SIGKILL');
  await logLine(mp, /"msg":"worker died, starting a new one"/, died);
  let replacement: number | undefined;
  for (let i = 0; i < 200 && replacement === undefined; i++) {
    replacement = childrenOf(mp.proc.pid!).find((p) => !workers.includes(p));
    if (replacement === undefined) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(replacement, 'a replacement worker was started');
  // Until the replacement has served a session to new.test (it first checks
  // the Maildirs the dead worker wrote, which takes a while), every such session is accepted.
  const since = mp.output().length;
  const deadline = Date.now() + 120_000;
  for (let i = 0; !sessionPids(mp, since).has(replacement) && Date.now() < deadline; i++) {
    assert.match((await toNew(mp, 20 + (i % 200))) ?? '', /^250 2\.0\.0 /);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(sessionPids(mp, since).has(replacement), 'the replacement served sessions, and accepted the reloaded domain');
  assert.doesNotMatch(mp.output().slice(died), /invalid configuration|bogus_key/);
});
