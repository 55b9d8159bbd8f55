// SIGHUP: read the configuration again (the same file, -o overrides and
// --data-dir as at start), validate it completely, and apply what can change
// without a restart (config/diff.ts). A configuration with errors is refused
// with the messages `mailproof config --check` gives, and the running one
// stays. Applying is the caller's (cli/serve.ts): one process, or a primary
// that tells its workers.
import tls from 'node:tls';
import { ConfigError, type ResolvedConfig } from '../config/load.js';
import { describeDiff, diffConfig, effectiveConfig, type ConfigDiff } from '../config/diff.js';
import type { Logger } from '../log/logger.js';
import { loadTls, type TlsMaterial } from '../net/tls.js';
import { buildClamd, buildResolver, buildSpam } from './services.js';

export interface ReloadPlan {
  /** What the process runs with from now on: the new reloadable parts over the running configuration. */
  cfg: ResolvedConfig;
  diff: ConfigDiff;
  tls: TlsMaterial;
  /** The certificate or key differs from the running one (a renewed certificate, other files). */
  tlsRenewed: boolean;
}

export type PlanResult = { ok: true; plan: ReloadPlan } | { ok: false; problems: string[] };

function problemsOf(err: unknown): string[] {
  return err instanceof ConfigError ? err.problems : [(err as Error)?.message ?? String(err)];
}

/** Reads and validates the new configuration and the TLS files; touches nothing that runs. */
export function planReload(current: ResolvedConfig, currentTls: TlsMaterial, load: () => ResolvedConfig): PlanResult {
  let next: ResolvedConfig;
  try {
    next = load();
    // What the schema cannot see, the services check when they are made (an
    // address that is neither HOST:PORT nor a socket path): found now, not
    // halfway through a switch. They open no connection.
    buildResolver(next);
    buildClamd(next);
    buildSpam(next);
  } catch (err) {
    return { ok: false, problems: problemsOf(err) };
  }
  const cfg = effectiveConfig(current, next);
  let material: TlsMaterial;
  try {
    material = loadTls(cfg.smtp.tls_cert, cfg.smtp.tls_key, cfg.paths.tlsDir, cfg.hostname);
    // A key that does not belong to the certificate, or a file that is not PEM, fails here.
    tls.createSecureContext({ key: material.key, cert: material.cert });
  } catch (err) {
    const where = cfg.smtp.tls_cert ? `${cfg.smtp.tls_cert}, ${cfg.smtp.tls_key}` : cfg.paths.tlsDir;
    return { ok: false, problems: [`smtp.tls_cert / smtp.tls_key: cannot use the certificate and key (${where}): ${(err as Error).message.split('\n')[0]}`] };
  }
  const tlsRenewed = !material.cert.equals(currentTls.cert) || !material.key.equals(currentTls.key);
  return { ok: true, plan: { cfg, diff: diffConfig(current, next), tls: material, tlsRenewed } };
}

/** "domains +c.test -b.test; tls certificate renewed", or "no changes". */
export function describePlan(plan: ReloadPlan): string {
  const parts = [describeDiff(plan.diff), plan.tlsRenewed ? 'tls certificate renewed' : ''].filter(Boolean);
  return parts.length ? parts.join('; ') : 'no changes';
}

/**
 * Runs reloads one at a time: a SIGHUP during a reload runs one more after
 * it (the file may have changed again), never two side by side.
 */
export class Reloader {
  private running: Promise<void> | null = null;
  private again = false;

  constructor(
    private state: { cfg: ResolvedConfig; tls: TlsMaterial },
    private readonly load: () => ResolvedConfig,
    /** Applies a plan; throws when it could not (the running configuration then stays). */
    private readonly apply: (plan: ReloadPlan) => Promise<void>,
    private readonly log: Logger,
  ) {}

  /** The configuration the process runs with (a worker started now gets this one). */
  get cfg(): ResolvedConfig {
    return this.state.cfg;
  }

  trigger(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.once();
      } while (this.again);
    })().finally(() => { this.running = null; });
    return this.running;
  }

  private async once(): Promise<void> {
    const r = planReload(this.state.cfg, this.state.tls, this.load);
    if (!r.ok) {
      // The messages of `mailproof config --check`, each naming its key.
      this.log.error({ problems: r.problems }, `reload refused: ${r.problems.join('; ')}; the running configuration stays`);
      return;
    }
    const { plan } = r;
    try {
      await this.apply(plan);
    } catch (err) {
      this.log.error({ err: (err as Error).message }, `reload failed: ${(err as Error).message}; the running configuration stays`);
      return;
    }
    this.state = { cfg: plan.cfg, tls: plan.tls };
    const d = plan.diff.domains;
    this.log.info({ domains_added: d.added, domains_removed: d.removed, domains_changed: d.changed, keys: plan.diff.applied, tls_renewed: plan.tlsRenewed },
      `reloaded: ${describePlan(plan)}`);
    if (plan.diff.restart.length) {
      this.log.warn({ keys: plan.diff.restart },
        `reload: changed keys that need a restart to take effect (the old values stay until then): ${plan.diff.restart.join(', ')}`);
    }
  }
}
