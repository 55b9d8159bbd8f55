// /metrics for Prometheus, counted from the ledger.
//
// Why the ledger and not counters in the gateway processes (prom-client's
// AggregatorRegistry): with smtp.workers > 1 the SMTP sessions run in worker
// processes and the web server in the primary. In-process counters die with
// a worker that crashes or is restarted (cli/serve.ts forks a new one), and
// the aggregator has to ask every worker over IPC on each scrape. Every
// worker already appends every fact to the one ledger before its reply goes
// out (docs/design.md "Ledger events"), so counting the ledger's new rows at
// scrape time is correct for any number of workers, survives worker
// restarts, and counts ingested Postfix/Dovecot events the same way. The
// check latencies are in the events too (check.result details.ms).
//
// Each scrape reads only the rows added since the last one (by row id).
// After a restart of the web server the counters start from the ledger's
// first row again: Prometheus sees that as a counter reset, which rate()
// handles.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { readHealth } from '../health/index.js';
import { isClusterStore, openStoreReader, type StoreSpec } from '../ledger/open.js';
import { storeStatus, storeUp } from '../ledger/store-status.js';
import type { EventStore } from '../ledger/store/types.js';

const COUNTED = new Set(['message.delivered', 'rcpt.rejected', 'data.rejected', 'message.delivery_failed', 'check.result']);

/**
 * Rows per read. The embedded store reads synchronously on the event loop
 * that also carries the SMTP sessions (smtp.workers=1) and the web pages;
 * between two batches the loop runs on, so a first scrape of a large ledger delays a
 * session by one batch (a few milliseconds), not by the whole count.
 */
const BATCH = 5000;
/** Most rows one scrape reads; the rest follows on the next scrape. */
const MAX_PER_SCRAPE = 500000;

interface Row { id: number; kind: string; source: string; check_name: string | null; verdict: string | null; smtp_code: number | null; ms: number | null }

export class LedgerMetrics {
  readonly registry = new Registry();
  private lastId = 0;
  private db: EventStore | null = null;
  private readonly messages: Counter<'outcome' | 'source'>;
  private readonly checks: Counter<'check' | 'verdict'>;
  private readonly latency: Histogram<'check'>;
  private readonly up: Gauge<'component'>;
  private readonly failures: Gauge<'component'>;
  private readonly processes: Gauge;
  private readonly lastRow: Gauge;
  private readonly storeUp: Gauge;
  private readonly backlogEvents: Gauge<'node' | 'stream'>;
  private readonly backlogSeconds: Gauge<'node' | 'stream'>;
  private readonly silent: Gauge<'node' | 'stream'>;
  /** The count in progress: a second scrape meanwhile waits for it instead of counting the same rows again. */
  private counting: Promise<void> | null = null;

  constructor(private readonly spec: StoreSpec, private readonly dataDir: string, extra?: (r: Registry) => void) {
    const registers = [this.registry];
    this.messages = new Counter({ name: 'mailproof_messages_total', help: 'Final outcome per message and recipient as recorded in the ledger (delivered, rejected = 5xx, tempfailed = 4xx)', labelNames: ['outcome', 'source'], registers });
    this.checks = new Counter({ name: 'mailproof_checks_total', help: 'Check runs by check and verdict (ledger check.result events)', labelNames: ['check', 'verdict'], registers });
    this.latency = new Histogram({ name: 'mailproof_check_duration_seconds', help: 'How long a check took (ledger check.result details.ms)', labelNames: ['check'], buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers });
    this.up = new Gauge({ name: 'mailproof_component_up', help: 'Outside component (DNS, clamd, spam scanner ...) as the gateway processes see it: 1 = up in every process, 0 = down in at least one', labelNames: ['component'], registers });
    this.failures = new Gauge({ name: 'mailproof_component_failures', help: 'Failures since the component was last up, summed over the gateway processes', labelNames: ['component'], registers });
    this.processes = new Gauge({ name: 'mailproof_gateway_processes', help: 'Running gateway processes that report their health', registers });
    this.lastRow = new Gauge({ name: 'mailproof_ledger_rows_counted', help: 'Row id of the last ledger event counted', registers });
    this.storeUp = new Gauge({ name: 'mailproof_store_up', help: 'The store takes this node\'s journal (and a cluster\'s PostgreSQL answers): 1, else 0', registers });
    this.backlogEvents = new Gauge({ name: 'mailproof_store_backlog_events', help: 'Journal records the store does not have yet, per node and stream (a cluster: every node, as it last reported)', labelNames: ['node', 'stream'], registers });
    this.backlogSeconds = new Gauge({ name: 'mailproof_store_backlog_seconds', help: 'Age of the oldest journal record the store does not have yet, per node and stream', labelNames: ['node', 'stream'], registers });
    this.silent = new Gauge({ name: 'mailproof_store_node_silent', help: 'A cluster node that has not reported its journal for over a minute while not stopped: 1 (its newest events may be missing), else 0', labelNames: ['node', 'stream'], registers });
    extra?.(this.registry);
  }

  private open(): EventStore {
    // A cluster store holds every node's events; each node's /metrics counts its own (Prometheus adds the nodes up).
    this.db ??= openStoreReader(this.spec, isClusterStore(this.spec) && this.spec.node !== undefined ? { countNode: this.spec.node } : {});
    return this.db;
  }

  /** Counts the events the store took in since the last call; one count at a time. */
  catchUp(): Promise<void> {
    this.counting ??= this.count1().finally(() => { this.counting = null; });
    return this.counting;
  }

  private async count1(): Promise<void> {
    const db = this.open();
    const max = await db.lastId();
    if (this.db !== db) return; // closed meanwhile
    // Every event was pruned and ids started again: count from the start.
    if (max < this.lastId) this.lastId = 0;
    let read = 0;
    while (read < MAX_PER_SCRAPE) {
      const got = await db.eventsAfter(this.lastId, BATCH);
      if (this.db !== db) return;
      for (const e of got.events) {
        if (!COUNTED.has(e.kind)) continue;
        const ms = e.kind === 'check.result' ? (e.details as { ms?: unknown } | null | undefined)?.ms : undefined;
        this.count({ id: e.id, kind: e.kind, source: e.source, check_name: e.check_name ?? null, verdict: e.verdict ?? null, smtp_code: e.smtp_code ?? null, ms: typeof ms === 'number' ? ms : null });
      }
      read += got.events.length;
      this.lastId = got.next;
      if (!got.more) break;
      await nextTurn();
      if (this.db !== db) return; // closed meanwhile
    }
    this.lastRow.set(this.lastId);
  }

  private count(r: Row): void {
    if (r.kind === 'check.result') {
      const check = r.check_name ?? 'unknown';
      this.checks.inc({ check, verdict: r.verdict ?? 'unknown' });
      if (typeof r.ms === 'number' && Number.isFinite(r.ms) && r.ms >= 0) this.latency.observe({ check }, r.ms / 1000);
      return;
    }
    if (r.kind === 'message.delivered') {
      this.messages.inc({ outcome: 'delivered', source: r.source });
      return;
    }
    const code = r.smtp_code ?? 0;
    this.messages.inc({ outcome: code >= 500 ? 'rejected' : code >= 400 ? 'tempfailed' : 'other', source: r.source });
  }

  private healthGauges(): void {
    const snaps = readHealth(this.dataDir);
    this.processes.set(snaps.length);
    this.up.reset();
    this.failures.reset();
    const state = new Map<string, { up: boolean; failures: number }>();
    for (const s of snaps) {
      for (const [name, c] of Object.entries(s.components)) {
        const cur = state.get(name) ?? { up: true, failures: 0 };
        cur.up &&= c.state === 'up';
        cur.failures += c.failures;
        state.set(name, cur);
      }
    }
    for (const [name, c] of state) {
      this.up.set({ component: name }, c.up ? 1 : 0);
      this.failures.set({ component: name }, c.failures);
    }
  }

  /** The store's gauges: this node's backlog from its indexer, every node's from a cluster store. */
  private async storeGauges(): Promise<boolean> {
    const s = await storeStatus(this.spec, this.dataDir);
    this.backlogEvents.reset();
    this.backlogSeconds.reset();
    this.silent.reset();
    for (const n of s.cluster?.streams ?? []) {
      this.backlogEvents.set({ node: n.node, stream: n.stream }, n.behind);
      this.silent.set({ node: n.node, stream: n.stream }, n.silent ? 1 : 0);
    }
    // This node's own view is the fresher one (and the only one while the store is down).
    if (s.local) {
      for (const st of s.cluster?.streams.filter((x) => x.node === s.local!.node) ?? []) this.backlogEvents.set({ node: st.node, stream: st.stream }, 0);
      for (const b of s.local.backlog) {
        this.backlogEvents.set({ node: s.local.node, stream: b.stream }, b.events);
        this.backlogSeconds.set({ node: s.local.node, stream: b.stream }, b.behind_ms / 1000);
      }
    }
    const up = storeUp(s);
    this.storeUp.set(up ? 1 : 0);
    return up;
  }

  async text(): Promise<string> {
    const up = await this.storeGauges();
    // While the store cannot be read, the counters stay where they were; the gauges say why.
    if (up) await this.catchUp().catch(() => this.storeUp.set(0));
    this.healthGauges();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Stops counting (a count in progress ends at its next read) and closes the store. */
  async close(): Promise<void> {
    const db = this.db;
    this.db = null;
    await this.counting?.catch(() => undefined);
    await db?.close();
  }
}
