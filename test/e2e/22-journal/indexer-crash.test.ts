// The indexer killed with SIGKILL at random moments: each batch takes the
// records and the stream's position in one store transaction, so after any
// number of kills and restarts the store holds every journal record exactly
// once (same count, same digest over journal key and event).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { JournalWriter } from '../../../src/ledger/journal/index.js';
import type { LedgerEvent } from '../../../src/ledger/types.js';
import { difference, journalDigest, storeDigest } from '../../helpers/ledger-digest.js';
import { runChild } from './crash-child.js';

const EVENTS = 200_000;
const STREAMS = ['smtp', 'smtp-1', 'pop3'];
const PER_BATCH = 3000;

/** Event k of a session: a session's events go to one stream, and a session spans several batches. */
function sessionEvents(s: number, t0: number): LedgerEvent[] {
  const session = `S${s}`;
  const ref = `R${String(s).padStart(11, '0')}`;
  const base = { node: 'gw1', source: 'gateway', session, client_ip: `192.0.2.${s % 250}` } as const;
  const rcpt = `User${s % 500}@Big.test`;
  const ts = t0 + s * 10;
  return [
    { ...base, ts, kind: 'session.connect', details: { local: '127.0.0.1:25' } },
    { ...base, ts: ts + 1, kind: 'session.helo', helo: `h${s}.example` },
    { ...base, ts: ts + 2, kind: 'mail.from', ref, mail_from: `a${s}@x.test` },
    { ...base, ts: ts + 3, kind: 'rcpt.accepted', ref, rcpt, smtp_code: 250, enhanced_code: '2.1.5' },
    { ...base, ts: ts + 4, kind: 'check.result', ref, check_name: 'spf', verdict: 'pass', details: { s } },
    { ...base, ts: ts + 5, kind: 'data.received', ref, message_id: `${s}@x.test`, size: 1000 + s },
    { ...base, ts: ts + 6, kind: 'message.delivered', ref, rcpt, smtp_code: 250, reply: `250 2.0.0 accepted (ref ${ref})` },
    { ...base, ts: ts + 7, kind: 'session.close', details: { transactions: 1 } },
  ];
}

test('the indexer killed with SIGKILL at random moments and restarted: the store equals the journal row for row', { timeout: 600_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-indexer-crash-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const journal = path.join(dir, 'journal');
  const store = path.join(dir, 'store.sqlite');

  // 200,000 events in 3 streams, several segments each (a position moves across segment ends).
  const writers = await Promise.all(STREAMS.map((s) => JournalWriter.open(journal, 'gw1', s, { sync: false, segmentBytes: 4 * 1024 * 1024 })));
  const t0 = Date.now() - 86400e3;
  const sessions = EVENTS / 8;
  for (let s = 0; s < sessions; s += 500) {
    await Promise.all(writers.map((w, i) => {
      const evs: LedgerEvent[] = [];
      for (let k = s; k < Math.min(sessions, s + 500); k++) if (k % STREAMS.length === i) evs.push(...sessionEvents(k, t0));
      return w.append(evs);
    }));
  }
  for (const w of writers) await w.close();
  const want = journalDigest(journal);
  assert.equal(want.count, EVENTS);

  // Kill after a random number of committed batches plus a random few ms:
  // between transactions as well as inside one.
  let kills = 0;
  const runs: string[] = [];
  for (let i = 0; i < 6; i++) {
    const after = randomInt(1, 6);
    const jitter = randomInt(0, 40);
    const r = await runChild('indexer-child.js', [store, journal, String(PER_BATCH)], after, jitter);
    runs.push(`kill after ${after} batches + ${jitter} ms: ${r.killed ? 'killed' : `exit ${r.code}`} (${r.lines.length} lines)`);
    if (!r.killed) {
      assert.equal(r.code, 0, r.stderr);
      break; // finished before the kill
    }
    kills++;
  }
  t.diagnostic(runs.join('; '));
  assert.ok(kills >= 3, `at least 3 kills landed while indexing (${kills})`);
  const last = await runChild('indexer-child.js', [store, journal, String(PER_BATCH)], null);
  assert.equal(last.code, 0, last.stderr);
  assert.match(last.lines.at(-1) ?? '', /^done \d+$/);

  const got = await storeDigest(store);
  assert.equal(got.count, want.count, `store ${got.count} events, journal ${want.count}: ${difference(got, want)}`);
  assert.equal(got.sha256, want.sha256, difference(got, want));

  // A further run finds nothing left to take.
  const again = await runChild('indexer-child.js', [store, journal, String(PER_BATCH)], null);
  assert.equal(again.lines.at(-1), 'done 0');
  assert.equal((await storeDigest(store)).sha256, want.sha256);
});
