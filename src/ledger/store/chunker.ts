// How a batch of events becomes what every store keeps (the embedded SQLite
// one and a cluster's PostgreSQL one alike): chunks (a session's events from
// the batch, an hour of them at most, encoded by codec.ts), the terms each
// chunk carries with the time of its first event carrying it, and the
// mailboxes the events show to exist. The stores differ only in how they
// write these rows.
import type { LedgerEvent } from '../types.js';
import { encodeChunk, normalizeEvent, type ChunkEvent } from './codec.js';
import { domainOf, termsOf } from './terms.js';
import type { StoreInput } from './types.js';

const HOUR = 3600_000;
/** The longest span of one chunk (and so the slack of a term's time). */
export const CHUNK_SPAN_MS = HOUR;

/** The group an event is kept in: its session, else its transaction, else an hour of its node and source. */
export function sessionKey(e: LedgerEvent): string {
  if (e.session) return e.session;
  if (e.ref) return `~ref:${e.ref}`;
  return `~${e.node}:${e.source}:${Math.floor(e.ts / HOUR)}`;
}

export interface Chunk {
  /** The session key (sessionKey) the events belong to. */
  key: string;
  /** The node of the chunk's first event. */
  node: string;
  events: ChunkEvent[];
  /** Earliest and latest event time in it (ms). */
  lo: number;
  hi: number;
  body: Buffer;
  codec: number;
  /** Each term the chunk carries, with the time of its first event carrying it. */
  terms: Map<string, number>;
}

export interface Mailbox { domain: string; rcpt: string; first: number; last: number }

/**
 * Chunks of the inputs, with the store ids `idOf(i)` of input i. A
 * transaction's events without a session (an ingested delivery, a queue line)
 * go with the session that began it when it is in the same batch: one chunk
 * instead of two. They keep their own fields (no session), so research sees
 * them exactly as before.
 */
export function chunksOf(inputs: StoreInput[], idOf: (i: number) => number): { chunks: Chunk[]; mailboxes: Mailbox[] } {
  const sessionOfRef = new Map<string, string>();
  for (const inp of inputs) if (inp.event.session && inp.event.ref && !sessionOfRef.has(inp.event.ref)) sessionOfRef.set(inp.event.ref, inp.event.session);
  const groups = new Map<string, ChunkEvent[]>();
  inputs.forEach((inp, i) => {
    const ce = normalizeEvent(inp.event, idOf(i), inp.stream !== undefined && inp.seq !== undefined ? { stream: inp.stream, seq: inp.seq } : undefined);
    const key = (!inp.event.session && inp.event.ref && sessionOfRef.get(inp.event.ref)) || sessionKey(inp.event);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(ce);
  });
  const chunks: Chunk[] = [];
  const boxes = new Map<string, Mailbox>();
  for (const [key, events] of groups) {
    // Chunks of at most CHUNK_SPAN_MS (by ts, in the order the events came).
    let start = 0;
    let lo = events[0]!.ts;
    let hi = lo;
    for (let i = 0; i <= events.length; i++) {
      const ts = i < events.length ? events[i]!.ts : NaN;
      if (i === events.length || Math.max(hi, ts) - Math.min(lo, ts) > CHUNK_SPAN_MS) {
        chunks.push(chunkOf(key, events.slice(start, i), lo, hi, boxes));
        start = i;
        lo = hi = ts;
      } else {
        lo = Math.min(lo, ts);
        hi = Math.max(hi, ts);
      }
    }
  }
  return { chunks, mailboxes: [...boxes.values()] };
}

function chunkOf(key: string, events: ChunkEvent[], lo: number, hi: number, boxes: Map<string, Mailbox>): Chunk {
  const { body, codec } = encodeChunk(events);
  const terms = new Map<string, number>();
  const scratch = new Set<string>();
  for (const e of events) {
    scratch.clear();
    termsOf(e, scratch);
    for (const t of scratch) {
      const had = terms.get(t);
      if (had === undefined || e.ts < had) terms.set(t, e.ts);
    }
    if (e.rcpt && (e.kind === 'rcpt.accepted' || e.kind === 'message.delivered')) {
      const d = domainOf(e.rcpt);
      if (!d) continue;
      const k = `${d}\u0000${e.rcpt}`;
      const b = boxes.get(k);
      if (!b) boxes.set(k, { domain: d, rcpt: e.rcpt, first: e.ts, last: e.ts });
      else { b.first = Math.min(b.first, e.ts); b.last = Math.max(b.last, e.ts); }
    }
  }
  return { key, node: events[0]!.node, events, lo, hi, body, codec, terms };
}
