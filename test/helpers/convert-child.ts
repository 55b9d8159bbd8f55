// The conversion of a ledger of the first format in a process of its own, for
// the crash test. Prints "batch" after each committed batch and "done <events>"
// at the end (or "nothing" when there was no file to convert).
// Usage: node convert-child.js LEGACY STORE [BATCH]
import fs from 'node:fs';
import { convertLegacyLedger } from '../../src/ledger/convert.js';
import { SqliteStoreWriter } from '../../src/ledger/store/sqlite/writer.js';

const [legacy, store, batch] = process.argv.slice(2);
if (!legacy || !store) throw new Error('usage: convert-child.js LEGACY STORE [BATCH]');
const w = new SqliteStoreWriter(store);
const r = await convertLegacyLedger(legacy, w, { quiet: true, batch: Number(batch ?? 2000), afterBatch: () => fs.writeSync(1, 'batch\n') });
await w.close();
fs.writeSync(1, r ? `done ${r.events}\n` : 'nothing\n');
