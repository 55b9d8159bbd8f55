import { readHealth, type ComponentState } from '../health/index.js';
import { buildClamd, buildResolver, buildSpam } from '../runtime/services.js';
import { storeSpecOf } from '../ledger/open.js';
import { storeStatus, storeUp, type StoreStatus } from '../ledger/store-status.js';
import { judgeClamdVersion, TEST_SIGNATURES_ONLY } from '../scan/signatures.js';
import { asciiSafe } from '../util/sanitize.js';
import { configFrom, parse } from './common.js';

export const STATUS_HELP = `mailproof status [--probe] [--json]
  the state of the components the checks depend on (DNS, clamd, the spam
  scanner), as the running gateway processes last saw them, and of the store:
  how far this node's journal is from it (events, seconds), and for a
  cluster's PostgreSQL its state and every node's backlog. A clamd that has
  no real signature database gets a WARNING line ("test signatures only: not
  protecting anyone"). --probe also asks each configured component now.
  Exit 0 when all are up, 1 when one is down (the store included), 3 when no
  gateway is running (with --probe: 0/1 from the probes and the store alone).
`;

interface ProbeResult { component: string; ok: boolean; detail: string; ms: number }

async function probe(values: Record<string, unknown>): Promise<ProbeResult[]> {
  const cfg = configFrom(values);
  const out: ProbeResult[] = [];
  const time = async (component: string, f: () => Promise<{ ok: boolean; detail: string }>): Promise<void> => {
    const t0 = performance.now();
    let r: { ok: boolean; detail: string };
    try {
      r = await f();
    } catch (err) {
      r = { ok: false, detail: (err as Error).message };
    }
    out.push({ component, ...r, ms: Math.round(performance.now() - t0) });
  };
  const resolver = buildResolver(cfg);
  // A real answer (records, or "no such name") about our own host name shows
  // the resolver works for the checks; REFUSED, SERVFAIL or silence does not.
  await time('dns', async () => {
    const a = await resolver.resolve(cfg.hostname.includes('.') ? cfg.hostname : 'localhost', 'A');
    const ok = a.rcode === 'NOERROR' || a.rcode === 'NXDOMAIN';
    return { ok, detail: `${a.rcode} from ${a.server ?? 'no server'}${a.detail ? `: ${a.detail}` : ''}` };
  });
  const clamd = buildClamd(cfg);
  if (clamd) {
    await time('clamd', async () => {
      const p = await clamd.ping();
      if (!p.ok) return { ok: false, detail: p.reason ?? 'no PONG' };
      const v = await clamd.version();
      // Up, but say it when it has no real signatures (scan/signatures.ts).
      const testOnly = judgeClamdVersion(v).kind === 'unofficial_only' ? ` (${TEST_SIGNATURES_ONLY})` : '';
      return { ok: true, detail: `${v ?? 'PONG'}${testOnly}` };
    });
  }
  const spam = buildSpam(cfg);
  if (spam && 'ping' in spam && typeof spam.ping === 'function') {
    const ping = spam.ping as (ms?: number) => Promise<boolean>;
    await time(spam.backend, async () => {
      const ok = await ping.call(spam, 5000);
      return { ok, detail: ok ? 'answers' : 'does not answer' };
    });
  }
  return out;
}

function line(name: string, c: ComponentState): string {
  const since = new Date(c.since).toISOString();
  const err = c.state === 'down' && c.last_error ? `: ${asciiSafe(c.last_error.reason, 200)}` : '';
  return `  ${name.padEnd(8)} ${c.state.padEnd(4)} since ${since}${c.state === 'down' ? ` (${c.failures} failures)` : ''}${err}`;
}

const secs = (ms: number): string => `${Math.round(ms / 1000)} s`;
const iso = (t: number): string => new Date(t).toISOString();

/** The store's part of the status, for people. */
export function storeLines(s: StoreStatus, node: string, now = Date.now()): string[] {
  const out: string[] = [];
  const where = asciiSafe(s.target, 200);
  if (s.kind === 'postgres') {
    out.push(s.cluster
      ? `store postgres ${where}: up (PostgreSQL ${asciiSafe(s.cluster.server, 40)}, schema ${s.cluster.schema}, ${Math.round(s.cluster.bytes / 1048576)} MiB)`
      : `store postgres ${where}: DOWN: ${asciiSafe(s.error ?? 'no answer', 300)}`);
  } else {
    out.push(`store sqlite ${where}`);
  }
  const l = s.local;
  if (!l) {
    out.push(`  this node (${node}): no indexer running (serve is not running on this data directory)`);
  } else {
    const backlog = l.backlog.length ? l.backlog.map((b) => `${b.stream} ${b.events} events${b.behind_ms ? ` (${secs(b.behind_ms)})` : ''}`).join(', ') : 'none';
    out.push(`  this node (${l.node}): indexer ${l.up ? 'up' : 'DOWN'} since ${iso(l.since)}; backlog ${backlog}`
      + (l.last_shipped ? `; last batch ${secs(now - l.last_shipped)} ago` : '')
      + (!l.up && l.last_error ? `: ${asciiSafe(l.last_error.reason, 300)}` : ''));
  }
  for (const n of s.cluster?.streams ?? []) {
    const what = n.silent ? `SILENT for ${secs(now - n.reported!)} (its newest events may be missing)`
      : n.behind ? `${n.behind} events behind${n.shipped ? `, last shipped ${secs(now - n.shipped)} ago` : ''}`
        : n.stopped ? 'stopped, all shipped' : 'up to date';
    out.push(`  node ${asciiSafe(n.node, 64)} ${asciiSafe(n.stream, 64)}: ${what}`);
  }
  return out;
}

export async function statusCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { json: { type: 'boolean' }, probe: { type: 'boolean' } });
  if (values.help) { process.stdout.write(STATUS_HELP); return 0; }
  const cfg = configFrom(values);
  const procs = readHealth(cfg.data_dir);
  const probes = values.probe ? await probe(values) : null;
  const store = await storeStatus(storeSpecOf(cfg), cfg.data_dir);
  const down = procs.some((p) => Object.values(p.components).some((c) => c.state === 'down')) || !storeUp(store);
  const probeDown = probes?.some((p) => !p.ok) ?? false;
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ processes: procs, probes, store }, null, 2)}\n`);
  } else {
    if (procs.length === 0) process.stdout.write(`no running gateway found in ${cfg.data_dir}\n`);
    for (const p of procs) {
      process.stdout.write(`node ${p.node} pid ${p.pid} (as of ${new Date(p.written).toISOString()})\n`);
      const names = Object.keys(p.components);
      if (names.length === 0) process.stdout.write('  no component used yet\n');
      for (const n of names) process.stdout.write(`${line(n, p.components[n]!)}\n`);
      for (const [n, w] of Object.entries(p.warnings ?? {})) process.stdout.write(`  WARNING ${asciiSafe(n, 20)}: ${asciiSafe(w, 400)}\n`);
    }
    for (const l of storeLines(store, cfg.node)) process.stdout.write(`${l}\n`);
    if (probes) {
      process.stdout.write('probes now:\n');
      for (const r of probes) process.stdout.write(`  ${r.component.padEnd(8)} ${r.ok ? 'up  ' : 'down'} ${r.ms} ms: ${asciiSafe(r.detail, 200)}\n`);
    }
  }
  if (probes) return probeDown || down ? 1 : 0;
  if (procs.length === 0) return 3;
  return down ? 1 : 0;
}
