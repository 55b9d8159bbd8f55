// The cluster's PostgreSQL (ledger.store = postgres://...) for checks whose
// state the nodes share: greylisting, and the rate counts with
// checks.rate.scope = cluster. One small pool per process, made on first
// use, closed when the gateway stops.
//
// The SMTP path must never hang on PostgreSQL: every decision is one
// transaction that must finish within timeoutMs, connecting included (the
// server's statement_timeout says the same, so PostgreSQL stops working on
// it too). A decision that fails or is too slow throws ClusterUnavailable
// and the check decides with the node's own state instead (withFallback).
// After a failure the next retryAfterMs skip PostgreSQL at once: an
// unreachable host would otherwise cost every SMTP command the whole
// timeout. Then the next decision tries again, and the cluster state is
// used again as soon as PostgreSQL answers.
import pg from 'pg';
import type { Health } from '../health/index.js';
import { describeTarget, poolConfig, storeError, type PgTarget } from '../ledger/store/pg/connect.js';
import type { Logger } from '../log/logger.js';
import { commandHint, selfCommand } from '../util/invocation.js';

/** PostgreSQL failed, was too slow, or failed a moment ago: decide locally. */
export class ClusterUnavailable extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ClusterUnavailable';
  }
}

export interface ClusterDbOptions {
  /** Longest one decision may take, connecting included (ms). */
  timeoutMs?: number;
  /** After a failure, how long decisions go local without trying PostgreSQL (ms). */
  retryAfterMs?: number;
  /** Clock of the retry pause (tests inject theirs). */
  now?: () => number;
}

const DEFAULT_TIMEOUT_MS = 2000;
const DEFAULT_RETRY_AFTER_MS = 5000;
/** Pruning runs outside the SMTP path and may take longer than a decision. */
const MAINTENANCE_TIMEOUT_MS = 60_000;
const UNDEFINED_TABLE = '42P01';

export class ClusterDb {
  private pool: pg.Pool | null = null;
  private readonly timeoutMs: number;
  private readonly retryAfterMs: number;
  private readonly now: () => number;
  private downUntil = -Infinity;
  private lastError: string | null = null;

  constructor(readonly target: PgTarget, o: ClusterDbOptions = {}) {
    this.timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.retryAfterMs = o.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS;
    this.now = o.now ?? Date.now;
  }

  /** Where PostgreSQL is, for logs. */
  get where(): string {
    return describeTarget(this.target.url);
  }

  /** Why the last decision went local; null when the last one reached PostgreSQL (or none was tried yet). */
  get down(): string | null {
    return this.lastError;
  }

  private getPool(): pg.Pool {
    if (!this.pool) {
      this.pool = new pg.Pool({
        ...poolConfig(this.target, { max: 2, application: 'mailproof checks' }),
        connectionTimeoutMillis: this.timeoutMs,
        statement_timeout: this.timeoutMs,
        // A node that stalls inside a transaction (a frozen VM) must not hold
        // its locks, and so every other node's decisions, for long.
        idle_in_transaction_session_timeout: Math.max(10_000, 5 * this.timeoutMs),
        // CLI commands that build check services must not wait for idle connections.
        allowExitOnIdle: true,
      });
      // A connection dies when PostgreSQL restarts: an idle one is dropped
      // by the pool, one in use fails its next query and the decision falls
      // back. Neither may throw out of an event (pg emits 'error' on a
      // checked-out client that is between two queries, with no listener).
      this.pool.on('error', () => undefined);
      this.pool.on('connect', (client) => client.on('error', () => undefined));
    }
    return this.pool;
  }

  /**
   * Runs fn in one transaction (READ COMMITTED) that must commit within the
   * timeout. Throws ClusterUnavailable when it does not.
   */
  async transaction<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const now = this.now();
    if (now < this.downUntil) throw new ClusterUnavailable(`not tried: PostgreSQL failed ${Math.round((now - (this.downUntil - this.retryAfterMs)) / 1000)} s ago (${this.lastError})`);
    let client: pg.PoolClient | null = null;
    let released = false;
    let timedOut = false;
    const release = (destroy?: Error): void => {
      if (client && !released) {
        released = true;
        client.release(destroy);
      }
    };
    const work = (async (): Promise<T> => {
      const c = await this.getPool().connect();
      client = c;
      if (timedOut) {
        release(new Error('connected after the timeout'));
        throw new Error('timed out');
      }
      let committed = false;
      try {
        await c.query('BEGIN');
        const r = await fn(c);
        await c.query('COMMIT');
        committed = true;
        return r;
      } finally {
        if (!committed && !timedOut) {
          const ok = await c.query('ROLLBACK').then(() => true, () => false);
          release(ok ? undefined : new Error('rollback failed'));
        } else {
          release();
        }
      }
    })();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        // Closing the connection ends the transaction on the server too (rolled back).
        release(new Error('timed out'));
        reject(new Error(`no answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
    });
    // After a timeout, the abandoned work's failure is expected.
    work.catch(() => undefined);
    try {
      const r = await Promise.race([work, deadline]);
      this.downUntil = -Infinity;
      this.lastError = null;
      return r;
    } catch (err) {
      this.lastError = this.explain(err);
      this.downUntil = this.now() + this.retryAfterMs;
      throw new ClusterUnavailable(this.lastError, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  /** One statement outside the SMTP path (deleting old rows); returns the rows it touched. */
  async maintenance(sql: string, params: unknown[]): Promise<number> {
    if (this.now() < this.downUntil) return 0;
    const c = await this.getPool().connect();
    try {
      await c.query('BEGIN');
      await c.query(`SET LOCAL statement_timeout = ${MAINTENANCE_TIMEOUT_MS}`);
      const r = await c.query(sql, params);
      await c.query('COMMIT');
      return r.rowCount ?? 0;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw new Error(this.explain(err), { cause: err });
    } finally {
      c.release();
    }
  }

  private explain(err: unknown): string {
    if ((err as { code?: string })?.code === UNDEFINED_TABLE) {
      return `the PostgreSQL store ${this.where} lacks the checks' tables (${(err as Error).message}): start \`${selfCommand()} serve\` on one node, or run \`${commandHint('migrate')}\``;
    }
    return storeError(this.target.url, err).message;
  }

  async close(): Promise<void> {
    const p = this.pool;
    this.pool = null;
    await p?.end();
  }
}

/** How a check reports where its decision came from. */
export interface FallbackReport {
  health: Health;
  log?: Logger | undefined;
  /** The check, for health and log lines. */
  check: string;
  /** What the node decides with instead, for the log ("its local greylist"). */
  instead: string;
}

/**
 * The cluster's answer, or, when PostgreSQL is unavailable, the local one
 * (reported as component "postgres" in Health and logged). `cluster` says
 * which it is.
 */
export async function withFallback<T>(
  db: ClusterDb,
  viaCluster: () => Promise<T>,
  locally: () => T | Promise<T>,
  r: FallbackReport,
): Promise<{ value: T; cluster: boolean }> {
  const wasDown = db.down;
  try {
    const value = await viaCluster();
    r.health.ok('postgres');
    if (wasDown) r.log?.info({ check: r.check, store: db.where }, 'PostgreSQL answers again: deciding with the cluster state');
    return { value, cluster: true };
  } catch (err) {
    if (!(err instanceof ClusterUnavailable)) throw err;
    r.health.fail('postgres', `${r.check}: ${err.message}`);
    r.log?.warn({ check: r.check, store: db.where, err: err.message }, `PostgreSQL unavailable: ${r.check} decides with ${r.instead}`);
    return { value: await locally(), cluster: false };
  }
}
