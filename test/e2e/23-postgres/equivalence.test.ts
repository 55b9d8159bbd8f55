// The PostgreSQL store answers every question of research as the previous
// ledger (one row per event, every column indexed) did, as the SQLite store
// does (src/ledger/store/sqlite/equivalence.test.ts, the same traffic and
// questions: test/helpers/store-equivalence.ts). Batches split at random
// points, so sessions land in several chunks and their ids in several blocks;
// a page of 5 sessions, so that the reader walks many pages. Ids differ from
// the previous ledger's (PostgreSQL hands them out in blocks of 1024), so
// events are compared without their id, in the same order.
import { test } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteLedgerReader } from '../../../src/ledger/legacy/reader.js';
import { openPgReader } from '../../../src/ledger/store/pg/reader.js';
import { PgStoreWriter } from '../../../src/ledger/store/pg/writer.js';
import { startPostgres } from '../../helpers/postgres.js';
import { assertSameAnswers, traffic, writeInRandomBatches, writeLegacyLedger } from '../../helpers/store-equivalence.js';

test('the PostgreSQL store answers query, byRefs, bySessions, byMessageIds, recipients, quietSessions and refusedRecipients as the previous ledger did', async (t) => {
  const db = await startPostgres(t);
  if (!db) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-pg-eq-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const events = traffic(7, 6000);
  const old = path.join(dir, 'old.sqlite');
  writeLegacyLedger(old, events);

  const target = { url: db.url, passwordFile: db.passwordFile };
  const w = new PgStoreWriter(target, { writer: 'equivalence', migrate: true });
  try {
    await writeInRandomBatches(w, events, 11);
  } finally {
    await w.close();
  }

  const a = new SqliteLedgerReader(old, { readonly: true });
  const b = openPgReader(target, { page: 5 });
  try {
    await assertSameAnswers(a, b, events.length, { ids: false });
  } finally {
    await a.close();
    await b.close();
  }
});
