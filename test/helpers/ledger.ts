import path from 'node:path';
import { listStreams, readStream, START } from '../../src/ledger/journal/index.js';
import type { LedgerEvent } from '../../src/ledger/types.js';
import type { Instance } from './server.js';
import { caughtUp, eventTable, storeEvents } from './event-table.js';

/** A ledger row as the tests read it (details as stored JSON text). */
export interface EventRow { kind: string; client_ip: string; smtp_code: number; enhanced_code: string; reply: string; details: string }

/** Where a data dir keeps its ledger by default (journal folder and store file). */
export function ledgerOf(dataDir: string): { store: string; journal: string } {
  return { store: path.join(dataDir, 'store.sqlite'), journal: path.join(dataDir, 'journal') };
}

/**
 * `SELECT * FROM events WHERE <where> ORDER BY id` over every event the
 * journals hold (the store brought up to them first). For a ledger whose
 * parts the configuration moved (ledger.journal_dir, ledger.store).
 */
export async function eventsIn<T = EventRow>(at: { store: string; journal: string }, where: string, ...args: unknown[]): Promise<T[]> {
  await caughtUp(at.store, at.journal);
  const db = eventTable(await storeEvents(at.store));
  try {
    return db.prepare(`SELECT * FROM events WHERE ${where} ORDER BY id`).all(...args) as T[];
  } finally {
    db.close();
  }
}

/**
 * Rows of a running instance's ledger: `SELECT * FROM events WHERE <where> ORDER BY id`
 * over every event its journals hold (the store brought up to them first).
 */
export function eventsOf<T = EventRow>(inst: Pick<Instance, 'dataDir'>, where: string, ...args: unknown[]): Promise<T[]> {
  return eventsIn<T>(ledgerOf(inst.dataDir), where, ...args);
}

/** Events written as a reply goes out (notes), not before it: poll briefly until `min` are there. */
export async function eventually<T>(f: () => T[] | Promise<T[]>, min = 1): Promise<T[]> {
  for (let i = 0; i < 50; i++) {
    const r = await f();
    if (r.length >= min) return r;
    await new Promise((res) => setTimeout(res, 100));
  }
  return f();
}

/**
 * Every event in a data directory's journals, read straight from the
 * segment files: what was durable when this ran, with no indexer between
 * (tests of "recorded before the reply").
 */
export function journalEvents(dataDir: string): LedgerEvent[] {
  const dir = path.join(dataDir, 'journal');
  const out: LedgerEvent[] = [];
  for (const { node, stream } of listStreams(dir)) {
    let from = START;
    for (;;) {
      const r = readStream(dir, node, stream, from, { maxRecords: 50_000 });
      for (const rec of r.records) out.push(rec.event);
      if (r.records.length === 0) break;
      from = r.end;
    }
  }
  return out;
}
