import { describeLag, isClusterStore, openResearchStore } from '../ledger/open.js';
import type { StoreLag } from '../ledger/store/types.js';
import type { ResolvedConfig } from '../config/load.js';
import { LocalDomains } from '../domains/index.js';
import { createLogger } from '../log/logger.js';
import { recheckJourneys, type Recheck } from '../research/recheck.js';
import { buildCheckDeps } from '../runtime/services.js';
import type { Lang } from '../research/explain.js';
import { FilterError, MAX_LIMIT, parseFilter, parseLang } from '../research/filters.js';
import { configuredMailboxes, researchSettings, withClusterPop3 } from '../research/settings.js';
import type { SearchFilter, SearchResult } from '../research/search.js';
import { runSearch } from '../research/service.js';
import { configFrom, parse, UsageError } from './common.js';

export const TRACE_HELP = `mailproof trace --rcpt ADDR | --domain D [--from ADDR|DOMAIN] [--ip IP]
                [--ref REF] [--message-id ID] [--subject TEXT] [--since T] [--until T]
                [--outcome delivered|rejected|tempfailed|incomplete|no_transaction] [--lang en|de]
                [--recheck] [--as-of T] [--limit N] [--json]
  Lists what happened to mail: one journey per transaction and recipient, each
  diagnosis explained (--lang), with near misses (a typo in the address) and,
  when a named sender never reached us, no_attempt_seen. With --from or --ip,
  sessions that sent no message (outcome no_transaction, rcpt "") are shown
  too: found by address, or by a HELO or PTR name in the sender's domain.
  One that quit right after our EHLO announced the SIZE limit is
  likely_too_large: the sender's own server refused the message. --recheck runs the
  DNS checks (mailproof check) on each journey's sender domain and client
  address now, shown beside what was recorded then. --as-of judges as at
  that time (events after it are left out; "never retried" counts from it).
  --limit keeps the newest N journeys (default 100, the first page, as the
  web UI shows it; at most 1000; the output says when there were more).
  --subject keeps the journeys whose subject contains TEXT (any case).
  T is a date (2026-11-27, 2026-11-27T10:00Z) or an age (90m, 24h, 7d); --since defaults to 7d.`;

export async function traceCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    rcpt: { type: 'string' }, domain: { type: 'string' }, from: { type: 'string' }, ip: { type: 'string' },
    ref: { type: 'string' }, 'message-id': { type: 'string' }, subject: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' },
    outcome: { type: 'string' }, lang: { type: 'string' }, recheck: { type: 'boolean' }, 'as-of': { type: 'string' },
    limit: { type: 'string' }, json: { type: 'boolean' },
  });
  if (values.help) { process.stdout.write(TRACE_HELP + '\n'); return 0; }
  const cfg = configFrom(values);
  const lang = langOf(values.lang);
  // The first page, as the web UI's: a busy domain or address answers in
  // milliseconds, and the output says how to see more (bench/RESULTS.md).
  const filter = { limit: TRACE_FIRST_PAGE, ...traceFilter(values) };
  const result = await searchLedger(cfg, filter, lang);
  let rechecks: Recheck[] = [];
  if (values.recheck && result.journeys.length) {
    const deps = buildCheckDeps(cfg, new LocalDomains(cfg.domains));
    rechecks = await recheckJourneys(cfg, deps, createLogger('silent'), result.journeys);
  }
  if (values.json) {
    const journeys = values.recheck ? result.journeys.map((j, i) => ({ ...j, recheck: rechecks[i] })) : result.journeys;
    process.stdout.write(JSON.stringify({ ...result, journeys }, null, 2) + '\n');
    return 0;
  }
  // Explanations carry client-sent values (addresses, file names): no
  // control byte of theirs may start a line or an escape sequence here.
  const out = (line: string): void => { process.stdout.write(line.replace(/[\x00-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, '?') + '\n'); };
  for (const f of result.findings) out(`${f.code}: ${f.title}. ${f.what} ${f.action}`);
  for (const n of result.near_misses) out(`near miss (${n.kind}): ${n.what ?? JSON.stringify(n.value)}`);
  if (result.journeys.length === 0) {
    out('no journeys found');
    return 0;
  }
  for (const [i, j] of result.journeys.entries()) {
    // JSON.stringify quotes client-sent values, so a hostile address cannot
    // forge a line of this output.
    // The nodes that saw the journey, in the order they did (a cluster: the first attempt on one, the retry on another).
    const nodes = [...new Set(j.events.map((e) => e.node))].map((n) => (/^[A-Za-z0-9._-]+$/.test(n) ? n : JSON.stringify(n))).join(',');
    out(`${j.started_at}  ${j.ref}  ${j.outcome.toUpperCase()}  from=${JSON.stringify(j.mail_from)} to=${JSON.stringify(j.rcpt)} ip=${j.client_ip ?? '-'} nodes=${nodes}`);
    if (j.reply) out(`    reply: ${JSON.stringify(j.reply)}`);
    for (const x of j.explanations) out(`    ${x.code} [${x.side}]: ${x.what} -> ${x.action}`);
    for (const n of j.near_misses) out(`    near miss (${n.kind}): ${n.what ?? JSON.stringify(n.value)}`);
    for (const a of j.access) out(`    mailbox: ${a.kind} at ${a.at} from ${a.client_ip ?? 'unknown address'} (${a.source})`);
    const r = rechecks[i];
    if (r) {
      for (const d of [r.domain, r.ip]) {
        if (!d) continue;
        const what = 'domain' in d ? `domain ${JSON.stringify(d.domain)}` : `address ${d.ip}`;
        const found = d.problems.map((p) => `${p.severity} ${p.code}`).join(', ') || 'no problems';
        out(`    now (${d.checked_at}): ${what}: ${found}`);
      }
      for (const e of r.errors) out(`    now: ${e}`);
    }
  }
  if (result.truncated) out(`(more journeys than shown: narrow the search, or --limit up to ${MAX_LIMIT})`);
  return 0;
}

/**
 * One search over this node's ledger, as trace and report run it: first the
 * store takes in what the journals hold (ledger.research_wait_ms at most);
 * what it could not take in time is named in store_behind (and on stderr).
 */
export async function searchLedger(cfg: ResolvedConfig, filter: SearchFilter, lang: Lang): Promise<SearchResult & { store_behind?: StoreLag[] }> {
  const store = await openResearchStore(cfg);
  try {
    const result = await runSearch(store.reader, filter, { lang, settings: await withClusterPop3(researchSettings(cfg), store.reader, isClusterStore(cfg.paths)), mailboxes: configuredMailboxes(cfg) });
    if (store.lag.length === 0) return result;
    for (const line of describeLag(store.lag)) process.stderr.write(`mailproof: ${line}
`);
    return { ...result, store_behind: store.lag };
  } finally {
    await store.close();
  }
}

export { MAX_LIMIT };

/** research/filters.ts names fields; on the command line they are options. */
function asUsage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof FilterError) throw new UsageError(err.format((field) => `--${field}`));
    throw err;
  }
}

export function langOf(v: string | undefined): Lang {
  return asUsage(() => parseLang(v));
}

/** The trace filter options shared by trace and report. */
/** Journeys `trace` shows unless --limit says otherwise. */
export const TRACE_FIRST_PAGE = 100;

export function traceFilter(values: Record<string, string | boolean | undefined | string[]>): SearchFilter {
  return asUsage(() => parseFilter(values));
}
