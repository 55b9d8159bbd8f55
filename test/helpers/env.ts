import { execFileSync } from 'node:child_process';
import type { TestContext } from 'node:test';

/** Under CI a missing real component is a failure, never a skip (README "Tests"). */
export const IN_CI = process.env.CI === 'true';

export function which(tool: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    for (const dir of ['/usr/sbin', '/sbin', '/usr/lib/postfix/sbin']) {
      try {
        execFileSync('test', ['-x', `${dir}/${tool}`]);
        return `${dir}/${tool}`;
      } catch { /* next */ }
    }
    return null;
  }
}

/**
 * Returns the tool's path, or skips the test outside CI. Inside CI the test
 * fails: .ci/run installs every tool, so a missing one is a broken setup.
 */
export function requireTool(t: TestContext, tool: string): string | null {
  return which(tool) ?? missingTool(t, tool);
}

/**
 * What requireTool does about a tool it did not find, for helpers that look
 * for their tool elsewhere than on PATH: throws under CI, skips otherwise.
 */
export function missingTool(t: TestContext, tool: string): null {
  if (IN_CI) throw new Error(`${tool} is not installed; scripts/install-test-deps.sh should have installed it`);
  t.skip(`${tool} not installed (run scripts/install-test-deps.sh)`);
  return null;
}
