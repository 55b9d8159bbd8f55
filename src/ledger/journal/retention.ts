// Retention: whole segments go once the indexer has consumed all of their
// records and they are old enough (a grace period for other readers, and for
// looking at the raw journal after an incident).
import fs from 'node:fs';
import { listSegments, segmentPath, streamDir } from './names.js';

export interface RemovedSegment { segment: number; lastSeq: number; bytes: number }

/**
 * Removes the oldest segments all of whose records have seq <= consumedSeq
 * and that were last modified more than olderThanMs ago. Never the newest
 * segment (the writer's), and only from the front, so no hole is left.
 */
export function removeSegments(dir: string, node: string, stream: string, opts: { consumedSeq: number; olderThanMs: number; now?: number }): RemovedSegment[] {
  const sdir = streamDir(dir, node, stream);
  const segs = listSegments(sdir);
  const cutoff = (opts.now ?? Date.now()) - opts.olderThanMs;
  const removed: RemovedSegment[] = [];
  for (let i = 0; i + 1 < segs.length; i++) {
    const seg = segs[i]!;
    // The next segment's name is the seq after this one's last record.
    const lastSeq = segs[i + 1]! - 1;
    if (lastSeq > opts.consumedSeq) break;
    const file = segmentPath(sdir, seg);
    const st = fs.statSync(file);
    if (st.mtimeMs > cutoff) break;
    fs.rmSync(file, { force: true });
    removed.push({ segment: seg, lastSeq, bytes: st.size });
  }
  if (removed.length > 0) {
    try {
      const fd = fs.openSync(sdir, 'r');
      try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
    } catch { /* best effort: a removal lost in a crash is done again next time */ }
  }
  return removed;
}
