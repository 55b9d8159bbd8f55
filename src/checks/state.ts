// Small SQLite files in data_dir for checks that keep state across
// connections, worker processes and restarts (greylisting, rate counters).
// One file per check; every worker process of the node opens it itself. WAL
// lets readers and the one writer work side by side, the busy timeout makes
// a writer wait for another process's short transaction instead of failing.
// synchronous=NORMAL: a power cut may lose the last greylist entries or rate
// hits (the sender is deferred once more, a counter restarts), never corrupt
// the file; a per-connection fsync would cost more than the check is worth.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export function openStateDb(dataDir: string, file: string, schema: string): Database.Database {
  fs.mkdirSync(dataDir, { recursive: true });
  const db = new Database(path.join(dataDir, file));
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(schema);
  return db;
}

