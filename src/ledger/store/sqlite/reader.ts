// The read side of the embedded store (the LedgerReader research uses).
// Events are handed out as decoded and cached, not copied: research reads
// them and never changes them (a copy of every event cost a tenth of a busy
// search's time). Every
// question starts at the term index (schema.ts): the sessions that carry the
// term in the window, newest or oldest first, page by page, and stops as soon
// as the answer is complete. A session's events are read as its chunks,
// decoded once and kept (chunks never change once written).
import type Database from 'better-sqlite3';
import type { EventQuery, QuietSessionQuery, StoredEvent } from '../../types.js';
import { normalizeMessageId } from '../../../util/message-id.js';
import { decodeChunk, decodeChunkWithKeys, type ChunkEvent } from '../codec.js';
import { ACCESS_KINDS, domainOf, isQuietClose, term } from '../terms.js';
import type { EventStore, StorePosition } from '../types.js';
import { CHUNK_SPAN_MS, openStoreDb } from './schema.js';

const PAGE = 256;
const IN_CHUNK = 500;
/** Decoded events kept (about 100 MB at most): a busy address's week, read again by the steps of one search. */
const CACHE_EVENTS = 200_000;
/** IN lists are padded to one of these lengths, so that a few prepared statements serve every list. */
const LIST_LENGTHS = [1, 4, 16, 64, 256, IN_CHUNK];

/** `values` padded to the next list length (repeating its last value, which IN ignores), with the placeholders. */
function padded<T>(values: T[]): { args: T[]; marks: string } {
  const n = LIST_LENGTHS.find((l) => l >= values.length) ?? values.length;
  const args = values.slice();
  while (args.length < n) args.push(values[values.length - 1]!);
  return { args, marks: args.map(() => '?').join(',') };
}
const byTime = (a: StoredEvent, b: StoredEvent): number => a.ts - b.ts || a.id - b.id;

export class SqliteStoreReader implements EventStore {
  private db: Database.Database;
  private stmts = new Map<string, Database.Statement>();
  /** Decoded chunks by "sid:first_id", least recently used first. */
  private cache = new Map<string, StoredEvent[]>();
  private cached = 0;

  /** page: sessions per step of a walk (small in tests, to walk many pages). */
  constructor(path: string, private readonly page = PAGE) {
    this.db = openStoreDb(path, { readonly: true });
  }

  private stmt(sql: string): Database.Statement {
    let s = this.stmts.get(sql);
    if (!s) this.stmts.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  /** The events of these sessions (by store id), in chunk order. */
  private eventsOf(sids: number[]): StoredEvent[] {
    const out: StoredEvent[] = [];
    for (let i = 0; i < sids.length; i += IN_CHUNK) {
      const { args, marks } = padded(sids.slice(i, i + IN_CHUNK));
      const rows = this.stmt(`SELECT sid, first_id, codec, body FROM chunks WHERE sid IN (${marks})`)
        .raw(true).all(...args) as [number, number, number, Buffer][];
      for (const [sid, first, codec, body] of rows) {
        const k = `${sid}:${first}`;
        let evs = this.cache.get(k);
        if (evs) {
          this.cache.delete(k); // to the end: most recently used
        } else {
          evs = decodeChunk(body, codec);
          this.cached += evs.length;
          while (this.cached > CACHE_EVENTS && this.cache.size > 0) {
            const [oldest, list] = this.cache.entries().next().value!;
            this.cache.delete(oldest);
            this.cached -= list.length;
          }
        }
        this.cache.set(k, evs);
        for (const e of evs) out.push(e);
      }
    }
    return out;
  }

  private sidsOfTerms(terms: string[]): number[] {
    const sids = new Set<number>();
    for (let i = 0; i < terms.length; i += IN_CHUNK) {
      const { args, marks } = padded(terms.slice(i, i + IN_CHUNK));
      for (const s of this.stmt(`SELECT sid FROM terms WHERE term IN (${marks})`).pluck().all(...args) as number[]) sids.add(s);
    }
    return [...sids];
  }

  /**
   * Walks the sessions of a term in time order (of the term's entries), a
   * page at a time, handing over each page's events; `enough(boundary)` says
   * whether the answer is complete, given that every event not yet seen lies
   * beyond `boundary` (later than it when ascending, earlier when not).
   */
  private walk(t: string | null, since: number, until: number, desc: boolean, onEvents: (evs: StoredEvent[]) => void, enough: (boundary: number) => boolean): void {
    const seen = new Set<number>();
    let cursor: [number, number] | null = null;
    const lo = since - CHUNK_SPAN_MS;
    for (;;) {
      let rows: [number, number][];
      if (t !== null) {
        const after = cursor ? (desc ? 'AND (ts, sid) < (?, ?)' : 'AND (ts, sid) > (?, ?)') : '';
        const sql = `SELECT ts, sid FROM terms WHERE term = ? AND ts >= ? AND ts <= ? ${after} ORDER BY ts ${desc ? 'DESC' : 'ASC'}, sid ${desc ? 'DESC' : 'ASC'} LIMIT ${this.page}`;
        rows = this.stmt(sql).raw(true).all(t, lo, until, ...(cursor ?? [])) as [number, number][];
      } else {
        // No term: sessions by their time (last_ts is indexed).
        const after = cursor ? (desc ? 'AND (last_ts, id) < (?, ?)' : 'AND (last_ts, id) > (?, ?)') : '';
        const sql = `SELECT last_ts, id FROM sessions WHERE last_ts >= ? AND first_ts <= ? ${after} ORDER BY last_ts ${desc ? 'DESC' : 'ASC'}, id ${desc ? 'DESC' : 'ASC'} LIMIT ${this.page}`;
        rows = this.stmt(sql).raw(true).all(since, until, ...(cursor ?? [])) as [number, number][];
      }
      const fresh = rows.map((r) => r[1]).filter((s) => !seen.has(s));
      for (const s of fresh) seen.add(s);
      if (fresh.length) onEvents(this.eventsOf(fresh));
      if (rows.length < this.page) return;
      cursor = rows[rows.length - 1]!;
      // Term entries carry the first time of their chunk; a chunk spans at
      // most CHUNK_SPAN_MS. Sessions by last_ts: their events are no later.
      const boundary = t !== null ? (desc ? cursor[0] + CHUNK_SPAN_MS : cursor[0]) : (desc ? cursor[0] : -Infinity);
      if (enough(boundary)) return;
    }
  }

  async query(q: EventQuery): Promise<StoredEvent[]> {
    const rcpt = q.rcpt?.toLowerCase();
    const rcptDomain = q.rcpt_domain?.toLowerCase();
    const at = q.mail_from?.lastIndexOf('@') ?? -1;
    const fromDomain = (q.mail_from_domain ?? (at >= 0 ? q.mail_from!.slice(at + 1) : undefined))?.toLowerCase();
    const mid = normalizeMessageId(q.message_id) ?? undefined;
    if (q.message_id !== undefined && mid === undefined) return [];
    const since = q.since ?? -Infinity;
    const until = q.until ?? Number.MAX_SAFE_INTEGER;
    const limit = q.limit ?? 10000;
    const desc = q.newest_first === true;
    const kinds = q.kinds ? new Set<string>(q.kinds) : null;
    if (kinds && kinds.size === 0) return [];
    const accessOnly = kinds !== null && [...kinds].every((k) => ACCESS_KINDS.has(k));
    // The most selective term the question has.
    const t = q.ref !== undefined ? term.ref(q.ref)
      : mid !== undefined ? term.messageId(mid)
        : rcpt !== undefined ? (accessOnly ? term.access(rcpt) : term.rcpt(rcpt))
          : q.client_ip !== undefined ? term.ip(q.client_ip)
            : fromDomain !== undefined ? term.fromDomain(fromDomain)
              : rcptDomain !== undefined ? term.rcptDomain(rcptDomain) : null;
    const match = (e: StoredEvent): boolean =>
      e.ts >= since && e.ts <= until
      && (rcpt === undefined || e.rcpt === rcpt)
      && (rcptDomain === undefined || domainOf(e.rcpt) === rcptDomain)
      && (q.mail_from === undefined || e.mail_from === q.mail_from)
      && (fromDomain === undefined || domainOf(e.mail_from) === fromDomain)
      && (q.client_ip === undefined || e.client_ip === q.client_ip)
      && (q.ref === undefined || e.ref === q.ref)
      && (mid === undefined || e.message_id === mid)
      && (kinds === null || kinds.has(e.kind));
    const found: StoredEvent[] = [];
    this.walk(t, Number.isFinite(since) ? since : -Number.MAX_SAFE_INTEGER, until, desc, (evs) => {
      for (const e of evs) if (match(e)) found.push(e);
    }, (boundary) => {
      if (found.length < limit) return false;
      // Complete once `limit` events lie on this side of every event not yet seen.
      const inside = found.filter((e) => (desc ? e.ts > boundary : e.ts < boundary)).length;
      return inside >= limit;
    });
    const out = found.sort(byTime);
    if (desc) out.reverse();
    return out.slice(0, limit);
  }

  async byRefs(refs: string[]): Promise<StoredEvent[]> {
    const want = new Set(refs);
    return this.eventsOf(this.sidsOfTerms([...want].map(term.ref))).filter((e) => e.ref != null && want.has(e.ref)).sort(byTime);
  }

  async bySessions(sessions: string[]): Promise<StoredEvent[]> {
    const want = [...new Set(sessions)];
    const sids: number[] = [];
    for (let i = 0; i < want.length; i += IN_CHUNK) {
      const { args, marks } = padded(want.slice(i, i + IN_CHUNK));
      sids.push(...(this.stmt(`SELECT id FROM sessions WHERE key IN (${marks})`).pluck().all(...args) as number[]));
    }
    const set = new Set(want);
    return this.eventsOf(sids).filter((e) => e.session != null && set.has(e.session)).sort(byTime);
  }

  async byMessageIds(ids: string[]): Promise<StoredEvent[]> {
    const want = new Set(ids);
    return this.eventsOf(this.sidsOfTerms([...want].map(term.messageId))).filter((e) => e.message_id != null && want.has(e.message_id)).sort(byTime);
  }

  async recipients(domain: string, since: number, until = Date.now()): Promise<string[]> {
    return this.stmt('SELECT rcpt FROM mailboxes WHERE domain = ? AND last_ts >= ? AND first_ts <= ? LIMIT 100000').pluck()
      .all(domain.toLowerCase(), since, until) as string[];
  }

  async quietSessions(q: QuietSessionQuery): Promise<StoredEvent[]> {
    const since = q.since ?? 0;
    const until = q.until ?? Date.now();
    const limit = q.limit ?? 100;
    const t = q.client_ip !== undefined ? term.quietIp(q.client_ip) : q.host_domain !== undefined ? term.quietHost(q.host_domain) : term.quiet;
    const d = q.host_domain?.toLowerCase().replace(/\.$/, '');
    const hostMatches = (h: string | null | undefined): boolean => {
      if (!h || d === undefined) return false;
      const l = h.toLowerCase();
      return l === d || l.endsWith('.' + d);
    };
    const found: StoredEvent[] = [];
    this.walk(t, since, until, true, (evs) => {
      for (const e of evs) {
        if (e.ts < since || e.ts > until || !isQuietClose(e)) continue;
        if (q.client_ip !== undefined && e.client_ip !== q.client_ip) continue;
        if (d !== undefined && !hostMatches(e.helo) && !hostMatches(e.client_ptr)) continue;
        found.push(e);
      }
    }, (boundary) => found.filter((e) => e.ts > boundary).length >= limit);
    return found.sort(byTime).reverse().slice(0, limit);
  }

  async refusedRecipients(domain: string, since: number, until = Date.now()): Promise<StoredEvent[]> {
    const d = domain.toLowerCase();
    const newest = new Map<string, StoredEvent>();
    this.walk(term.unknown(d), since, until, true, (evs) => {
      for (const e of evs) {
        // RFC 3463: X.1.1 bad destination mailbox address.
        if (e.kind !== 'rcpt.rejected' || !e.rcpt || e.ts < since || e.ts > until || domainOf(e.rcpt) !== d) continue;
        if (e.check_name !== 'recipient' && e.enhanced_code !== '5.1.1') continue;
        const k = `${e.rcpt}\u0000${domainOf(e.mail_from) ?? ''}`;
        const had = newest.get(k);
        if (!had || had.id < e.id) newest.set(k, e);
      }
    }, () => newest.size >= 1000);
    return [...newest.values()].slice(0, 1000).sort(byTime).reverse();
  }

  async positions(): Promise<StorePosition[]> {
    return this.stmt('SELECT node, stream, seq, segment, offset, last_ts, updated FROM positions').all() as StorePosition[];
  }

  /**
   * Events numbered above `afterId`, from at most `maxChunks` chunks, and the
   * id to ask from next (metrics count what is new). The store numbers
   * events a batch at a time, and a batch's chunks all start above every id
   * of the batches before: the chunks starting above the highest id seen are
   * exactly the new ones.
   */
  async eventsAfter(afterId: number, maxChunks: number): Promise<{ events: StoredEvent[]; next: number; more: boolean }> {
    const rows = this.stmt('SELECT first_id, codec, body FROM chunks WHERE first_id > ? ORDER BY first_id LIMIT ?').raw(true).all(afterId, maxChunks) as [number, number, Buffer][];
    const events: StoredEvent[] = [];
    let next = afterId;
    for (const [, codec, body] of rows) {
      for (const e of decodeChunk(body, codec)) {
        if (e.id <= afterId) continue;
        if (e.id > next) next = e.id;
        events.push(e);
      }
    }
    return { events, next, more: rows.length === maxChunks };
  }

  /** The highest event id the store has handed out (0: none). */
  async lastId(): Promise<number> {
    return Number(this.stmt("SELECT value FROM meta WHERE key = 'next_id'").pluck().get() ?? 1) - 1;
  }

  /** Events in the store; for tests, checks and the conversion's report. */
  count(): number {
    return Number(this.stmt('SELECT coalesce(sum(n), 0) FROM chunks').pluck().get());
  }

  /** Every event with its journal key, in store id order: a store checked against its journals. */
  *all(): Generator<ChunkEvent> {
    let after: [number, number] = [-1, -1];
    for (;;) {
      const rows = this.stmt('SELECT sid, first_id, codec, body FROM chunks WHERE (sid, first_id) > (?, ?) ORDER BY sid, first_id LIMIT 1000').raw(true).all(...after) as [number, number, number, Buffer][];
      if (rows.length === 0) return;
      for (const [, , codec, body] of rows) yield* decodeChunkWithKeys(body, codec);
      const last = rows[rows.length - 1]!;
      after = [last[0], last[1]];
    }
  }

  async close(): Promise<void> { this.db.close(); }
}
