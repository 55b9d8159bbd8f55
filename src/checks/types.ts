// The check interface (docs/design.md "Stages and delayed rejection"). A check
// declares its stage and returns a verdict; it never writes a reply or a
// ledger event itself: the runner does both, so dry-run mode, failure modes,
// delayed rejection and the audit trail are the same for every check.
import type { Reply } from '../mail/reply.js';
import type { LocalDomains } from '../domains/index.js';
import type { Mailbox } from '../mail/address.js';
import type { VerifyResult } from '../delivery/smtp/verify.js';
import type { Resolver } from '../dns/types.js';
import type { ClamdClient } from '../scan/clamd.js';
import type { SpamScanner } from '../scan/spam-types.js';
import type { Health } from '../health/index.js';
import type { ClusterDb } from './cluster-db.js';

export type Stage = 'connect' | 'helo' | 'mail' | 'rcpt' | 'data';
export const STAGES: readonly Stage[] = ['connect', 'helo', 'mail', 'rcpt', 'data'];

/** What the check saw, recorded in the ledger as it was at that moment. */
export type Evidence = Record<string, unknown>;

/** What any verdict may carry besides its kind. */
export interface VerdictExtras {
  evidence?: Evidence;
  /**
   * Header fields (complete "Name: value" lines, no line end, ASCII) to add
   * on top of the message if it is accepted, e.g. Authentication-Results
   * (RFC 8601) or a spam score. Added even in dry-run mode: they describe,
   * they do not decide.
   */
  headers?: string[];
  /**
   * The client's verified reverse DNS name as this check found it (null: none),
   * so later events and the Received: header carry it.
   */
  ptr?: string | null;
}

export type Verdict = VerdictExtras & (
  | { kind: 'pass' }
  | { kind: 'skip'; why: string }
  /** Noted (and later visible to other checks and headers), but no effect on the reply. */
  | { kind: 'flag'; tag: string; reason: string }
  /** An allow-list hit: checks that may be bypassed do not run after this one. */
  | { kind: 'allow'; reason: string }
  | { kind: 'reject' | 'tempfail'; reply: Reply; reason: string }
);

/**
 * Thrown by a check when a component it depends on (DNS, clamd, rspamd ...)
 * failed. The runner records the component by name and marks it down in
 * Health; the check's on_error setting decides the reply.
 */
export class ComponentError extends Error {
  constructor(readonly component: string, message: string) {
    super(message);
    this.name = 'ComponentError';
  }
}

export interface SessionFacts {
  id: string;
  clientIp: string;
  clientPort: number;
  localIp: string;
  localPort: number;
  /** Reverse DNS of the client, when a check or the session looked it up. */
  ptr: string | null;
  helo: string | null;
  tls: boolean;
}

export interface TransactionFacts {
  ref: string;
  /** Envelope sender; '' is the null reverse-path (bounces, RFC 5321 section 4.5.5). */
  mailFrom: string;
  /** SIZE= from MAIL FROM (RFC 1870), if the client declared one. */
  declaredSize: number | null;
  /** Recipients accepted so far. */
  rcpts: string[];
}

export interface MessageFacts {
  size: number;
  /** Header block as received (LF line ends), bounded. */
  header: Buffer;
  messageId: string | null;
  subject: string | null;
  /** The whole message (LF line ends); large messages are spooled to a file instead. */
  body: { buffer: Buffer } | { path: string };
}

/** Services a check may use. Network and clock are injected (docs/design.md "Stages and delayed rejection"). */
export interface CheckDeps {
  now(): number;
  domains: LocalDomains;
  maxMessageSize: number;
  /** Our own host name (config hostname): a HELO claiming it is a lie. */
  hostname: string;
  /** Where checks keep state that must survive a restart (greylisting). */
  dataDir: string;
  /**
   * The cluster's PostgreSQL (ledger.store = postgres://...), for state the
   * nodes share: greylisting, rate counts with checks.rate.scope = cluster.
   * null with a SQLite store: every node keeps its own.
   */
  cluster: ClusterDb | null;
  /** Caching DNS resolver (config dns.*). */
  resolver: Resolver;
  /** null when no clamd is configured (scanners.clamd.address). */
  clamd: ClamdClient | null;
  /** null when no spam scanner is configured (scanners.spam.backend). */
  spam: SpamScanner | null;
  health: Health;
  /**
   * Asks a domain's delivery target (LMTP/SMTP) whether a recipient exists,
   * for domains without a mailboxes list (reject_unverified_recipient).
   * null: no such domain configured.
   */
  verify: ((mailbox: Mailbox) => Promise<VerifyResult>) | null;
}

export interface CheckContext {
  stage: Stage;
  session: SessionFacts;
  tx: TransactionFacts | null;
  /** The recipient under test, at the rcpt stage. */
  rcpt: string | null;
  message: MessageFacts | null;
  /** Tags flagged by earlier checks in this transaction. */
  flags: ReadonlySet<string>;
  /**
   * Verdicts of checks that already ran in this session and transaction, by
   * check name (e.g. the SPF result for the DATA stage's Authentication-Results).
   */
  earlier: ReadonlyMap<string, Verdict>;
  deps: CheckDeps;
}

export interface Check {
  readonly name: string;
  readonly stage: Stage;
  /**
   * false for checks that an allow-list must never skip: relay refusal and
   * recipient existence are not spam checks, whoever the sender is.
   */
  readonly bypassable: boolean;
  /** Longest the runner waits before it treats the check as failed. */
  readonly timeoutMs?: number;
  /**
   * The outside component the check depends on ('dns', 'clamd', 'rspamd' ...):
   * a run that ends in an error or timeout marks it down in Health, a run
   * that ends in a verdict marks it up.
   */
  readonly component?: string;
  run(ctx: CheckContext): Promise<Verdict> | Verdict;
  /**
   * Releases what the check holds open (a state file): called once no
   * generation of sessions uses it any more (runtime/generation.ts).
   */
  close?(): void;
}

/** What the runner recorded about one check run; becomes a check.result event. */
export interface CheckRecord {
  check: string;
  stage: Stage;
  verdict: Verdict | { kind: 'error'; reason: string; component?: string };
  /** dry-run: the verdict was recorded but not applied. */
  dryRun: boolean;
  ms: number;
}

/** The decision a stage produced: what to reply, and which check said so. */
export interface Decision {
  check: string;
  stage: Stage;
  kind: 'reject' | 'tempfail';
  reply: Reply;
  reason: string;
}
