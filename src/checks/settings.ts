// The settings every check has (mode, on_error), and a helper for a check's
// own config schema: each check module keeps its schema in its own
// config.ts, and config/schema.ts only lists them, so adding a check does not
// mean editing one shared block of schema code.
import { z } from 'zod';

export const checkMode = z
  .enum(['enforce', 'dry-run', 'off'])
  .describe('enforce: apply the verdict; dry-run: log and record it, but let the mail through; off: do not run');

export const checkFailure = z
  .enum(['tempfail', 'pass'])
  .describe('what a check that fails to run (timeout, error) does: tempfail asks the sender to retry (4xx); pass lets the mail through unchecked');

/**
 * A check's settings: mode and on_error plus the check's own keys.
 * `mode` defaults to enforce unless the check says otherwise (greylisting is off by default).
 */
export function checkSettings<T extends z.ZodRawShape>(extra: T, defaults: { mode?: 'enforce' | 'dry-run' | 'off' } = {}) {
  return z.strictObject({
    mode: checkMode.default(defaults.mode ?? 'enforce'),
    on_error: checkFailure.default('tempfail'),
    ...extra,
  }).prefault({} as never);
}
