// The cluster database's schema, as versioned migrations. A node applies the
// missing ones when it starts (`serve`), or an operator does (`mailproof
// migrate`); a session-level advisory lock makes every other node wait
// meanwhile, so two never run at once, and each migration commits with its
// row in schema_migrations, so a crash in the middle leaves the previous
// version whole. A node that finds a newer version than it knows refuses to
// start: an old binary must not write into a schema it does not understand.
//
// Layout (docs/design.md "Ledger"): the events travel as chunks (a session's
// events from one batch, deflated: store/codec.ts), found through terms
// (store/terms.ts). Both tables are partitioned by UTC day on the time of
// their rows, so retention drops whole days (partitions.ts). Their indexes
// are the price of every COPY: B-trees only on what research looks up (a
// term; a chunk by its session id), BRIN (a few pages per partition) for
// time and id order.
import type pg from 'pg';
import { StoreUnavailableError } from './connect.js';
import { commandHint, selfCommand } from '../../../util/invocation.js';

export interface Migration { version: number; name: string; sql: string }

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'ledger store: chunks, terms, mailboxes, positions, journal heads, ingest state',
    sql: `
CREATE TABLE store_meta (key text PRIMARY KEY, value text NOT NULL);
-- Event ids are handed out in blocks, so that the nodes' shipping
-- transactions never wait for each other for an id.
CREATE SEQUENCE event_ids INCREMENT BY 1024 START WITH 1;
CREATE TABLE chunks (
  ts bigint NOT NULL,        -- time of the chunk's first event (ms); its events lie within an hour after it
  sid bigint NOT NULL,       -- the session's id (a hash of its key)
  first_id bigint NOT NULL,  -- id of its first event
  n integer NOT NULL,
  node text NOT NULL,        -- the node whose journal (or log) it came from
  codec smallint NOT NULL,
  body bytea NOT NULL
) PARTITION BY RANGE (ts);
CREATE INDEX chunks_sid ON chunks (sid);
CREATE INDEX chunks_ts ON chunks USING brin (ts);
CREATE INDEX chunks_first_id ON chunks USING brin (first_id);
CREATE TABLE terms (
  term text NOT NULL,
  ts bigint NOT NULL,        -- time of the first event in the chunk that carries the term
  sid bigint NOT NULL
) PARTITION BY RANGE (ts);
CREATE INDEX terms_term ON terms (term, ts, sid);
-- Addresses mail was accepted or delivered for: the mailboxes that exist, as the ledger knows them.
CREATE TABLE mailboxes (
  domain text NOT NULL,
  rcpt text NOT NULL,
  first_ts bigint NOT NULL,
  last_ts bigint NOT NULL,
  PRIMARY KEY (domain, rcpt)
);
-- How far each node's journal streams are in the store; committed with the rows they led to.
CREATE TABLE positions (
  node text NOT NULL,
  stream text NOT NULL,
  seq bigint NOT NULL,
  segment bigint NOT NULL,
  "offset" bigint NOT NULL,
  last_ts bigint,
  updated bigint NOT NULL,
  PRIMARY KEY (node, stream)
);
-- What each node's journals hold, as the node last reported it: research on
-- any node says which node's events the store does not have yet.
CREATE TABLE journal_heads (
  node text NOT NULL,
  stream text NOT NULL,
  seq bigint NOT NULL,
  ts bigint,                 -- time of the oldest record the store did not have yet (null: none)
  reported bigint NOT NULL,
  -- The node stopped after shipping all of it: its silence since is no gap.
  stopped boolean NOT NULL DEFAULT false,
  PRIMARY KEY (node, stream)
);
-- Log ingest: read positions and the parsers' open state, committed with the events they led to.
CREATE TABLE ingest_state (key text PRIMARY KEY, value text NOT NULL);
`,
  },
  {
    version: 2,
    name: 'checks shared by the nodes: greylisting, rate counts (checks.rate.scope = cluster)',
    // The SMTP path's state (checks/greylist/pg-store.ts, checks/rate/pg-store.ts):
    // small rows, changed in place, deleted by age; times in ms as everywhere.
    sql: `
-- Greylisting (RFC 6647): the triplets seen, and the client networks that earned automatic allowance.
CREATE TABLE greylist_triplet (
  network text NOT NULL,
  sender text NOT NULL,
  rcpt text NOT NULL,
  first_seen bigint NOT NULL,
  last_seen bigint NOT NULL,
  attempts integer NOT NULL,
  passes integer NOT NULL,
  PRIMARY KEY (network, sender, rcpt)
);
-- For pruning: pending triplets end with the retry window, passed ones with their expiry.
CREATE INDEX greylist_triplet_pending ON greylist_triplet (first_seen) WHERE passes = 0;
CREATE INDEX greylist_triplet_passed ON greylist_triplet (last_seen) WHERE passes > 0;
CREATE TABLE greylist_client (
  network text PRIMARY KEY,
  passes integer NOT NULL,
  last_seen bigint NOT NULL
);
CREATE INDEX greylist_client_last_seen ON greylist_client (last_seen);
-- Rate limits counted for the cluster: the times of a client's counted events in the window (at most the limit).
CREATE TABLE rate_window (
  kind text NOT NULL,
  client text NOT NULL,
  times bigint[] NOT NULL,
  expires bigint NOT NULL,   -- when the newest time leaves the window: the row may go
  PRIMARY KEY (kind, client)
);
CREATE INDEX rate_window_expires ON rate_window (expires);
`,
  },
];

export const LATEST = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Advisory lock keys of this schema (pg_advisory_lock's two-int form: this class, then the purpose). */
export const LOCK_CLASS = 0x6d70; // "mp"
export const LOCK_MIGRATE = 1;
export const LOCK_PARTITIONS = 2;
/** Per writer of journal positions or ingest state (with a hash of its name). */
export const LOCK_WRITER = 3;

export interface MigrateResult { from: number; to: number; applied: string[] }

async function versions(c: pg.PoolClient | pg.Client): Promise<number[]> {
  await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
  return (await c.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => r.version);
}

function tooNew(have: number): Error {
  return new StoreUnavailableError(`the PostgreSQL store has schema version ${have}, newer than this mailproof knows (${LATEST}): upgrade mailproof on this node`);
}

/** Applies the missing migrations, one node at a time. */
export async function migrate(pool: pg.Pool): Promise<MigrateResult> {
  const c = await pool.connect();
  try {
    await c.query('SELECT pg_advisory_lock($1, $2)', [LOCK_CLASS, LOCK_MIGRATE]);
    try {
      const done = await versions(c);
      const from = done.length ? done[done.length - 1]! : 0;
      if (from > LATEST) throw tooNew(from);
      const applied: string[] = [];
      for (const m of MIGRATIONS) {
        if (done.includes(m.version)) continue;
        await c.query('BEGIN');
        try {
          await c.query(m.sql);
          await c.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
          await c.query('COMMIT');
        } catch (err) {
          await c.query('ROLLBACK');
          throw new Error(`migration ${m.version} (${m.name}) failed: ${(err as Error).message}`, { cause: err });
        }
        applied.push(`${m.version}: ${m.name}`);
      }
      return { from, to: LATEST, applied };
    } finally {
      await c.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_CLASS, LOCK_MIGRATE]);
    }
  } finally {
    c.release();
  }
}

/** For readers and writers that do not migrate: the schema must be exactly the one this code knows. */
export async function checkSchema(pool: pg.Pool): Promise<void> {
  const r = await pool.query<{ v: number | null }>("SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN NULL ELSE (SELECT max(version) FROM schema_migrations) END AS v");
  const have = r.rows[0]?.v ?? 0;
  if (have > LATEST) throw tooNew(have);
  if (have < LATEST) throw new StoreUnavailableError(`the PostgreSQL store has schema version ${have}, this mailproof needs ${LATEST}: start \`${selfCommand()} serve\` on one node, or run \`${commandHint('migrate')}\``);
}
