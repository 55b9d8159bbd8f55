// One generation of the gateway's session settings (smtp/gateway.ts
// SessionSettings), built completely from one configuration before any
// session sees it. A reload builds the next one from the previous: what did
// not change is handed on (the resolver and its cache, scanner clients,
// checks with their state), so a reload costs little and closes nothing
// that sessions of the old generation still use (runtime/generation.ts).
import type { ResolvedConfig } from '../config/load.js';
import { buildChecks, type BuiltChecks } from '../checks/registry.js';
import type { CheckDeps } from '../checks/types.js';
import { LocalDomains } from '../domains/index.js';
import type { MaildirTarget } from '../delivery/maildir/index.js';
import type { DeliveredMemory } from '../delivery/memory.js';
import { DeliveryRouter } from '../delivery/router.js';
import type { Health } from '../health/index.js';
import type { Logger } from '../log/logger.js';
import type { Mailbox } from '../mail/address.js';
import type { SessionSettings } from '../smtp/gateway.js';
import type { Closable, Generation } from './generation.js';
import { buildCheckDeps } from './services.js';

/** What every generation of one process shares: made once at start, closed at stop. */
export interface ProcessServices {
  health: Health;
  maildir: MaildirTarget;
  memory: DeliveredMemory;
}

export interface GatewayGeneration extends SessionSettings, Generation {
  readonly cfg: ResolvedConfig;
  readonly checks: BuiltChecks;
}

/** The Maildir mailboxes of a configuration (the others live behind LMTP/SMTP). */
export function maildirMailboxes(cfg: ResolvedConfig, domains: LocalDomains): Mailbox[] {
  return domains.allMailboxes().filter((b) => cfg.domains[b.domain]?.delivery.type === 'maildir');
}

/**
 * Builds a generation. With `previous`, the Maildirs of mailboxes that are
 * new in this configuration are made (the first generation's are made and
 * swept at start, runtime/gateway-process.ts). Throws when something cannot
 * be built; nothing is switched then.
 */
export async function buildGeneration(cfg: ResolvedConfig, shared: ProcessServices, log: Logger, previous?: GatewayGeneration): Promise<GatewayGeneration> {
  const domains = new LocalDomains(cfg.domains);
  const deps: CheckDeps = buildCheckDeps(cfg, domains, shared.health, previous ? { cfg: previous.cfg, deps: previous.deps } : undefined);
  const checks = buildChecks(cfg, log, previous?.checks);
  const router = new DeliveryRouter(shared.maildir, cfg.domains, cfg.hostname, shared.health, shared.memory);
  deps.verify = router.verify;
  if (previous) {
    const had = new Set(maildirMailboxes(previous.cfg, previous.domains).map((m) => `${m.local}@${m.domain}`));
    for (const m of maildirMailboxes(cfg, domains)) if (!had.has(`${m.local}@${m.domain}`)) await shared.maildir.ensure(m);
  }
  const resources = new Set<Closable>();
  for (const m of checks.modules.values()) for (const c of m.checks) if (c.close) resources.add(c as Closable);
  return { id: previous ? previous.id + 1 : 1, cfg, domains, deps, pipeline: checks.pipeline, router, checks, resources };
}
