// Connections to a cluster's PostgreSQL store (ledger.store = postgres://...).
// The URL never holds the password (config/load.ts refuses it): it comes from
// ledger.store_password_file, read again at every new connection so that a
// rotated password needs no restart, or from PGPASSWORD, which the pg client
// reads itself.
import fs from 'node:fs';
import pg from 'pg';

export interface PgTarget {
  /** postgres://USER@HOST:PORT/DATABASE */
  url: string;
  passwordFile: string | null;
}

/** int8 (OID 20) as a JS number: ids, times in ms and counts all stay below 2^53. */
const INT8 = 20;
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

function readPassword(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`ledger.store_password_file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (the file must exist and be readable by mailproof)`);
  }
  return text.split(/\r?\n/)[0]!;
}

/** Where the store is, for logs and errors (no password is ever in it). */
export function describeTarget(url: string): string {
  try {
    const u = new URL(url);
    return `${u.username}@${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return 'the PostgreSQL store';
  }
}

/**
 * The URL's parts as the client's own fields: given a connectionString, the
 * pg client lets the URL's (absent) password override the password option.
 */
function urlFields(url: string): pg.PoolConfig {
  const u = new URL(url);
  const mode = u.searchParams.get('sslmode');
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: u.port ? Number(u.port) : 5432,
    user: decodeURIComponent(u.username),
    database: decodeURIComponent(u.pathname.slice(1)),
    // libpq's sslmode: require encrypts without checking the certificate; verify-ca/verify-full check it.
    ...(mode === 'require' ? { ssl: { rejectUnauthorized: false } } : mode === 'verify-ca' || mode === 'verify-full' ? { ssl: true } : {}),
  };
}

export function poolConfig(t: PgTarget, opts: { max?: number; application?: string; options?: string } = {}): pg.PoolConfig {
  return {
    ...urlFields(t.url),
    ...(t.passwordFile ? { password: () => readPassword(t.passwordFile!) } : {}),
    max: opts.max ?? 4,
    application_name: opts.application ?? 'mailproof',
    ...(opts.options ? { options: opts.options } : {}),
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    // Keep a dead peer from holding a shipping transaction open for the TCP timeout.
    keepAlive: true,
    types,
  };
}

/** A pool for one process; errors of idle clients (a restarted server) are reported, not thrown. */
export function openPool(t: PgTarget, opts: { max?: number; application?: string; options?: string; onError?: (err: Error) => void } = {}): pg.Pool {
  const pool = new pg.Pool(poolConfig(t, opts));
  pool.on('error', (err) => opts.onError?.(err));
  return pool;
}

/** The store cannot be reached or refuses us: an operator's matter, said in one line (no stack). */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}

/** The error of a failed connection or query, naming the store and the key to check. */
export function storeError(url: string, err: unknown): Error {
  const e = err as NodeJS.ErrnoException & { code?: string };
  const what = describeTarget(url);
  if (e?.code === 'ECONNREFUSED' || e?.code === 'ENOTFOUND' || e?.code === 'ETIMEDOUT' || e?.code === 'EHOSTUNREACH') {
    return new StoreUnavailableError(`cannot reach the PostgreSQL store ${what}: ${e.code} (check ledger.store and that PostgreSQL runs)`, { cause: err });
  }
  if (e?.code === '28P01' || e?.code === '28000') {
    return new StoreUnavailableError(`the PostgreSQL store ${what} refused the login: ${e.message} (check the user in ledger.store and the password in ledger.store_password_file or PGPASSWORD)`, { cause: err });
  }
  if (e?.code === '3D000') return new StoreUnavailableError(`the PostgreSQL store ${what}: ${e.message} (create it: see README "Running a cluster")`, { cause: err });
  if (err instanceof StoreUnavailableError) return err;
  if (err instanceof Error && /^ledger\.store_password_file:/.test(err.message)) return new StoreUnavailableError(err.message, { cause: err });
  return err instanceof Error ? err : new Error(String(err));
}
