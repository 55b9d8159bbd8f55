// A store compared with what it was built from, row for row: each event as
// one line (its source key and its JSON as the store keeps it), the lines
// sorted, counted and hashed. Equal counts and digests mean the same events,
// none missing and none twice.
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { listStreams, readStream, START } from '../../src/ledger/journal/index.js';
import { fromRow, SELECT_COLUMNS } from '../../src/ledger/legacy/row.js';
import { openStoreReader, type StoreSpec } from '../../src/ledger/open.js';
import { normalizeEvent, type ChunkEvent } from '../../src/ledger/store/codec.js';
import type { LedgerEvent } from '../../src/ledger/types.js';

export interface Digest { count: number; sha256: string; lines: string[] }

/** The event's fields as the store keeps them (normalized), without its store id or journal key. */
function body(e: LedgerEvent): string {
  const { id: _id, jstream: _s, jseq: _q, ...rest } = normalizeEvent(e, 0) as ChunkEvent;
  return JSON.stringify(rest);
}

export function digestOf(lines: string[]): Digest {
  lines.sort();
  const h = createHash('sha256');
  for (const l of lines) h.update(l + '\n');
  return { count: lines.length, sha256: h.digest('hex'), lines };
}

/**
 * Every record of every stream of journal directories: "node/stream seq
 * JSON". Several directories: the journals of a cluster's nodes together.
 */
export function journalDigest(...journalDirs: string[]): Digest {
  const lines: string[] = [];
  for (const journalDir of journalDirs) {
    for (const { node, stream } of listStreams(journalDir)) {
      const r = readStream(journalDir, node, stream, START);
      if (r.damage.length) throw new Error(`damaged journal ${node}/${stream}: ${JSON.stringify(r.damage)}`);
      for (const rec of r.records) lines.push(`${node}/${stream} ${rec.seq} ${body(rec.event)}`);
    }
  }
  return digestOf(lines);
}

/**
 * Every event of a store (a SQLite file, or a cluster's PostgreSQL as a
 * StoreSpec with its password file): journal events as "node/stream seq
 * JSON", others (ingested, converted) as "- JSON".
 */
export async function storeDigest(store: string | StoreSpec): Promise<Digest> {
  const r = openStoreReader(typeof store === 'string' ? { store } : store);
  const lines: string[] = [];
  try {
    for await (const e of r.all()) lines.push(e.jstream !== undefined ? `${e.node}/${e.jstream} ${e.jseq} ${body(e)}` : `- ${body(e)}`);
  } finally {
    await r.close();
  }
  return digestOf(lines);
}

/** Every row of a ledger of the first format, as the conversion puts it into the store: "- JSON". */
export function legacyDigest(file: string): Digest {
  const db = new Database(file, { readonly: true });
  try {
    const rows = db.prepare(`SELECT ${SELECT_COLUMNS.join(', ')} FROM events`).all() as Record<string, string | number | null>[];
    return digestOf(rows.map((row) => `- ${body(fromRow(row))}`));
  } finally {
    db.close();
  }
}

/** What differs, for the failure message: lines only in a, lines only in b (a few of each, and their numbers). */
export function difference(a: Digest, b: Digest, show = 3): string {
  const count = (lines: string[]): Map<string, number> => {
    const m = new Map<string, number>();
    for (const l of lines) m.set(l, (m.get(l) ?? 0) + 1);
    return m;
  };
  const ca = count(a.lines);
  const cb = count(b.lines);
  const onlyA: string[] = [];
  const onlyB: string[] = [];
  for (const [l, n] of ca) for (let k = cb.get(l) ?? 0; k < n; k++) onlyA.push(l);
  for (const [l, n] of cb) for (let k = ca.get(l) ?? 0; k < n; k++) onlyB.push(l);
  const cut = (xs: string[]): string => xs.slice(0, show).map((x) => x.slice(0, 200)).join('\n    ');
  return `${onlyA.length} only in the first (or more often):\n    ${cut(onlyA)}\n  ${onlyB.length} only in the second (or more often):\n    ${cut(onlyB)}`;
}
