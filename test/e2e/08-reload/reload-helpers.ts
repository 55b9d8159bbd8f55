// Rewriting a running instance's configuration file and sending SIGHUP.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { Instance } from '../../helpers/server.js';

/** The instance's configuration as written (a plain object to edit). */
export function readConfig(mp: Instance): Record<string, unknown> {
  return YAML.parse(fs.readFileSync(mp.configFile, 'utf8')) as Record<string, unknown>;
}

/** Replaces the file in one rename, so serve never reads half of it. */
export function writeConfig(mp: Instance, cfg: Record<string, unknown> | string): void {
  const tmp = path.join(path.dirname(mp.configFile), '.next-config.yaml');
  fs.writeFileSync(tmp, typeof cfg === 'string' ? cfg : YAML.stringify(cfg));
  fs.renameSync(tmp, mp.configFile);
}

/** Waits for a log line matching `re` that appeared after output offset `from`; returns it. */
export async function logLine(mp: Instance, re: RegExp, from: number, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = mp.output().slice(from).split('\n').find((l) => re.test(l));
    if (line) return line;
    if (Date.now() > deadline) throw new Error(`no log line ${re} within ${timeoutMs} ms; output since:\n${mp.output().slice(from)}`);
    if (mp.proc.exitCode !== null || mp.proc.signalCode !== null) throw new Error(`serve exited (${mp.proc.exitCode ?? mp.proc.signalCode}); output since:\n${mp.output().slice(from)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** SIGHUP, then the outcome: the "reloaded: ..." or "reload refused: ..." line, parsed. */
export async function reload(mp: Instance): Promise<{ level: number; msg: string } & Record<string, unknown>> {
  const from = mp.output().length;
  mp.proc.kill('SIGHUP');
  const line = await logLine(mp, /"msg":"(reloaded: |reload refused: |reload failed: )/, from);
  return JSON.parse(line) as { level: number; msg: string };
}

/** The child processes of a pid (the workers of a primary), from /proc. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      // Field 4 (ppid) comes after the command name in parentheses, which may hold spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch { /* gone meanwhile */ }
  }
  return out;
}

/** The pids that logged a "session" line in the output after `from`. */
export function sessionPids(mp: Instance, from: number): Set<number> {
  return new Set(mp.output().slice(from).split('\n').filter((l) => l.includes('"msg":"session"')).map((l) => (JSON.parse(l) as { pid: number }).pid));
}
