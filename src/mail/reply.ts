import { asciiSafe } from '../util/sanitize.js';

// A reply is a typed value, never a hand-built string (docs/design.md "Reply texts").
// Literal unions make a typo in a code a type error.
export type ReplyCode =
  | 250 | 252
  | 421 | 450 | 451 | 452 | 454
  | 500 | 501 | 502 | 503 | 550 | 552 | 553 | 554;

/** RFC 3463 enhanced status code: class.subject.detail. */
export type EnhancedCode = `${2 | 4 | 5}.${number}.${number}`;

export interface Reply {
  code: ReplyCode;
  enhanced: EnhancedCode;
  /** Public text: what happened and what the sender can do. Never internals. */
  text: string;
}

export interface RenderedReply {
  code: ReplyCode;
  enhanced: EnhancedCode;
  /** The line after the code: "<enhanced> <text> (ref REF[, URL])". */
  line: string;
}

// RFC 5321 section 4.5.3.1.5: a reply line is at most 512 octets including
// the code and CRLF. Keep a margin.
const MAX_LINE = 500;

export function render(reply: Reply, ref: string, publicUrl: string | null): RenderedReply {
  const tail = publicUrl ? ` (ref ${ref}, ${publicUrl}${ref})` : ` (ref ${ref})`;
  const head = `${reply.code} ${reply.enhanced} `;
  const room = MAX_LINE - head.length - tail.length;
  const text = asciiSafe(reply.text, Math.max(20, room - 3));
  return { code: reply.code, enhanced: reply.enhanced, line: `${reply.enhanced} ${text}${tail}` };
}

/**
 * The message could not be stored (spooling at DATA, or a Maildir write):
 * RFC 3463 4.3.0 / RFC 5321 451, our fault, the sender should retry. One
 * definition for the gateway and the delivery router, which both say it.
 */
export const STORE_FAILED: Reply = { code: 451, enhanced: '4.3.0', text: 'Temporary problem storing your message; please try again later' };

/** Checks that the class of code and enhanced code agree (RFC 3463 section 2). */
export function consistent(r: Reply): boolean {
  return String(r.code)[0] === r.enhanced[0];
}
