// The real policyd-spf (postfix-policyd-spf-python) as a spawn(8) service of
// a throwaway Postfix (postfix.ts), for end-to-end tests.
//
// policyd-spf writes its lines with syslog(3) only, and the test machine has
// no syslog daemon. Postfix spawns it as an unprivileged user that may not
// use postlog(1) (the postlogd socket is for the postdrop group). So it runs
// under a small wrapper that hands each syslog line, as policyd-spf's own
// code formats it, to a file; the test process forwards the file's new lines
// to the instance's log with postlog(1) under the program name "policyd-spf",
// where a syslog daemon would have put them.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { which } from './env.js';

// Replaces the syslog module before policyd-spf imports it.
const WRAPPER = `import sys, types
out = sys.argv.pop(1)
shim = types.ModuleType('syslog')
for i, n in enumerate(['LOG_EMERG', 'LOG_ALERT', 'LOG_CRIT', 'LOG_ERR', 'LOG_WARNING', 'LOG_NOTICE', 'LOG_INFO', 'LOG_DEBUG']):
    setattr(shim, n, i)
shim.LOG_PID, shim.LOG_NDELAY, shim.LOG_MAIL = 1, 8, 16
shim.openlog = lambda *a, **k: None
shim.closelog = lambda *a, **k: None
def _log(*args):
    with open(out, 'a', encoding='utf-8') as f:
        f.write(str(args[-1]).replace('\\n', ' ') + '\\n')
shim.syslog = _log
sys.modules['syslog'] = shim
sys.argv[0] = 'policyd-spf'
from spf_engine.policyd_spf import main
sys.exit(main())
`;

export interface PolicydSpf {
  /** Where the wrapper, the config and the raw lines live. */
  dir: string;
  /** The master.cf line of the spawn(8) service "policyd-spf". */
  masterLine: string;
  /** Starts forwarding its lines into the Postfix instance's log (once Postfix runs). */
  forwardTo(postfixConfigDir: string): void;
  /** Lines written so far. */
  lines(): string[];
  /** Stops forwarding (after the last lines) and removes the directory. Idempotent. */
  stop(): Promise<void>;
}

/** Prepares the service; `config` is policyd-spf.conf text. */
export function preparePolicydSpf(config: string): PolicydSpf {
  const script = which('policyd-spf');
  const postlog = which('postlog');
  if (!script) throw new Error('policyd-spf is not installed (scripts/install-test-deps.sh)');
  // The interpreter its own "#!" line names (the one its Debian modules are installed for).
  const python = /^#!\s*(\S+)/.exec(fs.readFileSync(script, 'utf8'))?.[1];
  if (!python) throw new Error(`no interpreter line in ${script}`);
  if (!postlog) throw new Error('postlog (Postfix) is not installed (scripts/install-test-deps.sh)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-policyd-spf-'));
  fs.chmodSync(dir, 0o755);
  const wrapper = path.join(dir, 'policyd-spf-wrapper.py');
  const conf = path.join(dir, 'policyd-spf.conf');
  const out = path.join(dir, 'syslog.txt');
  fs.writeFileSync(wrapper, WRAPPER, { mode: 0o644 });
  fs.writeFileSync(conf, config, { mode: 0o644 });
  // Written by the unprivileged user spawn(8) runs it as.
  fs.writeFileSync(out, '', { mode: 0o666 });
  fs.chmodSync(out, 0o666);

  let logger: ChildProcess | null = null;
  let timer: NodeJS.Timeout | null = null;
  let offset = 0;
  let pending = '';
  const all: string[] = [];
  const pump = (): void => {
    let buf: Buffer;
    try { buf = fs.readFileSync(out); } catch { return; }
    if (buf.length <= offset) return;
    pending += buf.subarray(offset).toString('utf8');
    offset = buf.length;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      all.push(line);
      logger?.stdin!.write(line + '\n');
    }
  };
  let stopped = false;
  return {
    dir,
    masterLine: `policyd-spf unix - n n - 0 spawn user=nobody argv=${python} ${wrapper} ${out} ${conf}`,
    forwardTo(postfixConfigDir) {
      // -i: each line tagged "policyd-spf[PID]", the shape syslog gives it.
      logger = spawn(postlog, ['-c', postfixConfigDir, '-t', 'policyd-spf', '-i'], { stdio: ['pipe', 'ignore', 'inherit'] });
      timer = setInterval(pump, 50);
    },
    lines() { pump(); return all.slice(); },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (timer) clearInterval(timer);
      pump();
      if (logger) {
        logger.stdin!.end();
        if (logger.exitCode === null && logger.signalCode === null) await once(logger, 'exit');
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
