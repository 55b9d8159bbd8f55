import type { Mailbox } from '../domains/index.js';

/** An accepted message on its way to the mailboxes. */
export interface OutgoingMessage {
  /** Header lines we add in front (Received:, later Authentication-Results:), LF line ends. */
  prefix: Buffer;
  /** The message as received (LF line ends): in memory, or spooled for large ones. */
  body: { buffer: Buffer } | { path: string };
  size: number;
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
