// A cluster store's state for operators (`mailproof status`, /metrics): is
// PostgreSQL there, which version and schema, how big, and per node and
// stream what its journal holds against what the store has.
import type pg from 'pg';
import { SILENT_AFTER_MS } from './lag.js';

export interface NodeStream {
  node: string;
  stream: string;
  /** The newest record the node reported (0: never reported). */
  head: number;
  /** The last record the store has. */
  have: number;
  /** head - have (what the store is known to miss). */
  behind: number;
  /** When the store last took records of the stream (ms since the epoch). */
  shipped: number | null;
  /** When the node last reported its journal. */
  reported: number | null;
  stopped: boolean;
  /** The node has not reported for longer than a minute while not stopped. */
  silent: boolean;
}

export interface ClusterState {
  server: string;
  schema: number;
  bytes: number;
  streams: NodeStream[];
}

export async function clusterState(pool: pg.Pool, now = Date.now()): Promise<ClusterState> {
  const meta = (await pool.query<{ server: string; schema: number | null; bytes: number }>(`SELECT current_setting('server_version') AS server,
    (SELECT max(version) FROM schema_migrations) AS schema, pg_database_size(current_database()) AS bytes`)).rows[0]!;
  const { rows } = await pool.query<{ node: string; stream: string; head: number | null; have: number | null; updated: number | null; reported: number | null; stopped: boolean | null }>(
    `SELECT coalesce(h.node, p.node) AS node, coalesce(h.stream, p.stream) AS stream, h.seq AS head, p.seq AS have, p.updated, h.reported, h.stopped
     FROM journal_heads h FULL JOIN positions p ON p.node = h.node AND p.stream = h.stream ORDER BY 1, 2`);
  return {
    server: meta.server, schema: Number(meta.schema ?? 0), bytes: Number(meta.bytes),
    streams: rows.map((r) => {
      const head = Number(r.head ?? r.have ?? 0);
      const have = Number(r.have ?? 0);
      const reported = r.reported === null ? null : Number(r.reported);
      return {
        node: r.node, stream: r.stream, head, have, behind: Math.max(0, head - have),
        shipped: r.updated === null ? null : Number(r.updated), reported, stopped: r.stopped === true,
        silent: reported !== null && r.stopped !== true && now - reported >= SILENT_AFTER_MS,
      };
    }),
  };
}
