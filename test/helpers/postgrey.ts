// A throwaway postgrey (greylisting policy service) on loopback for
// end-to-end tests, with its own database directory in a temp dir.
//
// postgrey logs to syslog only when it daemonizes; in the foreground it writes
// the same lines to stderr. A Debian machine's syslog puts them into the mail
// log next to Postfix's; here each line is handed to postlog(1) of the test
// Postfix instance, which writes it through postlogd into that instance's
// maillog_file under the program name "postgrey", the way the ingest sees it.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { pollUntil } from './postfix.js';
import { freePort } from './server.js';
import { which } from './env.js';

export interface PostgreyOptions {
  host: string;
  port?: number;
  /** Greylisting delay in seconds (postgrey --delay). */
  delay: number;
  /** The test Postfix's config dir: postgrey's lines go to its log through postlog(1). */
  postfixConfigDir: string;
}

export interface PostgreyInstance {
  host: string;
  port: number;
  /** The check_policy_service target for smtpd. */
  service: string;
  /** Everything postgrey wrote so far. */
  output(): string;
  /** Stops postgrey by its PID, then the logger. Idempotent. */
  stop(): Promise<void>;
}

export async function startPostgrey(opts: PostgreyOptions): Promise<PostgreyInstance> {
  const postgrey = which('postgrey');
  const postlog = which('postlog');
  if (!postgrey) throw new Error('postgrey is not installed (scripts/install-test-deps.sh)');
  if (!postlog) throw new Error('postlog (Postfix) is not installed (scripts/install-test-deps.sh)');
  const port = opts.port ?? (await freePort(opts.host));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-postgrey-'));
  // postgrey drops to the nobody user (as root) and keeps its Berkeley DB here.
  fs.chmodSync(dir, 0o777);
  // -i: each line tagged "postgrey[PID]", the shape syslog gives it.
  const logger: ChildProcess = spawn(postlog, ['-c', opts.postfixConfigDir, '-t', 'postgrey', '-i'], { stdio: ['pipe', 'ignore', 'inherit'] });
  const pg: ChildProcess = spawn(postgrey, [
    `--inet=${opts.host}:${port}`, `--dbdir=${dir}`, `--delay=${opts.delay}`,
    '--user=nobody', '--group=nogroup',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let pending = '';
  const onData = (b: Buffer): void => {
    const s = b.toString('utf8');
    out += s;
    pending += s;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) if (line) logger.stdin!.write(line + '\n');
  };
  pg.stdout!.on('data', onData);
  pg.stderr!.on('data', onData);
  const exited = once(pg, 'exit');

  // Last resort if the test process exits without stop(): do not leave postgrey running.
  const onExit = (): void => { if (pg.exitCode === null) pg.kill('SIGTERM'); };
  process.once('exit', onExit);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', onExit);
    if (pg.exitCode === null && pg.signalCode === null) {
      pg.kill('SIGTERM');
      const t = setTimeout(() => pg.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    logger.stdin!.end();
    if (logger.exitCode === null && logger.signalCode === null) await once(logger, 'exit');
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Ready once it has bound its port (and has said so).
    await pollUntil(() => /Binding to TCP port/.test(out) || pg.exitCode !== null, { timeoutMs: 15000, what: 'postgrey to bind', describe: () => out });
    if (pg.exitCode !== null) throw new Error(`postgrey exited (${pg.exitCode}):\n${out}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { host: opts.host, port, service: `inet:${opts.host}:${port}`, output: () => out, stop };
}
