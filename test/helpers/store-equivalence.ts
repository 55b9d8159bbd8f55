// A store answers every question of research as the previous ledger (one row
// per event, every column indexed) did: same events, same order, same
// fields. Shared by the equivalence tests of both stores (SQLite:
// src/ledger/store/sqlite/equivalence.test.ts; PostgreSQL:
// test/e2e/23-postgres/equivalence.test.ts): the seeded random traffic, the
// previous ledger holding it, the batches it is written to a store in, and
// the questions asked of both.
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { applySchema, COLUMNS } from '../../src/ledger/legacy/schema.js';
import { toRow } from '../../src/ledger/legacy/row.js';
import type { ChunkReader } from '../../src/ledger/store/chunk-reader.js';
import type { StoreWriter } from '../../src/ledger/store/types.js';
import type { EventKind, EventQuery, LedgerEvent, LedgerReader, QuietSessionQuery } from '../../src/ledger/types.js';
import { rng } from './rng.js';

const KINDS: EventKind[] = ['session.connect', 'session.helo', 'mail.from', 'rcpt.accepted', 'rcpt.rejected', 'check.result', 'data.received', 'message.delivered', 'session.close', 'pop3.retr'];

/** The start of the traffic (ms). */
export const T0 = 1_700_000_000_000;

/** n events of about n/8 sessions over two hours and a bit, from a seed. */
export function traffic(seed: number, n: number): LedgerEvent[] {
  const r = rng(seed);
  const pick = <T>(a: T[]): T => a[Math.floor(r() * a.length)]!;
  const events: LedgerEvent[] = [];
  for (let i = 0; i < n; i++) {
    const s = Math.floor(r() * (n / 8));
    const ts = T0 + s * 60_000 + Math.floor(r() * 7200_000); // sessions spread over two hours: chunks split by span
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

/** The events in a ledger of the previous format (one table), numbered in their order. */
export function writeLegacyLedger(file: string, events: LedgerEvent[]): void {
  const db = new Database(file);
  try {
    applySchema(db);
    const ins = db.prepare(`INSERT INTO events (${COLUMNS.join(',')}) VALUES (${COLUMNS.map((c) => '@' + c).join(',')})`);
    db.transaction(() => { for (const e of events) ins.run(toRow(e)); })();
  } finally {
    db.close();
  }
}

/** The events written to a store in transactions of 1 to 700 events, cut at seeded random points: sessions land in several chunks. */
export async function writeInRandomBatches(w: StoreWriter, events: LedgerEvent[], seed: number): Promise<void> {
  const r = rng(seed);
  for (let i = 0; i < events.length;) {
    const n = 1 + Math.floor(r() * 700);
    const batch = events.slice(i, i + n);
    await w.transaction((tx) => tx.add(batch.map((event) => ({ event }))));
    i += n;
  }
}

/** The questions of query(): each index term, windows, limits both ways, kinds. */
export function queries(): EventQuery[] {
  const out: EventQuery[] = [];
  for (const rcpt of ['user@example.test', 'USER@example.test', 'x@example.test', 'nobody@example.test']) {
    out.push({ rcpt }, { rcpt, since: T0 + 3600_000, until: T0 + 9000_000 }, { rcpt, limit: 7, newest_first: true }, { rcpt, limit: 30 });
  }
  out.push({ rcpt_domain: 'example.test', limit: 100, newest_first: true }, { rcpt_domain: 'Example.Test', since: T0 + 1e6 },
    { mail_from: 'A@Sender.TEST' }, { mail_from_domain: 'sender.test', rcpt_domain: 'example.test', limit: 50 },
    { client_ip: '2001:db8::1', limit: 1 }, { client_ip: '192.0.2.1', since: T0, until: T0 + 5e6, newest_first: true, limit: 40 },
    { ref: 'R3' }, { ref: 'R3', limit: 2 }, { message_id: '<m1@x>', limit: 20, newest_first: true }, { message_id: 'm2@x' },
    { since: T0 + 1e6, until: T0 + 2e6 }, { limit: 25, newest_first: true },
    // Mailbox access by mailbox (its own index entry) and kinds in general.
    { rcpt: 'user@example.test', kinds: ['pop3.retr'], newest_first: true, limit: 1 }, { rcpt: 'x@example.test', kinds: ['pop3.retr', 'pop3.login'] },
    { rcpt_domain: 'example.test', kinds: ['rcpt.rejected', 'session.close'], limit: 20 }, { client_ip: '192.0.2.1', kinds: [] });
  return out;
}

export const QUIET: QuietSessionQuery[] = [
  { client_ip: '192.0.2.2', since: T0, until: T0 + 1e9 },
  { host_domain: 'example.org', since: T0, until: T0 + 1e9, limit: 5 },
  { since: T0, until: T0 + 1e9 },
];

export interface SameOptions {
  /**
   * Compare the events' store ids too. A store whose ids are numbered like
   * the previous ledger's (one after another in the order written) keeps
   * them; one that hands them out in blocks (PostgreSQL) numbers them in
   * the same order with gaps: there the events are compared without `id`,
   * in the same order.
   */
  ids: boolean;
}

/**
 * Asks `old` (the previous ledger) and `store` every question of research
 * and asserts the same answers, question by question. `events`: how many the
 * store must hold.
 */
export async function assertSameAnswers(old: LedgerReader, store: ChunkReader, events: number, opts: SameOptions): Promise<void> {
  const shown = (e: unknown): string => {
    if (opts.ids) return JSON.stringify(e);
    const { id: _id, ...rest } = e as { id: number };
    return JSON.stringify(rest);
  };
  const same = (what: string, want: unknown[], got: unknown[]): void => {
    assert.deepEqual(got.map(shown), want.map(shown), what);
  };
  let nonEmpty = 0;
  const qs = queries();
  for (const q of qs) {
    // Equal (ts, id) order; for the limited questions also the same choice of events.
    const want = await old.query(q);
    if (want.length) nonEmpty++;
    same(JSON.stringify(q), want, await store.query(q));
  }
  assert.ok(nonEmpty >= qs.length - 5, 'the questions find events');
  const refs = Array.from({ length: 900 }, (_, i) => `R${i}`);
  same('byRefs', await old.byRefs(refs), await store.byRefs(refs));
  const sessions = ['s1', 's2', 's77', 'nope'];
  same('bySessions', await old.bySessions(sessions), await store.bySessions(sessions));
  same('byMessageIds', await old.byMessageIds(['<m1@x>', '<m3@y>']), await store.byMessageIds(['<m1@x>', '<m3@y>']));
  assert.deepEqual((await store.recipients('example.test', T0, T0 + 1e9)).sort(), (await old.recipients('example.test', T0, T0 + 1e9)).sort());
  for (const q of QUIET) same(`quiet ${JSON.stringify(q)}`, await old.quietSessions(q), await store.quietSessions(q));
  same('refused', await old.refusedRecipients('example.test', T0, T0 + 1e9), await store.refusedRecipients('example.test', T0, T0 + 1e9));
  assert.equal(await store.count(), events);
}
