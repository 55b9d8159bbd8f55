// A ledger of the previous format (one SQLite table, one row per event) into
// the store, on the first start of a version with the journal. Batch by batch,
// each with its position in the same transaction: a crash resumes where it
// stopped and converts nothing twice. When done, the old file is renamed, not
// deleted (`<path>.converted`): nothing in it is lost, and an operator can
// remove it once satisfied.
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { fromValues, SELECT_COLUMNS } from './legacy/row.js';
import type { StoreWriter } from './store/types.js';
import { progress } from '../util/progress.js';

const BATCH = 20_000;

export interface Conversion { events: number; renamedTo: string }

/** Converts `legacyPath` if it exists; null when there is nothing to convert. */
export async function convertLegacyLedger(legacyPath: string, store: StoreWriter, opts: { quiet?: boolean; batch?: number; afterBatch?: () => void } = {}): Promise<Conversion | null> {
  if (!fs.existsSync(legacyPath)) return null;
  const old = new Database(legacyPath, { readonly: true, fileMustExist: true });
  const stateKey = `convert:${legacyPath}`;
  let events = 0;
  try {
    const hasTable = old.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").get() !== undefined;
    if (hasTable) {
      const total = Number(old.prepare('SELECT count(*) FROM events').pluck().get());
      const next = old.prepare(`SELECT ${SELECT_COLUMNS.join(', ')} FROM events WHERE id > ? ORDER BY id LIMIT ?`).raw(true);
      const shown = progress(`converting ${legacyPath} into the store`, 'events', { total, quiet: opts.quiet });
      for (;;) {
        const n = await store.transaction(async (tx) => {
          const after = (await tx.state<number>(stateKey)) ?? 0;
          const rows = next.all(after, opts.batch ?? BATCH) as unknown[][];
          if (rows.length === 0) return 0;
          await tx.add(rows.map((r) => ({ event: fromValues(r) })));
          await tx.putState(stateKey, Number(rows[rows.length - 1]![0]));
          return rows.length;
        });
        if (n === 0) break;
        events += n;
        shown.add(n);
        opts.afterBatch?.();
      }
      shown.done(`${events} events converted`);
    }
  } finally {
    old.close();
  }
  const renamedTo = `${legacyPath}.converted`;
  fs.renameSync(legacyPath, renamedTo);
  for (const ext of ['-wal', '-shm']) fs.rmSync(legacyPath + ext, { force: true });
  return { events, renamedTo };
}
