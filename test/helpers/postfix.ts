// A throwaway Postfix instance for end-to-end tests: the real Debian Postfix
// as a sending MTA that relays everything to mailproof over loopback.
//
// Everything lives in one temporary directory (config, queue, data, log);
// /etc/postfix and the machine's own mail setup are never read for
// configuration nor touched. Starting and stopping needs root (Postfix's
// master runs as root and drops to the postfix user).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './server.js';
import { sendMail } from './smtp-client.js';
import { which } from './env.js';

export interface PostfixOptions {
  /** Where every message goes (relayhost): mailproof's SMTP listener. */
  relayTo: { host: string; port: number };
  /** Domains Postfix's smtpd accepts mail for from loopback clients. Default ['demo.test']. */
  relayDomains?: string[];
  /** myhostname: HELO name towards mailproof, domain of MAILER-DAEMON. Default 'sender.test.invalid'. */
  hostname?: string;
  /** smtp_tls_security_level towards mailproof. Default 'may' (STARTTLS, no certificate check). */
  tls?: 'may' | 'none';
  /** Port of Postfix's own smtpd on 127.0.0.1; default a free one. */
  port?: number;
  /** Extra or overriding main.cf parameters. */
  main?: Record<string, string>;
  /** Extra master.cf lines (e.g. a spawn(8) service for a policy server). */
  master?: string[];
  /** Path of the postfix command; default found on PATH or in /usr/sbin. */
  postfixPath?: string;
  /**
   * A resolv.conf for Postfix's DNS lookups (e.g. reject_rbl_client against a
   * test Knot on 127.0.0.x:53): the master starts in its own mount namespace
   * with this file bind-mounted over /etc/resolv.conf; the machine's stays.
   */
  resolvConf?: string;
}

/** One delivery attempt as the smtp/error delivery agents log it. */
export interface LogDelivery {
  queueId: string;
  to: string;
  relay: string;
  dsn: string;
  /** sent, deferred, bounced, ... */
  status: string;
  /** The text in parentheses: the remote reply or Postfix's reason. */
  detail: string;
  line: string;
}

export interface QueueEntry {
  queue_name: string;
  queue_id: string;
  sender: string;
  recipients: Array<{ address: string; delay_reason?: string }>;
}

export interface PostfixInstance {
  /** The temporary directory holding everything. */
  dir: string;
  configDir: string;
  queueDir: string;
  logFile: string;
  /** Postfix's smtpd, where tests submit mail. */
  host: string;
  port: number;
  /** Queue ids of the messages accepted by submit(), in order. */
  queueIds: string[];
  /**
   * Submits a message to Postfix's smtpd over loopback (raw SMTP: the bytes
   * as given, dot-stuffed). Resolves with Postfix's queue id.
   */
  submit(from: string, to: string[], rawMessage: string): Promise<string>;
  /** The whole log so far ('' before the first line). */
  log(): string;
  /** Delivery attempts found in the log. */
  deliveries(): LogDelivery[];
  /** Non-delivery notifications: original queue id -> queue id of the bounce message. */
  bounces(): Array<{ queueId: string; bounceId: string }>;
  /** `postqueue -j`: what is still queued. */
  queue(): Promise<QueueEntry[]>;
  /** Polls the queue until it is empty; throws with the queue and the log after timeoutMs. */
  waitForQueueEmpty(timeoutMs?: number): Promise<void>;
  /** `postqueue -f`: retry deferred mail now. */
  flush(): Promise<void>;
  /** Stops Postfix (waits for the master to exit) and removes the directory. Idempotent. */
  stop(): Promise<void>;
}

function exec(file: string, args: string[], timeoutMs = 30000): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`${path.basename(file)} ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`));
      } else {
        resolve({ stdout, stderr });
      }
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Polls fn until it returns a value other than undefined/null/false, at most
 * timeoutMs. On timeout the error names `what` and adds describe()'s text.
 */
export async function pollUntil<T>(
  fn: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  opts: { timeoutMs?: number; intervalMs?: number; what: string; describe?: () => string | Promise<string> },
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60000);
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > deadline) {
      const extra = opts.describe ? `\n${await opts.describe()}` : '';
      throw new Error(`timed out after ${opts.timeoutMs ?? 60000} ms waiting for ${opts.what}${extra}`);
    }
    await sleep(opts.intervalMs ?? 200);
  }
}

/**
 * True while the process exists and is not a zombie (a killed daemon's
 * processes are reparented to init, which may be slow to reap them).
 */
export function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

function mainCf(o: {
  dir: string; queueDir: string; dataDir: string; logFile: string; hostname: string;
  relayDomains: string[]; relayTo: { host: string; port: number }; tls: 'may' | 'none'; extra: Record<string, string>;
}): string {
  const p: Record<string, string> = {
    compatibility_level: '3.6',
    queue_directory: o.queueDir,
    data_directory: o.dataDir,
    // The log goes to a file in the instance's directory via postlogd (master.cf "postlog").
    maillog_file: o.logFile,
    maillog_file_prefixes: o.dir,
    myhostname: o.hostname,
    mydomain: o.hostname.split('.').slice(1).join('.') || 'test.invalid',
    myorigin: '$myhostname',
    // Nothing is delivered locally: every domain is remote and goes to the relayhost.
    mydestination: '',
    local_recipient_maps: '',
    local_transport: 'error:5.1.1 local delivery is disabled in this test instance',
    alias_maps: '',
    alias_database: '',
    // Loopback only, in and out.
    inet_interfaces: '127.0.0.1',
    inet_protocols: 'ipv4',
    mynetworks: '127.0.0.0/8',
    relay_domains: o.relayDomains.join(', '),
    smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination',
    smtpd_peername_lookup: 'no',
    smtpd_banner: '$myhostname ESMTP (mailproof test sender)',
    // Every message, bounces and double bounces included, goes to mailproof; no DNS.
    relayhost: `[${o.relayTo.host}]:${o.relayTo.port}`,
    smtp_host_lookup: 'native',
    smtp_tls_security_level: o.tls,
    smtp_tls_loglevel: '1',
    smtpd_tls_security_level: 'none',
    smtp_connect_timeout: '5s',
    smtp_helo_timeout: '15s',
    // Short timings: retry fast, give up fast.
    queue_run_delay: '1s',
    minimal_backoff_time: '1s',
    maximal_backoff_time: '2s',
    maximal_queue_lifetime: '2m',
    bounce_queue_lifetime: '2m',
    delay_warning_time: '0h',
    in_flow_delay: '0s',
    biff: 'no',
    append_dot_mydomain: 'no',
    readme_directory: 'no',
    ...o.extra,
  };
  const lines = Object.entries(p).map(([k, v]) => `${k} = ${v}`.trimEnd());
  return `# Throwaway Postfix for mailproof's end-to-end tests (test/helpers/postfix.ts).\n${lines.join('\n')}\n`;
}

function masterCf(port: number): string {
  // chroot "n" everywhere: the queue directory is not prepared as a chroot jail.
  return `# Throwaway Postfix for mailproof's end-to-end tests (test/helpers/postfix.ts).
# service type  private unpriv  chroot  wakeup  maxproc command
127.0.0.1:${port} inet n - n - - smtpd
cleanup    unix  n  -  n  -     0  cleanup
qmgr       unix  n  -  n  300   1  qmgr
tlsmgr     unix  -  -  n  1000? 1  tlsmgr
rewrite    unix  -  -  n  -     -  trivial-rewrite
bounce     unix  -  -  n  -     0  bounce
defer      unix  -  -  n  -     0  bounce
trace      unix  -  -  n  -     0  bounce
verify     unix  -  -  n  -     1  verify
flush      unix  n  -  n  1000? 0  flush
proxymap   unix  -  -  n  -     -  proxymap
proxywrite unix  -  -  n  -     1  proxymap
smtp       unix  -  -  n  -     -  smtp
relay      unix  -  -  n  -     -  smtp
showq      unix  n  -  n  -     -  showq
error      unix  -  -  n  -     -  error
retry      unix  -  -  n  -     -  error
discard    unix  -  -  n  -     -  discard
anvil      unix  -  -  n  -     1  anvil
scache     unix  -  -  n  -     1  scache
postlog    unix-dgram n - n -   1  postlogd
`;
}

const DELIVERY = /postfix\/(?:smtp|relay|error|retry|discard|lmtp)\[\d+\]: ([0-9A-Za-z]+): to=<([^>]*)>(?:, orig_to=<[^>]*>)?, relay=([^,]+), .*?dsn=([0-9.]+), status=(\w+) \((.*)\)$/;
const BOUNCE = /postfix\/bounce\[\d+\]: ([0-9A-Za-z]+): sender non-delivery notification: ([0-9A-Za-z]+)/;

/** Starts a throwaway Postfix that relays everything to opts.relayTo. */
export async function startPostfix(opts: PostfixOptions): Promise<PostfixInstance> {
  const postfix = opts.postfixPath ?? which('postfix');
  if (!postfix) throw new Error('postfix is not installed (scripts/install-test-deps.sh)');
  if (process.getuid && process.getuid() !== 0) throw new Error('a throwaway Postfix needs root (its master runs as root)');
  // Tests talk over loopback only.
  if (!/^127\.\d+\.\d+\.\d+$/.test(opts.relayTo.host)) throw new Error(`relayTo.host must be an IPv4 loopback address, not ${opts.relayTo.host}`);
  const bin = path.dirname(postfix);
  const postqueue = path.join(bin, 'postqueue');

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-postfix-'));
  // Postfix daemons run as the postfix user and open some files by absolute path.
  fs.chmodSync(dir, 0o755);
  const configDir = path.join(dir, 'etc');
  const queueDir = path.join(dir, 'spool');
  // Not created here: post-install creates it owned by the postfix user, as master requires.
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'maillog');
  fs.mkdirSync(configDir, { mode: 0o755 });
  fs.mkdirSync(queueDir, { mode: 0o755 });
  const host = '127.0.0.1';
  const port = opts.port ?? (await freePort(host));
  fs.writeFileSync(path.join(configDir, 'main.cf'), mainCf({
    dir, queueDir, dataDir, logFile,
    hostname: opts.hostname ?? 'sender.test.invalid',
    relayDomains: opts.relayDomains ?? ['demo.test'],
    relayTo: opts.relayTo,
    tls: opts.tls ?? 'may',
    extra: opts.main ?? {},
  }), { mode: 0o644 });
  fs.writeFileSync(path.join(configDir, 'master.cf'), masterCf(port) + (opts.master ?? []).map((l) => l + '\n').join(''), { mode: 0o644 });

  const readLog = (): string => {
    try {
      return fs.readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  const removeDir = (): void => fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });

  let masterPid: number | null = null;
  let stopped = false;
  // Last resort if the test process exits without stop(): do not leave a master running.
  const onExit = (): void => {
    if (!stopped && masterPid !== null && alive(masterPid)) {
      try { process.kill(masterPid, 'SIGTERM'); } catch { /* gone */ }
    }
  };
  process.once('exit', onExit);

  try {
    if (opts.resolvConf) {
      // The daemons inherit the namespace; `postfix stop` from outside still
      // works (it signals the master through its pid file).
      await exec('unshare', ['--mount', '--propagation', 'private', 'sh', '-c',
        'mount --bind "$1" /etc/resolv.conf && exec "$2" -c "$3" start', 'sh', opts.resolvConf, postfix, configDir], 60000);
    } else {
      await exec(postfix, ['-c', configDir, 'start'], 60000);
    }
    masterPid = Number(fs.readFileSync(path.join(queueDir, 'pid', 'master.pid'), 'utf8').trim());
    if (!Number.isInteger(masterPid) || masterPid <= 0) throw new Error('no master.pid after start');
  } catch (err) {
    stopped = true;
    process.removeListener('exit', onExit);
    try { await exec(postfix, ['-c', configDir, 'abort'], 10000); } catch { /* was not running */ }
    // Postfix prints early fatal errors (bad main.cf) only to a terminal, not
    // to maillog_file: repeat the check under script(1) to capture them.
    let why = '';
    if (which('script')) {
      try {
        why = (await exec('script', ['-q', '-c', `${postfix} -c ${configDir} check`, '/dev/null'], 30000)).stdout;
      } catch (e) {
        why = (e as Error).message;
      }
    }
    const log = readLog();
    removeDir();
    throw new Error(`${(err as Error).message}\n--- postfix check ---\n${why}\n--- postfix log ---\n${log}`);
  }

  const queueIds: string[] = [];
  const logLines = (): string[] => readLog().split('\n');

  const inst: PostfixInstance = {
    dir, configDir, queueDir, logFile, host, port, queueIds,

    async submit(from, to, rawMessage) {
      const r = await sendMail(port, { from, to, body: rawMessage, helo: 'submitter.test.invalid' });
      const m = r.final ? /^250 .*queued as ([0-9A-Za-z]+)/.exec(r.final) : null;
      if (!m) throw new Error(`Postfix did not queue the message: ${JSON.stringify(r.replies)}`);
      queueIds.push(m[1]!);
      return m[1]!;
    },

    log: readLog,

    deliveries() {
      const out: LogDelivery[] = [];
      for (const line of logLines()) {
        const m = DELIVERY.exec(line);
        if (m) out.push({ queueId: m[1]!, to: m[2]!, relay: m[3]!, dsn: m[4]!, status: m[5]!, detail: m[6]!, line });
      }
      return out;
    },

    bounces() {
      const out: Array<{ queueId: string; bounceId: string }> = [];
      for (const line of logLines()) {
        const m = BOUNCE.exec(line);
        if (m) out.push({ queueId: m[1]!, bounceId: m[2]! });
      }
      return out;
    },

    async queue() {
      const { stdout } = await exec(postqueue, ['-c', configDir, '-j'], 15000);
      return stdout.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as QueueEntry);
    },

    async waitForQueueEmpty(timeoutMs = 60000) {
      let last: QueueEntry[] = [];
      await pollUntil(async () => {
        last = await inst.queue();
        return last.length === 0;
      }, {
        timeoutMs, intervalMs: 250, what: 'the Postfix queue to empty',
        describe: () => `queue: ${JSON.stringify(last, null, 2)}\n--- postfix log ---\n${readLog()}`,
      });
    },

    async flush() {
      await exec(postqueue, ['-c', configDir, '-f'], 15000);
    },

    async stop() {
      if (stopped) return;
      stopped = true;
      process.removeListener('exit', onExit);
      try {
        // Waits up to 5 s for the master to let go of its lock, then kills it.
        await exec(postfix, ['-c', configDir, 'stop'], 30000);
      } catch { /* checked below */ }
      const pid = masterPid!;
      try {
        await pollUntil(() => !alive(pid), { timeoutMs: 10000, intervalMs: 100, what: `Postfix master ${pid} to exit` });
      } catch {
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
        await pollUntil(() => !alive(pid), { timeoutMs: 5000, intervalMs: 100, what: `Postfix master ${pid} to die` });
      }
      removeDir();
    },
  };
  return inst;
}
