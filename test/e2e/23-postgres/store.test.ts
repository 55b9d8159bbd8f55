// The cluster store's write side against a real PostgreSQL: positions commit
// with their rows (exactly once, whoever writes), a failed transaction lands
// nothing, hostile values survive COPY and are found again, retention drops
// whole days, and the lag of every node is told from what it reported.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { openPool, type PgTarget } from '../../../src/ledger/store/pg/connect.js';
import { clusterLag, SILENT_AFTER_MS } from '../../../src/ledger/store/pg/lag.js';
import { migrate } from '../../../src/ledger/store/pg/migrations.js';
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
    await w.reportHeads([{ node: 'mx1', stream: 'smtp', seq: 100, ts: now }], { now });
    await w.reportHeads([{ node: 'mx2', stream: 'smtp', seq: 50, ts: now }], { now: now - SILENT_AFTER_MS - 10_000 });
    await w.reportHeads([{ node: 'mx3', stream: 'pop3', seq: 7, ts: now }], { now: now - 3600_000, stopped: true });
  } finally {
    await w.close();
  }
  const pool = openPool(tg, { max: 1 });
  try {
    const lag = await clusterLag(pool, now);
    assert.deepEqual(lag.map((l) => [l.node, l.events, l.silent_ms !== undefined]), [['mx1', 10, false], ['mx2', 0, true]]);
    assert.ok(lag[0]!.behind_ms >= 5000);
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
