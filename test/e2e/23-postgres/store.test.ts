// The cluster store's write side against a real PostgreSQL: positions commit
// with their rows (exactly once, whoever writes), a failed transaction lands
// nothing, hostile values survive COPY and are found again, retention drops
// whole days, and the lag of every node is told from what it reported.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { openPool, type PgTarget } from '../../../src/ledger/store/pg/connect.js';
import { clusterLag, retireNode, SILENT_AFTER_MS } from '../../../src/ledger/store/pg/lag.js';
import { checkSchema, LATEST, migrate } from '../../../src/ledger/store/pg/migrations.js';
import { DAY_MS, existingDays } from '../../../src/ledger/store/pg/partitions.js';
import { openPgReader } from '../../../src/ledger/store/pg/reader.js';
import { PgStoreWriter } from '../../../src/ledger/store/pg/writer.js';
import type { LedgerEvent } from '../../../src/ledger/types.js';
import { startPostgres, type PostgresInstance } from '../../helpers/postgres.js';

let pg: PostgresInstance | null = null;
let target: PgTarget;
let db = 0;

before(async (t) => {
  pg = await startPostgres(t as never);
});
after(async () => { await pg?.close(); });

/** A fresh database per test, owned by the login role, migrated. */
async function freshStore(): Promise<PgTarget> {
  const name = `t${++db}`;
  await pg!.query(`CREATE DATABASE ${name} OWNER ${pg!.user}`);
  const t = { url: `postgres://${pg!.user}@127.0.0.1:${pg!.port}/${name}`, passwordFile: pg!.passwordFile };
  const pool = openPool(t, { max: 1 });
  await migrate(pool);
  await pool.end();
  return t;
}

const T0 = Date.UTC(2026, 11, 1, 10);
const ev = (i: number, extra: Partial<LedgerEvent> = {}): LedgerEvent => ({
  ts: T0 + i * 1000, node: 'mx1', source: 'gateway', kind: 'rcpt.accepted', session: `s${Math.floor(i / 4)}`, ref: `R${Math.floor(i / 4)}`,
  client_ip: '192.0.2.7', mail_from: 'a@sender.test', rcpt: `u${i % 5}@demo.test`, ...extra,
});

test('positions commit with their rows: two writers of one node taking turns ship every record exactly once', async (t) => {
  if (!pg) return t.skip('no PostgreSQL');
  target = await freshStore();
  const journal = Array.from({ length: 1200 }, (_, i) => ev(i));
  const ship = async (w: PgStoreWriter): Promise<void> => {
    await w.transaction(async (tx) => {
      const have = (await tx.positions()).find((p) => p.node === 'mx1' && p.stream === 'smtp')?.seq ?? 0;
      const next = journal.slice(have, have + 37);
      if (next.length === 0) return;
      await tx.add(next.map((event, i) => ({ event, stream: 'smtp', seq: have + i + 1 })));
      await tx.setPosition({ node: 'mx1', stream: 'smtp', seq: have + next.length, segment: 1, offset: 0, last_ts: next[next.length - 1]!.ts, updated: Date.now() });
    });
  };
  // The shipper of `serve` and a `trace` catching up: separate writers (pools), same node.
  const a = new PgStoreWriter(target, { writer: 'mx1' });
  const b = new PgStoreWriter(target, { writer: 'mx1' });
  try {
    await Promise.all([a, b].map(async (w) => { for (let i = 0; i < 20; i++) await ship(w); }));
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
  const r = openPgReader(target);
  try {
    const seqs: number[] = [];
    for await (const e of r.all()) seqs.push(e.jseq!);
    seqs.sort((x, y) => x - y);
    assert.equal(seqs.length, 1200, 'every record once');
    assert.deepEqual(seqs, Array.from({ length: 1200 }, (_, i) => i + 1));
    assert.equal((await r.positions())[0]!.seq, 1200);
    assert.equal(await r.count(), 1200);
  } finally {
    await r.close();
  }
});

test('a transaction that fails lands nothing, and the writer goes on', async (t) => {
  if (!pg) return t.skip('no PostgreSQL');
  const tg = await freshStore();
  const w = new PgStoreWriter(tg, { writer: 'mx1' });
  try {
    await assert.rejects(w.transaction(async (tx) => {
      await tx.add([{ event: ev(1) }]);
      await tx.setPosition({ node: 'mx1', stream: 'smtp', seq: 1, segment: 1, offset: 0, last_ts: null, updated: 1 });
      throw new Error('boom');
    }), /boom/);
    assert.deepEqual(await w.positions(), []);
    await w.transaction(async (tx) => { await tx.add([{ event: ev(2) }]); });
  } finally {
    await w.close();
  }
  const r = openPgReader(tg);
  try {
    assert.equal(await r.count(), 1);
  } finally {
    await r.close();
  }
});

test('hostile values (tab, newline, backslash, NUL, quotes) survive COPY and are found by them', async (t) => {
  if (!pg) return t.skip('no PostgreSQL');
  const tg = await freshStore();
  const nasty = 'x\ty\nz\\w\u0000"\'@demo.test';
  const w = new PgStoreWriter(tg, { writer: 'ingest' });
  try {
    await w.transaction(async (tx) => {
      await tx.add([{ event: ev(1, { rcpt: nasty, helo: 'h\r\n.\t', mail_from: '\\N@evil.test', ref: 'R\tX' }) }, { event: ev(2) }]);
      await tx.putState('file\tkey', { at: 'a\nb' });
      assert.deepEqual(await tx.state('file\tkey'), { at: 'a\nb' });
    });
  } finally {
    await w.close();
  }
  const r = openPgReader(tg);
  try {
    const hit = await r.query({ rcpt: nasty });
    assert.equal(hit.length, 1);
    assert.equal(hit[0]!.helo, 'h\r\n.\t');
    assert.equal(hit[0]!.mail_from, '\\N@evil.test');
    assert.equal((await r.byRefs(['R\tX'])).length, 1);
    assert.equal((await r.query({ mail_from: '\\N@evil.test' })).length, 1);
    // The other event is not touched by its neighbour's tabs.
    assert.equal((await r.query({ rcpt: 'u2@demo.test' })).length, 1);
  } finally {
    await r.close();
  }
});

test('a session shipped in several transactions is read whole: every chunk of it, each event once', async (t) => {
  if (!pg) return t.skip('no PostgreSQL');
  const tg = await freshStore();
  // Session "long" reaches the store in three transactions (the shipper's
  // batches end mid-session): three chunks of one session id, each with its
  // own index entries, minutes apart (within one chunk span of each other).
  const long = (i: number): LedgerEvent => ev(i, { ts: T0 + i * 60_000, session: 'long', ref: 'RLONG', rcpt: 'bob@demo.test', client_ip: '198.51.100.9' });
  // And 600 one-event sessions before its last chunk, so that a lookup of
  // all their REFs takes more than one statement (500 entries each, in time
  // order) and RLONG's entries fall into both.
  const single = (i: number): LedgerEvent => ev(i, { ts: T0 + i * 500, session: `one${i}`, ref: `ONE${i}` });
  const w = new PgStoreWriter(tg, { writer: 'mx1' });
  try {
    await w.transaction(async (tx) => { await tx.add([...Array.from({ length: 300 }, (_, i) => single(i)), long(0), long(1), long(2)].map((event) => ({ event }))); });
    await w.transaction(async (tx) => { await tx.add([long(4), long(5), ...Array.from({ length: 300 }, (_, i) => single(300 + i))].map((event) => ({ event }))); });
    await w.transaction(async (tx) => { await tx.add([long(8), long(9), long(10)].map((event) => ({ event }))); });
  } finally {
    await w.close();
  }
  const want = [0, 1, 2, 4, 5, 8, 9, 10].map((i) => T0 + i * 60_000);
  const times = (evs: { ts: number }[]): number[] => evs.map((e) => e.ts);
  // Small pages too: a session met again on a later page is read again there.
  for (const page of [256, 1]) {
    const r = openPgReader(tg, { page });
    try {
      assert.deepEqual(times(await r.query({ rcpt: 'bob@demo.test' })), want, `by recipient, page ${page}`);
      assert.deepEqual(times(await r.query({ client_ip: '198.51.100.9', newest_first: true })), [...want].reverse(), `by IP, newest first, page ${page}`);
      assert.deepEqual(times(await r.query({ rcpt: 'bob@demo.test', since: T0 + 3 * 60_000, limit: 3 })), want.slice(3, 6), `a window and a limit, page ${page}`);
      assert.deepEqual(times(await r.byRefs(['RLONG'])), want);
      assert.deepEqual(times(await r.bySessions(['long'])), want);
      const all = await r.byRefs(['RLONG', ...Array.from({ length: 600 }, (_, i) => `ONE${i}`)]);
      assert.equal(all.length, 608, 'every event of the REFs once');
      assert.equal(new Set(all.map((e) => e.id)).size, 608);
    } finally {
      await r.close();
    }
  }
});

test('retention drops whole days: the old days go, today stays, the count says what went', async (t) => {
  if (!pg) return t.skip('no PostgreSQL');
  const tg = await freshStore();
  const w = new PgStoreWriter(tg, { writer: 'ingest' });
  const day0 = Math.floor(T0 / DAY_MS) * DAY_MS;
  try {
    await w.transaction(async (tx) => {
      await tx.add([0, 1, 2].flatMap((d) => [0, 1, 2].map((i) => ({ event: ev(i, { ts: day0 + d * DAY_MS + 3600_000 + i, session: `d${d}s${i}` }) }))));
    });
    const days = async (): Promise<number[]> => existingDays(w.pool);
    assert.deepEqual(await days(), [0, 1, 2].map((d) => day0 / DAY_MS + d));
    // Cut in the middle of the third day: the first two days go whole, the third stays whole.
    assert.equal(await w.prune(day0 + 2 * DAY_MS + 7200_000), 6);
    assert.deepEqual(await days(), [day0 / DAY_MS + 2]);
  } finally {
    await w.close();
  }
  const r = openPgReader(tg);
  try {
    assert.equal(await r.count(), 3);
    assert.deepEqual((await r.query({ client_ip: '192.0.2.7' })).map((e) => e.session), ['d2s0', 'd2s1', 'd2s2']);
  } finally {
    await r.close();
  }
});

test('lag: a node behind, a node silent, a stopped node not named', async (t) => {
  if (!pg) return t.skip('no PostgreSQL');
  const tg = await freshStore();
  const w = new PgStoreWriter(tg, { writer: 'mx1' });
  const now = Date.now();
  try {
    await w.transaction(async (tx) => {
      await tx.setPosition({ node: 'mx1', stream: 'smtp', seq: 90, segment: 1, offset: 0, last_ts: now, updated: now - 5000 });
      await tx.setPosition({ node: 'mx2', stream: 'smtp', seq: 50, segment: 1, offset: 0, last_ts: now, updated: now });
      await tx.setPosition({ node: 'mx3', stream: 'pop3', seq: 7, segment: 1, offset: 0, last_ts: now, updated: now });
    });
    // mx1's oldest record the store lacks is 8 s old.
    await w.reportHeads([{ node: 'mx1', stream: 'smtp', seq: 100, ts: now - 8000 }], { now });
    await w.reportHeads([{ node: 'mx2', stream: 'smtp', seq: 50, ts: now }], { now: now - SILENT_AFTER_MS - 10_000 });
    await w.reportHeads([{ node: 'mx3', stream: 'pop3', seq: 7, ts: now }], { now: now - 3600_000, stopped: true });
  } finally {
    await w.close();
  }
  const pool = openPool(tg, { max: 1 });
  try {
    const lag = await clusterLag(pool, now);
    assert.deepEqual(lag.map((l) => [l.node, l.events, l.silent_ms !== undefined]), [['mx1', 10, false], ['mx2', 0, true]]);
    assert.equal(lag[0]!.behind_ms, 8000);
    // mx2 is gone for good: retired, its silence is no gap any more.
    assert.equal(await retireNode(pool, 'mx2'), 1);
    assert.deepEqual((await clusterLag(pool, now)).map((l) => l.node), ['mx1']);
  } finally {
    await pool.end();
  }
});

test('the password comes from the file; a missing file names the key', async (t) => {
  if (!pg) return t.skip('no PostgreSQL');
  const tg = await freshStore();
  const bad = path.join(pg.dir, 'no-such-password');
  const w = new PgStoreWriter({ ...tg, passwordFile: bad }, { writer: 'mx1' });
  try {
    await assert.rejects(w.positions(), (err: Error) => err.name === 'StoreUnavailableError' && /ledger\.store_password_file: cannot read .*no-such-password: ENOENT/.test(err.message));
  } finally {
    await w.close();
  }
  fs.writeFileSync(bad, 'wrong\n');
  const w2 = new PgStoreWriter({ ...tg, passwordFile: bad }, { writer: 'mx1' });
  try {
    await assert.rejects(w2.positions(), (err: Error) => err.name === 'StoreUnavailableError' && /refused the login.*store_password_file/.test(err.message));
  } finally {
    await w2.close();
  }
});

test('a lookup with a since leaves out only days before it: every event from it on is there', async (t) => {
  if (!pg) return t.skip('no PostgreSQL');
  const tg = await freshStore();
  const w = new PgStoreWriter(tg, { writer: 'ingest' });
  const day0 = Math.floor(T0 / DAY_MS) * DAY_MS;
  try {
    // One transaction whose events span four days (a Postfix queue, a fetch days later), in four batches.
    for (const d of [0, 1, 2, 3]) {
      await w.transaction(async (tx) => { await tx.add([{ event: ev(0, { ts: day0 + d * DAY_MS + 600_000, session: `s-${d}`, ref: 'RQ', message_id: 'q@x' }) }]); });
    }
  } finally {
    await w.close();
  }
  const r = openPgReader(tg);
  try {
    const days = (evs: { ts: number }[]): number[] => evs.map((e) => Math.floor((e.ts - day0) / DAY_MS));
    assert.deepEqual(days(await r.byRefs(['RQ'])), [0, 1, 2, 3]);
    assert.deepEqual(days(await r.byRefs(['RQ'], { since: day0 + 2 * DAY_MS })), [2, 3]);
    assert.deepEqual(days(await r.byMessageIds(['q@x'], { since: day0 + DAY_MS + 600_000 })), [1, 2, 3]);
    assert.deepEqual(days(await r.bySessions(['s-0', 's-3'], { since: day0 + 3 * DAY_MS })), [3]);
    assert.deepEqual(days(await r.bySessions(['s-0', 's-3'])), [0, 3]);
  } finally {
    await r.close();
  }
});

test('migrations: two nodes starting at once apply each version once; a newer schema than this code knows is refused', async (t) => {
  if (!pg) return t.skip('no PostgreSQL');
  const name = `t${++db}`;
  await pg.query(`CREATE DATABASE ${name} OWNER ${pg.user}`);
  const tg = { url: `postgres://${pg.user}@127.0.0.1:${pg.port}/${name}`, passwordFile: pg.passwordFile };
  const a = openPool(tg, { max: 1 });
  const b = openPool(tg, { max: 1 });
  try {
    const [ra, rb] = await Promise.all([migrate(a), migrate(b)]);
    // One of them did all the work, the other waited for the lock and found nothing to do.
    assert.deepEqual([ra.applied.length, rb.applied.length].sort(), [0, LATEST]);
    assert.equal(Number((await a.query('SELECT count(*) AS n FROM schema_migrations')).rows[0].n), LATEST);
    await checkSchema(a);
    await a.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [LATEST + 1, 'from a newer mailproof']);
    await assert.rejects(checkSchema(b), (err: Error) => err.name === 'StoreUnavailableError' && /newer than this mailproof knows/.test(err.message));
    await assert.rejects(migrate(b), /newer than this mailproof knows/);
  } finally {
    await Promise.all([a.end(), b.end()]);
  }
});
