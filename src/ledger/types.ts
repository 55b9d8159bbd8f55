// The ledger's event model (docs/design.md "Ledger events"). One schema for
// the gateway, the POP3 server and the log ingesters: an event is a fact that
// happened, named for what happened.

export type EventSource = 'gateway' | 'pop3' | 'postfix' | 'dovecot';

/** What happened. Dotted names: subject first, then what became of it. */
export type EventKind =
  | 'session.connect'
  | 'session.refused' // connection limit, shutdown, early talker: the session never got going
  | 'session.helo'
  | 'session.tls'
  | 'session.limit' // a per-session limit was hit (commands, time, line length)
  | 'session.protocol_error' // a command refused by the protocol layer (syntax, sequence, unknown command)
  | 'session.close'
  | 'mail.from'
  | 'rcpt.accepted'
  | 'rcpt.rejected'
  | 'data.received'
  | 'data.rejected'
  | 'check.result'
  | 'message.delivered'
  | 'message.recovered' // found in a Maildir after a crash without its delivery event (delivery/maildir/recover.ts)
  | 'message.delivery_failed'
  | 'pop3.login'
  | 'pop3.retr'
  | 'pop3.dele'
  | 'pop3.logout' // end of a POP3 session, with its counts
  | 'imap.login'
  | 'imap.logout'
  | 'imap.expunge'
  | 'mailbox.copy' // Dovecot mail_log: a message copied/moved to another folder
  | 'message.queued' // an ingested MTA (Postfix) took the message into its queue
  | 'ingest.line';

export type Verdict = 'pass' | 'skip' | 'flag' | 'allow' | 'reject' | 'tempfail' | 'error';

export interface LedgerEvent {
  /** Milliseconds since the epoch. */
  ts: number;
  node: string;
  source: EventSource;
  kind: EventKind;
  /** The connection (session) id. */
  session?: string | null;
  /** The transaction reference that appears in replies; see smtp/ref.ts. */
  ref?: string | null;
  client_ip?: string | null;
  client_ptr?: string | null;
  helo?: string | null;
  mail_from?: string | null;
  rcpt?: string | null;
  message_id?: string | null;
  size?: number | null;
  check_name?: string | null;
  verdict?: Verdict | null;
  smtp_code?: number | null;
  enhanced_code?: string | null;
  reply?: string | null;
  /** Free-form evidence (DNS answers, scanner replies, paths ...), stored as JSON. */
  details?: Record<string, unknown> | null;
}

/** A stored event: what was written plus its row id. */
export interface StoredEvent extends LedgerEvent {
  id: number;
}

export interface EventQuery {
  rcpt?: string;
  rcpt_domain?: string;
  mail_from?: string;
  mail_from_domain?: string;
  client_ip?: string;
  ref?: string;
  message_id?: string;
  /** Only events of these kinds. */
  kinds?: EventKind[];
  since?: number;
  until?: number;
  limit?: number;
  /** Newest events first, so that a limit keeps the newest (the default is oldest first). */
  newest_first?: boolean;
}

export interface QuietSessionQuery {
  client_ip?: string;
  host_domain?: string;
  since?: number;
  until?: number;
  limit?: number;
}

/** The write side, as the gateway sees it. */
export interface LedgerWriter {
  /**
   * Resolves once every event is committed; with durable (the default) also
   * fsynced, and with it every event appended before. Rejects when
   * the ledger cannot be written: the caller must then answer 4xx, since
   * nothing may be accepted or refused without a record.
   */
  append(events: LedgerEvent[], opts?: { durable?: boolean }): Promise<void>;
  close(): Promise<void>;
}

/**
 * For byRefs, bySessions and byMessageIds: `since`: the caller needs no event
 * before this time, so a store may leave earlier ones out (it need not). A
 * cluster store then looks only into the days from it on, instead of every
 * day it keeps.
 */
export interface LookupWindow { since?: number }

export interface LedgerReader {
  query(q: EventQuery): Promise<StoredEvent[]>;
  /** Events of the given transactions (refs), ordered by time. */
  byRefs(refs: string[], w?: LookupWindow): Promise<StoredEvent[]>;
  /** Events of the given sessions, ordered by time. */
  bySessions(sessions: string[], w?: LookupWindow): Promise<StoredEvent[]>;
  /** Events carrying one of these Message-IDs (mailbox access is joined to deliveries this way), ordered by time. */
  byMessageIds(ids: string[], w?: LookupWindow): Promise<StoredEvent[]>;
  /** Addresses of a domain that mail was accepted or delivered for in the window: the mailboxes that exist, as the ledger knows them (near misses). */
  recipients(domain: string, since: number, until?: number): Promise<string[]>;
  /**
   * The ends (session.close) of SMTP sessions that began no transaction (no
   * MAIL FROM), newest first: by client address, or by a host domain that
   * the HELO name or the PTR name equals or ends in (".domain").
   */
  quietSessions(q: QuietSessionQuery): Promise<StoredEvent[]>;
  /** Addresses of a domain refused as unknown (the recipient check, or a 5.1.1) in the window: the newest refusal per address and sender domain, newest first. */
  refusedRecipients(domain: string, since: number, until?: number): Promise<StoredEvent[]>;
  close(): Promise<void>;
}
