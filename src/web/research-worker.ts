// A research thread of the web server (research-pool.ts says why threads).
// One job at a time: the pool sends the next only after this one answered.
import { parentPort, workerData } from 'node:worker_threads';
import { catchUpStore, isClusterStore, openStoreReader, openStoreWriter, type LedgerPaths } from '../ledger/open.js';
import { withClusterPop3 } from '../research/settings.js';
import type { StoreLag } from '../ledger/store/types.js';
import type { Lang } from '../research/explain.js';
import type { ResearchSettings } from '../research/journeys.js';
import type { SearchFilter, SearchResult } from '../research/search.js';
import { inlineResearch, type ReportOptions } from './research.js';
import type { Scope } from '../research/service.js';
import type { OverviewRequest } from '../research/overview.js';

export type ResearchJob =
  | { op: 'search'; filter: SearchFilter; scope: Scope; lang: Lang }
  | { op: 'ref'; ref: string; scope: Scope; lang: Lang; withMailboxes: boolean }
  | { op: 'public'; ref: string; lang: Lang }
  | { op: 'report'; result: SearchResult; opts: ReportOptions }
  | { op: 'overview'; req: OverviewRequest; scope: Scope; lang: Lang };

export interface ResearchWorkerData {
  ledger: LedgerPaths;
  /** How long a question waits for the store to take in what the journals hold (ledger.research_wait_ms). */
  waitMs: number;
  mailboxes: Record<string, string[]>;
  settings?: ResearchSettings;
}

const port = parentPort;
if (!port) throw new Error('research-worker must run as a worker thread');
const data = workerData as ResearchWorkerData;
// The same research as in the calling thread, on this thread's own connection.
const reader = openStoreReader(data.ledger);
const research = inlineResearch(reader, (domain) => data.mailboxes[domain] ?? [], () => withClusterPop3(data.settings ?? {}, reader, isClusterStore(data.ledger)));

/** Read-your-writes: the store takes in what the journals hold before a question is answered; what it could not is named in the answer. */
const writer = openStoreWriter(data.ledger);
function fresh(): Promise<StoreLag[]> {
  return catchUpStore(data.ledger, data.waitMs, { writer });
}

const withLag = <T extends object>(r: T, lag: StoreLag[]): T => (lag.length ? { ...r, store_behind: lag } : r);

async function run(job: ResearchJob): Promise<unknown> {
  switch (job.op) {
    case 'search': { const lag = await fresh(); return withLag(await research.search(job.filter, job.scope, job.lang), lag); }
    case 'ref': { const lag = await fresh(); return withLag(await research.journeysOfRef(job.ref, job.scope, job.lang, job.withMailboxes), lag); }
    case 'public': await fresh(); return research.publicView(job.ref, job.lang);
    case 'overview': { const lag = await fresh(); return withLag(await research.overview(job.req, job.scope, job.lang), lag); }
    case 'report': {
      // Loaded on first use: PDF fonts and pdfkit are not needed for searching.
      const { renderReport } = await import('../report/index.js');
      return renderReport(job.result, job.opts);
    }
  }
}

port.on('message', (msg: { id: number; job: ResearchJob }) => {
  run(msg.job).then(
    (value) => port.postMessage({ id: msg.id, value }),
    (err: Error) => port.postMessage({ id: msg.id, error: err?.message ?? String(err) }),
  );
});
port.postMessage({ ready: true });
