// The throwaway PostgreSQL of the tests (test/helpers/postgres.ts) against
// Debian's real server: the role logs in over TCP with its SCRAM password and
// nothing else does, data survives a stop and a crash, a stopped server
// refuses connections, close() leaves no process and no directory behind, and
// a start that fails says why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { alive } from '../../helpers/postfix.js';
import { requirePostgres, startPostgres, type PostgresInstance } from '../../helpers/postgres.js';

/** A client over TCP as the instance's role (or another), connected. */
async function connect(db: PostgresInstance, login: { user?: string; password?: string } = {}): Promise<pg.Client> {
  const c = new pg.Client({
    host: db.host, port: db.port, database: db.database, ssl: false,
    user: login.user ?? db.user,
    password: login.password ?? fs.readFileSync(db.passwordFile, 'utf8'),
  });
  // A server going away under an idle client emits 'error'; the test looks at the failed query instead.
  c.on('error', () => {});
  await c.connect();
  return c;
}

async function refused(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => null, (e: unknown) => e as Error & { code?: string });
  assert.ok(err, 'the connection should have been refused');
  return err.code ?? err.message;
}

test('a throwaway PostgreSQL', async (t) => {
  const t0 = Date.now();
  const db = await startPostgres(t);
  if (!db) return;
  t.diagnostic(`initdb + first start + role and database: ${Date.now() - t0} ms`);

  await t.test('the role logs in over TCP on 127.0.0.1 with the password from its file, stored as SCRAM', async () => {
    assert.equal(fs.statSync(db.passwordFile).mode & 0o777, 0o600);
    assert.equal(fs.readFileSync(db.passwordFile, 'utf8'), db.password);
    const url = new URL(db.url);
    assert.deepEqual([url.protocol, url.username, url.password, url.hostname, url.port, url.pathname],
      ['postgres:', db.user, '', '127.0.0.1', String(db.port), `/${db.database}`]);
    const c = await connect(db);
    try {
      const r = await c.query<{ usr: string; dbname: string; addr: string; owner: string }>(
        `SELECT current_user AS usr, current_database() AS dbname, inet_server_addr()::text AS addr,
                pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = current_database()`);
      assert.deepEqual(r.rows[0], { usr: db.user, dbname: db.database, addr: '127.0.0.1/32', owner: db.user });
      // The owner may create tables (PostgreSQL 15 no longer lets everyone into schema public).
      await c.query('CREATE TABLE probe (id int PRIMARY KEY, note text)');
    } finally {
      await c.end();
    }
    const stored = await db.query<{ rolpassword: string }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [db.user]);
    assert.match(stored.rows[0]!.rolpassword, /^SCRAM-SHA-256\$/);
  });

  await t.test('a wrong password is refused, for the role and for the superuser', async () => {
    assert.equal(await refused(connect(db, { password: db.password + 'x' })), '28P01');
    assert.equal(await refused(connect(db, { user: 'postgres', password: 'postgres' })), '28P01');
  });

  await t.test('listens on 127.0.0.1 only; fsync and full_page_writes are off for speed', async () => {
    const setting = async (name: string): Promise<string> =>
      (await db.query<{ setting: string }>('SELECT setting FROM pg_settings WHERE name = $1', [name])).rows[0]!.setting;
    assert.equal(await setting('listen_addresses'), '127.0.0.1');
    assert.equal(await setting('port'), String(db.port));
    assert.equal(await setting('unix_socket_directories'), path.join(db.dir, 'run'));
    assert.equal(await setting('fsync'), 'off');
    assert.equal(await setting('full_page_writes'), 'off');
  });

  await t.test('data survives stop() and start(); while stopped, connections are refused', async () => {
    const c = await connect(db);
    await c.query("INSERT INTO probe VALUES (1, 'before the stop')");
    await c.end();
    const before = db.pid;
    await db.stop();
    assert.equal(alive(before), false, 'the postmaster is gone after stop()');
    assert.equal(await refused(connect(db)), 'ECONNREFUSED');
    const t1 = Date.now();
    await db.start();
    t.diagnostic(`start after stop: ${Date.now() - t1} ms`);
    assert.notEqual(db.pid, before);
    const again = await connect(db);
    try {
      assert.deepEqual((await again.query('SELECT note FROM probe WHERE id = 1')).rows, [{ note: 'before the stop' }]);
    } finally {
      await again.end();
    }
  });

  await t.test('kill() is a crash: clients lose their connection, committed data survives recovery', async () => {
    const c = await connect(db);
    await c.query("INSERT INTO probe VALUES (2, 'before the crash')");
    const backend = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    db.kill();
    await assert.rejects(c.query('SELECT 1'));
    await c.end().catch(() => {});
    await db.start();
    assert.equal(alive(backend), false, 'the killed server\'s backend is gone too');
    assert.match(db.log(), /not properly shut down; automatic recovery in progress/);
    const again = await connect(db);
    try {
      assert.deepEqual((await again.query('SELECT id, note FROM probe ORDER BY id')).rows,
        [{ id: 1, note: 'before the stop' }, { id: 2, note: 'before the crash' }]);
    } finally {
      await again.end();
    }
  });

  await t.test('close() stops every server process and removes the directory; a second close() is harmless', async () => {
    // Backends, checkpointer, walwriter, autovacuum launcher ...: all listed in pg_stat_activity.
    const pids = (await db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity')).rows.map((r) => r.pid);
    assert.ok(pids.length >= 3, `server processes: ${pids.join(' ')}`);
    await db.close();
    assert.deepEqual([db.pid, ...pids].filter(alive), []);
    assert.equal(fs.existsSync(db.dir), false);
    await db.close();
    await assert.rejects(db.start(), /closed/);
  });
});

test('a start that fails says why, with the tail of the server log, and leaves nothing behind', async (t) => {
  if (!requirePostgres(t)) return;
  const err = await startPostgres(undefined, { settings: { shared_buffers: 'lots' } }).then(
    async (db) => { await db.close(); return null; },
    (e: unknown) => e as Error,
  );
  assert.ok(err, 'the start should have failed');
  assert.match(err.message, /PostgreSQL exited during start/);
  assert.match(err.message, /invalid value for parameter "shared_buffers": "lots"/);
  const logFile = /tail of (\S+):/.exec(err.message)?.[1];
  assert.ok(logFile, err.message);
  assert.equal(fs.existsSync(path.dirname(logFile)), false);
});
