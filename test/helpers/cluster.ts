// A mailproof cluster for end-to-end tests: `serve` nodes, each its own
// process, data directory and journal, on a loopback address of its own,
// all shipping into one throwaway PostgreSQL (postgres.ts). What the tests
// compare: the store against the journals of every node, event for event.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { listStreams, readStream, START } from '../../src/ledger/journal/index.js';
import { readShipState, type ShipState } from '../../src/ledger/ship-state.js';
import { journalDigest, storeDigest, type Digest } from './ledger-digest.js';
import type { PostgresInstance } from './postgres.js';
import { alive, pollUntil } from './postfix.js';
import { freePort, run, startServer, NO_DNS_CHECKS, type Instance } from './server.js';

export const MX1 = '127.0.0.21';
export const MX2 = '127.0.0.22';

/** Checks that ask no DNS and let loopback clients through to the checks under test. */
export const QUIET_CHECKS = { ...NO_DNS_CHECKS, allowlist: { networks: [] }, rate: { mode: 'off' } } as const;

export interface Node extends Instance {
  name: string;
  cfgFile: string;
  /** The node's configuration as given (for a restart on the same data directory). */
  config: Record<string, unknown>;
}

export interface NodeOptions {
  name: string;
  host: string;
  /** Extra configuration; `ledger` is merged with the store's keys. */
  config?: Record<string, unknown>;
  dataDir?: string;
  port?: number;
}

/** What a test started: stopped, then removed, by one after() hook (a restarted node's directory outlives its first process). */
const started = new WeakMap<TestContext, { procs: Instance[]; dirs: string[] }>();

function cleanupOf(t: TestContext): { procs: Instance[]; dirs: string[] } {
  let c = started.get(t);
  if (!c) {
    const mine = { procs: [] as Instance[], dirs: [] as string[] };
    started.set(t, mine);
    t.after(async () => {
      await Promise.all(mine.procs.map((p) => p.stop()));
      for (const d of mine.dirs) fs.rmSync(d, { recursive: true, force: true });
    });
    c = mine;
  }
  return c;
}

/** A node of the cluster: `serve` with the PostgreSQL store. Its data directory goes with the test (unless it was given). */
export async function startNode(t: TestContext, pg: PostgresInstance, o: NodeOptions): Promise<Node> {
  const cleanup = cleanupOf(t);
  let dataDir = o.dataDir;
  if (dataDir === undefined) {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `mailproof-${o.name}-`));
    cleanup.dirs.push(dataDir);
  }
  const port = o.port ?? (await freePort(o.host));
  const extra = o.config ?? {};
  const config: Record<string, unknown> = {
    hostname: `${o.name}.cluster.test`,
    checks: QUIET_CHECKS,
    ...extra,
    node: o.name,
    ledger: { ...(extra.ledger as object | undefined), store: pg.url, store_password_file: pg.passwordFile },
  };
  const mp = await startServer({ config, dataDir, host: o.host, port });
  cleanup.procs.push(mp);
  return { ...mp, name: o.name, cfgFile: path.join(dataDir, 'test-config.yaml'), config };
}

/** The same node again on its data directory and address (after stop() or kill9()). */
export function restartNode(t: TestContext, pg: PostgresInstance, n: Node): Promise<Node> {
  const { ledger: _l, node: _n, ...config } = n.config;
  return startNode(t, pg, { name: n.name, host: n.host, port: n.port, dataDir: n.dataDir, config });
}

/** Every record of the journals of the nodes' data directories, together. */
export function journalsDigest(dataDirs: string[]): Digest {
  return journalDigest(...dataDirs.map((d) => path.join(d, 'journal')));
}

/** Every event of the cluster's PostgreSQL store. */
export function pgDigest(pg: PostgresInstance): Promise<Digest> {
  return storeDigest({ store: pg.url, storePasswordFile: pg.passwordFile });
}

/** Journal records per node and stream (the head of each stream). */
export function journalHeads(dataDirs: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const d of dataDirs) {
    const j = path.join(d, 'journal');
    for (const { node, stream } of listStreams(j)) {
      const r = readStream(j, node, stream, START);
      out.set(`${node}/${stream}`, r.records.at(-1)?.seq ?? 0);
    }
  }
  return out;
}

/** The store's positions, read directly (no `trace`: it would ship this node's journal itself). */
export async function storePositions(pg: PostgresInstance): Promise<Map<string, number>> {
  const { rows } = await pg.query<{ node: string; stream: string; seq: string }>('SELECT node, stream, seq FROM positions');
  return new Map(rows.map((r) => [`${r.node}/${r.stream}`, Number(r.seq)]));
}

/** Waits until the store's positions reach every journal's head; returns how long it took. */
export async function waitCaughtUp(pg: PostgresInstance, dataDirs: string[], timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  let last = '';
  await pollUntil(async () => {
    const heads = journalHeads(dataDirs);
    let have: Map<string, number>;
    try {
      have = await storePositions(pg);
    } catch (err) {
      last = (err as Error).message;
      return false;
    }
    last = JSON.stringify({ journals: [...heads], store: [...have] });
    return [...heads].every(([k, seq]) => (have.get(k) ?? 0) >= seq);
  }, { timeoutMs, intervalMs: 250, what: 'the store to catch up with every journal', describe: () => last });
  return Date.now() - t0;
}

/** What a node's indexer last wrote about shipping (src/ledger/ship-state.ts), or null while there is none. */
export function shipState(n: Pick<Instance, 'dataDir'>): ShipState | null {
  return readShipState(n.dataDir, alive);
}

/** A mailproof command against a node's configuration. */
export function cli(n: Pick<Node, 'cfgFile'>, args: string[]): ReturnType<typeof run> {
  const [cmd, ...rest] = args;
  return run([cmd!, '--config', n.cfgFile, ...rest]);
}
