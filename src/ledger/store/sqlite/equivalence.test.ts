import { test } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteLedgerReader } from '../../legacy/reader.js';
import { SqliteStoreReader } from './reader.js';
import { SqliteStoreWriter } from './writer.js';
import { assertSameAnswers, traffic, writeInRandomBatches, writeLegacyLedger } from '../../../../test/helpers/store-equivalence.js';

// The store answers every question of research as the previous ledger (one
// row per event, every column indexed) did: same events, same order, same
// fields, same ids. Seeded random traffic; batches split at random points,
// so sessions land in several chunks; a page of 5 sessions, so that the
// reader walks many pages. The PostgreSQL store gets the same questions in
// test/e2e/23-postgres/equivalence.test.ts.

test('the store answers query, byRefs, bySessions, byMessageIds, recipients, quietSessions and refusedRecipients as the previous ledger did', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-store-eq-'));
  try {
    const events = traffic(7, 6000);
    const old = path.join(dir, 'old.sqlite');
    writeLegacyLedger(old, events);

    const file = path.join(dir, 'store.sqlite');
    const w = new SqliteStoreWriter(file);
    await writeInRandomBatches(w, events, 11);
    await w.close();

    const a = new SqliteLedgerReader(old, { readonly: true });
    const b = new SqliteStoreReader(file, 5);
    try {
      await assertSameAnswers(a, b, events.length, { ids: true });
    } finally {
      await a.close();
      await b.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
