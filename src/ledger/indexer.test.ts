// The indexer: every journal record lands in the store once, whatever the
// batch size and however often it runs; positions say how far each stream is;
// research's catch-up says how far the store is still behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { catchUp, indexBatch, lagOf } from './indexer.js';
import { JournalWriter } from './journal/index.js';
import { catchUpStore, openResearchStore } from './open.js';
import { SqliteStoreReader } from './store/sqlite/reader.js';
import { SqliteStoreWriter } from './store/sqlite/writer.js';
import type { LedgerEvent } from './types.js';

function events(stream: string, n: number): LedgerEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    ts: 1_700_000_000_000 + i, node: 'mx1', source: 'gateway' as const, kind: 'rcpt.accepted' as const,
    session: `${stream}-S${Math.floor(i / 5)}`, ref: `${stream}-R${Math.floor(i / 5)}`, rcpt: `u${i % 7}@example.test`,
  }));
}

async function journal(dir: string, streams: Record<string, number>): Promise<void> {
  for (const [stream, n] of Object.entries(streams)) {
    const w = await JournalWriter.open(dir, 'mx1', stream, { sync: false });
    await w.append(events(stream, n));
    await w.close();
  }
}

test('small batches, repeated runs and several streams: every record once, positions at the ends', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-indexer-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const j = path.join(dir, 'journal');
  await journal(j, { smtp: 2500, pop3: 700 });
  const store = new SqliteStoreWriter(path.join(dir, 'store.sqlite'));
  assert.deepEqual((await lagOf(store, j)).map((l) => [l.stream, l.events]).sort(), [['pop3', 700], ['smtp', 2500]]);
  let rounds = 0;
  while ((await indexBatch(store, j, 1000)).more) rounds++;
  assert.ok(rounds >= 2, 'several batches');
  // Nothing new: another batch adds nothing.
  assert.equal((await indexBatch(store, j)).events, 0);
  await journal(j, { smtp: 300 }); // the stream goes on (seq 2501...)
  assert.equal((await catchUp(store, j, Date.now() + 10_000)).events, 300);
  assert.deepEqual(await lagOf(store, j), []);
  const pos = Object.fromEntries((await store.positions()).map((p) => [p.stream, p.seq]));
  assert.deepEqual(pos, { smtp: 2800, pop3: 700 });
  await store.close();
  const r = new SqliteStoreReader(path.join(dir, 'store.sqlite'));
  t.after(() => r.close());
  const all = [];
  for await (const e of r.all()) all.push(e);
  assert.equal(all.length, 3500);
  const keys = new Set(all.map((e) => `${e.jstream}:${e.jseq}`));
  assert.equal(keys.size, 3500, 'no record twice');
  for (let s = 1; s <= 2800; s++) assert.ok(keys.has(`smtp:${s}`));
  assert.equal((await r.query({ rcpt: 'u3@example.test', limit: 100000 })).length, 500);
});

test('research waits for the store up to its bound, and says how far it is behind when that is not enough', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-indexer-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const paths = { journal: path.join(dir, 'journal'), store: path.join(dir, 'store.sqlite') };
  await journal(paths.journal, { smtp: 45_000 });
  // No time at all: one batch (20,000 records) goes in, the rest is named.
  const lag = await catchUpStore(paths, 0);
  assert.equal(lag.length, 1);
  assert.equal(lag[0]!.stream, 'smtp');
  assert.equal(lag[0]!.node, 'mx1');
  assert.equal(lag[0]!.events, 25_000);
  // With time: everything, and nothing is said to be missing.
  const research = await openResearchStore({ paths: { ...paths, legacyLedger: '', maildirRoot: '', tlsDir: '' }, ledger: { research_wait_ms: 30_000 } } as never);
  t.after(() => research.close());
  assert.deepEqual(research.lag, []);
  assert.equal(await research.reader.count(), 45_000);
});
