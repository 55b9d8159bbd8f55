// Events of given transactions read straight from this node's journal, for
// the gateway's crash recovery when the store cannot answer (a cluster's
// PostgreSQL down while a crashed node restarts). The recovery asks only
// about the dead run's last minutes, and the journal keeps those (segments
// go only after the store has them and journal_keep_hours have passed), so
// the records since the oldest run's start are enough.
import { listStreams, readStream, START, type Position } from './journal/index.js';
import type { LedgerReader, StoredEvent } from './types.js';

const PAGE = 50_000;

/** A byRefs over the records of `node`'s streams with a time at or after `since`. */
export function journalRefReader(journalDir: string, node: string, since: number): Pick<LedgerReader, 'byRefs'> {
  let byRef: Map<string, StoredEvent[]> | null = null;
  const load = (): Map<string, StoredEvent[]> => {
    const out = new Map<string, StoredEvent[]>();
    let id = 0;
    for (const s of listStreams(journalDir).filter((x) => x.node === node)) {
      let from: Position = START;
      for (;;) {
        const r = readStream(journalDir, s.node, s.stream, from, { maxRecords: PAGE });
        for (const rec of r.records) {
          const e = rec.event;
          if (e.ts < since || !e.ref) continue;
          const list = out.get(e.ref) ?? [];
          list.push({ ...e, id: ++id });
          out.set(e.ref, list);
        }
        if (r.records.length < PAGE) break;
        from = r.end;
      }
    }
    return out;
  };
  return {
    async byRefs(refs: string[]): Promise<StoredEvent[]> {
      byRef ??= load();
      return refs.flatMap((r) => byRef!.get(r) ?? []).sort((a, b) => a.ts - b.ts || a.id - b.id);
    },
  };
}
