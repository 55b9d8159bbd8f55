import pino from 'pino';
import { RepeatThrottle } from './throttle.js';

// pino writes JSON: a CR or LF inside a client-sent value is escaped by the
// encoder, so it can never start a forged log line. Lengths are bounded by
// the callers (util/sanitize.ts logSafe).
export type Logger = pino.Logger;

/** Warnings and errors repeat in floods (a broken ledger, an attack); info lines are one per session or transaction. */
const THROTTLED_FROM = 40; // pino's "warn"

export interface LoggerOptions {
  throttle?: RepeatThrottle;
  /** Where lines go; stdout by default. */
  destination?: pino.DestinationStream;
}

export function createLogger(level: string, bindings: Record<string, unknown> = {}, o: LoggerOptions = {}): Logger {
  const throttle = o.throttle ?? new RepeatThrottle();
  let logger: Logger | null = null;
  const flush = (): void => {
    throttle.sweep();
    for (const p of throttle.pending.splice(0)) {
      const method = p.level >= 50 ? 'error' : 'warn';
      logger?.[method]({ suppressed: p.suppressed, window_s: Math.round(p.windowMs / 1000) }, `${p.msg} (repeated; ${p.suppressed} more like this not logged)`);
    }
  };
  logger = pino({
    level,
    base: { pid: process.pid, ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
    hooks: {
      logMethod(args, method, lvl) {
        if (lvl >= THROTTLED_FROM) {
          const msg = typeof args[0] === 'string' ? args[0] : typeof args[1] === 'string' ? args[1] : '';
          // The summaries themselves pass: they carry "(repeated;".
          if (!msg.includes('(repeated; ') && !throttle.allow(lvl, msg)) return;
        }
        method.apply(this, args);
      },
    },
  }, o.destination ?? pino.destination(1));
  if (level !== 'silent') setInterval(flush, 10_000).unref();
  return logger;
}
