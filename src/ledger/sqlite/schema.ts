import type Database from 'better-sqlite3';

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
CREATE INDEX IF NOT EXISTS events_rcpt ON events(rcpt, ts);
CREATE INDEX IF NOT EXISTS events_rcpt_domain ON events(rcpt_domain, ts);
CREATE INDEX IF NOT EXISTS events_from_domain ON events(mail_from_domain, ts);
CREATE INDEX IF NOT EXISTS events_ref ON events(ref);
CREATE INDEX IF NOT EXISTS events_session ON events(session);
CREATE INDEX IF NOT EXISTS events_ip ON events(client_ip, ts);
CREATE INDEX IF NOT EXISTS events_msgid ON events(message_id);
CREATE INDEX IF NOT EXISTS events_ts ON events(ts);
`;

export function openPragmas(db: Database.Database): void {
  // WAL lets readers (trace, web) run while the gateway writes. synchronous=FULL
  // fsyncs the WAL on every commit: an event must be durable before the reply
  // that depends on it goes out (DESIGN.md "Ledger events"). Group commit in the
  // writer keeps that to one fsync per batch.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  // Several gateway worker processes share the file; wait for the write lock
  // instead of failing at once.
  db.pragma('busy_timeout = 10000');
}

export function applySchema(db: Database.Database): void {
  db.exec(SCHEMA);
}

export const COLUMNS = [
  'ts', 'node', 'source', 'kind', 'session', 'ref', 'client_ip', 'client_ptr', 'helo',
  'mail_from', 'mail_from_domain', 'rcpt', 'rcpt_domain', 'message_id', 'size',
  'check_name', 'verdict', 'smtp_code', 'enhanced_code', 'reply', 'details',
] as const;
