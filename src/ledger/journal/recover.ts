// What a writer finds at open: the newest segment, where its valid records
// end and which seq comes next. A crash (or a power cut) can leave a torn
// record at the end, written in part or not synced; since no reply waited on
// it being there (its append never resolved), it is cut off here. Invalid
// bytes that valid records follow are not a torn write but damage, and stay
// for the reader to report.
import fs from 'node:fs';
import path from 'node:path';
import type { JournalIo } from './io.js';
import { listSegments, segmentPath } from './names.js';
import { scanSegment } from './scan.js';

export interface RecoverySummary {
  /** Bytes of torn tail cut off the newest segment (0: it ended cleanly). */
  truncatedBytes: number;
  /** The last valid seq in the stream (0: none yet). */
  lastSeq: number;
}

export interface OpenSegment {
  fd: number;
  segment: number;
  end: number;
  nextSeq: number;
  /** When the segment got its first record (for the roll by age); 0: still empty. */
  firstWriteAt: number;
  recovery: RecoverySummary;
}

/** Creates the directory (and its parents) with each new entry made durable. */
export async function makeDirs(io: JournalIo, dir: string, sync: boolean): Promise<void> {
  if (fs.existsSync(dir)) return;
  const parent = path.dirname(dir);
  if (parent !== dir) await makeDirs(io, parent, sync);
  try { fs.mkdirSync(dir, { mode: 0o750 }); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; }
  if (sync) await io.fsyncDir(parent);
}

/** Opens the stream's newest segment for appending (the first one if none); the stream directory must exist. */
export async function openNewest(io: JournalIo, sdir: string, sync: boolean): Promise<OpenSegment> {
  const segs = listSegments(sdir);
  const newest = segs[segs.length - 1];
  if (newest === undefined) {
    const fd = await io.create(segmentPath(sdir, 1));
    if (sync) await io.fsyncDir(sdir);
    return { fd, segment: 1, end: 0, nextSeq: 1, firstWriteAt: 0, recovery: { truncatedBytes: 0, lastSeq: 0 } };
  }
  const file = segmentPath(sdir, newest);
  let end = 0;
  let lastSeq = newest - 1;
  let tail = 0;
  for (const item of scanSegment(file)) {
    if (item.kind === 'record') {
      end = item.offset + item.size;
      lastSeq = item.seq;
    } else if (item.kind === 'tail') {
      tail = item.bytes;
    }
  }
  const fd = await io.openExisting(file);
  if (tail > 0) {
    await io.ftruncate(fd, end);
    if (sync) await io.fdatasync(fd);
  }
  const st = fs.statSync(file);
  const firstWriteAt = end === 0 ? 0 : st.birthtimeMs || st.mtimeMs;
  return { fd, segment: newest, end, nextSeq: lastSeq + 1, firstWriteAt, recovery: { truncatedBytes: tail, lastSeq } };
}
