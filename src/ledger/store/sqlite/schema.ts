// The embedded store (one node): research's view of the journals. Shaped for
// how research reads (docs/design.md "Ledger"): it finds sessions by a term
// (recipient, domain, sender domain, client IP, REF, Message-ID) and a time,
// then reads their events. So the index holds one entry per session and term,
// and the events sit beside it, clustered by session and compressed (codec.ts).
import fs from 'node:fs';
import nodePath from 'node:path';
import Database from 'better-sqlite3';

export const STORE_FORMAT = 2;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
-- A session: an SMTP or mailbox session, or a group of events that had none
-- (keyed by REF, or by their journal record).
CREATE TABLE IF NOT EXISTS sessions (
  id INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,
  first_ts INTEGER NOT NULL,
  last_ts INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_last ON sessions(last_ts);
-- The events of a session that came in one batch, one hour of them at most
-- (so that an entry's time says within an hour when its events were).
CREATE TABLE IF NOT EXISTS chunks (
  sid INTEGER NOT NULL,
  first_id INTEGER NOT NULL,
  n INTEGER NOT NULL,
  codec INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (sid, first_id)
) WITHOUT ROWID;
-- Chunks in the order the store took them (metrics count what is new).
CREATE INDEX IF NOT EXISTS chunks_first ON chunks(first_id);
-- term -> session, with the time of the chunk's first event carrying it.
CREATE TABLE IF NOT EXISTS terms (
  term TEXT NOT NULL,
  ts INTEGER NOT NULL,
  sid INTEGER NOT NULL,
  PRIMARY KEY (term, ts, sid)
) WITHOUT ROWID;
-- Addresses mail was accepted or delivered for: the mailboxes that exist, as the ledger knows them.
CREATE TABLE IF NOT EXISTS mailboxes (
  domain TEXT NOT NULL,
  rcpt TEXT NOT NULL,
  first_ts INTEGER NOT NULL,
  last_ts INTEGER NOT NULL,
  PRIMARY KEY (domain, rcpt)
) WITHOUT ROWID;
-- How far each journal stream is in this store; committed with the rows it led to.
CREATE TABLE IF NOT EXISTS positions (
  node TEXT NOT NULL,
  stream TEXT NOT NULL,
  seq INTEGER NOT NULL,
  segment INTEGER NOT NULL,
  offset INTEGER NOT NULL,
  last_ts INTEGER,
  updated INTEGER NOT NULL,
  PRIMARY KEY (node, stream)
) WITHOUT ROWID;
-- Log ingest: read positions and the parsers' open state, committed with the events they led to.
CREATE TABLE IF NOT EXISTS ingest_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;


export function openStoreDb(path: string, opts: { readonly?: boolean } = {}): Database.Database {
  try {
    return open(path, opts.readonly === true);
  } catch (err) {
    if ((err as Error).message.includes('is not a mailproof store')) throw err;
    throw new Error(`cannot open the store ${path}: ${(err as Error).message} (check ledger.store and the rights on its folder)`);
  }
}

function open(path: string, readonly: boolean): Database.Database {
  if (readonly) {
    if (!fs.existsSync(path)) createStore(path);
    const db = new Database(path, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 10000');
    checkFormat(db, path);
    return db;
  }
  fs.mkdirSync(nodePath.dirname(path), { recursive: true });
  if (!fs.existsSync(path)) createStore(path);
  const db = new Database(path);
  pragmas(db);
  checkFormat(db, path);
  return db;
}

function pragmas(db: Database.Database): void {
  // WAL: research reads while the indexer writes. synchronous=NORMAL: the
  // journal is the durable record; a commit lost to a power failure goes
  // with its positions (same transaction), so the indexer reads those
  // records again. Segments are removed only after a synced commit (indexer.ts).
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 10000');
  // Term pages of many sessions are touched per batch: keep them in memory (an upper bound).
  db.pragma('cache_size = -65536');
}

/**
 * A new store appears under its name with its tables in it: whoever opens it
 * at once (a reader polling the file) never finds it half made.
 */
function createStore(path: string): void {
  fs.mkdirSync(nodePath.dirname(path), { recursive: true });
  const tmp = `${path}.new-${process.pid}`;
  const db = new Database(tmp);
  db.pragma('journal_mode = WAL');
  db.exec(SCHEMA);
  db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('format', String(STORE_FORMAT));
  db.close(); // checkpoints and removes the WAL
  try { fs.linkSync(tmp, path); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; }
  fs.rmSync(tmp, { force: true });
}

function checkFormat(db: Database.Database, path: string): void {
  let format: string | undefined;
  try {
    format = (db.prepare("SELECT value FROM meta WHERE key = 'format'").get() as { value: string } | undefined)?.value;
  } catch {
    format = undefined;
  }
  if (format !== String(STORE_FORMAT)) {
    db.close();
    throw new Error(`${path} is not a mailproof store of format ${STORE_FORMAT} (found ${format ?? 'none'}): set ledger.store to a new file; a ledger of the previous format is converted from ledger.path at start`);
  }
}
