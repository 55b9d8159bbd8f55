import type { Mailbox } from '../mail/address.js';
import type { Reply } from '../mail/reply.js';

/** An accepted message on its way to the mailboxes. */
export interface OutgoingMessage {
  /** Header lines we add in front (Received:, later Authentication-Results:), LF line ends. */
  prefix: Buffer;
  /**
   * Header lines only the final delivery adds (Return-Path, RFC 5321 section
   * 4.4), written in front of prefix by the Maildir target; a relay to LMTP
   * or SMTP leaves them to the server that delivers.
   */
  finalPrefix?: Buffer;
  /** The message as received (LF line ends): in memory, or spooled for large ones. */
  body: { buffer: Buffer } | { path: string };
  size: number;
  /** The sender's Message-ID (normalised), for recognising a retry of a message a crash left unanswered. */
  messageId?: string | null;
  /** Offset in body where the message's body begins, after its header block. */
  bodyStart?: number;
}

export interface StoredCopy {
  mailbox: Mailbox;
  /** Where it lies now, for the ledger. */
  location: string;
}

/**
 * A delivery target stores a message for all its recipients or for none:
 * a partial store followed by a 4xx would give duplicates on the retry.
 */
export interface DeliveryTarget {
  deliver(msg: OutgoingMessage, mailboxes: Mailbox[]): Promise<StoredCopy[]>;
}

export class DeliveryError extends Error {
  constructor(message: string, readonly temporary: boolean, override readonly cause?: unknown) {
    super(message);
    this.name = 'DeliveryError';
  }
}

/** The envelope as the gateway accepted it, for targets that speak SMTP/LMTP. */
export interface Envelope {
  /** '' is the null reverse-path. */
  mailFrom: string;
  /** The transaction's REF, for the ledger and the duplicate memory. */
  ref: string;
}

/** A reply from a downstream server, as received (untrusted: clean before use). */
export interface DownstreamReply {
  code: number | null;
  enhanced: string | null;
  text: string;
}

/** One mailbox the target could not take the message for. */
export interface FailedCopy {
  mailbox: Mailbox;
  /** Our reply for this failure (mapped from the downstream code, never its text). */
  reply: Reply;
  temporary: boolean;
  /** 'maildir' | 'lmtp' | 'smtp'. */
  target: string;
  /** Ledger details: address, downstream reply (sanitized), ms ... */
  details: Record<string, unknown>;
}

export interface DeliveredCopy extends StoredCopy {
  target: string;
  details: Record<string, unknown>;
}

/** What became of each mailbox: stored or failed, never both. */
export interface DeliveryReport {
  stored: DeliveredCopy[];
  failed: FailedCopy[];
}

/**
 * A target that answers per mailbox: LMTP gives one reply per recipient after
 * DATA (RFC 2033 section 4.2), an SMTP server may refuse some recipients at
 * RCPT. Nothing thrown: every mailbox ends up in stored or failed.
 */
export interface PerRecipientTarget {
  deliverEach(msg: OutgoingMessage, mailboxes: Mailbox[], env: Envelope): Promise<DeliveryReport>;
}
