import { convertLegacyLedger } from '../ledger/convert.js';
import { indexBatch, lagOf } from '../ledger/indexer.js';
import type { Damage } from '../ledger/journal/index.js';
import { openStoreWriter, storeSpecOf } from '../ledger/open.js';
import { progress } from '../util/progress.js';
import { configFrom, parse } from './common.js';

export const INDEX_HELP = `mailproof index [--json]
  Brings the store up to the journal now (what the indexer of a running
  serve does continuously; research does it too, for up to
  ledger.research_wait_ms, before it answers): converts a ledger of the
  previous format first (ledger.path), then indexes every journal stream.
  Shows its progress on a terminal. Damaged journal records are reported
  with their segment and byte offset; the rest is indexed.`;

export async function indexCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { json: { type: 'boolean' } });
  if (values.help) { process.stdout.write(INDEX_HELP + '\n'); return 0; }
  const cfg = configFrom(values);
  const quiet = values.json === true;
  const store = openStoreWriter(storeSpecOf(cfg), { migrate: true });
  try {
    const converted = await convertLegacyLedger(cfg.paths.legacyLedger, store, { quiet });
    const waiting = (await lagOf(store, cfg.paths.journal)).reduce((n, l) => n + l.events, 0);
    const shown = progress('indexing the journal into the store', 'events', { total: waiting, quiet });
    const damage: Damage[] = [];
    let events = 0;
    const t0 = Date.now();
    for (;;) {
      const r = await indexBatch(store, cfg.paths.journal);
      events += r.events;
      damage.push(...r.damage);
      shown.add(r.events);
      if (!r.more) break;
    }
    shown.done();
    const lag = await lagOf(store, cfg.paths.journal);
    const summary = { converted: converted?.events ?? 0, converted_file: converted?.renamedTo ?? null, indexed: events, seconds: (Date.now() - t0) / 1000, damage, behind: lag };
    if (values.json) {
      process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    } else {
      if (converted) process.stdout.write(`converted ${converted.events} events of the previous ledger; the old file is now ${converted.renamedTo}\n`);
      process.stdout.write(`indexed ${events} events in ${summary.seconds.toFixed(1)} s\n`);
      for (const d of damage) {
        process.stdout.write(`damaged journal record: node ${d.node}, stream ${d.stream}, segment ${d.segment}, byte ${d.offset} (${d.bytes} bytes, ${d.reason})${d.missingSeqs ? `: records ${d.missingSeqs.first}-${d.missingSeqs.last} are lost` : ''}\n`);
      }
      for (const l of lag) process.stdout.write(`still behind: node ${l.node} (${l.stream}) ${l.events} events (written while this ran)\n`);
    }
    return damage.length ? 1 : 0;
  } finally {
    await store.close();
  }
}
