// How far a cluster's store is behind its nodes' journals, as research on any
// node sees it: every node's shipper reports what its journals hold
// (journal_heads) beside what the store has (positions). A node cut off from
// PostgreSQL cannot report; its silence is a gap of unknown size, and the
// answer says so instead of pretending to be complete.
import type pg from 'pg';
import type { StoreLag } from '../types.js';

/** A node that reports less often than this (its shipper reports every few seconds) may be cut off. */
export const SILENT_AFTER_MS = 60_000;

interface Row { node: string; stream: string; seq: number; ts: number | null; reported: number; stopped: boolean; have: number | null; updated: number | null }

export async function clusterLag(pool: pg.Pool, now = Date.now()): Promise<StoreLag[]> {
  const { rows } = await pool.query<Row>(`SELECT h.node, h.stream, h.seq, h.ts, h.reported, h.stopped, p.seq AS have, p.updated
    FROM journal_heads h LEFT JOIN positions p ON p.node = h.node AND p.stream = h.stream ORDER BY h.node, h.stream`);
  const out: StoreLag[] = [];
  for (const r of rows) {
    const events = Math.max(0, Number(r.seq) - Number(r.have ?? 0));
    const silent = r.stopped ? 0 : Math.max(0, now - Number(r.reported));
    if (events === 0 && silent < SILENT_AFTER_MS) continue;
    out.push({
      node: r.node, stream: r.stream, events,
      // The oldest record the node had not shipped when it reported; else when the store last took its records.
      behind_ms: events === 0 ? 0 : r.ts !== null ? Math.max(0, now - Number(r.ts)) : r.updated !== null ? Math.max(0, now - Number(r.updated)) : 0,
      ...(silent >= SILENT_AFTER_MS ? { silent_ms: silent } : {}),
    });
  }
  return out;
}

/** A node out of service for good: marked stopped, so its silence is no gap any more. Returns its streams. */
export async function retireNode(pool: pg.Pool, node: string): Promise<number> {
  return (await pool.query('UPDATE journal_heads SET stopped = true WHERE node = $1', [node])).rowCount ?? 0;
}
