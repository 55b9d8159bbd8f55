import type { Config } from '../config/schema.js';
import type { EventStore } from '../ledger/store/types.js';
import { normalZone } from './blocklists.js';
import type { ResearchSettings } from './journeys.js';

/** What the configuration tells research: the retry window, whether our POP3 server reads the embedded Maildirs, the block lists' lookup pages. */
export function researchSettings(cfg: Pick<Config, 'research' | 'pop3'> & Partial<Pick<Config, 'checks'>>): ResearchSettings {
  const links: Record<string, string> = {};
  for (const z of cfg.checks?.dnsbl.zones ?? []) if (z.lookup_url) links[normalZone(z.zone)] = z.lookup_url;
  return { retryWindowMs: cfg.research.retry_window_s * 1000, ownPop3: cfg.pop3.listen.length > 0, ...(Object.keys(links).length ? { dnsblLinks: links } : {}) };
}

/**
 * In a cluster the node asked may not be the one serving POP3: our POP3 reads
 * the shared Maildirs when any node's POP3 journal stream reached the store.
 * Without this, nodes answered differently about one unfetched message
 * (delivered_not_fetched on the POP3 node, access_not_recorded elsewhere).
 */
export async function withClusterPop3(settings: ResearchSettings, store: Pick<EventStore, 'positions'>, cluster: boolean): Promise<ResearchSettings> {
  if (!cluster || settings.ownPop3) return settings;
  return { ...settings, ownPop3: (await store.positions()).some((p) => p.stream === 'pop3') };
}

/** The mailboxes of a domain as configured (domains.<d>.mailboxes), for typo hints (search.ts SearchOptions.mailboxes). */
export function configuredMailboxes(cfg: Pick<Config, 'domains'>): (domain: string) => string[] {
  return (domain) => {
    const d = (cfg.domains as Record<string, { mailboxes?: unknown }>)[domain];
    return Array.isArray(d?.mailboxes) ? d.mailboxes.filter((m): m is string => typeof m === 'string').map((m) => (m.includes('@') ? m : `${m}@${domain}`)) : [];
  };
}
