// `mailproof demo`: a gateway, its POP3 server and a DNS server of its own on
// loopback, and the classic stories played through them, so that a newcomer
// sees every diagnosis in `mailproof trace` within a minute.
//
// The gateway is the one `mailproof serve` runs (runtime/gateway-process.ts,
// pop3/server.ts), on a configuration that goes through the normal schema;
// only the data directory is the demo's own, so a demo never mixes with a
// production ledger. With --web the demo also serves `serve`'s web UI over
// its ledger, with a staff login made for the run (serveWeb below).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { loadConfig, type ResolvedConfig } from '../config/load.js';
import { prepareStore } from '../ledger/open.js';
import { createLogger, type Logger } from '../log/logger.js';
import { passwordsFile, startPop3, type RunningPop3 } from '../pop3/server.js';
import { PasswordStore } from '../pop3/passwords.js';
import { startGateway, type RunningGateway } from '../runtime/gateway-process.js';
import { LocalLimiter } from '../net/limiter.js';
import { ListenError } from '../net/listen.js';
import { loadTls } from '../net/tls.js';
import { shellQuote } from '../util/invocation.js';
import { startWeb, type RunningWeb } from '../web/index.js';
import { UserStore, usersFile } from '../web/users.js';
import { startDnsServer, type RunningDns } from './dns-server.js';
import { POP3_PASSWORD, STORIES, type StoryResult } from './stories.js';
import { CUSTOMER_DOMAIN, DNSBL_NAME, DNSBL_ZONE, demoZones, GATEWAY_HOSTNAME, MAILBOXES } from './zones.js';

export const DEFAULT_DEMO_DIR = '/var/tmp/mailproof-demo';
/** Marks a directory as the demo's, so a fresh run may empty it. */
const MARKER = '.mailproof-demo';
/** The address the demo DNS server listens on: a loopback address of its own, out of the way of a local resolver. */
const DNS_HOST = '127.0.0.153';

export interface DemoOptions {
  dataDir: string;
  /** -o KEY=VALUE on top of the demo configuration (e.g. a spam scanner). */
  overrides: string[];
  /**
   * Serve the web UI too: on `listen` ("config": web.listen of the
   * configuration, set with -o; null: DEMO_WEB_DEFAULT, or a free port when
   * that is taken); `option` names where the addresses came from, for the
   * message when they cannot be used.
   */
  web?: { listen: string[] | 'config' | null; option: string } | undefined;
}

/** Where `demo --web` listens unless told: the port `serve` uses, or a free one when that is taken. */
export const DEMO_WEB_DEFAULT = '127.0.0.1:8080';
/** The staff account `demo --web` makes, with a new random password on every run. */
export const DEMO_WEB_USER = 'demo';

export interface DemoWeb {
  url: string;
  user: string;
  password: string;
  /** The accounts file (web.users_file) the login was written to. */
  usersFile: string;
  /** The default address was taken and a free port was used instead. */
  fellBack: boolean;
}

export interface RunningDemo {
  cfg: ResolvedConfig;
  results: StoryResult[];
  smtp: { host: string; port: number };
  pop3: { host: string; port: number } | null;
  dns: RunningDns;
  /** The web UI, when asked for (DemoOptions.web). */
  web: DemoWeb | null;
  stop(): Promise<void>;
}

/** The data directory is not the demo's: a usage error, nothing was touched. */
export class DemoDirRefused extends Error {}

/**
 * Empties the demo directory for a fresh run. A directory that is not empty
 * and not marked as the demo's is refused: --data-dir pointed at a real
 * gateway's data must never be wiped.
 */
export function freshDemoDir(dir: string): void {
  if (fs.existsSync(dir)) {
    const entries = fs.readdirSync(dir);
    if (entries.length > 0 && !entries.includes(MARKER)) {
      throw new DemoDirRefused(`${dir} is not empty and was not made by mailproof demo; choose another --data-dir (the demo empties its directory on every run)`);
    }
    for (const e of entries) fs.rmSync(path.join(dir, e), { recursive: true, force: true });
  }
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(dir, MARKER), 'made by `mailproof demo`; emptied on its next run\n');
}

/** The demo configuration, as a file a newcomer can read (and pass to other commands with --config). */
export function demoConfig(dataDir: string, dnsAddress: string): Record<string, unknown> {
  return {
    node: 'demo',
    hostname: GATEWAY_HOSTNAME,
    data_dir: dataDir,
    // Free ports: the demo must not collide with a running `mailproof serve`.
    smtp: { listen: ['127.0.0.1:0'], workers: 1, max_message_size: 512 * 1024, shutdown_grace_s: 2 },
    domains: { [CUSTOMER_DOMAIN]: { mailboxes: [...MAILBOXES], aliases: { postmaster: 'info' } } },
    // Plain USER/PASS on loopback so any mail program can try the demo mailboxes; never do this in production.
    pop3: { listen: ['127.0.0.1:0'], allow_plaintext_auth: true },
    dns: { servers: [dnsAddress], timeout_ms: 1000, attempts: 2 },
    checks: {
      // The default allow-list is loopback, which is where all demo senders are.
      allowlist: { networks: [] },
      dnsbl: { zones: [{ zone: DNSBL_ZONE, name: DNSBL_NAME, codes: { '127.0.0.2': 'listed for sending spam' } }] },
    },
    // The gateway logs JSON lines to stdout; the demo's own narrative (and --json) is what a newcomer reads there.
    // The warnings at start ("no virus scanning: scanners.clamd.address is not set") are said by the summary instead.
    log: { level: 'error' },
  };
}

export async function startDemo(o: DemoOptions, out: (s: string) => void): Promise<RunningDemo> {
  const dataDir = path.resolve(o.dataDir);
  freshDemoDir(dataDir);
  const dns = await startDnsServer(demoZones(), DNS_HOST);
  const cleanup: Array<() => Promise<void>> = [() => dns.stop()];
  const stopAll = async (): Promise<void> => { for (const f of cleanup.reverse()) await f(); };
  try {
    const cfgFile = path.join(dataDir, 'demo-config.yaml');
    fs.writeFileSync(cfgFile, `# written by mailproof demo\n${YAML.stringify(demoConfig(dataDir, dns.address))}`);
    const cfg = loadConfig({ file: cfgFile, overrides: o.overrides });
    const log = createLogger(cfg.log.level, { node: cfg.node });
    // As `serve` does before it starts (cli/serve.ts).
    fs.mkdirSync(cfg.paths.maildirRoot, { recursive: true, mode: 0o700 });
    const tls = loadTls(cfg.smtp.tls_cert, cfg.smtp.tls_key, cfg.paths.tlsDir, cfg.hostname);
    await prepareStore(cfg);
    const passwords = new PasswordStore(passwordsFile(cfg));
    for (const m of MAILBOXES) await passwords.set(`${m}@${CUSTOMER_DOMAIN}`, POP3_PASSWORD);

    const pop3: RunningPop3 | null = await startPop3(cfg, tls, log);
    if (pop3) cleanup.push(() => pop3.stop());
    const gw: RunningGateway = await startGateway(cfg, tls, new LocalLimiter(cfg.smtp.max_connections, cfg.smtp.max_connections_per_ip), log);
    cleanup.push(() => gw.stop(cfg.smtp.shutdown_grace_s * 1000));
    const smtp = gw.addresses[0]!;
    const pop3Addr = pop3?.addresses[0] ?? null;
    // Before the stories: an address that cannot be used is said at once, not after them.
    const web = o.web ? await serveWeb(cfg, log, o.web.listen === 'config' ? cfg.web.listen : o.web.listen, o.web.option) : null;
    if (web) cleanup.push(() => web.stop());
    out(`mailproof demo: SMTP ${smtp.host}:${smtp.port}, POP3 ${pop3Addr ? `${pop3Addr.host}:${pop3Addr.port}` : 'off'}, DNS ${dns.address}${web ? `, web UI ${web.url}` : ''}; data in ${dataDir} (emptied on every run)\n`);
    out('playing the stories ...\n');

    const results: StoryResult[] = [];
    const ctx = { smtp, pop3: pop3Addr, zones: dns.zones, spamScanner: cfg.scanners.spam.backend !== null && cfg.scanners.spam.address !== null, maxMessageSize: cfg.smtp.max_message_size, dataDir, ledgerPath: cfg.paths.store };
    for (const story of STORIES) results.push(...(await story(ctx)));
    return { cfg, results, smtp, pop3: pop3Addr, dns, web: web && { url: web.url, user: web.user, password: web.password, usersFile: web.usersFile, fellBack: web.fellBack }, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * The web UI of `serve` over the demo's ledger, on the configuration the
 * stories run on, so its rechecks ask the demo's DNS server (dns.servers)
 * and agree with the journeys; and a staff account for this run, made by the
 * store `mailproof user add` writes (web/users.ts).
 */
async function serveWeb(cfg: ResolvedConfig, log: Logger, listen: string[] | null, option: string): Promise<DemoWeb & { stop(): Promise<void> }> {
  const users = new UserStore(usersFile(cfg));
  const password = randomBytes(12).toString('base64url');
  if (users.get(DEMO_WEB_USER)) await users.passwd(DEMO_WEB_USER, password);
  else await users.add(DEMO_WEB_USER, 'staff', [], password);
  const start = (addresses: string[]): Promise<RunningWeb | null> => startWeb({ ...cfg, web: { ...cfg.web, listen: addresses } }, log);
  let fellBack = false;
  let web: RunningWeb | null;
  try {
    web = await start(listen ?? [DEMO_WEB_DEFAULT]);
  } catch (err) {
    if (!(err instanceof ListenError)) throw err;
    if (listen !== null || err.code !== 'EADDRINUSE') {
      throw new ListenError(option, err.address, err.code, err.reason,
        `choose another with --web HOST:PORT, or give --web alone (${DEMO_WEB_DEFAULT}, or a free port when that is taken)`);
    }
    // Most likely a `mailproof serve` on its default port: any free port does for a demo.
    fellBack = true;
    web = await start(['127.0.0.1:0']);
  }
  if (!web) throw new ListenError(option, '[]', 'EINVAL', 'no address to listen on', 'give --web HOST:PORT');
  const running = web;
  return { url: running.url, user: DEMO_WEB_USER, password, usersFile: users.file, fellBack, stop: () => running.stop() };
}

/** The summary a newcomer reads: each story, who sent it, the reply and REF, and the command that explains it. */
export function summary(d: RunningDemo, self: string): string {
  const dir = d.cfg.data_dir;
  const q = shellQuote;
  const lines: string[] = [''];
  for (const r of d.results) {
    lines.push(`* ${r.story}: ${r.title}`);
    if (r.skipped) { lines.push(`    not played: ${r.skipped}`, ''); continue; }
    lines.push(`    ${r.mail_from} from ${r.client_ip} to ${r.rcpt}`);
    lines.push(`    reply: ${r.reply.split(/\r?\n/).pop() ?? ''}`);
    if (r.note) lines.push(`    ${r.note}`);
    lines.push(`    expect: ${r.expect.join(', ')}`);
    if (r.ref) lines.push(`    see:    ${self} trace --data-dir ${q(dir)} --ref ${r.ref}`);
    else lines.push(`    see:    ${self} trace --data-dir ${q(dir)} --rcpt ${q(r.rcpt)} --from ${q(r.mail_from)}`);
    lines.push('');
  }
  lines.push(
    '* tempfail_not_retried live: the gateway does not fake time. Leave the demo running, send a message that gets',
    `    a 4xx (an address without PTR: swaks --server ${d.smtp.host}:${d.smtp.port} --local-interface 127.0.0.77`,
    `    --from a@partner.demo --to info@${CUSTOMER_DOMAIN}), never retry, and trace it after 2 h.`,
    '* no_attempt_seen: the sender says it sent, the ledger has nothing from it: the search itself is the finding.',
    `    ${self} trace --data-dir ${q(dir)} --domain ${CUSTOMER_DOMAIN} --from nie-gesendet.demo   (no journeys found)`,
    '',
    'all journeys at once:',
    `    ${self} trace --data-dir ${q(dir)} --domain ${CUSTOMER_DOMAIN}`,
    `POP3 logins: <mailbox>@${CUSTOMER_DOMAIN} / ${POP3_PASSWORD} (mailboxes: ${MAILBOXES.join(', ')})`,
    ...(d.cfg.scanners.clamd.address === null
      ? ['virus signatures (clamd) are not asked in this demo: the Word file is refused by the attachment check; add -o scanners.clamd.address=HOST:PORT for clamd']
      : []),
    '',
  );
  return lines.join('\n');
}
