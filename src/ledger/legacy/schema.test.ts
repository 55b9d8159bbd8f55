import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { applySchema } from './schema.js';

const indexes = (db: Database.Database): Record<string, string> =>
  Object.fromEntries((db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL").all() as { name: string; sql: string }[])
    .map((r) => [r.name, r.sql]));

test('a ledger with the former full indexes gets the partial ones, once, with its rows kept; NULLs are not indexed', () => {
  const db = new Database(':memory:');
  // The layout before the partial indexes (the table as it was, four full indexes).
  applySchema(db);
  for (const name of ['events_rcpt_p', 'events_rcpt_domain_p', 'events_from_domain_p', 'events_msgid_p']) db.exec(`DROP INDEX ${name}`);
  db.exec(`CREATE INDEX events_rcpt ON events(rcpt, ts);
    CREATE INDEX events_rcpt_domain ON events(rcpt_domain, ts);
    CREATE INDEX events_from_domain ON events(mail_from_domain, ts);
    CREATE INDEX events_msgid ON events(message_id);`);
  const ins = db.prepare("INSERT INTO events (ts, node, source, kind, rcpt, rcpt_domain, message_id) VALUES (?, 'n1', 'gateway', ?, ?, ?, ?)");
  ins.run(1, 'session.connect', null, null, null);
  ins.run(2, 'rcpt.accepted', 'a@b.test', 'b.test', null);
  ins.run(3, 'message.delivered', 'a@b.test', 'b.test', 'm1@x');

  applySchema(db);
  const after = indexes(db);
  for (const old of ['events_rcpt', 'events_rcpt_domain', 'events_from_domain', 'events_msgid']) assert.equal(after[old], undefined, old);
  assert.match(after.events_rcpt_p!, /WHERE rcpt IS NOT NULL/);
  assert.match(after.events_msgid_p!, /WHERE message_id IS NOT NULL/);
  assert.match(after.events_close_p!, /WHERE kind = 'session.close'/);
  assert.equal(Object.keys(after).length, 9);
  assert.equal((db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n, 3);
  // Only the two rows with a recipient are in the recipient index.
  const inIndex = db.prepare('SELECT count(*) AS n FROM events INDEXED BY events_rcpt_p WHERE rcpt IS NOT NULL').get() as { n: number };
  assert.equal(inIndex.n, 2);
  const plan = (db.prepare("EXPLAIN QUERY PLAN SELECT * FROM events WHERE rcpt = 'a@b.test' AND ts >= 0 ORDER BY ts, id").all() as { detail: string }[]).map((p) => p.detail).join(' | ');
  assert.match(plan, /USING INDEX events_rcpt_p/);
  // Applying again changes nothing.
  applySchema(db);
  assert.deepEqual(indexes(db), after);
  db.close();
});
