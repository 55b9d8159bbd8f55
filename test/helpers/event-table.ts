import path from 'node:path';
import { JournalWriter } from '../../src/ledger/journal/index.js';
import Database from 'better-sqlite3';
import { applySchema, COLUMNS } from '../../src/ledger/legacy/schema.js';
import { toRow } from '../../src/ledger/legacy/row.js';
import { catchUp } from '../../src/ledger/indexer.js';
import { SqliteStoreReader } from '../../src/ledger/store/sqlite/reader.js';
import { SqliteStoreWriter } from '../../src/ledger/store/sqlite/writer.js';
import { toStored } from '../../src/ledger/store/codec.js';
import type { StoredEvent } from '../../src/ledger/types.js';

/** Every event of a store, in the order the store numbered them. */
export async function storeEvents(store: string): Promise<StoredEvent[]> {
  const r = new SqliteStoreReader(store);
  try {
    const out: StoredEvent[] = [];
    for await (const e of r.all()) out.push(toStored(e));
    return out.sort((a, b) => a.id - b.id);
  } finally {
    await r.close();
  }
}

/** The store after it took in everything in the journal directory (as research does before it answers). */
export async function caughtUp(store: string, journal: string): Promise<void> {
  const w = new SqliteStoreWriter(store);
  try {
    await catchUp(w, journal, Date.now() + 30_000);
  } finally {
    await w.close();
  }
}

/**
 * The events as one SQL table of the first ledger format (one row per event,
 * with its store id), in memory: tests ask it in SQL what they assert on.
 */
export function eventTable(events: StoredEvent[]): Database.Database {
  const db = new Database(':memory:');
  applySchema(db);
  const ins = db.prepare(`INSERT INTO events (id, ${COLUMNS.join(',')}) VALUES (@id, ${COLUMNS.map((c) => '@' + c).join(',')})`);
  db.transaction(() => { for (const e of events) ins.run({ id: e.id, ...toRow(e) }); })();
  return db;
}

/** A journal for a test's store (the folder "journal" beside it, as the configuration's defaults have it), unsynced. */
export function testJournal(store: string): Promise<JournalWriter> {
  return JournalWriter.open(path.join(path.dirname(store), 'journal'), 'test', 'smtp', { sync: false });
}

/** The store of a test, caught up with the journal beside it, for reading. */
export async function testStore(store: string): Promise<SqliteStoreReader> {
  await caughtUp(store, path.join(path.dirname(store), 'journal'));
  return new SqliteStoreReader(store);
}
