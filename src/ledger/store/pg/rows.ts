// Rows for COPY ... FROM STDIN in PostgreSQL's text format: columns split by
// a tab, rows by a newline, "\N" for NULL, and backslash escapes for a
// backslash, tab, newline and carriage return in values (PostgreSQL manual,
// COPY, "Text Format"). Values are attacker-controlled (addresses, HELO
// names): a stray tab or newline must never shift a column or start a row.
// PostgreSQL's text cannot hold NUL; it becomes U+FFFD here and in every
// lookup (pgText), so a term with one is still found.
import { createHash } from 'node:crypto';

export const pgText = (s: string): string => (s.includes('\u0000') ? s.replace(/\u0000/g, '\uFFFD') : s);

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function field(v: string | number | Buffer | null): string {
  if (v === null) return '\\N';
  if (typeof v === 'number') return String(v);
  // bytea in hex; the backslash of "\x" is escaped for COPY.
  if (Buffer.isBuffer(v)) return '\\\\x' + v.toString('hex');
  return pgText(v).replace(/[\\\t\n\r]/g, (c) => ESCAPES[c]!);
}

/** One COPY text row. */
export function copyRow(values: (string | number | Buffer | null)[]): string {
  let s = '';
  for (let i = 0; i < values.length; i++) s += (i ? '\t' : '') + field(values[i]!);
  return s + '\n';
}

/**
 * A session's id in the cluster store: 48 bits of a hash of its key, so that
 * every node computes it alone, without a round trip. Two keys may share an
 * id; that costs a few extra rows read, never a wrong answer, since research
 * keeps only events whose own fields match what it asked for.
 */
export function sessionId(key: string): number {
  return createHash('sha1').update(key).digest().readUIntBE(0, 6);
}
