// What a reload (SIGHUP) changes: the difference between the configuration
// the process runs with and the one just read, split into what takes effect
// at once and what needs a restart. What can change at once is what is built
// anew per generation of SMTP sessions (runtime/generation.ts): the domains
// with their mailboxes, aliases and delivery targets, the checks, the
// scanners, the resolver, and the TLS certificate. Everything else (listen
// addresses, workers, data_dir, the ledger, node and host name, limits the
// SMTP server holds, POP3 and web settings) belongs to sockets, files and
// processes made once at start.
import type { ResolvedConfig } from './load.js';

/** Top-level sections a reload applies in full. */
const RELOADABLE_SECTIONS = ['domains', 'checks', 'scanners', 'dns'] as const;
/** Single keys a reload applies. */
const RELOADABLE_KEYS = new Set(['smtp.tls_cert', 'smtp.tls_key']);

export function isReloadable(key: string): boolean {
  const top = key.split('.')[0]!;
  return (RELOADABLE_SECTIONS as readonly string[]).includes(top) || RELOADABLE_KEYS.has(key);
}

export interface ConfigDiff {
  domains: { added: string[]; removed: string[]; changed: string[] };
  /** Changed keys outside `domains` that take effect now (checks.dnsbl.zones, scanners.clamd.address ...). */
  applied: string[];
  /** Changed keys that need a restart; until then the old values stay. */
  restart: string[];
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The keys (dotted paths) whose values differ; lists and scalars are compared whole. */
function changedKeys(a: unknown, b: unknown, prefix: string, out: string[]): void {
  if (isObject(a) && isObject(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) changedKeys(a[k], b[k], prefix ? `${prefix}.${k}` : k, out);
    return;
  }
  if (JSON.stringify(a) !== JSON.stringify(b)) out.push(prefix);
}

export function diffConfig(old: ResolvedConfig, next: ResolvedConfig): ConfigDiff {
  const before = Object.keys(old.domains);
  const after = Object.keys(next.domains);
  const domains = {
    added: after.filter((d) => !(d in old.domains)).sort(),
    removed: before.filter((d) => !(d in next.domains)).sort(),
    changed: after.filter((d) => d in old.domains && JSON.stringify(old.domains[d]) !== JSON.stringify(next.domains[d])).sort(),
  };
  const keys: string[] = [];
  // `paths` is derived from data_dir and ledger.*, which name themselves.
  const { paths: _a, domains: _b, ...restOld } = old;
  const { paths: _c, domains: _d, ...restNew } = next;
  changedKeys(restOld, restNew, '', keys);
  return { domains, applied: keys.filter(isReloadable), restart: keys.filter((k) => !isReloadable(k)) };
}

/**
 * The configuration a reload runs with: the new file's reloadable sections
 * and keys over the running configuration. Keys that need a restart keep
 * their old values, so nothing built from them changes underneath the
 * sockets and files that were made from them.
 */
export function effectiveConfig(old: ResolvedConfig, next: ResolvedConfig): ResolvedConfig {
  return {
    ...old,
    domains: next.domains,
    checks: next.checks,
    scanners: next.scanners,
    dns: next.dns,
    smtp: { ...old.smtp, tls_cert: next.smtp.tls_cert, tls_key: next.smtp.tls_key },
  };
}

/** "domains +c.test -b.test ~a.test; checks.dnsbl.zones" ("" when nothing changed). */
export function describeDiff(diff: ConfigDiff): string {
  const parts: string[] = [];
  const d = diff.domains;
  const names = [...d.added.map((n) => `+${n}`), ...d.removed.map((n) => `-${n}`), ...d.changed.map((n) => `~${n}`)];
  if (names.length) parts.push(`domains ${names.join(' ')}`);
  if (diff.applied.length) parts.push(diff.applied.join(', '));
  return parts.join('; ');
}

export function isEmptyDiff(diff: ConfigDiff): boolean {
  const d = diff.domains;
  return d.added.length + d.removed.length + d.changed.length + diff.applied.length + diff.restart.length === 0;
}
