// DNS answers as a check's evidence (docs/design.md "Ledger events": what the
// gateway saw at that moment, TTLs included), and the timeout a check that
// makes DNS lookups should give itself.
import type { ResolvedConfig } from '../config/load.js';
import type { DnsAnswer } from '../dns/types.js';

export interface AnswerEvidence {
  name: string;
  type: string;
  rcode: string;
  records: unknown[];
  ttl: number;
  server: string;
  /** ISO time the server gave the answer (for a cached answer, the original time). */
  at: string;
  from_cache: boolean;
  cnames?: string[];
  detail?: string;
}

/** A DnsAnswer as plain data for the ledger (snake_case, ISO time). */
export function answerEvidence<T>(a: DnsAnswer<T>): AnswerEvidence {
  return {
    name: a.name,
    type: a.type,
    rcode: a.rcode,
    records: a.records,
    ttl: a.ttl,
    server: a.server,
    at: new Date(a.at).toISOString(),
    from_cache: a.fromCache,
    ...(a.cnames?.length ? { cnames: a.cnames } : {}),
    ...(a.detail !== undefined ? { detail: a.detail } : {}),
  };
}

/** What one lookup may take at most with the configured resolver: every attempt on every server, plus a margin. */
export function lookupBudgetMs(cfg: Pick<ResolvedConfig, 'dns'>): number {
  const servers = Math.max(1, cfg.dns.servers?.length ?? 3);
  return cfg.dns.timeout_ms * cfg.dns.attempts * servers + 1000;
}
