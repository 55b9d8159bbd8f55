import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, loadConfig, type ResolvedConfig } from '../config/load.js';

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

export function configFrom(values: Record<string, unknown>, extra: { smtpListen?: string[]; domains?: string[]; mailboxes?: string[] } = {}): ResolvedConfig {
  return loadConfig({
    file: (values.config as string | undefined) ?? process.env.MAILPROOF_CONFIG,
    dataDir: values['data-dir'] as string | undefined,
    overrides: (values.o as string[] | undefined) ?? [],
    ...extra,
  });
}

export { ConfigError };
