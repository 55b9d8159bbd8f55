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

/** "2026-11-27", "2026-11-27T10:00:00Z", or relative to now: "90m", "24h", "7d". */
export function parseTime(s: string, flag: string): number {
  const rel = /^(\d+)([smhd])$/.exec(s);
  if (rel) {
    const mult = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[rel[2] as 's' | 'm' | 'h' | 'd'];
    return Date.now() - Number(rel[1]) * mult;
  }
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new UsageError(`${flag} ${s}: expected a date (2026-11-27, 2026-11-27T10:00:00Z) or an age (90m, 24h, 7d)`);
  return t;
}

export { ConfigError };
