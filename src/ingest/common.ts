// Shared pieces of the Postfix and Dovecot ingesters.
import type { LedgerEvent } from '../ledger/types.js';
import { logSafe } from '../util/sanitize.js';

/** Where a parser puts what it found. */
export interface Sink {
  emit(e: LedgerEvent): void;
}

/** Parsers whose state survives a restart (persisted with the position, in the same transaction). */
export interface StatefulParser {
  /** True when the line was understood (whether or not it made an event). */
  handle(line: import('./syslog.js').SyslogLine, node: string, sink: Sink): boolean;
  /** Forget open sessions/transactions not touched since `before` (ms): bounds memory on endless logs. */
  expire(before: number): void;
  save(): unknown;
  load(state: unknown): void;
  /**
   * Why the line just handled was refused, when handle() returned false on
   * purpose (a line that reads more than one way is never guessed at); null
   * when it was simply not a line the parser knows. Reading it clears it.
   */
  takeRefusal?(): string | null;
}

/** Keeps the reason a parser refused its last line (StatefulParser.takeRefusal). */
export class RefusalNote {
  private reason: string | null = null;
  /** Notes the reason and returns false, for "return this.refuse(...)" in handle(). */
  refuse(reason: string): false {
    this.reason = reason;
    return false;
  }
  take(): string | null {
    const r = this.reason;
    this.reason = null;
    return r;
  }
}

// Bounds for client-controlled values (addresses, HELO, reply texts): a log
// line can hold anything the client sent, and the ledger must stay usable.
export const MAX_ADDR = 320; // RFC 5321 section 4.5.3.1: 64 + 1 + 255, with room for quoting
export const MAX_HELO = 255;
export const MAX_TEXT = 1000;

export function clean(v: string | null | undefined, max: number): string | null {
  if (v === null || v === undefined) return null;
  return logSafe(v, max);
}

const REPLY_CODE_RE = /(?:^|said: |: )([245]\d\d)[ -](?:([245]\.\d{1,3}\.\d{1,3})\b)?/;
const ENHANCED_RE = /(?:^|\s)([245]\.\d{1,3}\.\d{1,3})\b/;

/** "250 2.0.0 Ok" or "host x[ip] said: 550 5.1.1 unknown" -> code and enhanced code (RFC 3463). */
export function replyCodes(text: string): { code: number | null; enhanced: string | null } {
  const m = REPLY_CODE_RE.exec(text);
  if (m) return { code: Number(m[1]), enhanced: m[2] ?? null };
  const e = ENHANCED_RE.exec(text);
  return { code: null, enhanced: e ? e[1]! : null };
}
