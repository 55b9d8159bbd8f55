import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, loadConfig, type LoadOptions, type ResolvedConfig } from '../config/load.js';
import { ListenError } from '../net/listen.js';
import { setInvocation } from '../util/invocation.js';

export class UsageError extends Error {}

/** Options every subcommand takes (issue: --config, --data-dir, -o KEY=VALUE). */
export const COMMON_OPTIONS = {
  config: { type: 'string' },
  'data-dir': { type: 'string' },
  o: { type: 'string', multiple: true, short: 'o' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...options }, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/**
 * Where the configuration comes from (--config, --data-dir, -o and serve's
 * shortcuts): serve reads it again from the same places on SIGHUP.
 */
export function loadOptionsFrom(values: Record<string, unknown>, extra: { smtpListen?: string[]; domains?: string[]; mailboxes?: string[] } = {}): LoadOptions {
  const file = (values.config as string | undefined) ?? process.env.MAILPROOF_CONFIG;
  const dataDir = values['data-dir'] as string | undefined;
  const overrides = (values.o as string[] | undefined) ?? [];
  // The commands this process prints name the same instance (util/invocation.ts).
  setInvocation({ config: file, dataDir, overrides });
  return { file, dataDir, overrides, ...extra };
}

export function configFrom(values: Record<string, unknown>, extra: { smtpListen?: string[]; domains?: string[]; mailboxes?: string[] } = {}): ResolvedConfig {
  return loadConfig(loadOptionsFrom(values, extra));
}

/**
 * The exit code of an error that ends a command (sysexits(3)): 78 EX_CONFIG
 * for a configuration that cannot work (a wrong key, a listen address in
 * use), 69 EX_UNAVAILABLE for a store that cannot be reached, 64 EX_USAGE.
 */
export function exitCodeOf(err: unknown): number {
  if (err instanceof ConfigError || err instanceof ListenError) return 78;
  // Not loaded from connect.ts here: that would load pg for every command.
  if (err instanceof Error && err.name === 'StoreUnavailableError') return 69;
  if (err instanceof UsageError) return 64;
  return 1;
}

/** What the user reads of it: the message of an error we explain, the stack of one we do not. */
export function errorMessage(err: unknown): string {
  return exitCodeOf(err) === 1 ? ((err as Error)?.stack ?? String(err)) : (err as Error).message;
}

export { ConfigError };
