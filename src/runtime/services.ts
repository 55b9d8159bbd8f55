// The outside services the checks use, built once per process from the
// configuration: the caching DNS resolver, the clamd client, the spam
// scanner, the cluster's PostgreSQL, and the Health they report to.
import fs from 'node:fs';
import type { ResolvedConfig } from '../config/load.js';
import { ConfigError, isPostgresUrl } from '../config/load.js';
import { ClusterDb } from '../checks/cluster-db.js';
import type { CheckDeps } from '../checks/types.js';
import { CachingResolver } from '../dns/cache.js';
import { parseResolvConf, StubResolver } from '../dns/stub-resolver.js';
import type { Resolver } from '../dns/types.js';
import type { LocalDomains } from '../domains/index.js';
import { Health } from '../health/index.js';
import { ClamdClient, type ClamdAddress } from '../scan/clamd.js';
import { RspamdClient } from '../scan/rspamd.js';
import { SpamdClient } from '../scan/spamd.js';
import type { SpamScanner } from '../scan/spam-types.js';

/** "HOST:PORT", "[v6]:PORT", or a path (unix socket; "unix:" prefix optional). */
export function parseSocketAddress(s: string, key: string): ClamdAddress {
  if (s.startsWith('unix:')) return { socket: s.slice(5) };
  if (s.startsWith('/')) return { socket: s };
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) {
    throw new ConfigError([`${key}: "${s}" is neither HOST:PORT (127.0.0.1:3310) nor a unix socket path (/run/clamav/clamd.ctl)`]);
  }
  return { host: m[1] ?? m[2]!, port };
}

export function buildResolver(cfg: ResolvedConfig): Resolver {
  let servers = cfg.dns.servers;
  if (servers === null) {
    let text = '';
    try {
      text = fs.readFileSync('/etc/resolv.conf', 'utf8');
    } catch {
      // no resolv.conf: fall through to the local default below
    }
    servers = parseResolvConf(text);
    // resolv(5): with no nameserver line the default is the local machine.
    if (servers.length === 0) servers = ['127.0.0.1'];
  }
  let stub: StubResolver;
  try {
    stub = new StubResolver({ servers, timeoutMs: cfg.dns.timeout_ms, attempts: cfg.dns.attempts });
  } catch (err) {
    throw new ConfigError([`dns.servers: ${(err as Error).message}`]);
  }
  if (cfg.dns.cache_entries === 0) return stub;
  return new CachingResolver(stub, { maxEntries: cfg.dns.cache_entries, maxNegativeTtl: cfg.dns.max_negative_ttl_s });
}

export function buildClamd(cfg: ResolvedConfig): ClamdClient | null {
  const c = cfg.scanners.clamd;
  if (c.address === null) return null;
  return new ClamdClient({
    address: parseSocketAddress(c.address, 'scanners.clamd.address'),
    timeoutMs: c.timeout_ms,
    maxStreamBytes: c.max_stream_bytes,
  });
}

export function buildSpam(cfg: ResolvedConfig): SpamScanner | null {
  const s = cfg.scanners.spam;
  if (s.backend === null) return null;
  if (s.backend === 'rspamd') {
    const url = s.address ?? 'http://127.0.0.1:11333';
    if (!/^https?:\/\/[^\s/]+(\/.*)?$/.test(url)) {
      throw new ConfigError([`scanners.spam.address: "${url}" is not an http URL such as http://127.0.0.1:11333`]);
    }
    return new RspamdClient({ url, timeoutMs: s.timeout_ms, rblSymbols: s.rspamd_rbl_symbols });
  }
  return new SpamdClient({ address: parseSocketAddress(s.address ?? '127.0.0.1:783', 'scanners.spam.address'), timeoutMs: s.timeout_ms });
}

/**
 * `previous`: a reload (runtime/generation.ts) keeps the services whose
 * settings did not change (the resolver with its cache, the scanner
 * clients), and always the cluster connection and the Health: their keys
 * need a restart to change (config/diff.ts).
 */
export function buildCheckDeps(cfg: ResolvedConfig, domains: LocalDomains, health = new Health(), previous?: { cfg: ResolvedConfig; deps: CheckDeps }): CheckDeps {
  const same = (pick: (c: ResolvedConfig) => unknown): boolean => previous !== undefined && JSON.stringify(pick(previous.cfg)) === JSON.stringify(pick(cfg));
  return {
    now: () => Date.now(),
    domains,
    maxMessageSize: cfg.smtp.max_message_size,
    hostname: cfg.hostname,
    dataDir: cfg.data_dir,
    // No connection until a check needs one (ClusterDb makes its pool on first use).
    cluster: previous ? previous.deps.cluster
      : isPostgresUrl(cfg.paths.store) ? new ClusterDb({ url: cfg.paths.store, passwordFile: cfg.paths.storePasswordFile }) : null,
    resolver: same((c) => c.dns) ? previous!.deps.resolver : buildResolver(cfg),
    clamd: same((c) => c.scanners.clamd) ? previous!.deps.clamd : buildClamd(cfg),
    spam: same((c) => c.scanners.spam) ? previous!.deps.spam : buildSpam(cfg),
    health: previous?.deps.health ?? health,
    // Set by the gateway process once the delivery router exists.
    verify: null,
  };
}
