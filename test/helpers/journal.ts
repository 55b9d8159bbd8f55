import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readStream } from '../../src/ledger/journal/reader.js';
import { START } from '../../src/ledger/journal/position.js';
import { listSegments, segmentPath, streamDir } from '../../src/ledger/journal/names.js';
import type { LedgerEvent } from '../../src/ledger/types.js';

export function journalEvent(i: number, extra: Partial<LedgerEvent> = {}): LedgerEvent {
  return { ts: 1_700_000_000_000 + i, node: 'n1', source: 'gateway', kind: 'check.result', ref: `R${i}`, check_name: 'relay', verdict: 'pass', details: { i }, ...extra };
}

/** A temporary journal directory; removed by `done`. */
export function tempJournalDir(t?: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-journal-'));
  t?.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The segment files of a stream, oldest first. */
export function segmentFiles(dir: string, node = 'n1', stream = 'gw'): string[] {
  const sdir = streamDir(dir, node, stream);
  return listSegments(sdir).map((s) => segmentPath(sdir, s));
}

/** Every record from the start: the `i` of each event's details, in seq order, and the damage. */
export function readAll(dir: string, node = 'n1', stream = 'gw'): { seqs: number[]; ids: number[]; damage: unknown[] } {
  const r = readStream(dir, node, stream, START);
  return { seqs: r.records.map((x) => x.seq), ids: r.records.map((x) => (x.event.details as { i: number }).i), damage: r.damage };
}

export function range(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, k) => first + k);
}
