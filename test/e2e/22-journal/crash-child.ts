// Runs a helper script of test/helpers in a child process and kills it with
// SIGKILL once it has printed `after` lines (plus a few random ms), or lets it
// finish: what the crash tests of the indexer and the conversion share.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HELPERS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../helpers');

export interface ChildRun { killed: boolean; lines: string[]; code: number | null; stderr: string }

/** after: kill once this many lines are out (null: let it run to its end). */
export function runChild(script: string, args: string[], after: number | null, jitterMs = 0): Promise<ChildRun> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [path.join(HELPERS, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    let killing = false;
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (after !== null && !killing && out.split('\n').length - 1 >= after) {
        killing = true;
        setTimeout(() => p.kill('SIGKILL'), jitterMs);
      }
    });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('close', (code, signal) => resolve({ killed: signal === 'SIGKILL', lines: out.split('\n').filter(Boolean), code, stderr }));
  });
}
