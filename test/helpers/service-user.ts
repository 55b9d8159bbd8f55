// A throwaway system account for the tests that run mailproof as the
// service does (test/e2e/08-service/): not root, with one capability at most.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { IN_CI } from './env.js';

export interface ServiceUser {
  name: string;
  uid: number;
  gid: number;
}

/** Root is needed to make an account and to hand out capabilities; outside CI its absence skips. */
export function requireRoot(t: TestContext): boolean {
  if (process.getuid?.() === 0) return true;
  if (IN_CI) throw new Error('these tests run as root in CI (they create a system user and start mailproof as it)');
  t.skip('needs root: creates a system user and starts mailproof as it');
  return false;
}

/** A fresh name for an account (system names are at most 32 characters). */
export function throwawayName(prefix = 'mp-t'): string {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}

/** Removes an account and its group; a missing one is fine (a test that failed before making it). */
export function removeUser(name: string): void {
  spawnSync('userdel', [name], { stdio: 'ignore' });
  spawnSync('groupdel', [name], { stdio: 'ignore' });
}

export function lookupUser(name: string): ServiceUser {
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  return { name, uid, gid };
}

/**
 * Undo steps run last made, first undone, in one t.after hook (node:test
 * runs hooks in registration order, and a server must stop before its
 * directory and its user go).
 */
export function undoStack(t: TestContext): (step: () => unknown) => void {
  const steps: Array<() => unknown> = [];
  t.after(async () => {
    for (const step of steps.reverse()) await step();
  });
  return (step) => { steps.push(step); };
}

/** A system account with its own group, no home, no login; removed by `undo`. */
export function throwawayUser(undo: (step: () => unknown) => void): ServiceUser {
  const name = throwawayName();
  undo(() => removeUser(name));
  execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', name]);
  return lookupUser(name);
}

/** setpriv's arguments that make `user` of the process that follows, with CAP_NET_BIND_SERVICE only when asked. */
export function asUser(user: ServiceUser, o: { bindCap: boolean }): string[] {
  const base = [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups'];
  return o.bindCap ? [...base, '--inh-caps=+net_bind_service', '--ambient-caps=+net_bind_service', '--'] : [...base, '--inh-caps=-all', '--'];
}

/**
 * Fails with the path when `user` cannot read all of `paths` (files
 * readable, directories enterable, symbolic links followed): a checkout in a
 * directory only root may enter (a CI clone under /root, a umask of 077)
 * would otherwise show up as a confusing "Cannot find module".
 */
export function assertReadableBy(user: ServiceUser, paths: string[]): void {
  const r = spawnSync('setpriv', [...asUser(user, { bindCap: false }), 'find', '-L', ...paths, '(', '!', '-readable', '-o', '(', '-type', 'd', '!', '-executable', ')', ')', '-print', '-quit'], { encoding: 'utf8' });
  const bad = `${r.stdout}${r.stderr}`.trim();
  if (r.status !== 0 || bad) {
    throw new Error(`the unprivileged test user ${user.name} cannot read the build: ${bad.split('\n')[0] ?? `find exited ${r.status}`}; `
      + 'the repository, its dist/ and node_modules/ (and every directory above them) must be readable by other users (chmod o+rX) for the service tests');
  }
}
