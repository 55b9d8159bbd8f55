// The read side of every store (the LedgerReader research uses), over a
// ChunkSource that knows one store's tables. Every question starts at the
// term index: the sessions that carry the term in the window, newest or
// oldest first, page by page, and stops as soon as the answer is complete. A
// session's events are read as its chunks, decoded once and kept (chunks
// never change once written). Events are handed out as decoded and cached,
// not copied: research reads them and never changes them (a copy of every
// event cost a tenth of a busy search's time).
import type { EventQuery, LookupWindow, QuietSessionQuery, StoredEvent } from '../types.js';
import { normalizeMessageId } from '../../util/message-id.js';
import { CHUNK_SPAN_MS } from './chunker.js';
import { decodeChunk, decodeChunkWithKeys, type ChunkEvent } from './codec.js';
import { ACCESS_KINDS, domainOf, isQuietClose, term } from './terms.js';
import type { EventStore, StorePosition } from './types.js';

/** Where a session's chunks are: its store id and the time of an index entry pointing at it. */
export interface Loc { sid: number; ts: number }
export interface ChunkRow { sid: number; first: number; codec: number; body: Buffer }
/** [time of the entry, session id] */
export type Entry = [number, number];

/** One store's tables, as the reader needs them. */
export interface ChunkSource {
  /** A page of a term's entries in [lo, hi], after the cursor, in time order (then sid). */
  termPage(t: string, lo: number, hi: number, after: Entry | null, desc: boolean, limit: number): Promise<Entry[]>;
  /**
   * A page of sessions by time, without a term. What a row's time means:
   * 'session_last' (the session's newest event: nothing of it is later) or
   * 'chunk_first' (a chunk's first event, as for terms).
   */
  readonly timeMeans: 'session_last' | 'chunk_first';
  timePage(since: number, until: number, after: Entry | null, desc: boolean, limit: number): Promise<Entry[]>;
  /** Where the sessions carrying any of these terms are. */
  locate(terms: string[], since?: number): Promise<Loc[]>;
  /** Where the sessions of these keys (sessionKey) are. */
  locateSessions(keys: string[], since?: number): Promise<Loc[]>;
  /** The chunks of the located sessions (at least those carrying the entries' terms). */
  chunks(locs: Loc[]): Promise<ChunkRow[]>;
  /**
   * What chunks() returns for a located session: every chunk of it (true:
   * the SQLite store keeps a session's chunks together under its id), or
   * only the chunks near each entry's time (false: the PostgreSQL store
   * looks into the day partitions of that time only). With false, a session
   * whose events reached the store in several batches has several chunks,
   * each with its own entries, and a walk must read it again at each.
   */
  readonly wholeSessions: boolean;
  recipients(domain: string, since: number, until: number): Promise<string[]>;
  positions(): Promise<StorePosition[]>;
  /** Chunks whose first id is above afterId, in id order (metrics count what is new). */
  chunksAfter(afterId: number, limit: number): Promise<ChunkRow[]>;
  lastId(): Promise<number>;
  countEvents(): Promise<number>;
  /** Chunks in (sid, first) order after the cursor: a store checked against its journals. */
  chunkPage(after: [number, number], limit: number): Promise<ChunkRow[]>;
  close(): Promise<void>;
}

const PAGE = 256;
/** Decoded events kept (about 100 MB at most): a busy address's week, read again by the steps of one search. */
const CACHE_EVENTS = 200_000;

const byTime = (a: StoredEvent, b: StoredEvent): number => a.ts - b.ts || a.id - b.id;

/** The entries to look at for events from `since` on: an entry's time is up to a chunk's span before its events'. */
const entriesSince = (w: LookupWindow): number | undefined => (w.since === undefined ? undefined : w.since - CHUNK_SPAN_MS);

export class ChunkReader implements EventStore {
  /** Decoded chunks by "sid:first_id", least recently used first. */
  private cache = new Map<string, StoredEvent[]>();
  private cached = 0;

  /** page: sessions per step of a walk (small in tests, to walk many pages). */
  constructor(readonly source: ChunkSource, private readonly page = PAGE) {}

  /**
   * The events of the located sessions, in chunk order; each chunk once,
   * also when the source returns it for several entries (`delivered`: the
   * chunks already handed over, by the calls of one walk).
   */
  private async eventsOf(locs: Loc[], delivered = new Set<string>()): Promise<StoredEvent[]> {
    const out: StoredEvent[] = [];
    if (locs.length === 0) return out;
    for (const { sid, first, codec, body } of await this.source.chunks(locs)) {
      const k = `${sid}:${first}`;
      if (delivered.has(k)) continue;
      delivered.add(k);
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
    return out;
  }

  /**
   * Walks the sessions of a term in time order (of the term's entries), a
   * page at a time, handing over each page's events; `enough(boundary)` says
   * whether the answer is complete, given that every event not yet seen lies
   * beyond `boundary` (later than it when ascending, earlier when not).
   */
  private async walk(t: string | null, since: number, until: number, desc: boolean, onEvents: (evs: StoredEvent[]) => void, enough: (boundary: number) => boolean): Promise<void> {
    /** Sessions read whole already (wholeSessions), and the chunks handed over. */
    const seen = new Set<number>();
    const delivered = new Set<string>();
    let cursor: Entry | null = null;
    const chunkTimes = t !== null || this.source.timeMeans === 'chunk_first';
    const lo = chunkTimes ? since - CHUNK_SPAN_MS : since;
    for (;;) {
      const rows: Entry[] = t !== null
        ? await this.source.termPage(t, lo, until, cursor, desc, this.page)
        : await this.source.timePage(lo, until, cursor, desc, this.page);
      const fresh: Loc[] = [];
      for (const [ts, sid] of rows) {
        if (this.source.wholeSessions) {
          if (seen.has(sid)) continue;
          seen.add(sid);
        }
        fresh.push({ sid, ts });
      }
      if (fresh.length) onEvents(await this.eventsOf(fresh, delivered));
      if (rows.length < this.page) return;
      cursor = rows[rows.length - 1]!;
      // An entry carries the first time of its chunk; a chunk spans at most
      // CHUNK_SPAN_MS. Sessions by their newest event: nothing of them is later.
      const boundary = chunkTimes ? (desc ? cursor[0] + CHUNK_SPAN_MS : cursor[0]) : (desc ? cursor[0] : -Infinity);
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
    await this.walk(t, Number.isFinite(since) ? since : -Number.MAX_SAFE_INTEGER, until, desc, (evs) => {
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

  async byRefs(refs: string[], w: LookupWindow = {}): Promise<StoredEvent[]> {
    const want = new Set(refs);
    return (await this.eventsOf(await this.source.locate([...want].map(term.ref), entriesSince(w)))).filter((e) => e.ref != null && want.has(e.ref)).sort(byTime);
  }

  async bySessions(sessions: string[], w: LookupWindow = {}): Promise<StoredEvent[]> {
    const want = new Set(sessions);
    return (await this.eventsOf(await this.source.locateSessions([...want], entriesSince(w)))).filter((e) => e.session != null && want.has(e.session)).sort(byTime);
  }

  async byMessageIds(ids: string[], w: LookupWindow = {}): Promise<StoredEvent[]> {
    const want = new Set(ids);
    return (await this.eventsOf(await this.source.locate([...want].map(term.messageId), entriesSince(w)))).filter((e) => e.message_id != null && want.has(e.message_id)).sort(byTime);
  }

  recipients(domain: string, since: number, until = Date.now()): Promise<string[]> {
    return this.source.recipients(domain.toLowerCase(), since, until);
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
    await this.walk(t, since, until, true, (evs) => {
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
    await this.walk(term.unknown(d), since, until, true, (evs) => {
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

  positions(): Promise<StorePosition[]> {
    return this.source.positions();
  }

  /**
   * The events of the chunks whose first id is above `after` (at most
   * `maxChunks` chunks, in first-id order), and the cursor to ask from next:
   * the last chunk's first id (metrics count what is new). A chunk holds one
   * session's events of a batch, so its ids are not contiguous: a cursor at
   * the highest event id seen skipped the batch's chunks that start below it
   * and were not read yet. A chunk never changes once written, and a
   * writer's chunks start above the first ids of its earlier batches.
   */
  async eventsAfter(after: number, maxChunks: number): Promise<{ events: StoredEvent[]; next: number; more: boolean }> {
    const rows = await this.source.chunksAfter(after, maxChunks);
    const events: StoredEvent[] = [];
    for (const { codec, body } of rows) for (const e of decodeChunk(body, codec)) events.push(e);
    return { events, next: rows.length ? rows[rows.length - 1]!.first : after, more: rows.length === maxChunks };
  }

  /** The highest event id the store has handed out (0: none). */
  lastId(): Promise<number> {
    return this.source.lastId();
  }

  /** Events in the store; for tests, checks and the conversion's report. */
  count(): Promise<number> {
    return this.source.countEvents();
  }

  /** Every event with its journal key, in (session, id) order: a store checked against its journals. */
  async *all(): AsyncGenerator<ChunkEvent> {
    let after: [number, number] = [-1, -1];
    for (;;) {
      const rows = await this.source.chunkPage(after, 1000);
      if (rows.length === 0) return;
      for (const { codec, body } of rows) yield* decodeChunkWithKeys(body, codec);
      const last = rows[rows.length - 1]!;
      after = [last.sid, last.first];
    }
  }

  close(): Promise<void> {
    return this.source.close();
  }
}
