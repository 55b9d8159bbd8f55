// Starts the web server for `mailproof serve` (primary process only, like
// POP3: one process holds the sessions and the login-failure counts).
import http from 'node:http';
import type { ResolvedConfig } from '../config/load.js';
import { storeSpecOf } from '../ledger/open.js';
import { LocalDomains } from '../domains/index.js';
import { configuredMailboxes, researchSettings } from '../research/settings.js';
import { createLogger, type Logger } from '../log/logger.js';
import { checkDomain, checkIp } from '../dnscheck/diagnostics.js';
import { buildCheckDeps } from '../runtime/services.js';
import { listenError, splitHostPort } from '../net/listen.js';
import { LedgerMetrics } from './metrics.js';
import { ResearchPool } from './research-pool.js';
import { buildWebApp, publicPathOf } from './server.js';
import { SessionFile, sessionsFile } from './session-file.js';
import { SessionStore } from './sessions.js';
import { UserStore, usersFile } from './users.js';

export interface RunningWeb {
  addresses: { host: string; port: number }[];
  /** The first address as a URL, for the start-up message. */
  url: string;
  publicPath: string;
  accounts: number;
  stop(): Promise<void>;
}

export async function startWeb(cfg: ResolvedConfig, log: Logger): Promise<RunningWeb | null> {
  if (cfg.web.listen.length === 0) return null;
  const mailboxesOf = configuredMailboxes(cfg);
  // Searches and reports off the main thread (research-pool.ts says why).
  const research = new ResearchPool({
    ledger: storeSpecOf(cfg),
    waitMs: cfg.ledger.research_wait_ms,
    mailboxes: Object.fromEntries(Object.keys(cfg.domains).map((d) => [d, mailboxesOf(d)])),
    settings: researchSettings(cfg),
    threads: cfg.web.research_threads,
    maxQueue: cfg.web.research_queue,
    timeoutMs: cfg.web.research_timeout_s * 1000,
    log,
  });
  research.warm();
  const users = new UserStore(usersFile(cfg));
  const checkDeps = buildCheckDeps(cfg, new LocalDomains(cfg.domains));
  const quiet = createLogger('silent');
  const metrics = new LedgerMetrics(storeSpecOf(cfg), cfg.data_dir);
  // Logins survive a restart (sessions.ts says what a crash may lose).
  const sessions = new SessionStore(cfg.web.session_ttl_min * 60e3, Date.now, undefined, { persist: new SessionFile(sessionsFile(cfg.data_dir), log), log });
  const app = await buildWebApp({
    cfg, research, users, log, metrics, sessions,
    checks: { domain: (n) => checkDomain(cfg, checkDeps, quiet, n), ip: (a) => checkIp(cfg, checkDeps, quiet, a) },
    renderReport: (result, opts) => research.report(result, opts),
  });
  const addresses: { host: string; port: number }[] = [];
  const extraServers: http.Server[] = [];
  try {
    for (const a of cfg.web.listen) {
      const { host, port } = splitHostPort(a);
      let srv: http.Server;
      if (addresses.length === 0) {
        await app.listen({ host, port }).catch((err: unknown) => { throw listenError(err, 'web.listen', a); });
        srv = app.server;
      } else {
        // Fastify's listen() takes one address; further ones get a plain
        // HTTP server that hands every request to the same app.
        srv = http.createServer((req, res) => app.routing(req, res));
        extraServers.push(srv);
        await new Promise<void>((resolve, reject) => {
          const failed = (err: Error): void => reject(listenError(err, 'web.listen', a));
          srv.once('error', failed);
          srv.listen(port, host, () => { srv.off('error', failed); resolve(); });
        });
      }
      const addr = srv.address();
      if (addr && typeof addr === 'object') addresses.push({ host: addr.address, port: addr.port });
    }
  } catch (err) {
    for (const s of extraServers) s.close();
    await app.close();
    await research.close();
    await metrics.close();
    throw err;
  }
  const first = addresses[0]!;
  const host = first.host.includes(':') ? `[${first.host}]` : first.host;
  return {
    addresses,
    url: `http://${host}:${first.port}/`,
    publicPath: publicPathOf(cfg),
    accounts: users.list().length,
    async stop() {
      await Promise.all(extraServers.map((s) => new Promise((r) => { s.close(r); s.closeAllConnections(); })));
      await app.close();
      await research.close();
      await metrics.close();
    },
  };
}
