// Crash safety: the server is killed with SIGKILL (no shutdown code runs)
// while clients are in the middle of DATA. Whatever got a 250 must be in
// new/ exactly once and complete; nothing half-written may ever appear in
// new/; after a restart on the same data dir the ledger agrees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomInt } from 'node:crypto';
import { eventsOf } from '../../helpers/ledger.js';
import { difference, journalDigest, storeDigest } from '../../helpers/ledger-digest.js';
import { listNew, startServer, type Instance } from '../../helpers/server.js';
import { RawSmtp, sendMail } from '../../helpers/smtp-client.js';

const RCPT = 'demo@demo.test';

function tokenOf(i: number, run: string): string {
  return `crash-${run}-${String(i).padStart(4, '0')}`;
}

/** A message whose every line names its token; the last line is the end marker. */
function message(token: string, lines: number): string {
  const out = [
    'From: <sender@example.org>',
    `To: <${RCPT}>`,
    `Subject: crash test ${token}`,
    `Message-ID: <${token}@crash.test>`,
    'Date: Fri, 27 Nov 2026 04:31:07 +0000',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
  ];
  for (let k = 0; k < lines; k++) out.push(`line ${k} of ${token} ${'x'.repeat(64)}`);
  out.push(`END-OF-MESSAGE ${token}`);
  return out.join('\r\n') + '\r\n';
}

interface Parsed {
  token: string | null;
  complete: boolean;
  problem: string | null;
}

/** Checks one stored file: header block, blank line, body ending with the marker line of its own token. */
function parseStored(file: string): Parsed {
  const text = fs.readFileSync(file, 'latin1');
  const m = /^Message-ID: <([^@>]+)@crash\.test>$/m.exec(text);
  const token = m ? m[1]! : null;
  const sep = text.indexOf('\n\n');
  if (sep <= 0) return { token, complete: false, problem: 'no blank line between header and body' };
  const headerLines = text.slice(0, sep).split('\n');
  const bad = headerLines.find((l) => !/^[!-9;-~]+:/.test(l) && !/^[ \t]/.test(l));
  if (bad !== undefined) return { token, complete: false, problem: `bad header line ${JSON.stringify(bad.slice(0, 80))}` };
  if (!headerLines.some((l) => /^Received: /.test(l))) return { token, complete: false, problem: 'no Received: header' };
  if (!token) return { token, complete: false, problem: 'no Message-ID' };
  if (!text.endsWith(`\nEND-OF-MESSAGE ${token}\n`)) return { token, complete: false, problem: 'does not end with its end marker line' };
  return { token, complete: true, problem: null };
}

/** Our own data dir, so it is removed even when the server fails to start. */
function newDataDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-test-'));
}

async function cleanup(instances: Instance[], dataDir: string): Promise<void> {
  for (const i of instances) await i.kill9().catch(() => undefined);
  fs.rmSync(dataDir, { recursive: true, force: true });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

test('kill -9 while a client is in DATA: nothing appears in new/', { timeout: 120_000 }, async () => {
  const instances: Instance[] = [];
  const dataDir = newDataDir();
  let client: RawSmtp | null = null;
  try {
    const srv = await startServer({ dataDir });
    instances.push(srv);
    const token = tokenOf(0, randomBytes(4).toString('hex'));
    client = await RawSmtp.connect(srv.port);
    assert.match((await client.reply()) ?? '', /^220 /);
    assert.match((await client.cmd('EHLO client.example.org')) ?? '', /^250[ -]/);
    assert.match((await client.cmd('MAIL FROM:<sender@example.org>')) ?? '', /^250 /);
    assert.match((await client.cmd(`RCPT TO:<${RCPT}>`)) ?? '', /^250 /);
    assert.match((await client.cmd('DATA')) ?? '', /^354 /);
    // Most of the message, but neither its end marker nor the final dot.
    const full = message(token, 400);
    client.write(full.slice(0, Math.floor(full.length * 0.7)));
    // Let the server read what was sent (bounded: it is on loopback).
    await sleep(500);
    assert.deepEqual(listNew(srv.newDir(RCPT)), [], 'nothing may be in new/ before the final dot');

    await srv.kill9();
    assert.equal(srv.proc.signalCode, 'SIGKILL');
    assert.equal(await client.reply(5000), null, 'the connection must be gone after the kill');
    assert.deepEqual(listNew(srv.newDir(RCPT)), [], 'a message cut off by the crash must not be in new/');

    // A restart on the same data dir finds no message and no delivery in the ledger.
    const again = await startServer({ dataDir, port: srv.port });
    instances.push(again);
    assert.deepEqual(listNew(again.newDir(RCPT)), []);
    const { journeys } = await again.trace(['--rcpt', RCPT]);
    assert.equal(journeys.filter((j) => j.outcome === 'delivered').length, 0,
      `no journey may be delivered: ${JSON.stringify(journeys.map((j) => [j.ref, j.outcome]))}`);
    // The server works after the crash.
    const after = await sendMail(again.port, { from: 'sender@example.org', to: [RCPT], body: message(`${token}-after`, 3) });
    assert.match(after.final ?? '', /^250 /);
    assert.equal(listNew(again.newDir(RCPT)).length, 1);
    assert.equal(await again.stop(), 0);
  } finally {
    await client?.close();
    await cleanup(instances, dataDir);
  }
});

test('kill -9 at a random moment under 20 concurrent clients: every 250 is stored once and complete', { timeout: 180_000 }, async (t) => {
  const TOTAL = 400;
  const CLIENTS = 20;
  const run = randomBytes(4).toString('hex');
  // Kill after a random number of acknowledged messages, plus a random few ms,
  // so the kill falls somewhere inside a busy stretch of sessions.
  const killAfter = randomInt(Math.floor(TOTAL * 0.1), Math.floor(TOTAL * 0.6));
  const jitterMs = randomInt(0, 25);
  t.diagnostic(`run ${run}: kill after ${killAfter} acknowledged messages + ${jitterMs} ms`);

  const instances: Instance[] = [];
  const dataDir = newDataDir();
  try {
    const srv = await startServer({ dataDir });
    instances.push(srv);

    const acked = new Set<string>();
    const unacked = new Set<string>();
    const sent = new Set<string>();
    let next = 0;
    let killed = false;
    let killing: Promise<void> | null = null;
    const kill = (): void => {
      if (killing) return;
      killing = sleep(jitterMs).then(async () => { killed = true; await srv.kill9(); });
    };

    const worker = async (): Promise<void> => {
      while (next < TOTAL) {
        const i = next++;
        const token = tokenOf(i, run);
        sent.add(token);
        let final: string | null = null;
        let failed = false;
        try {
          final = (await sendMail(srv.port, { from: `sender${i}@example.org`, to: [RCPT], body: message(token, 10 + (i % 40)) })).final;
        } catch {
          failed = true; // connection refused or reset: the server is gone
        }
        if (final?.startsWith('250')) {
          acked.add(token);
          if (acked.size >= killAfter) kill();
        } else {
          unacked.add(token);
          // Before the kill every message must be accepted; afterwards stop.
          if (!killed && !killing) assert.fail(`message ${token} refused before the kill: ${final}`);
          if (failed || killed) return;
        }
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, () => worker()));
    if (!killing) kill(); // all sent before the threshold (should not happen)
    await killing;
    assert.equal(srv.proc.signalCode, 'SIGKILL');
    t.diagnostic(`sent ${sent.size}, acknowledged ${acked.size}, not acknowledged ${unacked.size}`);
    assert.ok(acked.size >= killAfter, 'the threshold was reached');
    assert.ok(acked.size < TOTAL, 'the kill came before all messages were acknowledged');

    // Restart on the same data dir: what is in new/ must be what was promised.
    const again = await startServer({ dataDir, port: srv.port });
    instances.push(again);
    const newDir = again.newDir(RCPT);
    const files = listNew(newDir);
    // Deliveries cut off between tmp/ and new/ are swept at start.
    assert.deepEqual(fs.readdirSync(path.join(newDir, '..', 'tmp')), [], 'the restart removed what the crash left in tmp/');
    const seen = new Map<string, number>();
    const problems: string[] = [];
    for (const f of files) {
      const p = parseStored(path.join(newDir, f));
      if (!p.complete) problems.push(`${f}: ${p.problem}`);
      if (p.token) seen.set(p.token, (seen.get(p.token) ?? 0) + 1);
      if (p.token && !sent.has(p.token)) problems.push(`${f}: token ${p.token} was never sent`);
    }
    assert.deepEqual(problems, [], 'every file in new/ is a complete message we sent');
    const dups = [...seen].filter(([, n]) => n > 1);
    assert.deepEqual(dups, [], 'no message may be stored twice');
    const lost = [...acked].filter((tok) => !seen.has(tok));
    assert.deepEqual(lost, [], 'every message that got a 250 must be in new/');
    const extra = [...seen.keys()].filter((tok) => !acked.has(tok));
    t.diagnostic(`files in new/: ${files.length}; stored without a 250 reaching the client: ${extra.length}`);

    // Ledger: a delivered journey for every 250, and a delivered journey only for stored messages.
    const { journeys } = await again.trace(['--rcpt', RCPT]);
    const delivered = new Map<string, number>();
    for (const j of journeys) {
      const tok = /<?([^@>]+)@crash\.test>?/.exec(String(j.message_id ?? ''))?.[1];
      if (tok && j.outcome === 'delivered') delivered.set(tok, (delivered.get(tok) ?? 0) + 1);
    }
    const unrecorded = [...acked].filter((tok) => !delivered.has(tok));
    assert.deepEqual(unrecorded, [], 'every message that got a 250 has a delivered journey in the ledger');
    const phantom = [...delivered.keys()].filter((tok) => !seen.has(tok));
    assert.deepEqual(phantom, [], 'no delivered journey for a message that is not in new/');
    assert.deepEqual([...delivered].filter(([, n]) => n > 1), [], 'no message delivered twice in the ledger');

    // The store itself: the message.delivered event of every 250, and no
    // event twice (per REF, each kind of a one-recipient transaction once).
    const rows = await eventsOf<{ ref: string | null; kind: string; message_id: string | null; check_name: string | null }>(again, 'ref IS NOT NULL');
    const deliveredIds = new Set(rows.filter((r) => r.kind === 'message.delivered').map((r) => /^<?([^@>]+)@crash\.test>?$/.exec(r.message_id ?? '')?.[1]));
    assert.deepEqual([...acked].filter((tok) => !deliveredIds.has(tok)), [], 'a message.delivered event in the store for every 250');
    const perRefKind = new Map<string, number>();
    for (const r of rows) {
      const k = `${r.ref} ${r.kind} ${r.check_name ?? ''}`;
      perRefKind.set(k, (perRefKind.get(k) ?? 0) + 1);
    }
    const twice = [...perRefKind].filter(([k, n]) => n > 1 && !k.includes(' check.result '));
    assert.deepEqual(twice, [], 'no event twice per REF and kind');
    // And the store holds exactly what the journals hold, row for row.
    const fromJournal = journalDigest(path.join(dataDir, 'journal'));
    const inStore = await storeDigest(path.join(dataDir, 'store.sqlite'));
    assert.equal(inStore.count, fromJournal.count, difference(inStore, fromJournal));
    assert.equal(inStore.sha256, fromJournal.sha256, difference(inStore, fromJournal));
    t.diagnostic(`events in the journals and the store: ${fromJournal.count}`);

    // And the server keeps working after the crash.
    const after = await sendMail(again.port, { from: 'sender@example.org', to: [RCPT], body: message(tokenOf(9999, run), 3) });
    assert.match(after.final ?? '', /^250 /);
    assert.equal(listNew(newDir).length, files.length + 1);
    assert.equal(await again.stop(), 0);
  } finally {
    await cleanup(instances, dataDir);
  }
});
