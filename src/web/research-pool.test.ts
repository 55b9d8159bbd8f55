// The research pool on a real SQLite ledger with real worker threads: the
// same answers as research in the calling thread, the main thread free while
// a query runs, and the bounds (queue, time limit, a ledger that is missing).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteStoreWriter } from '../ledger/store/sqlite/writer.js';
import type { LedgerEvent } from '../ledger/types.js';
import { SqliteStoreReader } from '../ledger/store/sqlite/reader.js';
import { inlineResearch, ResearchUnavailable } from './research.js';
import { ResearchPool } from './research-pool.js';

let dir: string;
let ledger: { store: string; journal: string };
const NOW = Date.parse('2026-11-20T12:00:00Z');
const SINCE = NOW - 2 * 86400e3;
/** Transactions for big.test: enough that a search with an outcome filter, which must build every journey, takes a while. */
const BIG = 40000;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-research-pool-'));
  ledger = { store: path.join(dir, 'store.sqlite'), journal: path.join(dir, 'journal') };
  const db = new SqliteStoreWriter(ledger.store);
  const batch: { event: LedgerEvent }[] = [];
  const ins = { run: (event: LedgerEvent) => batch.push({ event }) };
  const row = (r: Record<string, unknown>) => r as unknown as LedgerEvent;
  await db.transaction(async (tx) => {
    for (let i = 0; i < BIG; i++) {
      const ts = SINCE + i * 1000;
      const ref = `R${String(i).padStart(11, '0')}`;
      const rcpt = `user${i % 300}@big.test`;
      const base = { node: 'n1', source: 'gateway', session: `S${i}`, ref, client_ip: `192.0.2.${i % 250}`, mail_from: `s${i % 97}@x.test`, mail_from_domain: 'x.test' };
      ins.run(row({ ...base, ts, kind: 'mail.from' }));
      ins.run(row({ ...base, ts: ts + 1, kind: 'rcpt.accepted', rcpt, rcpt_domain: 'big.test' }));
      const bad = i % 10 === 0;
      ins.run(row({
        ...base, ts: ts + 2, kind: bad ? 'data.rejected' : 'message.delivered', rcpt, rcpt_domain: 'big.test',
        smtp_code: bad ? 550 : 250, reply: bad ? `550 5.7.1 spam (ref ${ref})` : `250 2.0.0 accepted (ref ${ref})`,
        ...(bad ? { check_name: 'spam', verdict: 'reject' } : {}),
      }));
    }
    const small = { node: 'n1', source: 'gateway', session: 'T1', ref: 'SMALLREF0001', client_ip: '198.51.100.7', mail_from: 'a@y.test', mail_from_domain: 'y.test' };
    ins.run(row({ ...small, ts: NOW - 60e3, kind: 'mail.from' }));
    ins.run(row({ ...small, ts: NOW - 59e3, kind: 'rcpt.accepted', rcpt: 'bob@small.test', rcpt_domain: 'small.test' }));
    ins.run(row({ ...small, ts: NOW - 58e3, kind: 'message.delivered', rcpt: 'bob@small.test', rcpt_domain: 'small.test', smtp_code: 250, reply: '250 2.0.0 accepted (ref SMALLREF0001)' }));
    await tx.add(batch);
  });
  await db.close();
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A path whose parent is a file: no store can be made there. */
function notADir(): string {
  const f = path.join(dir, 'plain-file');
  fs.writeFileSync(f, '');
  return f;
}

const pool = (o: Partial<ConstructorParameters<typeof ResearchPool>[0]> = {}) =>
  new ResearchPool({ ledger, waitMs: 1000, mailboxes: { 'small.test': ['bob@small.test', 'bobby@small.test'] }, threads: 2, maxQueue: 8, timeoutMs: 60000, ...o });
const slow = { domain: 'big.test', outcome: 'delivered' as const, since: SINCE, until: NOW, now: NOW };

test('answers as research in the calling thread does: search, REF, public page, report', async (t) => {
  const p = pool();
  t.after(() => p.close());
  const reader = new SqliteStoreReader(ledger.store);
  t.after(() => reader.close());
  const inline = inlineResearch(reader, (d) => (d === 'small.test' ? ['bob@small.test', 'bobby@small.test'] : []));
  const f = { rcpt: 'bob@small.test', since: SINCE, until: NOW, now: NOW };
  const got = await p.search(f, null, 'de');
  assert.equal(got.journeys.length, 1);
  assert.equal(got.journeys[0]!.ref, 'SMALLREF0001');
  assert.deepEqual(got, await inline.search(f, null, 'de'));
  // A customer scope is applied in the thread too.
  assert.equal((await p.search(f, ['other.test'], 'en')).journeys.length, 0);
  // Without a time window the answer says "until now": a millisecond apart.
  const noClock = (r: { until: string | null }) => ({ ...r, until: null });
  assert.deepEqual(noClock(await p.journeysOfRef('SMALLREF0001', null, 'en', true)), noClock(await inline.journeysOfRef('SMALLREF0001', null, 'en', true)));
  assert.deepEqual(await p.publicView('SMALLREF0001', 'en'), await inline.publicView('SMALLREF0001', 'en'));
  assert.equal(await p.publicView('NOSUCHREF000', 'en'), null);
  const rep = await p.report(got, { lang: 'en', format: 'pdf', now: new Date(NOW) });
  assert.ok(Buffer.isBuffer(rep.body));
  assert.equal(rep.body.subarray(0, 5).toString('latin1'), '%PDF-');
  assert.equal(rep.contentType, 'application/pdf');
});

test('the calling thread runs on while a slow search works in a research thread', async (t) => {
  const p = pool();
  t.after(() => p.close());
  await p.search({ rcpt: 'bob@small.test', since: SINCE, until: NOW }, null, 'en'); // a thread is up
  const order: string[] = [];
  const searching = p.search(slow, null, 'en').then((r) => { order.push('search'); return r; });
  // Timers of this thread fire while the search runs: it is not blocking us.
  let ticks = 0;
  const timer = setInterval(() => { ticks++; if (ticks === 3) order.push('three ticks'); }, 1);
  const r = await searching;
  clearInterval(timer);
  assert.equal(r.journeys.length, 1000, 'the web limit: 1000 newest');
  assert.equal(r.truncated, true);
  assert.ok(r.journeys.every((j) => j.outcome === 'delivered'));
  assert.deepEqual(order, ['three ticks', 'search'], `the search (${BIG} journeys) answered before this thread's timers ran: ${ticks} ticks`);
  // Inline, the same search holds the thread: no timer runs until it is done.
  const reader = new SqliteStoreReader(ledger.store);
  t.after(() => reader.close());
  let inlineTicks = 0;
  const t2 = setInterval(() => { inlineTicks++; }, 1);
  // Its reads are synchronous inside: the search ends within this turn of the loop, before any timer.
  await inlineResearch(reader, () => []).search(slow, null, 'en');
  const ticksWhenDone = inlineTicks;
  clearInterval(t2);
  assert.equal(ticksWhenDone, 0, 'inline research blocks its thread (the reason for the pool)');
});

test('bounds: a full queue is refused at once, a query over its time is stopped, the next one works', async (t) => {
  const p = pool({ threads: 1, maxQueue: 1 });
  t.after(() => p.close());
  await p.search({ rcpt: 'bob@small.test', since: SINCE, until: NOW }, null, 'en');
  const a = p.search(slow, null, 'en');
  const b = p.search({ rcpt: 'bob@small.test', since: SINCE, until: NOW }, null, 'en');
  await assert.rejects(p.search({ rcpt: 'bob@small.test', since: SINCE, until: NOW }, null, 'en'), (e: Error) => e instanceof ResearchUnavailable && /busy/.test(e.message));
  assert.equal((await a).journeys.length, 1000);
  assert.equal((await b).journeys.length, 1);

  const q = pool({ threads: 1, timeoutMs: 20 });
  t.after(() => q.close());
  await assert.rejects(q.search(slow, null, 'en'), (e: Error) => e instanceof ResearchUnavailable && /took too long/.test(e.message));
  assert.equal(q.stats.threads, 0, 'the thread of the stopped query is gone');
  // A new thread for the next job (its start-up is within no limit of 20 ms, so give it time).
  const r = pool({ threads: 1 });
  t.after(() => r.close());
  assert.equal((await r.search({ ref: 'SMALLREF0001' }, null, 'en')).journeys.length, 1);
});

test('a ledger that cannot be opened is an error for the waiting request, not a hang; close refuses what waits', async (t) => {
  const p = new ResearchPool({ ledger: { store: path.join(notADir(), 'store.sqlite'), journal: path.join(dir, 'journal') }, waitMs: 1000, mailboxes: {}, threads: 2, maxQueue: 8, timeoutMs: 60000 });
  t.after(() => p.close());
  await assert.rejects(p.search({ ref: 'SMALLREF0001' }, null, 'en'), /cannot open the store .*plain-file/);
  await assert.rejects(p.search({ ref: 'SMALLREF0001' }, null, 'en'), /cannot open the store .*plain-file/);

  const q = pool({ threads: 1, maxQueue: 4 });
  const running = q.search(slow, null, 'en');
  const waiting = q.search({ ref: 'SMALLREF0001' }, null, 'en');
  const refused = Promise.all([assert.rejects(running, ResearchUnavailable), assert.rejects(waiting, ResearchUnavailable)]);
  await q.close();
  await refused;
  await assert.rejects(q.search({ ref: 'SMALLREF0001' }, null, 'en'), /shutting down/);
});
