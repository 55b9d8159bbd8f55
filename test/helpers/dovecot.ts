// A throwaway Dovecot 2.3 for end-to-end tests: the real Debian Dovecot
// (dovecot-core, -lmtpd, -pop3d, -imapd) with LMTP, POP3 and IMAP listeners
// on free loopback ports.
//
// Everything lives in one temporary directory (config, base_dir, state, mail,
// log). The config is written from scratch without any !include, so
// /etc/dovecot is never read, and the machine's own Dovecot (if any) is not
// touched: own base_dir and instance_name. Needs root (the master binds and
// drops to the mail user for mail access, as in production).
//
// The mail_log plugin logs save/delete/expunge/copy with uid, box, msgid,
// size and from: the lines the Dovecot ingest parser reads.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './server.js';
import { which } from './env.js';

export interface DovecotOptions {
  /** Extra lines appended to dovecot.conf (e.g. quota_full_tempfail = yes). */
  extraConfig?: string;
  /** System user owning the mail (static uid/gid of every user). Default 'mail'. */
  mailUser?: string;
}

export interface DovecotUser {
  /** Login name and LMTP recipient: a full address such as alice@lmtp.test. */
  address: string;
  password?: string;
  /** Dovecot quota rule for this user, e.g. '*:storage=1K' (needs the quota plugin, which is on). */
  quotaRule?: string;
}

export interface DovecotInstance {
  dir: string;
  configFile: string;
  logFile: string;
  host: string;
  lmtpPort: number;
  pop3Port: number;
  imapPort: number;
  /** Adds (or replaces) a user; passwd-file is re-read on every lookup, no reload needed. */
  addUser(u: DovecotUser): void;
  /** The user's Maildir (maildir:<dir>/mail/<domain>/<local>). */
  maildir(address: string): string;
  /** The whole log so far ('' before the first line). */
  log(): string;
  /** Polls the log until it matches (throws with the log after timeoutMs). */
  waitForLog(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Stops the master (and with it every child); the directory stays, start() brings it back. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** stop() and remove the directory. */
  destroy(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until something accepts connections on host:port. */
async function waitListening(host: string, port: number, timeoutMs: number): Promise<void> {
  const net = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port }, () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`dovecot did not listen on ${host}:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitClosed(host: string, port: number, timeoutMs: number): Promise<void> {
  const net = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port }, () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (!open || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startDovecot(opts: DovecotOptions = {}): Promise<DovecotInstance> {
  const dovecot = which('dovecot');
  if (!dovecot) throw new Error('dovecot is not installed (scripts/install-test-deps.sh)');
  const mailUser = opts.mailUser ?? 'mail';
  const uid = Number(execFileSync('id', ['-u', mailUser], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', mailUser], { encoding: 'utf8' }).trim());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-dovecot-'));
  // The mail user must reach its Maildirs below the (root-owned) temp dir.
  fs.chmodSync(dir, 0o755);
  const host = '127.0.0.1';
  const [lmtpPort, pop3Port, imapPort] = [await freePort(host), await freePort(host), await freePort(host)];
  const configFile = path.join(dir, 'dovecot.conf');
  const logFile = path.join(dir, 'dovecot.log');
  const usersFile = path.join(dir, 'users');
  const mailRoot = path.join(dir, 'mail');
  fs.mkdirSync(mailRoot, { mode: 0o755 });
  fs.chownSync(mailRoot, uid, gid);
  fs.writeFileSync(usersFile, '', { mode: 0o644 });
  const instance = `mp-${path.basename(dir).replace(/[^A-Za-z0-9]/g, '')}`;
  // A minimal, self-contained Dovecot 2.3 configuration (no !include).
  fs.writeFileSync(configFile, `# written by test/helpers/dovecot.ts
instance_name = ${instance}
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${logFile}
info_log_path = ${logFile}
debug_log_path = ${logFile}
log_timestamp = "%Y-%m-%dT%H:%M:%S "
protocols = lmtp pop3 imap
listen = ${host}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
login_trusted_networks = 127.0.0.0/8
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = ${Math.min(uid, 500)}
first_valid_gid = ${Math.min(gid, 500)}
mail_uid = ${uid}
mail_gid = ${gid}
mail_location = maildir:${mailRoot}/%d/%n
mail_plugins = $mail_plugins mail_log notify quota
lmtp_rcpt_check_quota = no
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%Lu ${usersFile}
}
userdb {
  driver = passwd-file
  args = username_format=%Lu ${usersFile}
  default_fields = uid=${uid} gid=${gid} home=${mailRoot}/%d/%n
}
service lmtp {
  inet_listener lmtp {
    address = ${host}
    port = ${lmtpPort}
  }
  unix_listener lmtp {
    mode = 0666
  }
}
service pop3-login {
  inet_listener pop3 {
    address = ${host}
    port = ${pop3Port}
  }
  inet_listener pop3s {
    port = 0
  }
}
service imap-login {
  inet_listener imap {
    address = ${host}
    port = ${imapPort}
  }
  inet_listener imaps {
    port = 0
  }
}
protocol pop3 {
  pop3_uidl_format = %08Xu%08Xv
}
plugin {
  quota = maildir:User quota
  quota_rule = *:storage=1G
  mail_log_events = delete undelete expunge copy mailbox_delete mailbox_rename save
  mail_log_fields = uid box msgid size from
}
${opts.extraConfig ?? ''}
`);

  let proc: ChildProcess | null = null;
  let output = '';

  const start = async (): Promise<void> => {
    if (proc && proc.exitCode === null && proc.signalCode === null) return;
    output = '';
    // -F: in the foreground, so the child process is the master and a kill reaches it.
    const p = spawn(dovecot, ['-F', '-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = p;
    p.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
    p.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
    const exited = new Promise<never>((_r, reject) => p.once('exit', (code) => reject(new Error(`dovecot exited with ${code}: ${output}\n${readLog()}`))));
    await Promise.race([
      Promise.all([waitListening(host, lmtpPort, 15000), waitListening(host, pop3Port, 15000), waitListening(host, imapPort, 15000)]),
      exited,
    ]);
    exited.catch(() => undefined);
  };

  const stop = async (): Promise<void> => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    const timer = setTimeout(() => { if (p.pid && alive(p.pid)) p.kill('SIGKILL'); }, 10000);
    await gone;
    clearTimeout(timer);
    // The master tells its children to go; wait until nobody listens any more.
    await Promise.all([waitClosed(host, lmtpPort, 5000), waitClosed(host, pop3Port, 5000), waitClosed(host, imapPort, 5000)]);
  };

  const readLog = (): string => {
    try {
      return fs.readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };

  // Last resort if the test process ends without stop(): leave no master behind.
  process.once('exit', () => {
    const p = proc as ChildProcess | null;
    if (p && p.exitCode === null && p.pid) {
      try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
    }
  });

  try {
    await start();
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const users = new Map<string, string>();
  return {
    dir, configFile, logFile, host, lmtpPort, pop3Port, imapPort,
    addUser(u) {
      const name = u.address.toLowerCase();
      if (!/^[a-z0-9._+-]+@[a-z0-9.-]+$/.test(name)) throw new Error(`not a simple address: ${u.address}`);
      // passwd-file: user:password:uid:gid:gecos:home:shell:extra_fields. The
      // userdb_ prefix makes the field a userdb field in the passdb lookup and
      // is stripped when the same file serves as userdb.
      const extra = u.quotaRule ? `userdb_quota_rule=${u.quotaRule}` : '';
      users.set(name, `${name}:{PLAIN}${u.password ?? 'secret'}::::::${extra}`);
      fs.writeFileSync(usersFile, [...users.values()].join('\n') + '\n');
    },
    maildir(address) {
      const [local, domain] = address.toLowerCase().split('@') as [string, string];
      return path.join(mailRoot, domain, local);
    },
    log: readLog,
    async waitForLog(re, timeoutMs = 10000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const text = readLog();
        if (re.test(text)) return text;
        if (Date.now() > deadline) throw new Error(`dovecot log does not match ${re} within ${timeoutMs} ms:\n${text}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    stop,
    start,
    async destroy() {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    },
  };
}
