// Day partitions of the chunks and terms tables (UTC days of their rows'
// time). A day's partitions are made before the first rows of that day are
// written, in a transaction of their own: creating a partition locks its
// parent, and doing it inside a shipping transaction would make the nodes'
// transactions wait for each other (or deadlock). Retention drops whole days:
// instant, however big the store.
import type pg from 'pg';
import { LOCK_CLASS, LOCK_PARTITIONS } from './migrations.js';

export const DAY_MS = 86_400_000;
const PARTITIONED = ['chunks', 'terms'] as const;

export const dayOf = (ts: number): number => Math.floor(ts / DAY_MS);

/** chunks_d20261205 for the day starting 2026-12-05T00:00Z. */
export function partitionName(table: string, day: number): string {
  return `${table}_d${new Date(day * DAY_MS).toISOString().slice(0, 10).replace(/-/g, '')}`;
}

/** The days that have partitions (of the chunks table; terms always get theirs in the same transaction). */
export async function existingDays(c: pg.Pool | pg.PoolClient): Promise<number[]> {
  const r = await c.query<{ name: string }>(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'chunks'`);
  return r.rows.map((x) => /_d(\d{4})(\d{2})(\d{2})$/.exec(x.name)).filter((m): m is RegExpExecArray => m !== null)
    .map((m) => dayOf(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])))).sort((a, b) => a - b);
}

/** Makes the partitions of these days where missing (one node at a time). */
export async function ensureDays(pool: pg.Pool, days: Iterable<number>, known: Set<number>): Promise<void> {
  const want = [...new Set(days)].filter((d) => !known.has(d));
  if (want.length === 0) return;
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await c.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_CLASS, LOCK_PARTITIONS]);
    const have = new Set(await existingDays(c));
    for (const d of want) {
      if (have.has(d)) continue;
      for (const t of PARTITIONED) {
        await c.query(`CREATE TABLE ${partitionName(t, d)} PARTITION OF ${t} FOR VALUES FROM (${d * DAY_MS}) TO (${(d + 1) * DAY_MS})`);
      }
    }
    await c.query('COMMIT');
    for (const d of want) known.add(d);
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

/** Drops the days that end before the cutoff; returns the events they held. */
export async function dropDaysBefore(pool: pg.Pool, cutoffMs: number): Promise<{ days: number; events: number }> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await c.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_CLASS, LOCK_PARTITIONS]);
    const old = (await existingDays(c)).filter((d) => (d + 1) * DAY_MS <= cutoffMs);
    let events = 0;
    for (const d of old) {
      events += Number((await c.query<{ n: number }>(`SELECT coalesce(sum(n), 0)::bigint AS n FROM ${partitionName('chunks', d)}`)).rows[0]!.n);
      for (const t of PARTITIONED) await c.query(`DROP TABLE IF EXISTS ${partitionName(t, d)}`);
    }
    await c.query('DELETE FROM mailboxes WHERE last_ts < $1', [cutoffMs]);
    await c.query('COMMIT');
    return { days: old.length, events };
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}
