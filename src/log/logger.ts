import pino from 'pino';

// pino writes JSON: a CR or LF inside a client-sent value is escaped by the
// encoder, so it can never start a forged log line. Lengths are bounded by
// the callers (util/sanitize.ts logSafe).
export type Logger = pino.Logger;

export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings }, timestamp: pino.stdTimeFunctions.isoTime });
}
