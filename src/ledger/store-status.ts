// The store as an operator sees it, for `mailproof status` and /metrics:
// this node's own view of taking its journals into the store (the indexer's
// state file: true even while the store is unreachable), and for a cluster
// store, PostgreSQL's state and every node's backlog as the store knows it.
import { alive } from '../util/process.js';
import { isClusterStore, pgTargetOf, type StoreSpec } from './open.js';
import { readShipState, type ShipState } from './ship-state.js';
import { clusterState, type ClusterState } from './store/pg/cluster-state.js';
import { describeTarget, openPool, storeError } from './store/pg/connect.js';

export interface StoreStatus {
  kind: 'sqlite' | 'postgres';
  target: string;
  /** This node's indexer, as it last wrote (null: no `serve` runs on this data directory). */
  local: ShipState | null;
  /** A cluster store's state (null: SQLite, or PostgreSQL did not answer). */
  cluster: ClusterState | null;
  /** Why PostgreSQL did not answer. */
  error: string | null;
}

export async function storeStatus(spec: StoreSpec, dataDir: string, opts: { timeoutMs?: number } = {}): Promise<StoreStatus> {
  const local = readShipState(dataDir, alive);
  if (!isClusterStore(spec)) return { kind: 'sqlite', target: spec.store, local, cluster: null, error: null };
  const pool = openPool(pgTargetOf(spec), { max: 1, application: 'mailproof status' });
  const timeout = opts.timeoutMs ?? 3000;
  let timer: NodeJS.Timeout | undefined;
  try {
    const cluster = await Promise.race([
      clusterState(pool),
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${timeout} ms`)), timeout); }),
    ]);
    return { kind: 'postgres', target: describeTarget(spec.store), local, cluster, error: null };
  } catch (err) {
    return { kind: 'postgres', target: describeTarget(spec.store), local, cluster: null, error: storeError(spec.store, err).message };
  } finally {
    clearTimeout(timer);
    await pool.end().catch(() => undefined);
  }
}

/** The store is working for this node: the indexer's last round went through and, for a cluster, PostgreSQL answers now. */
export function storeUp(s: StoreStatus): boolean {
  return (s.local?.up ?? true) && s.error === null;
}
