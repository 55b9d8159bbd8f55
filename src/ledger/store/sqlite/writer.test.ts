// The SQLite writer's transactions, opened and ended by hand around awaits:
// one writer's transactions never interleave, a throw leaves nothing behind
// (events, state, positions, event ids), and a transaction object kept past
// its end refuses instead of writing outside any transaction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteStoreReader } from './reader.js';
import { SqliteStoreWriter } from './writer.js';
import type { StoreInput, StoreTx } from '../types.js';

function tmpStore(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-store-writer-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'store.sqlite');
}

const inputs = (session: string, n: number): StoreInput[] =>
  Array.from({ length: n }, (_, i) => ({ event: { ts: 1_700_000_000_000 + i, node: 'mx1', source: 'gateway', kind: 'rcpt.accepted', session, rcpt: `u${i}@example.test` } }));

const position = (seq: number) => ({ node: 'mx1', stream: 'smtp', seq, segment: 1, offset: seq * 10, last_ts: null, updated: seq });

/** Events of the store by session, with their ids. */
async function idsBySession(file: string): Promise<Map<string, number[]>> {
  const r = new SqliteStoreReader(file);
  try {
    const out = new Map<string, number[]>();
    for await (const e of r.all()) {
      const ids = out.get(e.session!) ?? [];
      ids.push(e.id);
      out.set(e.session!, ids);
    }
    return out;
  } finally {
    await r.close();
  }
}

test('transactions of one writer run one after another, even when one waits in the middle', async (t) => {
  const file = tmpStore(t);
  const w = new SqliteStoreWriter(file);
  const steps: string[] = [];
  const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const a = w.transaction(async (tx) => {
    steps.push('a begins');
    await tx.add(inputs('A', 3));
    await pause(50); // a real wait: the next transaction must not start meanwhile
    await tx.setPosition(position(3));
    steps.push('a ends');
    return 'a';
  });
  const b = w.transaction(async (tx) => {
    steps.push('b begins');
    // b sees what a committed: the position a set.
    const seen = (await tx.positions()).map((p) => p.seq);
    await tx.add(inputs('B', 2));
    steps.push('b ends');
    return seen;
  });
  const seenDuringB = w.positions();
  assert.deepEqual(await Promise.all([a, b]), ['a', [3]]);
  assert.deepEqual((await seenDuringB).map((p) => p.seq), [3], 'positions() outside a transaction waits for those asked before it');
  assert.deepEqual(steps, ['a begins', 'a ends', 'b begins', 'b ends']);
  await w.close();
  const ids = await idsBySession(file);
  assert.deepEqual(ids.get('A'), [1, 2, 3]);
  assert.deepEqual(ids.get('B'), [4, 5], 'ids go on where the transaction before ended');
});

test('a throw inside a transaction: the error propagates, nothing of it lands, and the writer goes on', async (t) => {
  const file = tmpStore(t);
  const w = new SqliteStoreWriter(file);
  await w.transaction(async (tx) => { await tx.add(inputs('first', 2)); await tx.putState('k', 1); });
  await assert.rejects(w.transaction(async (tx) => {
    await tx.add(inputs('lost', 5));
    await tx.putState('k', 2);
    await tx.setPosition(position(9));
    throw new Error('parser broke');
  }), /parser broke/);
  // A transaction asked for while the failing one ran is not affected by it.
  assert.equal(await w.transaction((tx) => tx.state<number>('k')), 1);
  assert.deepEqual(await w.positions(), []);
  await w.transaction(async (tx) => { await tx.add(inputs('next', 1)); });
  await w.close();
  const ids = await idsBySession(file);
  assert.equal(ids.has('lost'), false);
  assert.deepEqual(ids.get('first'), [1, 2]);
  assert.deepEqual(ids.get('next'), [3], 'the ids of the rolled-back transaction are handed out again');
});

test('a transaction object kept past its end refuses; close() waits for the transaction under way', async (t) => {
  const file = tmpStore(t);
  const w = new SqliteStoreWriter(file);
  let kept: StoreTx | null = null;
  await w.transaction(async (tx) => { kept = tx; await tx.add(inputs('in', 1)); });
  await assert.rejects(kept!.add(inputs('late', 1)), /used after it ended/);
  await assert.rejects(kept!.putState('k', 1), /used after it ended/);

  let committed = false;
  const pending = w.transaction(async (tx) => {
    await new Promise((r) => setTimeout(r, 30));
    await tx.add(inputs('before-close', 1));
    committed = true;
  });
  await w.close();
  assert.equal(committed, true, 'close ran after the transaction asked for before it');
  await pending;
  assert.deepEqual([...(await idsBySession(file)).keys()].sort(), ['before-close', 'in']);
});

test('prune removes the sessions that ended before the cutoff, with their events, and says how many events went', async (t) => {
  const file = tmpStore(t);
  const w = new SqliteStoreWriter(file);
  const at = (session: string, ts: number): StoreInput => ({ event: { ts, node: 'mx1', source: 'gateway', kind: 'rcpt.accepted', session, rcpt: `${session}@example.test` } });
  await w.transaction((tx) => tx.add([at('old', 1000), at('old', 2000), at('spans', 1500), at('spans', 9000), at('new', 8000)]));
  assert.equal(await w.prune(5000), 2);
  assert.equal(await w.prune(5000), 0, 'nothing left to remove');
  await w.close();
  assert.deepEqual([...(await idsBySession(file)).keys()].sort(), ['new', 'spans'], 'a session with a newer event stays whole');
});

test('eventsAfter pages chunk by chunk and misses none, though a batch interleaves its sessions\' ids', async (t) => {
  const file = tmpStore(t);
  const w = new SqliteStoreWriter(file);
  // Two batches of three sessions whose events alternate: each chunk's ids have gaps the other chunks fill.
  for (const b of [0, 1]) {
    await w.transaction(async (tx) => {
      const evs: StoreInput[] = [];
      for (let i = 0; i < 12; i++) evs.push({ event: { ts: 1_700_000_000_000 + b * 1000 + i, node: 'mx1', source: 'gateway', kind: 'session.connect', session: `b${b}s${i % 3}` } });
      await tx.add(evs);
    });
  }
  await w.close();
  const r = new SqliteStoreReader(file);
  t.after(() => r.close());
  const ids: number[] = [];
  let cursor = 0;
  for (let more = true; more;) {
    const page = await r.eventsAfter(cursor, 1);
    for (const e of page.events) ids.push(e.id);
    cursor = page.next;
    more = page.more;
  }
  assert.deepEqual(ids.sort((a, b) => a - b), Array.from({ length: 24 }, (_, i) => i + 1));
  assert.equal((await r.eventsAfter(cursor, 10)).events.length, 0, 'nothing new after the last page');
});
