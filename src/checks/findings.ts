// What each check found, by name: the `finding` in the evidence of its
// check.result events (for attachments the `rule`), and, for refusals read
// from Postfix and its policy services, the finding ingest gives the check of
// the same name. Research turns findings into diagnosis codes
// (research/diagnosis.ts), typed against these lists, so a finding renamed
// here and not there is a compile error instead of a lost diagnosis.
// Constants and types only: ingest and research import this without
// importing a check.

export const DNSBL_FINDINGS = ['listed'] as const;
export type DnsblFinding = (typeof DNSBL_FINDINGS)[number];

export const CLIENT_IDENTITY_FINDINGS = ['no_ptr', 'dynamic_name', 'no_fcrdns'] as const;
export type ClientIdentityFinding = (typeof CLIENT_IDENTITY_FINDINGS)[number];

export const SENDER_DOMAIN_FINDINGS = ['nxdomain', 'null_mx', 'mx_is_ip', 'some_mx_is_ip', 'implicit_mx', 'no_mail_host'] as const;
export type SenderDomainFinding = (typeof SENDER_DOMAIN_FINDINGS)[number];

/** The SPF results of RFC 7208 section 2.6 (policyd-spf logs them as they are). */
export const SPF_FINDINGS = ['pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror'] as const;
export type SpfFinding = (typeof SPF_FINDINGS)[number];

export const DMARC_FINDINGS = ['reject'] as const;
export type DmarcFinding = (typeof DMARC_FINDINGS)[number];

export const HELO_FINDINGS = ['rejected'] as const;
export type HeloFinding = (typeof HELO_FINDINGS)[number];

export const RELAY_FINDINGS = ['relay_denied'] as const;
export type RelayFinding = (typeof RELAY_FINDINGS)[number];

export const RECIPIENT_FINDINGS = ['unknown'] as const;
export type RecipientFinding = (typeof RECIPIENT_FINDINGS)[number];

export const SIZE_FINDINGS = ['too_large'] as const;
export type SizeFinding = (typeof SIZE_FINDINGS)[number];

export const GREYLIST_FINDINGS = ['greylisted', 'early_retry', 'passed'] as const;
export type GreylistFinding = (typeof GREYLIST_FINDINGS)[number];

export const VIRUS_FINDINGS = ['infected'] as const;
export type VirusFinding = (typeof VIRUS_FINDINGS)[number];

/** The attachments check records its finding as `rule`. */
export const ATTACHMENT_RULES = ['extension', 'double_extension', 'content', 'macro', 'encrypted_archive'] as const;
export type AttachmentRule = (typeof ATTACHMENT_RULES)[number];

export const SPAM_FINDINGS = ['spam'] as const;
export type SpamFinding = (typeof SPAM_FINDINGS)[number];

/** Every check's findings, by the check's name as the ledger records it. */
export const FINDINGS = {
  dnsbl: DNSBL_FINDINGS,
  client_identity: CLIENT_IDENTITY_FINDINGS,
  sender_domain: SENDER_DOMAIN_FINDINGS,
  spf: SPF_FINDINGS,
  dmarc: DMARC_FINDINGS,
  helo: HELO_FINDINGS,
  relay: RELAY_FINDINGS,
  recipient: RECIPIENT_FINDINGS,
  size: SIZE_FINDINGS,
  greylist: GREYLIST_FINDINGS,
  virus: VIRUS_FINDINGS,
  attachments: ATTACHMENT_RULES,
  spam: SPAM_FINDINGS,
} as const;

export type CheckWithFindings = keyof typeof FINDINGS;
export type FindingOf<C extends CheckWithFindings> = (typeof FINDINGS)[C][number];

/** A check and one of its findings, as ingest classifies a refusal. */
export type CheckFinding = { [C in CheckWithFindings]: { check: C; finding: FindingOf<C> } }[CheckWithFindings];
