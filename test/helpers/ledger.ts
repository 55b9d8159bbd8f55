import path from 'node:path';
import type { Instance } from './server.js';
import { caughtUp, eventTable, storeEvents } from './event-table.js';

/** A ledger row as the tests read it (details as stored JSON text). */
export interface EventRow { kind: string; client_ip: string; smtp_code: number; enhanced_code: string; reply: string; details: string }

/**
 * Rows of a running instance's ledger: `SELECT * FROM events WHERE <where> ORDER BY id`
 * over every event its journals hold (the store brought up to them first).
 */
export function eventsOf(inst: Instance, where: string, ...args: unknown[]): EventRow[] {
  const store = path.join(inst.dataDir, 'store.sqlite');
  caughtUp(store, path.join(inst.dataDir, 'journal'));
  const db = eventTable(storeEvents(store));
  try {
    return db.prepare(`SELECT * FROM events WHERE ${where} ORDER BY id`).all(...args) as EventRow[];
  } finally {
    db.close();
  }
}

/** Events written as a reply goes out (notes), not before it: poll briefly until `min` are there. */
export async function eventually<T>(f: () => T[], min = 1): Promise<T[]> {
  for (let i = 0; i < 50; i++) {
    const r = f();
    if (r.length >= min) return r;
    await new Promise((res) => setTimeout(res, 100));
  }
  return f();
}
