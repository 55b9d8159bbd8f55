import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JournalWriter } from '../../src/ledger/journal/index.js';
import { SqliteStoreReader } from '../../src/ledger/store/sqlite/reader.js';
import type { LedgerEvent } from '../../src/ledger/types.js';
import { caughtUp } from './event-table.js';

/**
 * A ledger in a temporary directory holding `events`, the way the gateway
 * writes them: into a journal, then through the indexer into the store.
 * `file` is the store; `done` removes it all.
 */
export async function tempLedger(events: LedgerEvent[], prefix = 'mp-ledger-'): Promise<{ reader: SqliteStoreReader; file: string; journal: string; done: () => Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const file = path.join(dir, 'store.sqlite');
  const journal = path.join(dir, 'journal');
  const w = await JournalWriter.open(journal, 'test', 'smtp', { sync: false });
  await w.append(events);
  await w.close();
  await caughtUp(file, journal);
  const reader = new SqliteStoreReader(file);
  return { reader, file, journal, done: async () => { await reader.close(); fs.rmSync(dir, { recursive: true, force: true }); } };
}
