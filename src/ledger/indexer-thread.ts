// Starts and stops the indexer thread of `serve` and turns what it reports
// into log lines an operator can act on.
import { Worker } from 'node:worker_threads';
import type { ResolvedConfig } from '../config/load.js';
import type { Logger } from '../log/logger.js';
import type { IndexerMessage, IndexerWorkerData } from './indexer-worker.js';
import { storeSpecOf } from './open.js';

export interface RunningIndexer { stop(): Promise<void> }

// How often the indexer looks for new records when it has caught up. Not a
// matter of freshness for research (it catches the store up itself before it
// answers), but of cost: every commit writes each index page it touched to
// the WAL, and the REF and Message-ID terms of each message land on pages of
// their own. Half a second of mail per batch shares those writes and the
// commit's; the store's lag stays under a second plus a batch.
const POLL_MS = 500;

export function startIndexer(cfg: ResolvedConfig, log: Logger, opts: { pollMs?: number } = {}): RunningIndexer {
  const keepMs = Math.min(cfg.ledger.journal_keep_hours * 3600_000, cfg.ledger.retention_days * 86400_000);
  const data: IndexerWorkerData = { ...storeSpecOf(cfg), node: cfg.node, dataDir: cfg.data_dir, keepMs, pollMs: opts.pollMs ?? POLL_MS, cleanEveryMs: 300_000 };
  const worker = new Worker(new URL('./indexer-worker.js', import.meta.url), { workerData: data });
  let stopped: () => void = () => undefined;
  const done = new Promise<void>((res) => { stopped = res; });
  let errors = 0;
  worker.on('message', (m: IndexerMessage) => {
    switch (m.type) {
      case 'damage': log.error({ damage: m.damage }, 'the journal has a damaged record: it was skipped; the events named are not in the store'); break;
      case 'indexed': log.debug({ events: m.events, ms: m.ms }, 'indexed'); break;
      case 'removed': log.info({ segments: m.segments }, 'removed journal segments the store has'); break;
      // Logged once per run of failures, not every poll.
      case 'error': if (errors++ === 0) log.error({ err: m.error }, 'the indexer cannot write the store: research misses the newest events until it can (mail is not affected: the journal keeps them, and they follow when the store is back)'); break;
      case 'recovered': log.warn({ down_s: Math.round(m.downMs / 1000), failures: errors }, 'the store takes the journal again: the backlog follows'); errors = 0; break;
      case 'stopped': stopped(); break;
    }
  });
  worker.on('error', (err) => { log.error({ err: err.message }, 'the indexer thread failed'); stopped(); });
  worker.on('exit', () => stopped());
  return {
    async stop() {
      worker.postMessage({ stop: true });
      await done;
      await worker.terminate();
    },
  };
}
