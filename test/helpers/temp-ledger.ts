import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteLedgerReader } from '../../src/ledger/sqlite/reader.js';
import { SqliteLedgerWriter } from '../../src/ledger/sqlite/writer.js';
import type { LedgerEvent } from '../../src/ledger/types.js';

/** A ledger in a temporary directory holding `events`, written through the real writer; `done` removes it. */
export async function tempLedger(events: LedgerEvent[], prefix = 'mp-ledger-'): Promise<{ reader: SqliteLedgerReader; file: string; done: () => void }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const file = path.join(dir, 'ledger.sqlite');
  const w = new SqliteLedgerWriter(file);
  await w.ready;
  await w.append(events);
  await w.close();
  const reader = new SqliteLedgerReader(file);
  return { reader, file, done: () => { reader.close(); fs.rmSync(dir, { recursive: true, force: true }); } };
}
