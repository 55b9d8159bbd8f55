// Read-your-writes: the events of a message are in the journal before its
// 250, and research brings the store up to the journal before it answers. A
// trace (CLI or web API) run at once after the 250 finds the journey, whether
// or not the indexer of `serve` has taken it yet, and even when no `serve`
// runs at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { JournalWriter } from '../../../src/ledger/journal/index.js';
import { SqliteStoreReader } from '../../../src/ledger/store/sqlite/reader.js';
import { freePort, run, startServer, type Instance } from '../../helpers/server.js';
import { sendMail } from '../../helpers/smtp-client.js';

const RCPT = 'demo@demo.test';
const REF = /\(ref ([0-9A-Z]{12})\)/;

function get(port: number, p: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: p, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

async function send(mp: Instance, n: number): Promise<string> {
  const r = await sendMail(mp.port, { from: `rw${n}@example.org`, to: [RCPT], body: `Subject: read your writes ${n}\r\nMessage-ID: <rw-${n}@example.org>\r\n\r\nhello ${n}\r\n` });
  assert.match(r.final ?? '', /^250 /, JSON.stringify(r.replies));
  return REF.exec(r.final!)![1]!;
}

/** Whether the store has the ref's delivery yet, without letting it catch up (a plain reader). */
async function storeHas(dataDir: string, ref: string): Promise<boolean> {
  const file = path.join(dataDir, 'store.sqlite');
  if (!fs.existsSync(file)) return false;
  const r = new SqliteStoreReader(file);
  try {
    return (await r.byRefs([ref])).some((e) => e.kind === 'message.delivered');
  } finally {
    await r.close();
  }
}

test('trace on the command line and over the web API at once after the 250: the journey is there', { timeout: 180_000 }, async (t) => {
  const webPort = await freePort();
  const mp = await startServer({ config: { web: { listen: [`127.0.0.1:${webPort}`] } } });
  t.after(async () => { await mp.stop(); fs.rmSync(mp.dataDir, { recursive: true, force: true }); });
  const cfgFile = path.join(mp.dataDir, 'test-config.yaml');
  const pw = path.join(mp.dataDir, 'pw');
  fs.writeFileSync(pw, 'staff-password-1\n');
  assert.equal((await run(['user', 'add', 'staff1', '--role', 'staff', '--password-file', pw, '--config', cfgFile])).code, 0);
  const tok = await run(['user', 'token', 'staff1', '--config', cfgFile]);
  assert.equal(tok.code, 0, tok.stderr);
  const token = tok.stdout.trim();

  for (let n = 0; n < 5; n++) {
    const ref = await send(mp, n);
    const [cli, web] = await Promise.all([
      mp.trace(['--ref', ref]),
      get(webPort, `/api/trace?ref=${ref}`, token),
    ]);
    const j = cli.journeys.find((x) => x.ref === ref);
    assert.ok(j, `trace --ref ${ref} right after its 250: ${JSON.stringify(cli.journeys.map((x) => x.ref))}`);
    assert.equal(j.outcome, 'delivered');
    assert.ok(j.events.some((e) => e.kind === 'message.delivered'));
    assert.equal(web.status, 200, web.body);
    const wj = (JSON.parse(web.body) as { journeys: { ref: string; outcome: string }[] }).journeys.find((x) => x.ref === ref);
    assert.ok(wj, `GET /api/trace?ref=${ref} right after its 250: ${web.body.slice(0, 300)}`);
    assert.equal(wj.outcome, 'delivered');
  }
  // By recipient too: every one of them.
  const all = await mp.trace(['--rcpt', RCPT]);
  assert.equal(all.journeys.filter((j) => j.outcome === 'delivered').length, 5);
});

test('kill -9 right after the 250, before the indexer of serve may have run: trace still finds the journey', { timeout: 180_000 }, async (t) => {
  let mp = await startServer();
  const dataDir = mp.dataDir;
  t.after(async () => { await mp.kill9(); fs.rmSync(dataDir, { recursive: true, force: true }); });
  const refs: string[] = [];
  let notYetIndexed = 0;
  for (let round = 0; round < 3; round++) {
    if (round) mp = await startServer({ dataDir });
    const ref = await send(mp, round);
    await mp.kill9();
    refs.push(ref);
    if (!(await storeHas(dataDir, ref))) notYetIndexed++;
    // No serve runs now: only the trace's own catch-up can bring the journal's events in.
    const { journeys } = await mp.trace(['--ref', ref]);
    const j = journeys.find((x) => x.ref === ref);
    assert.ok(j, `the journey of ${ref} after the kill`);
    assert.equal(j.outcome, 'delivered');
  }
  t.diagnostic(`${notYetIndexed} of 3 deliveries were not in the store yet when the server died`);
  const { journeys } = await mp.trace(['--rcpt', RCPT]);
  assert.deepEqual(journeys.filter((j) => j.outcome === 'delivered').map((j) => j.ref).sort(), [...refs].sort());
});

test('events only in the journal (no serve running, no indexer ever ran over them): trace finds them', { timeout: 120_000 }, async (t) => {
  const mp = await startServer();
  t.after(() => fs.rmSync(mp.dataDir, { recursive: true, force: true }));
  assert.equal(await mp.stop(), 0);
  // Another process of the same node wrote a journey after serve stopped.
  const ref = 'JOURNALONLY1';
  const w = await JournalWriter.open(path.join(mp.dataDir, 'journal'), 'test-node', 'smtp-7');
  const ts = Date.now();
  const base = { node: 'test-node', source: 'gateway', session: 'JS1', ref, client_ip: '192.0.2.77', mail_from: 'j@example.org' } as const;
  await w.append([
    { ...base, ts, kind: 'mail.from' },
    { ...base, ts: ts + 1, kind: 'rcpt.accepted', rcpt: RCPT, smtp_code: 250 },
    { ...base, ts: ts + 2, kind: 'message.delivered', rcpt: RCPT, smtp_code: 250, reply: `250 2.0.0 Message accepted and stored (ref ${ref})` },
  ]);
  await w.close();
  assert.ok(!(await storeHas(mp.dataDir, ref)), 'not in the store before the trace');
  const { journeys } = await mp.trace(['--rcpt', RCPT]);
  const j = journeys.find((x) => x.ref === ref);
  assert.ok(j, 'trace took the journal in before it answered');
  assert.equal(j.outcome, 'delivered');
});
