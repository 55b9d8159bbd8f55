import path from 'node:path';
import { JournalWriter } from '../../src/ledger/journal/index.js';
import Database from 'better-sqlite3';
import { applySchema, COLUMNS } from '../../src/ledger/legacy/schema.js';
import { toRow } from '../../src/ledger/legacy/row.js';
import { catchUp } from '../../src/ledger/indexer.js';
import { openStoreReader, openStoreWriter } from '../../src/ledger/open.js';
import { ChunkReader } from '../../src/ledger/store/chunk-reader.js';
import { toStored } from '../../src/ledger/store/codec.js';
import type { StoredEvent } from '../../src/ledger/types.js';
import { acquireTestStore, releaseTestStore, testStoreSpec } from './test-store.js';

/** Every event of a store, in the order the store numbered them. */
export async function storeEvents(store: string): Promise<StoredEvent[]> {
  const r = openStoreReader(testStoreSpec(store));
  try {
    const out: StoredEvent[] = [];
    for await (const e of r.all()) out.push(toStored(e));
    return out.sort((a, b) => a.id - b.id);
  } finally {
    await r.close();
  }
}

/**
 * The store after it took in everything in the journal directory (as research
 * does before it answers). `store` is the path the test knows it by: a
 * PostgreSQL store of the test (test-store.ts) is migrated at first contact,
 * as the indexer of `serve` does.
 */
export async function caughtUp(store: string, journal: string): Promise<void> {
  const w = openStoreWriter(testStoreSpec(store), { migrate: true });
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

/** A reader whose close also lets go of the test's store (a PostgreSQL one is dropped with its last user). */
class TestStoreReader extends ChunkReader {
  constructor(inner: ChunkReader, private readonly release: () => Promise<void>) {
    super(inner.source);
  }

  override async close(): Promise<void> {
    try {
      await super.close();
    } finally {
      await this.release();
    }
  }
}

/**
 * The store of a test, caught up with the journal beside it, for reading:
 * SQLite at `store`, or a PostgreSQL database made for it when the
 * environment asks for one (test-store.ts); closing the reader drops that.
 */
export async function testStore(store: string): Promise<ChunkReader> {
  const spec = await acquireTestStore(store);
  try {
    await caughtUp(store, path.join(path.dirname(store), 'journal'));
    return new TestStoreReader(openStoreReader(spec), () => releaseTestStore(store));
  } catch (err) {
    await releaseTestStore(store);
    throw err;
  }
}
