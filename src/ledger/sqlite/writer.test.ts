import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteLedgerReader } from './reader.js';
import { SqliteLedgerWriter } from './writer.js';
import type { LedgerEvent } from '../types.js';

function ev(i: number, extra: Partial<LedgerEvent> = {}): LedgerEvent {
  return { ts: 1_700_000_000_000 + i, node: 'n1', source: 'gateway', kind: 'rcpt.accepted', ref: `REF${i % 7}`, rcpt: `User${i % 3}@Example.TEST`, mail_from: 's@sender.test', details: { i }, ...extra };
}

test('appends are durable and readable in order; many concurrent appends share commits', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-ledger-'));
  const file = path.join(dir, 'l.sqlite');
  const w = new SqliteLedgerWriter(file);
  await w.ready;
  await Promise.all(Array.from({ length: 500 }, (_, i) => w.append([ev(i)])));
  await w.close();
  const r = new SqliteLedgerReader(file, { readonly: true });
  const all = r.query({ limit: 10000 });
  assert.equal(all.length, 500);
  assert.deepEqual(all.map((e) => (e.details as { i: number }).i), Array.from({ length: 500 }, (_, i) => i));
  // Addresses are found case-insensitively, by address and by domain.
  assert.equal(r.query({ rcpt: 'user1@example.test' }).length, 167);
  assert.equal(r.query({ rcpt_domain: 'EXAMPLE.test' }).length, 500);
  assert.equal(r.query({ mail_from_domain: 'sender.test' }).length, 500);
  assert.equal(r.byRefs(['REF1', 'REF2']).length, 144);
  r.close();
});

test('prune removes only older events', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-ledger-'));
  const file = path.join(dir, 'l.sqlite');
  const w = new SqliteLedgerWriter(file);
  await w.append([ev(1, { ts: 1000 }), ev(2, { ts: 2000 }), ev(3, { ts: 3000 })]);
  await w.close();
  const r = new SqliteLedgerReader(file);
  assert.equal(r.prune(2500), 2);
  assert.equal(r.query({}).length, 1);
  r.close();
});

test('a ledger that cannot be written rejects the append (the caller answers 4xx)', async () => {
  const w = new SqliteLedgerWriter('/nonexistent-dir/for/sure/l.sqlite');
  await assert.rejects(w.ready);
  await assert.rejects(w.append([ev(1)]));
});

test('notes (durable: false) are committed with the next durable append, in order, or on their own soon after', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-ledger-'));
  const file = path.join(dir, 'l.sqlite');
  const w = new SqliteLedgerWriter(file);
  await w.ready;
  const r = new SqliteLedgerReader(file, { readonly: true });
  const seen = (): number[] => r.query({ limit: 10000 }).map((e) => (e.details as { i: number }).i);
  // Several notes of one turn, then a durable append: once the durable one
  // resolved, every note before it is readable, and ids keep the append order.
  const notes = [w.append([ev(0)], { durable: false }), w.append([ev(1), ev(2)], { durable: false })];
  await w.append([ev(3)]);
  assert.deepEqual(seen(), [0, 1, 2, 3]);
  await Promise.all(notes);
  // Notes alone reach the ledger without a durable append to carry them.
  const alone = w.append([ev(4)], { durable: false });
  await alone;
  assert.deepEqual(seen(), [0, 1, 2, 3, 4]);
  // A note appended just before close is not lost.
  void w.append([ev(5)], { durable: false });
  await w.close();
  assert.deepEqual(seen(), [0, 1, 2, 3, 4, 5]);
  r.close();
});
