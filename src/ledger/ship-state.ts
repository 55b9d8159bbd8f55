// What the indexer of `serve` last knew about taking the journals into the
// store, in <data_dir>/indexer/state.json: `mailproof status` and /metrics
// read it. It is the node's own view and so stays true when the store is
// unreachable (a cluster's PostgreSQL down: the journal grows, and this says
// by how much and since when).
import fs from 'node:fs';
import path from 'node:path';

export interface StreamBacklog { stream: string; events: number; behind_ms: number }

export interface ShipState {
  node: string;
  /** 'sqlite' or 'postgres', and where (no password is ever in it). */
  store: 'sqlite' | 'postgres';
  target: string;
  pid: number;
  written: number;
  /** The store took the last batch (or answered the last question). */
  up: boolean;
  /** Since when it is up or down. */
  since: number;
  last_error: { at: number; reason: string } | null;
  /** This node's streams with records the store does not have yet. */
  backlog: StreamBacklog[];
  /** When a batch last went into the store. */
  last_shipped: number | null;
}

const file = (dataDir: string): string => path.join(dataDir, 'indexer', 'state.json');

export function writeShipState(dataDir: string, s: ShipState): void {
  const f = file(dataDir);
  fs.mkdirSync(path.dirname(f), { recursive: true });
  const tmp = `${f}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(s));
  fs.renameSync(tmp, f);
}

/** The state, or null when no indexer wrote one (or the one that did is gone). */
export function readShipState(dataDir: string, alive: (pid: number) => boolean): ShipState | null {
  try {
    const s = JSON.parse(fs.readFileSync(file(dataDir), 'utf8')) as ShipState;
    return alive(s.pid) ? s : null;
  } catch {
    return null;
  }
}
