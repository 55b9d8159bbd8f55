// What a content scanner for spam (rspamd or SpamAssassin's spamd) tells the
// gateway, in one shape for both backends, and the few helpers both clients
// share.
//
// The public reply to a sender may carry the score and the threshold, never
// the symbols: naming the rules that fired would let an abuser tune a message
// until it passes (docs/design.md "Reply texts"). Symbols and the raw reply are
// ledger evidence only.
import fs from 'node:fs';

export type SpamBackend = 'rspamd' | 'spamd';

/** One rule that fired, as the scanner named and scored it (ledger only). */
export interface SpamSymbol {
  name: string;
  /** The rule's contribution to the score; null when the backend did not say (spamd SYMBOLS). */
  score: number | null;
}

/** Why no score came back. */
export type SpamErrorCode =
  /** Could not connect (refused, unreachable). */
  | 'connect'
  /** No complete reply within the timeout. */
  | 'timeout'
  /** The message is larger than the client's maxMessageBytes (not sent). */
  | 'too_large'
  /** The scanner answered with an error (rspamd HTTP status, spamd EX_ code). */
  | 'scanner'
  /** The connection broke, or the reply was too large or could not be understood. */
  | 'protocol'
  /** The spooled message could not be read. */
  | 'io'
  /** The caller aborted (its signal). */
  | 'aborted';

export type SpamVerdict =
  | {
    kind: 'scored';
    backend: SpamBackend;
    /** The message's score. */
    score: number;
    /**
     * The score at which the backend calls the message spam: rspamd's
     * required_score (the "reject" action's threshold), spamd's required score.
     */
    threshold: number;
    /** The backend's own judgement: rspamd action "reject", spamd "Spam: True". */
    spam: boolean;
    /**
     * rspamd's action ("no action", "greylist", "add header", "rewrite subject",
     * "soft reject", "reject"); null for spamd, which has none.
     */
    action: string | null;
    symbols: SpamSymbol[];
  }
  | { kind: 'error'; backend: SpamBackend; code: SpamErrorCode; reason: string };

export type SpamResult = SpamVerdict & {
  /** The scanner's reply as received, bounded (ledger evidence); null when none came. */
  raw: string | null;
  /** Wall time from connect to the end of the reply (or the error). */
  ms: number;
  /** Message bytes sent. */
  bytes: number;
};

/** The SMTP envelope as the gateway saw it. rspamd uses it; spamd reads only the message. */
export interface SpamEnvelope {
  clientIp?: string;
  /** HELO/EHLO name. */
  helo?: string | null;
  /** Reverse DNS of the client; "unknown" when the lookup found none, null/absent when not looked up. */
  ptr?: string | null;
  /** Envelope sender; '' is the null reverse-path. */
  mailFrom?: string;
  rcpts?: readonly string[];
  /** The transaction's REF (rspamd logs it as the queue id). */
  queueId?: string;
  /** An authenticated submitter, if any. */
  user?: string | null;
}

/** What a client scans: a Buffer, or a message body as MessageFacts has it. */
export type SpamSource = Buffer | { buffer: Buffer } | { path: string };

/**
 * The scanner's own checks that mailproof's checks already made for this
 * message, so the scanner need not make them (and their DNS lookups)
 * again. rspamd takes them as per-request settings; spamd ignores them.
 */
export interface SkipChecks {
  spf?: boolean;
  dkim?: boolean;
  arc?: boolean;
  dmarc?: boolean;
  /** Block lists of the client address (not the URL and domain lists in the message). */
  rbl?: boolean;
}

export interface ScanOptions {
  signal?: AbortSignal;
  skip?: SkipChecks;
}

/** The interface a spam check depends on (injected as a CheckDeps service). */
export interface SpamScanner {
  readonly backend: SpamBackend;
  scan(source: SpamSource, envelope?: SpamEnvelope, opts?: ScanOptions): Promise<SpamResult>;
}

/** Size of the source in bytes, and its Buffer if it is in memory. */
export async function sourceInfo(source: SpamSource): Promise<{ size: number; buffer: Buffer | null; path: string | null }> {
  if (Buffer.isBuffer(source)) return { size: source.length, buffer: source, path: null };
  if ('buffer' in source) return { size: source.buffer.length, buffer: source.buffer, path: null };
  const st = await fs.promises.stat(source.path);
  return { size: st.size, buffer: null, path: source.path };
}

/**
 * A value a client sent (HELO name, address) made safe for a protocol header
 * line: control bytes (CR, LF, NUL ...) become '?', length is bounded. Non-ASCII
 * stays (SMTPUTF8 addresses) and is sent as its UTF-8 bytes.
 */
export function headerSafe(value: string, max = 512): string {
  let s = value.replace(/[\x00-\x1f\x7f]/g, '?');
  if (s.length > max) s = s.slice(0, max);
  return s;
}

/** Bounded one-line text for an error reason (it reaches log lines): every control byte escaped. */
export function reasonText(value: string, max = 200): string {
  const s = value.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return s.length > max ? s.slice(0, max) + '...' : s;
}

/** Bounded text for raw evidence: control bytes other than tab and LF escaped. */
export function evidenceText(value: string, max: number): string {
  const s = value.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return s.length > max ? s.slice(0, max) + '...' : s;
}
