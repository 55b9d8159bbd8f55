import fs from 'node:fs';
import path from 'node:path';
import type { ResolvedConfig } from '../config/load.js';
import { MaildirTarget } from '../delivery/maildir/index.js';
import { DeliveredMemory } from '../delivery/memory.js';
import { deadRuns, markRun, recoverCrashedRuns } from '../delivery/maildir/recover.js';
import { Health } from '../health/index.js';
import { isClusterStore, openJournal, openResearchStore, storeSpecOf, type ResearchStore } from '../ledger/open.js';
import { journalRefReader } from '../ledger/journal-refs.js';
import type { LedgerReader } from '../ledger/types.js';
import type { Logger } from '../log/logger.js';
import { Gateway } from '../smtp/gateway.js';
import type { ConnectionLimiter } from '../net/limiter.js';
import { createSmtpServers } from '../smtp/server.js';
import { listenError, splitHostPort } from '../net/listen.js';
import type { TlsMaterial } from '../net/tls.js';
import { persistHealth } from '../health/index.js';
import { buildGeneration, maildirMailboxes, type GatewayGeneration } from './gateway-generation.js';
import { Generations } from './generation.js';
import { watchSignatures, type SignatureWatch } from './signature-watch.js';

export interface RunningGateway {
  addresses: { host: string; port: number }[];
  /** The generation new sessions get (1 at start, one more per reload). */
  readonly generation: number;
  /**
   * A reload (SIGHUP): builds the next generation from `cfg` (the running
   * configuration with the new reloadable parts, config/diff.ts), gives the
   * listeners `tls` for new STARTTLS handshakes, then switches: new sessions
   * get the new generation, sessions in progress keep theirs. When building
   * throws, nothing changed.
   */
  reload(cfg: ResolvedConfig, tls: TlsMaterial): Promise<void>;
  /** Graceful stop: 421 for new clients, running sessions get up to grace_ms. */
  stop(graceMs: number): Promise<void>;
}

/** Assembles and starts the SMTP side of one process. */
/** stream: this process's journal stream ("smtp", or "smtp-<n>" for worker n). */
export async function startGateway(cfg: ResolvedConfig, tls: TlsMaterial, limiter: ConnectionLimiter, log: Logger, stream = 'smtp'): Promise<RunningGateway> {
  const spoolDir = path.join(cfg.data_dir, 'spool', String(process.pid));
  fs.mkdirSync(spoolDir, { recursive: true, mode: 0o700 });
  const ledger = await openJournal(cfg, stream);
  if (ledger.recovery.truncatedBytes) log.warn({ stream, bytes: ledger.recovery.truncatedBytes }, 'cut a torn record off the end of the journal (a crash during its write; no reply depended on it)');
  const target = new MaildirTarget(cfg.paths.maildirRoot, cfg.hostname, cfg.delivery.fsync);
  // Always: besides downstream copies it holds Maildir copies a crash left unanswered.
  const memory = new DeliveredMemory(cfg.data_dir);
  const first = await buildGeneration(cfg, { health: new Health(), maildir: target, memory }, log);
  const generations = new Generations<GatewayGeneration>(first, (err) => log.warn({ err: err.message }, 'closing what an old configuration held failed'));
  const { domains, deps } = first;
  const health = persistHealth(deps.health, cfg.data_dir, cfg.node);
  // A clamd with test signatures only scans and finds nothing real: said at start and in `mailproof status`.
  let signatures: SignatureWatch | null = deps.clamd ? watchSignatures(deps.clamd, deps.health, log) : null;
  let swept = 0;
  for (const m of maildirMailboxes(cfg, domains)) {
    await target.ensure(m);
    swept += await target.sweepTmp(m);
  }
  if (swept) log.warn({ files: swept }, 'removed files a crashed delivery left in Maildir tmp/ (none of them had been accepted)');
  // Before the first session: messages a crashed run stored but never recorded get their ledger event.
  const runDir = path.join(cfg.data_dir, 'run');
  const recovery = await withRecoveryReader(cfg, runDir, log, (reader) => recoverCrashedRuns({
    node: cfg.node, hostname: cfg.hostname, runDir, domains, memory, reader,
    mailboxes: maildirMailboxes(cfg, domains),
    dirOf: (m) => target.dirOf(m),
    append: (events) => ledger.append(events),
  }));
  if (recovery.runs) {
    log.warn({ ...recovery }, recovery.recovered
      ? 'a crashed run left messages in Maildirs without their delivery event: recorded now as message.recovered; the senders\' retries are not stored twice'
      : 'checked the Maildirs after a crashed run: every message has its delivery event');
  }
  const unmark = markRun(runDir);
  const gateway = new Gateway(
    {
      node: cfg.node, hostname: cfg.hostname, publicUrl: cfg.reply.public_url,
      maxRecipients: cfg.smtp.max_recipients, maxMessageSize: cfg.smtp.max_message_size, spoolDir,
      bareLineEnds: cfg.smtp.bare_line_ends, ipv6Prefix: cfg.smtp.ipv6_prefix,
    },
    generations, ledger, limiter, log,
  );
  const servers = createSmtpServers(cfg, gateway, tls);
  const listening: typeof servers = [];
  const closeServers = (): Promise<void[]> => Promise.all(listening.map((s) => new Promise<void>((r) => {
    s.options.closeTimeout = 1;
    s.close(() => r());
  })));
  const release = async (): Promise<void> => {
    await ledger.close();
    memory.close();
    unmark();
    // After the sessions: their last checks may still have asked PostgreSQL.
    // Every generation shares the one cluster connection (runtime/services.ts).
    await deps.cluster?.close();
    generations.closeAll();
    signatures?.stop();
    health.stop();
    fs.rmSync(spoolDir, { recursive: true, force: true });
  };
  const addresses: { host: string; port: number }[] = [];
  try {
    for (const [i, srv] of servers.entries()) {
      const address = cfg.smtp.listen[i]!;
      const { host, port } = splitHostPort(address);
      await new Promise<void>((resolve, reject) => {
        // Errors of a listening server are logged; one while it starts is the caller's (a ListenError).
        srv.on('error', (err: Error) => { if (listening.includes(srv)) log.error({ err: err.message }, 'smtp server error'); });
        const failed = (err: Error): void => reject(listenError(err, 'smtp.listen', address));
        srv.server.once('error', failed);
        srv.listen(port, host, () => {
          srv.server.off('error', failed);
          listening.push(srv);
          const a = srv.server.address();
          addresses.push(typeof a === 'object' && a ? { host: a.address, port: a.port } : { host, port });
          resolve();
        });
      });
    }
  } catch (err) {
    // Nothing half-started: the listeners opened so far close, the journal stream's lock is released.
    await closeServers();
    await release();
    throw err;
  }

  return {
    addresses,
    get generation() { return generations.current.id; },
    async reload(next: ResolvedConfig, tls: TlsMaterial): Promise<void> {
      const gen = await buildGeneration(next, { health: deps.health, maildir: target, memory }, log, generations.current);
      // smtp-server makes the context of each new STARTTLS handshake from this; running TLS sessions keep theirs.
      for (const srv of servers) srv.updateSecureContext({ key: tls.key, cert: tls.cert });
      const clamdBefore = generations.current.deps.clamd;
      generations.switchTo(gen);
      // Another clamd (scanners.clamd changed; an unchanged one is handed on): judged anew.
      if (gen.deps.clamd !== clamdBefore) {
        signatures?.stop();
        deps.health.warn('clamd', null);
        signatures = gen.deps.clamd ? watchSignatures(gen.deps.clamd, deps.health, log) : null;
      }
    },
    async stop(graceMs: number): Promise<void> {
      gateway.drain();
      const deadline = Date.now() + graceMs;
      while (gateway.activeSessions > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      if (gateway.activeSessions > 0) log.warn({ sessions: gateway.activeSessions }, 'grace time over, closing remaining sessions');
      await closeServers();
      // Sessions cut above still write their close events; give them a turn.
      await new Promise((r) => setTimeout(r, 50));
      await release();
    },
  };
}

/**
 * The crash recovery's view of the ledger, opened only when a file of a dead
 * run is checked: the store with everything the journals hold. A cluster
 * store that cannot be reached does not keep the node from starting: the
 * recovery then reads this node's journal since the oldest dead run began.
 */
async function withRecoveryReader<T>(cfg: ResolvedConfig, runDir: string, log: Logger, fn: (r: Pick<LedgerReader, 'byRefs'>) => Promise<T>): Promise<T> {
  let store: ResearchStore | null = null;
  let reader: Pick<LedgerReader, 'byRefs'> | null = null;
  const open = async (): Promise<Pick<LedgerReader, 'byRefs'>> => {
    try {
      store = await openResearchStore(cfg, { waitMs: 600_000 });
      return store.reader;
    } catch (err) {
      if (!isClusterStore(storeSpecOf(cfg)) || (err as Error).name !== 'StoreUnavailableError') throw err;
      const since = Math.min(...deadRuns(runDir).map((r) => r.started)) - 60_000;
      log.warn({ err: (err as Error).message }, 'crash recovery: the cluster store cannot be reached; reading this node\'s journal instead');
      return journalRefReader(cfg.paths.journal, cfg.node, since);
    }
  };
  try {
    return await fn({ byRefs: async (refs) => (reader ??= await open()).byRefs(refs) });
  } finally {
    await (store as ResearchStore | null)?.close();
  }
}
