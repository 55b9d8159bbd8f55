// The journal's read side, synchronous: the indexer runs it in its own
// thread, and CLI tools have nothing else to do meanwhile. Segments are read
// in large chunks (scan.ts), never a syscall per record.
import fs from 'node:fs';
import type { LedgerEvent } from '../types.js';
import { listSegments, segmentPath, streamDir } from './names.js';
import type { Position } from './position.js';
import { decodePayload } from './record.js';
import { CHUNK_BYTES, scanSegment } from './scan.js';

export interface JournalRecord {
  seq: number;
  event: LedgerEvent;
  segment: number;
  /** Where this record ends (the position after it). */
  offset: number;
  size: number;
}

export interface Damage {
  node: string;
  stream: string;
  segment: number;
  offset: number;
  /** Length of the invalid region (0 for seqs missing without invalid bytes, e.g. a removed segment). */
  bytes: number;
  reason: string;
  /** The seqs lost here, as a range, when the seq jump after the damage shows them. */
  missingSeqs?: { first: number; last: number };
}

export interface ReadResult { records: JournalRecord[]; damage: Damage[]; end: Position }

export interface ReadOptions { maxRecords?: number; maxBytes?: number; chunkBytes?: number }

function fileSize(file: string): number | null {
  try {
    return fs.statSync(file).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Index in segs where reading from `from` starts, the offset there, and why seqs may be missing before it. */
function startAt(segs: number[], from: Position): { i: number; offset: number; gapReason?: string } {
  if (from.segment === 0) return { i: 0, offset: 0, gapReason: 'segments removed' };
  const i = segs.indexOf(from.segment);
  if (i >= 0) return { i, offset: from.offset };
  const next = segs.findIndex((s) => s > from.segment);
  return { i: next < 0 ? segs.length : next, offset: 0, gapReason: 'segments removed' };
}

/**
 * The records after `from` (at most maxRecords, or until maxBytes of records
 * were read), the damage met on the way, and the position after the last
 * record returned. Records with seq <= from.seq are skipped, so a consumer
 * that stores `end` with what it did gets each record once. Invalid bytes at
 * the end of the newest segment are a write in progress (or a torn tail the
 * writer cuts at its next start): reading stops there without damage.
 */
export function readStream(dir: string, node: string, stream: string, from: Position, opts: ReadOptions = {}): ReadResult {
  const sdir = streamDir(dir, node, stream);
  const maxRecords = opts.maxRecords ?? Infinity;
  const maxBytes = opts.maxBytes ?? Infinity;
  const records: JournalRecord[] = [];
  const damage: Damage[] = [];
  const segs = listSegments(sdir);
  let end: Position = { ...from };
  let lastSeq = from.seq;
  let bytes = 0;
  let { i, offset, gapReason } = startAt(segs, from);
  // Invalid bytes wait for the next valid record, whose seq tells what they cost.
  let invalid: Damage | null = null;

  for (; i < segs.length; i++) {
    const seg = segs[i]!;
    const newest = i === segs.length - 1;
    const file = segmentPath(sdir, seg);
    const size = fileSize(file);
    if (size === null) continue; // removed meanwhile: the seq jump reports it
    // Below the position: the file was cut back (a failed write's records
    // had been read). Read it again; what was consumed is skipped by seq.
    if (offset > size) offset = 0;
    for (const item of scanSegment(file, offset, opts.chunkBytes ?? CHUNK_BYTES)) {
      if (item.kind === 'invalid' || (item.kind === 'tail' && !newest)) {
        invalid = { node, stream, segment: seg, offset: item.offset, bytes: item.bytes, reason: item.kind === 'invalid' ? 'invalid bytes' : 'invalid end of segment' };
        continue;
      }
      if (item.kind === 'tail') return { records, damage, end };
      const recEnd = item.offset + item.size;
      // Damage before a consumed record lies behind the position: reported when it was passed.
      if (item.seq <= lastSeq) { invalid = null; end = { seq: lastSeq, segment: seg, offset: recEnd }; continue; }
      const expect = lastSeq + 1;
      const missing = item.seq > expect ? { first: expect, last: item.seq - 1 } : undefined;
      if (invalid) damage.push(missing ? { ...invalid, missingSeqs: missing } : invalid);
      else if (missing) damage.push({ node, stream, segment: seg, offset: item.offset, bytes: 0, reason: gapReason ?? 'sequence gap', missingSeqs: missing });
      invalid = null;
      gapReason = undefined;
      lastSeq = item.seq;
      end = { seq: lastSeq, segment: seg, offset: recEnd };
      let event: LedgerEvent;
      try {
        event = decodePayload(item.buf, item.at, item.size);
      } catch (err) {
        damage.push({ node, stream, segment: seg, offset: item.offset, bytes: item.size, reason: `undecodable payload: ${(err as Error).message}`, missingSeqs: { first: item.seq, last: item.seq } });
        continue;
      }
      records.push({ seq: item.seq, event, segment: seg, offset: recEnd, size: item.size });
      bytes += item.size;
      if (records.length >= maxRecords || bytes >= maxBytes) return { records, damage, end };
    }
    const next = segs[i + 1];
    if (next !== undefined) end = { seq: lastSeq, segment: next, offset: 0 };
    offset = 0;
  }
  return { records, damage, end };
}

/**
 * How far a consumer at `from` is behind: records and bytes after it. Whole
 * segments are counted by their names (seqs have no gaps), only the newest
 * one is scanned, without decoding its records.
 */
export function streamLag(dir: string, node: string, stream: string, from: Position): { records: number; bytes: number } {
  const sdir = streamDir(dir, node, stream);
  const segs = listSegments(sdir);
  let records = 0;
  let bytes = 0;
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i]!;
    const next = segs[i + 1];
    if (next !== undefined && next <= from.segment) continue;
    const size = fileSize(segmentPath(sdir, seg));
    if (size === null) continue;
    const offset = seg === from.segment ? Math.min(from.offset, size) : 0;
    bytes += size - offset;
    if (next !== undefined) {
      records += Math.max(0, next - Math.max(seg, from.seq + 1));
      continue;
    }
    for (const item of scanSegment(segmentPath(sdir, seg), offset)) {
      if (item.kind === 'record' && item.seq > from.seq) records++;
    }
  }
  return { records, bytes };
}
