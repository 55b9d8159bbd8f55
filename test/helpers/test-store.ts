// Which store the research tests build their ledgers in. By default the
// embedded SQLite store, at the path the test names. With
//   MAILPROOF_TEST_STORE=postgres
//   MAILPROOF_TEST_PG_URL=postgres://ROLE@HOST:PORT/DATABASE   (no password; ROLE has CREATEDB)
//   MAILPROOF_TEST_PG_PASSWORD_FILE=FILE
// (test/e2e/23-postgres/research-suites.test.ts sets them for the research
// test files it runs) each test store is a fresh PostgreSQL database instead,
// made for it and dropped when the test is done with it. The path stays the
// test's name for its store (its journal sits beside it); the spec is the
// only thing that differs, so the tests run the same code on both stores.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { StoreSpec } from '../../src/ledger/open.js';
import { poolConfig } from '../../src/ledger/store/pg/connect.js';

export type TestStoreKind = 'sqlite' | 'postgres';

interface PgServer { url: string; passwordFile: string }

/** The PostgreSQL the environment names for test stores, or null (SQLite). A half-set environment is an error, not a silent SQLite run. */
function pgServer(): PgServer | null {
  const kind = process.env.MAILPROOF_TEST_STORE;
  if (kind === undefined || kind === '' || kind === 'sqlite') return null;
  if (kind !== 'postgres') throw new Error(`MAILPROOF_TEST_STORE=${kind}: expected "postgres" or "sqlite"`);
  const url = process.env.MAILPROOF_TEST_PG_URL;
  const passwordFile = process.env.MAILPROOF_TEST_PG_PASSWORD_FILE;
  if (!url || !passwordFile) throw new Error('MAILPROOF_TEST_STORE=postgres needs MAILPROOF_TEST_PG_URL and MAILPROOF_TEST_PG_PASSWORD_FILE');
  return { url, passwordFile };
}

export function testStoreKind(): TestStoreKind {
  return pgServer() ? 'postgres' : 'sqlite';
}

interface PgStore { spec: StoreSpec; database: string; users: number }

/** The PostgreSQL databases made for test stores, by the resolved path the test knows the store by. */
const pgStores = new Map<string, PgStore>();

/** One statement as the test role in the server's own database (making and dropping the test databases). */
async function asRole(server: PgServer, sql: string): Promise<void> {
  const c = new pg.Client({ ...poolConfig({ url: server.url, passwordFile: server.passwordFile }), ssl: false });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/**
 * The store a test writes its ledger to and reads it from, as a spec for
 * openStoreWriter/openStoreReader: the SQLite file, or the PostgreSQL
 * database made for it (at the first call; later calls share it until the
 * last user released it). A SQLite file that exists already (a gateway's
 * own store in an end-to-end test) is read where it is.
 */
export async function acquireTestStore(file: string): Promise<StoreSpec> {
  const key = path.resolve(file);
  const had = pgStores.get(key);
  if (had) {
    had.users++;
    return had.spec;
  }
  const server = pgServer();
  if (!server || fs.existsSync(file)) return { store: file };
  // Unique across the test processes sharing the server: pid, a counter would
  // do within one; the random part covers a pid reused by a later process.
  const database = `mp_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await asRole(server, `CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  const u = new URL(server.url);
  u.pathname = '/' + encodeURIComponent(database);
  // No node: one writer (the test's), and /metrics counts every node's events, as with SQLite.
  const spec: StoreSpec = { store: u.toString(), storePasswordFile: server.passwordFile };
  pgStores.set(key, { spec, database, users: 1 });
  return spec;
}

/** The spec of a store by the path the test knows it by (whatever acquireTestStore made of it; else the SQLite file). */
export function testStoreSpec(file: string): StoreSpec {
  return pgStores.get(path.resolve(file))?.spec ?? { store: file };
}

/** One user of the store is done; the last one drops a PostgreSQL database (after closing its own connections to it). */
export async function releaseTestStore(file: string): Promise<void> {
  const key = path.resolve(file);
  const s = pgStores.get(key);
  if (!s || --s.users > 0) return;
  pgStores.delete(key);
  // FORCE: a connection someone forgot to close must not keep the database (and fail the test late).
  await asRole(pgServer()!, `DROP DATABASE IF EXISTS ${pg.escapeIdentifier(s.database)} WITH (FORCE)`);
}
