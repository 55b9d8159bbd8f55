import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteLedgerReader } from '../../legacy/reader.js';
import { applySchema, COLUMNS } from '../../legacy/schema.js';
import { toRow } from '../../legacy/row.js';
import type { EventKind, EventQuery, LedgerEvent } from '../../types.js';
import { SqliteStoreReader } from './reader.js';
import { SqliteStoreWriter } from './writer.js';
import { rng } from '../../../../test/helpers/rng.js';

// The store answers every question of research as the previous ledger (one
// row per event, every column indexed) did: same events, same order, same
// fields. Seeded random traffic; batches split at random points, so sessions
// land in several chunks.

const KINDS: EventKind[] = ['session.connect', 'session.helo', 'mail.from', 'rcpt.accepted', 'rcpt.rejected', 'check.result', 'data.received', 'message.delivered', 'session.close', 'pop3.retr'];

function traffic(seed: number, n: number): LedgerEvent[] {
  const r = rng(seed);
  const pick = <T>(a: T[]): T => a[Math.floor(r() * a.length)]!;
  const events: LedgerEvent[] = [];
  const t0 = 1_700_000_000_000;
  for (let i = 0; i < n; i++) {
    const s = Math.floor(r() * (n / 8));
    const ts = t0 + s * 60_000 + Math.floor(r() * 7200_000); // sessions spread over two hours: chunks split by span
    const kind = pick(KINDS);
    const e: LedgerEvent = { ts, node: pick(['n1', 'n2']), source: kind === 'pop3.retr' ? 'pop3' : pick(['gateway', 'postfix']), kind, session: r() < 0.9 ? `s${s}` : null };
    if (r() < 0.7) e.ref = `R${Math.floor(s / 2)}`;
    e.client_ip = pick(['192.0.2.1', '192.0.2.2', '2001:db8::1', '198.51.100.7']);
    if (r() < 0.5) e.helo = pick(['mail.example.org', 'a.b.example.org', 'x.test']);
    if (r() < 0.3) e.client_ptr = pick(['host.example.org', 'dyn-1.isp.test']);
    if (r() < 0.6) e.mail_from = pick(['A@Sender.TEST', 'b@sender.test', 'c@other.test', '']);
    if (r() < 0.6) e.rcpt = pick(['User@Example.TEST', 'user@example.test', 'x@example.test', 'y@other.test']);
    if (r() < 0.3) e.message_id = pick(['m1@x', 'm2@x', 'm3@y']);
    if (kind === 'rcpt.rejected') { e.check_name = pick(['recipient', 'dnsbl']); e.enhanced_code = pick(['5.1.1', '5.7.1']); e.smtp_code = 550; }
    if (kind === 'session.close') e.details = pick([{ transactions: 0 }, { transactions: 1 }, { commands: { ehlo: 1 } }, { commands: { mail: 1 } }]);
    if (r() < 0.2) e.details = { stage: 'data', evidence: { score: r(), list: [1, 'a', null] } };
    if (r() < 0.2) e.size = Math.floor(r() * 1e6);
    if (r() < 0.2) e.verdict = pick(['pass', 'reject']);
    if (r() < 0.1) e.reply = '550 5.7.1 no "quoted"\u0007';
    events.push(e);
  }
  return events;
}

test('the store answers query, byRefs, bySessions, byMessageIds, recipients, quietSessions and refusedRecipients as the previous ledger did', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-store-eq-'));
  try {
    const events = traffic(7, 6000);
    const old = path.join(dir, 'old.sqlite');
    const db = new Database(old);
    applySchema(db);
    const ins = db.prepare(`INSERT INTO events (${COLUMNS.join(',')}) VALUES (${COLUMNS.map((c) => '@' + c).join(',')})`);
    db.transaction(() => { for (const e of events) ins.run(toRow(e)); })();
    db.close();

    const file = path.join(dir, 'store.sqlite');
    const w = new SqliteStoreWriter(file);
    const r = rng(11);
    for (let i = 0; i < events.length;) {
      const n = 1 + Math.floor(r() * 700);
      await w.transaction((tx) => tx.add(events.slice(i, i + n).map((event) => ({ event }))));
      i += n;
    }
    await w.close();

    const a = new SqliteLedgerReader(old, { readonly: true });
    const b = new SqliteStoreReader(file, 5);
    const same = (what: string, x: unknown[], y: unknown[]): void => {
      assert.deepEqual(y.map((e) => JSON.stringify(e)), x.map((e) => JSON.stringify(e)), what);
    };
    const t0 = 1_700_000_000_000;
    const queries: EventQuery[] = [];
    for (const rcpt of ['user@example.test', 'USER@example.test', 'x@example.test', 'nobody@example.test']) {
      queries.push({ rcpt }, { rcpt, since: t0 + 3600_000, until: t0 + 9000_000 }, { rcpt, limit: 7, newest_first: true }, { rcpt, limit: 30 });
    }
    queries.push({ rcpt_domain: 'example.test', limit: 100, newest_first: true }, { rcpt_domain: 'Example.Test', since: t0 + 1e6 },
      { mail_from: 'A@Sender.TEST' }, { mail_from_domain: 'sender.test', rcpt_domain: 'example.test', limit: 50 },
      { client_ip: '2001:db8::1', limit: 1 }, { client_ip: '192.0.2.1', since: t0, until: t0 + 5e6, newest_first: true, limit: 40 },
      { ref: 'R3' }, { ref: 'R3', limit: 2 }, { message_id: '<m1@x>', limit: 20, newest_first: true }, { message_id: 'm2@x' },
      { since: t0 + 1e6, until: t0 + 2e6 }, { limit: 25, newest_first: true },
      // Mailbox access by mailbox (its own index entry) and kinds in general.
      { rcpt: 'user@example.test', kinds: ['pop3.retr'], newest_first: true, limit: 1 }, { rcpt: 'x@example.test', kinds: ['pop3.retr', 'pop3.login'] },
      { rcpt_domain: 'example.test', kinds: ['rcpt.rejected', 'session.close'], limit: 20 }, { client_ip: '192.0.2.1', kinds: [] });
    let nonEmpty = 0;
    for (const q of queries) {
      // Equal (ts, id) order; for the limited questions also the same choice of events.
      const want = await a.query(q);
      if (want.length) nonEmpty++;
      same(JSON.stringify(q), want, await b.query(q));
    }
    assert.ok(nonEmpty >= queries.length - 5, 'the questions find events');
    const refs = Array.from({ length: 900 }, (_, i) => `R${i}`);
    same('byRefs', await a.byRefs(refs), await b.byRefs(refs));
    same('bySessions', await a.bySessions(['s1', 's2', 's77', 'nope']), await b.bySessions(['s1', 's2', 's77', 'nope']));
    same('byMessageIds', await a.byMessageIds(['<m1@x>', '<m3@y>']), await b.byMessageIds(['<m1@x>', '<m3@y>']));
    assert.deepEqual((await b.recipients('example.test', t0, t0 + 1e9)).sort(), (await a.recipients('example.test', t0, t0 + 1e9)).sort());
    for (const q of [{ client_ip: '192.0.2.2', since: t0, until: t0 + 1e9 }, { host_domain: 'example.org', since: t0, until: t0 + 1e9, limit: 5 }, { since: t0, until: t0 + 1e9 }]) {
      same(`quiet ${JSON.stringify(q)}`, await a.quietSessions(q), await b.quietSessions(q));
    }
    same('refused', await a.refusedRecipients('example.test', t0, t0 + 1e9), await b.refusedRecipients('example.test', t0, t0 + 1e9));
    assert.equal(await b.count(), events.length);
    await a.close();
    await b.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
