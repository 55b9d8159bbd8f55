// The indexer: journals in, store out. Each batch reads the positions, the
// records after them and writes both in one store transaction, so a crash at
// any point repeats nothing and loses nothing (the journal reader skips what
// a position says was taken). Run by `serve` in a thread of its own
// (indexer-thread.ts), and by research before it answers (catchUp: a trace
// right after a 250 finds the message even when no `serve` is running).
import { listStreams, readStream, removeSegments, START, streamLag, type Damage, type Position } from './journal/index.js';
import type { StoreLag, StorePosition, StoreWriter } from './store/types.js';

/** Records per store transaction: large enough that a commit's cost spreads thin, small enough to keep the write lock short. */
export const BATCH_RECORDS = 20_000;

export interface BatchResult {
  events: number;
  damage: Damage[];
  /** More records were waiting than one batch takes. */
  more: boolean;
}

const keyOf = (node: string, stream: string): string => `${node}\u0000${stream}`;

async function positionsByStream(store: Pick<StoreWriter, 'positions'>): Promise<Map<string, StorePosition>> {
  return new Map((await store.positions()).map((p) => [keyOf(p.node, p.stream), p]));
}

const toPosition = (p: StorePosition | undefined): Position => (p ? { seq: p.seq, segment: p.segment, offset: p.offset } : START);

/** One batch over every stream of the journal directory, in one transaction. */
export function indexBatch(store: StoreWriter, journalDir: string, maxRecords = BATCH_RECORDS): Promise<BatchResult> {
  return store.transaction(async (tx) => {
    const have = await positionsByStream(tx);
    const streams = listStreams(journalDir);
    const damage: Damage[] = [];
    let events = 0;
    let more = false;
    // Every stream gets its share of the batch: a busy one cannot starve the others.
    const share = Math.max(1000, Math.ceil(maxRecords / Math.max(1, streams.length)));
    for (const { node, stream } of streams) {
      const from = toPosition(have.get(keyOf(node, stream)));
      const r = readStream(journalDir, node, stream, from, { maxRecords: share });
      damage.push(...r.damage);
      if (r.records.length === 0 && r.end.seq === from.seq && r.end.segment === from.segment && r.end.offset === from.offset) continue;
      let lastTs: number | null = null;
      await tx.add(r.records.map((rec) => {
        if (lastTs === null || rec.event.ts > lastTs) lastTs = rec.event.ts;
        return { event: rec.event, stream, seq: rec.seq };
      }));
      await tx.setPosition({ node, stream, seq: r.end.seq, segment: r.end.segment, offset: r.end.offset, last_ts: lastTs, updated: Date.now() });
      events += r.records.length;
      if (r.records.length >= share) more = true;
    }
    return { events, damage, more };
  });
}

/** How far the store is behind the journals: the streams with records it does not have yet. */
export async function lagOf(store: Pick<StoreWriter, 'positions'>, journalDir: string, now = Date.now()): Promise<StoreLag[]> {
  const have = await positionsByStream(store);
  const out: StoreLag[] = [];
  for (const { node, stream } of listStreams(journalDir)) {
    const p = have.get(keyOf(node, stream));
    const from = toPosition(p);
    const { records } = streamLag(journalDir, node, stream, from);
    if (records === 0) continue;
    // The age of the oldest record the store does not have: how stale an answer may be.
    const first = readStream(journalDir, node, stream, from, { maxRecords: 1 }).records[0];
    out.push({ node, stream, events: records, behind_ms: first ? Math.max(0, now - first.event.ts) : 0 });
  }
  return out;
}

/** What the journals hold, per stream: the newest record (seq) beside what the store has (have). */
export function journalHeads(positions: StorePosition[], journalDir: string): { node: string; stream: string; seq: number; have: number }[] {
  const have = new Map(positions.map((p) => [keyOf(p.node, p.stream), p]));
  return listStreams(journalDir).map(({ node, stream }) => {
    const p = have.get(keyOf(node, stream));
    return { node, stream, seq: (p?.seq ?? 0) + streamLag(journalDir, node, stream, toPosition(p)).records, have: p?.seq ?? 0 };
  });
}

export interface CatchUpResult { events: number; damage: Damage[]; lag: StoreLag[] }

/**
 * Indexes until the store has every record that was in the journals when it
 * was called, or the deadline passed; then says what is still missing.
 */
export async function catchUp(store: StoreWriter, journalDir: string, deadline: number): Promise<CatchUpResult> {
  let events = 0;
  const damage: Damage[] = [];
  if ((await lagOf(store, journalDir)).length === 0) return { events, damage, lag: [] };
  for (;;) {
    const r = await indexBatch(store, journalDir);
    events += r.events;
    damage.push(...r.damage);
    if (!r.more || Date.now() >= deadline) break;
  }
  return { events, damage, lag: await lagOf(store, journalDir) };
}

/**
 * Removes journal segments the store has and that are older than keepMs.
 * The store may commit without fsync: its positions are made durable first,
 * so that no segment goes whose records a power failure could take from the
 * store again.
 */
export async function removeIndexedSegments(store: StoreWriter, journalDir: string, keepMs: number): Promise<number> {
  await store.makeDurable();
  let removed = 0;
  for (const p of await store.positions()) {
    removed += removeSegments(journalDir, p.node, p.stream, { consumedSeq: p.seq, olderThanMs: keepMs }).length;
  }
  return removed;
}
