import { FINDINGS, type CheckWithFindings, type FindingOf } from '../checks/findings.js';
import type { StoredEvent } from '../ledger/types.js';

// Check findings -> diagnosis codes (docs/design.md "Diagnosis codes"), once,
// for the gateway's own check events and ingested Postfix refusals alike
// (ingest names the gateway's checks and findings, checks/findings.ts).
// The table is typed against each check's findings: a finding added, renamed
// or removed there fails to compile here until it has its code (or null).

/** The diagnosis codes (docs/design.md "Diagnosis codes"); explain.ts has their texts. */
export const CODES = [
  'delivered', 'fetched_and_deleted', 'delivered_not_fetched', 'virus', 'spam',
  'sender_ip_blocklisted', 'sender_dynamic_ip', 'sender_mx_is_ip', 'sender_domain_unresolvable',
  'spf_fail', 'dmarc_reject', 'unknown_recipient', 'message_too_large', 'mailbox_full',
  'tempfail_not_retried', 'tempfail_retried', 'tempfail_pending', 'access_not_recorded', 'no_attempt_seen',
  'likely_too_large', 'no_transaction',
] as const;
export type Code = (typeof CODES)[number];

interface Rule<F extends string> {
  /** Each finding's code; null: a refusal for this finding is no diagnosis of its own. */
  findings: Record<F, Code | null>;
  /** The code when the event records no finding, or one not listed (the gateway's own dnsbl, spf ... events name none). */
  other: Code | null;
  /** A flag (not a refusal) of this check counts; false: only a refusal does. */
  flag: boolean;
}

type Table = { [C in CheckWithFindings]: Rule<FindingOf<C>> };

export const DIAGNOSIS = {
  recipient: { findings: { unknown: 'unknown_recipient' }, other: 'unknown_recipient', flag: true },
  size: { findings: { too_large: 'message_too_large' }, other: 'message_too_large', flag: true },
  dnsbl: { findings: { listed: 'sender_ip_blocklisted' }, other: 'sender_ip_blocklisted', flag: true },
  client_identity: { findings: { dynamic_name: 'sender_dynamic_ip', no_ptr: null, no_fcrdns: null }, other: null, flag: true },
  sender_domain: {
    findings: {
      mx_is_ip: 'sender_mx_is_ip', some_mx_is_ip: 'sender_mx_is_ip',
      nxdomain: 'sender_domain_unresolvable', no_mail_host: 'sender_domain_unresolvable', null_mx: 'sender_domain_unresolvable',
      implicit_mx: null,
    },
    other: null,
    flag: true,
  },
  // Only refusals get here (see findingCode): an SPF refusal is the SPF story whatever word the result had.
  spf: {
    findings: { fail: 'spf_fail', softfail: 'spf_fail', temperror: 'spf_fail', permerror: 'spf_fail', neutral: 'spf_fail', none: 'spf_fail', pass: 'spf_fail' },
    other: 'spf_fail',
    flag: false,
  },
  dmarc: { findings: { reject: 'dmarc_reject' }, other: 'dmarc_reject', flag: false },
  virus: { findings: { infected: 'virus' }, other: 'virus', flag: true },
  // "I only sent a Word file" (docs/design.md): a macro or a program found at
  // DATA is the same finding as a signature hit; an encrypted archive, and
  // MIME and archive limits (no rule), are not.
  attachments: {
    findings: { macro: 'virus', content: 'virus', extension: 'virus', double_extension: 'virus', encrypted_archive: null },
    other: null,
    flag: true,
  },
  spam: { findings: { spam: 'spam' }, other: 'spam', flag: false },
  helo: { findings: { rejected: null }, other: null, flag: true },
  relay: { findings: { relay_denied: null }, other: null, flag: true },
  greylist: { findings: { greylisted: null, early_retry: null, passed: null }, other: null, flag: true },
} as const satisfies Table;

function isCheckWithFindings(name: string): name is CheckWithFindings {
  return Object.hasOwn(FINDINGS, name);
}

/** The component a check names when it failed itself (dns, clamd, the spam scanner). */
function componentOf(e: StoredEvent): unknown {
  return (e.details as { evidence?: { component?: unknown } } | null)?.evidence?.component;
}

/** What a check event found: its `finding`, for attachments its `rule`. */
function findingOf(e: StoredEvent): unknown {
  const ev = (e.details as { evidence?: { finding?: unknown; rule?: unknown } } | null)?.evidence;
  return e.check_name === 'attachments' ? ev?.rule : ev?.finding;
}

/**
 * What a check's event says, as a diagnosis code. Only refusals and flags
 * count (a pass says nothing is wrong).
 */
export function findingCode(e: StoredEvent): Code | null {
  if (e.kind !== 'check.result' || !e.check_name) return null;
  if (e.verdict !== 'reject' && e.verdict !== 'tempfail' && e.verdict !== 'flag') return null;
  if (!isCheckWithFindings(e.check_name)) return null;
  const rule: Rule<string> = DIAGNOSIS[e.check_name];
  if (e.verdict === 'flag' && !rule.flag) return null;
  // A 4xx because the check could not judge (its DNS lookup or scanner
  // failed: the event names the component; the recipient could not be
  // verified for now) found nothing: an SPF temperror is no "may not send",
  // clamd down is no virus, an unverified recipient is no unknown one.
  if (couldNotJudge(e)) return null;
  return checkCode(e);
}

/** A 4xx of a check that failed itself or could not verify (see findingCode). */
export function couldNotJudge(e: StoredEvent): boolean {
  return e.kind === 'check.result' && e.verdict === 'tempfail' && (componentOf(e) !== undefined || e.check_name === 'recipient');
}

/** The code of a check's refusal or flag as the check's table names it, whether or not the check could judge. */
export function checkCode(e: StoredEvent): Code | null {
  if (e.kind !== 'check.result' || !e.check_name) return null;
  if (e.verdict !== 'reject' && e.verdict !== 'tempfail' && e.verdict !== 'flag') return null;
  if (!isCheckWithFindings(e.check_name)) return null;
  const rule: Rule<string> = DIAGNOSIS[e.check_name];
  if (e.verdict === 'flag' && !rule.flag) return null;
  const finding = findingOf(e);
  return typeof finding === 'string' && Object.hasOwn(rule.findings, finding) ? rule.findings[finding] ?? null : rule.other;
}

/** The checks whose events can prove a code (research/explain.ts evidenceEvents). */
export function checksOf(code: string): string[] | undefined {
  const out: string[] = [];
  for (const [check, rule] of Object.entries(DIAGNOSIS) as [CheckWithFindings, Rule<string>][]) {
    if (rule.other === code || Object.values(rule.findings).includes(code as Code)) out.push(check);
  }
  return out.length ? out : undefined;
}
