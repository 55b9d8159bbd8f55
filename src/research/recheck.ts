import type { ResolvedConfig } from '../config/load.js';
import type { CheckDeps } from '../checks/types.js';
import type { Logger } from '../log/logger.js';
import { checkDomain, checkIp, type DomainDiagnosis, type IpDiagnosis } from '../dnscheck/diagnostics.js';
import type { Journey } from './journeys.js';

// "Is it still so?" A journey's evidence is what the gateway saw then; a
// recheck runs the same checks on that sender now (docs/design.md: listings change
// within hours), to be shown beside it, never instead of it.

export interface Recheck {
  /** The sender domain, checked now; null for the null sender or no sender. */
  domain: DomainDiagnosis | null;
  /** The client address, checked now; null when unknown. */
  ip: IpDiagnosis | null;
  /** Why a part could not be checked (a malformed name or address from the ledger). */
  errors: string[];
}

function senderDomain(j: Pick<Journey, 'mail_from'>): string | null {
  const f = j.mail_from;
  if (!f || !f.includes('@')) return null;
  return f.slice(f.lastIndexOf('@') + 1).toLowerCase();
}

/** Rechecks for many journeys; each distinct domain and address is asked once. */
export async function recheckJourneys(cfg: ResolvedConfig, deps: CheckDeps, log: Logger, journeys: Pick<Journey, 'mail_from' | 'client_ip'>[]): Promise<Recheck[]> {
  const domains = new Map<string, Promise<DomainDiagnosis | Error>>();
  const ips = new Map<string, Promise<IpDiagnosis | Error>>();
  const settle = <T>(p: Promise<T>): Promise<T | Error> => p.catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
  for (const j of journeys) {
    const d = senderDomain(j);
    if (d && !domains.has(d)) domains.set(d, settle(checkDomain(cfg, deps, log, d)));
    if (j.client_ip && !ips.has(j.client_ip)) ips.set(j.client_ip, settle(checkIp(cfg, deps, log, j.client_ip)));
  }
  const out: Recheck[] = [];
  for (const j of journeys) {
    const d = senderDomain(j);
    const dr = d ? await domains.get(d)! : null;
    const ir = j.client_ip ? await ips.get(j.client_ip)! : null;
    const errors: string[] = [];
    if (dr instanceof Error) errors.push(`domain ${d}: ${dr.message}`);
    if (ir instanceof Error) errors.push(`address ${j.client_ip}: ${ir.message}`);
    out.push({ domain: dr instanceof Error ? null : dr, ip: ir instanceof Error ? null : ir, errors });
  }
  return out;
}
