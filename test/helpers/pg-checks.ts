// The checks' cluster state (greylisting, rate counts) against a throwaway
// PostgreSQL (postgres.ts) with the schema migrated: each ClusterDb made by
// node() plays one MX node's process.
import type { TestContext } from 'node:test';
import { ClusterDb, type ClusterDbOptions } from '../../src/checks/cluster-db.js';
import { openPool, type PgTarget } from '../../src/ledger/store/pg/connect.js';
import { migrate } from '../../src/ledger/store/pg/migrations.js';
import { startPostgres, type PostgresInstance } from './postgres.js';

export interface ChecksPostgres {
  pg: PostgresInstance;
  target: PgTarget;
  /** A node's connection, closed after the test that made it. */
  node(t: { after(fn: () => Promise<void>): void }, o?: ClusterDbOptions): ClusterDb;
}

/** null: PostgreSQL is not installed and the test was skipped (outside CI). */
export async function checksPostgres(t: TestContext): Promise<ChecksPostgres | null> {
  const db = await startPostgres(t);
  if (!db) return null;
  const target = { url: db.url, passwordFile: db.passwordFile };
  const pool = openPool(target, { max: 1 });
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
  return {
    pg: db,
    target,
    node(tt, o) {
      const db = new ClusterDb(target, o);
      tt.after(() => db.close());
      return db;
    },
  };
}
