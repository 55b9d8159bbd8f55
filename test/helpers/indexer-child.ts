// The indexer's one-shot run in a process of its own, for the crash test:
// takes the journal into the store batch by batch (each batch one store
// transaction) until nothing is left. Prints "batch <events>" after each
// commit and "done <total>" at the end, so that the test can kill it at a
// moment of its choosing and see how far it got.
// Usage: node indexer-child.js STORE JOURNAL [RECORDS_PER_BATCH]
import fs from 'node:fs';
import { indexBatch } from '../../src/ledger/indexer.js';
import { SqliteStoreWriter } from '../../src/ledger/store/sqlite/writer.js';

const [store, journal, per] = process.argv.slice(2);
if (!store || !journal) throw new Error('usage: indexer-child.js STORE JOURNAL [RECORDS_PER_BATCH]');
const w = new SqliteStoreWriter(store);
let total = 0;
for (;;) {
  const r = await indexBatch(w, journal, Number(per ?? 5000));
  if (r.damage.length) throw new Error(`damage: ${JSON.stringify(r.damage)}`);
  total += r.events;
  // Synchronous: on the pipe before a kill can come.
  fs.writeSync(1, `batch ${r.events}\n`);
  if (!r.more) break;
}
await w.close();
fs.writeSync(1, `done ${total}\n`);
