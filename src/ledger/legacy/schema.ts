import type Database from 'better-sqlite3';

// The previous ledger format, kept to read it: convert.ts turns such a
// ledger into the store, and tests hold the store's answers against it.
// One table, one row per event. Columns carry what research filters on; the
// evidence goes into `details` as JSON. Domain columns are stored separately
// (lower-cased) so "--domain" and "--from DOMAIN" use an index, not LIKE.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  node TEXT NOT NULL,
  source TEXT NOT NULL,
  kind TEXT NOT NULL,
  session TEXT,
  ref TEXT,
  client_ip TEXT,
  client_ptr TEXT,
  helo TEXT,
  mail_from TEXT,
  mail_from_domain TEXT,
  rcpt TEXT,
  rcpt_domain TEXT,
  message_id TEXT,
  size INTEGER,
  check_name TEXT,
  verdict TEXT,
  smtp_code INTEGER,
  enhanced_code TEXT,
  reply TEXT,
  details TEXT
);
CREATE INDEX IF NOT EXISTS events_rcpt_p ON events(rcpt, ts) WHERE rcpt IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_rcpt_domain_p ON events(rcpt_domain, ts) WHERE rcpt_domain IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_from_domain_p ON events(mail_from_domain, ts) WHERE mail_from_domain IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_ref ON events(ref);
CREATE INDEX IF NOT EXISTS events_session ON events(session);
CREATE INDEX IF NOT EXISTS events_ip ON events(client_ip, ts);
CREATE INDEX IF NOT EXISTS events_msgid_p ON events(message_id) WHERE message_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_ts ON events(ts);
CREATE INDEX IF NOT EXISTS events_close_p ON events(ts) WHERE kind = 'session.close';
`;

// Partial indexes (the _p ones): most events have no recipient, sender
// domain or Message-ID (session, check and POP3 events), and a NULL would be
// an index entry like any other. Every query on these columns compares with
// = or IN, which SQLite matches to "IS NOT NULL" (sqlite.org/partialindex.html
// section 2.2). On an ingested 200,000-line Postfix log (150,251 events)
// these four indexes took 6.4 MiB instead of 12.1 (dbstat), the whole ledger
// 58 MiB instead of 64. Ledgers written before keep working; their full
// indexes are replaced here once (on a large ledger that first start takes
// minutes: one CREATE INDEX pass per index).
const REPLACED = ['events_rcpt', 'events_rcpt_domain', 'events_from_domain', 'events_msgid'];

export function openPragmas(db: Database.Database): void {
  // WAL lets readers (trace, web) run while the gateway writes. synchronous=FULL
  // fsyncs the WAL on every commit: an event must be durable before the reply
  // that depends on it goes out (docs/design.md "Ledger events"). Group commit in the
  // writer keeps that to one fsync per batch.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  // Several gateway worker processes share the file; wait for the write lock
  // instead of failing at once.
  db.pragma('busy_timeout = 10000');
}

const NAMES = [...SCHEMA.matchAll(/CREATE (?:TABLE|INDEX) IF NOT EXISTS (\w+)/g)].map((m) => m[1]!);

export function applySchema(db: Database.Database): void {
  // Nothing to do (the usual case): no write lock taken, so opening the
  // ledger never waits for a long write of another process (an ingest batch).
  const have = new Set(db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')").pluck().all() as string[]);
  if (NAMES.every((n) => have.has(n)) && !REPLACED.some((n) => have.has(n))) return;
  // One IMMEDIATE transaction: a second process opening a new ledger at the
  // same moment waits for the lock (busy_timeout) and then finds everything
  // in place, instead of failing on a stale snapshot.
  // An index upgrade of a big ledger takes minutes: the other workers wait
  // that long for it rather than give up after the usual busy timeout.
  const prev = Number(db.pragma('busy_timeout', { simple: true }));
  db.pragma('busy_timeout = 900000');
  try {
    db.transaction(() => {
      for (const name of REPLACED) db.exec(`DROP INDEX IF EXISTS ${name}`);
      db.exec(SCHEMA);
    }).immediate();
  } finally {
    db.pragma(`busy_timeout = ${prev}`);
  }
}

export const COLUMNS = [
  'ts', 'node', 'source', 'kind', 'session', 'ref', 'client_ip', 'client_ptr', 'helo',
  'mail_from', 'mail_from_domain', 'rcpt', 'rcpt_domain', 'message_id', 'size',
  'check_name', 'verdict', 'smtp_code', 'enhanced_code', 'reply', 'details',
] as const;
