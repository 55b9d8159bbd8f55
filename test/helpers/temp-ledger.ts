import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JournalWriter } from '../../src/ledger/journal/index.js';
import type { ChunkReader } from '../../src/ledger/store/chunk-reader.js';
import type { LedgerEvent } from '../../src/ledger/types.js';
import { testStore } from './event-table.js';

/**
 * A ledger in a temporary directory holding `events`, the way the gateway
 * writes them: into a journal, then through the indexer into the store
 * (testStore: SQLite at `file`, or a PostgreSQL database made for it when the
 * environment asks for one). `done` removes it all.
 */
export async function tempLedger(events: LedgerEvent[], prefix = 'mp-ledger-'): Promise<{ reader: ChunkReader; file: string; journal: string; done: () => Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const file = path.join(dir, 'store.sqlite');
  const journal = path.join(dir, 'journal');
  const w = await JournalWriter.open(journal, 'test', 'smtp', { sync: false });
  await w.append(events);
  await w.close();
  const reader = await testStore(file);
  return { reader, file, journal, done: async () => { await reader.close(); fs.rmSync(dir, { recursive: true, force: true }); } };
}
