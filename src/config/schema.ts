// The one configuration schema. Defaults and the documentation of every key
// live here; the README's key list and `mailproof config --defaults` are made
// from it, so they cannot drift apart.
import os from 'node:os';
import { z } from 'zod';
import { checkFailure, checkMode } from '../checks/settings.js';
import { settings as allowlist } from '../checks/allowlist/config.js';
import { settings as dnsbl } from '../checks/dnsbl/config.js';
import { settings as clientIdentity } from '../checks/client-identity/config.js';
import { settings as helo } from '../checks/helo/config.js';
import { settings as senderDomain } from '../checks/sender-domain/config.js';
import { settings as spf } from '../checks/spf/config.js';
import { settings as dmarc } from '../checks/dmarc/config.js';
import { settings as virus } from '../checks/virus/config.js';
import { settings as attachments } from '../checks/attachments/config.js';
import { settings as spam } from '../checks/spam/config.js';
import { RSPAMD_RBL_SYMBOLS } from '../scan/rspamd-settings.js';
import { settings as greylist } from '../checks/greylist/config.js';
import { settings as rate } from '../checks/rate/config.js';
import { pop3Settings } from '../pop3/config.js';
import { webSettings } from '../web/config.js';
import { listenList } from './listen.js';

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:]+):\d{1,5}$/, 'expected HOST:PORT, e.g. 127.0.0.1:2525 or [::1]:2525');

const domainName = z
  .string()
  .transform((s) => s.toLowerCase())
  .pipe(z.string().regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'expected a domain name such as example.com'));

// Local parts we create mailboxes for: dot-atom only (RFC 5322 section 3.4.1),
// which also makes them safe as directory names.
const localPart = z
  .string()
  .transform((s) => s.toLowerCase())
  .pipe(z.string().regex(/^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/, 'expected a plain local part such as info or first.last').max(64))
  .refine((s) => !s.includes('/'), 'a local part may not contain "/"');

const cidr = z
  .string()
  .regex(/^[0-9a-fA-F:.]+(\/\d{1,3})?$/, 'expected an IP address or network such as 10.0.0.0/8 or ::1');

const checkBase = {
  mode: checkMode.default('enforce'),
  on_error: checkFailure.default('tempfail'),
};

export const domainSchema = z.strictObject({
  mailboxes: z.array(localPart).default([]).describe('local parts with a mailbox in this domain'),
  aliases: z
    .record(localPart, z.union([z.string(), z.array(z.string()).min(1)]))
    .default({})
    .describe('local part -> target address(es); a target without "@" is a mailbox of the same domain'),
  delivery: z.strictObject({
    type: z.enum(['maildir', 'lmtp', 'smtp']).default('maildir')
      .describe('where accepted mail goes: the embedded Maildir, a mailbox server over LMTP (Dovecot), or a downstream SMTP server; 250 only after it has the message'),
    address: z.string().min(1).max(300).nullable().default(null)
      .describe('lmtp: HOST:PORT or a unix socket path (Debian Dovecot: /var/run/dovecot/lmtp); smtp: HOST:PORT; needed for lmtp and smtp'),
    timeout_ms: z.number().int().min(500).max(600000).default(30000)
      .describe('longest a connection, one reply, or a whole recipient verification may take; then 451 4.4.1'),
    tls: z.enum(['none', 'opportunistic', 'required']).default('opportunistic')
      .describe('smtp: STARTTLS if offered (opportunistic, no certificate check), always (required) or never; lmtp never uses TLS'),
    verify_cache_s: z.number().int().min(0).max(86400).default(60)
      .describe('with an empty mailboxes list, recipients are verified at RCPT by asking the target; a verdict is kept this long (0 = ask every time)'),
  }).prefault({}).describe('delivery target of this domain'),
}).superRefine((d, ctx) => {
  if (d.delivery.type !== 'maildir' && d.delivery.address === null) {
    ctx.addIssue({ code: 'custom', path: ['delivery', 'address'], message: `delivery.type ${d.delivery.type} needs delivery.address (HOST:PORT${d.delivery.type === 'lmtp' ? ' or a unix socket path' : ''})` });
  }
});

export const configSchema = z.strictObject({
  node: z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" and "-" only')
    .default(os.hostname().replace(/[^A-Za-z0-9._-]/g, '-') || 'node')
    .describe('name of this node in the ledger (a cluster has one ledger with events from many nodes)'),
  hostname: z.string().min(1).max(253).regex(/^[A-Za-z0-9.-]+$/, 'a host name such as mx1.example.net')
    .default(os.hostname().replace(/[^A-Za-z0-9.-]/g, '-') || 'localhost')
    .describe('the name this server gives in its greeting and Received: headers'),
  data_dir: z.string().min(1).default('/var/lib/mailproof')
    .describe('where the ledger, the Maildirs and the TLS key live unless set otherwise'),

  smtp: z.strictObject({
    listen: listenList(hostPort, 2525).default(['127.0.0.1:2525'])
      .describe('addresses the SMTP server listens on: HOST:PORT, or a list of them; [] = none (a cluster node for the web UI and research only)'),
    workers: z.union([z.literal('auto'), z.number().int().min(1).max(64)]).default(1)
      .describe('processes sharing the listening socket; "auto" = one per CPU core'),
    greeting_delay_ms: z.number().int().min(0).max(60000).default(0)
      .describe('wait this long before the 220 greeting; a client that talks first is an early talker and is refused (postscreen-style). 0 = off'),
    max_message_size: z.number().int().min(1024).default(25 * 1024 * 1024)
      .describe('bytes; larger messages get 552 5.3.4 (announced in EHLO SIZE, RFC 1870)'),
    max_recipients: z.number().int().min(1).max(10000).default(100)
      .describe('recipients per message; RFC 5321 section 4.5.3.1.8 asks for at least 100'),
    bare_line_ends: z.enum(['reject', 'normalize']).default('reject')
      .describe('a CR or LF in DATA that is not part of CRLF (RFC 5321 section 2.3.8): reject the message with 550 5.6.0 and a text that says why, or turn it into a line end; either way none leaves towards a delivery target as it came (SMTP smuggling)'),
    max_command_length: z.number().int().min(512).max(65536).default(4096)
      .describe('bytes per command line; RFC 5321 section 4.5.3.1.4 sets 512, extensions need more'),
    max_commands: z.number().int().min(10).default(1000).describe('commands per session before 421'),
    idle_timeout_s: z.number().int().min(1).default(300)
      .describe('seconds a client may stay silent; RFC 5321 section 4.5.3.2.7 suggests 5 minutes'),
    command_timeout_s: z.number().int().min(1).default(60)
      .describe('seconds one command line may take from its first byte to its end; a client that trickles bytes (which keeps idle_timeout_s from firing) gets 421 4.4.2'),
    time_to_data_s: z.number().int().min(1).default(300)
      .describe('seconds from the connection (or from the end of the previous message) to the DATA command; bounds how long a client can hold a connection slot without sending mail; then 421 4.4.2'),
    session_timeout_s: z.number().int().min(1).default(1800).describe('seconds a whole session may last'),
    max_connections: z.number().int().min(1).default(20000).describe('concurrent connections in all (per node)'),
    max_connections_per_ip: z.number().int().min(1).default(50)
      .describe('concurrent connections per client IP; IPv6 clients count per network of ipv6_prefix bits'),
    ipv6_prefix: z.number().int().min(32).max(128).default(64)
      .describe('IPv6 clients share max_connections_per_ip per network of this many bits (one end site usually owns a /64 or more, and can pick any address in it); 128 = per address'),
    shutdown_grace_s: z.number().int().min(0).default(30)
      .describe('on SIGTERM, how long running sessions may finish before they are cut'),
    trusted_networks: z.array(cidr).default([])
      .describe('peers allowed to use the PROXY protocol and XCLIENT (e.g. a load balancer)'),
    proxy_protocol: z.boolean().default(false)
      .describe('expect a PROXY protocol header from trusted_networks peers'),
    xclient: z.boolean().default(false).describe('offer XCLIENT to trusted_networks peers'),
    tls_cert: z.string().nullable().default(null).describe('PEM certificate chain; null = self-signed, made on first start in data_dir'),
    tls_key: z.string().nullable().default(null).describe('PEM private key for tls_cert'),
  }).prefault({}),

  domains: z.record(domainName, domainSchema)
    .default(() => ({ 'demo.test': domainSchema.parse({ mailboxes: ['demo'], aliases: { postmaster: 'demo' } }) }))
    .describe('the local domains this server is the MX for, with their mailboxes and aliases'),

  delivery: z.strictObject({
    maildir_root: z.string().nullable().default(null)
      .describe('root of the Maildirs (<root>/<domain>/<local>/); null = <data_dir>/maildir'),
    fsync: z.boolean().default(true)
      .describe('fsync each message and directory before the 250; turning this off loses mail on power failure'),
  }).prefault({}),

  pop3: pop3Settings,

  web: webSettings,

  research: z.strictObject({
    retry_window_s: z.number().int().min(1).max(30 * 86400).default(7200)
      .describe('how long after a temporary refusal (4xx) the sender\'s retry of the same message is expected; until then research says tempfail_pending, after it tempfail_not_retried, and a later attempt without the same Message-ID (other server network, other size, or later than this after the previous attempt) is another message'),
  }).prefault({}).describe('what `mailproof trace`, reports and the web research conclude from the ledger'),

  ledger: z.strictObject({
    journal_dir: z.string().nullable().default(null)
      .describe('the journal: every event is durable here before the reply that depends on it (one folder per node and stream); null = <data_dir>/journal'),
    store: z.string().nullable().default(null)
      .describe('the store research reads, built from the journal by the indexer of `serve` and by `mailproof index`: a SQLite file (null = <data_dir>/store.sqlite), or a cluster\'s PostgreSQL as postgres://USER@HOST:PORT/DATABASE (every node the same; the password never in the URL: store_password_file or the environment variable PGPASSWORD)'),
    store_password_file: z.string().nullable().default(null)
      .describe('with a PostgreSQL store: a file holding the password of its user (one line, readable by mailproof only); null = the environment variable PGPASSWORD, or none'),
    path: z.string().nullable().default(null)
      .describe('a ledger of the previous format (one SQLite table of events); when the file exists it is converted into the store at start, then renamed to <path>.converted; null = <data_dir>/ledger.sqlite'),
    journal_keep_hours: z.number().min(0).max(24 * 365).default(24)
      .describe('how long journal segments stay after the store has all of their events (a replay buffer); never longer than retention_days'),
    segment_mb: z.number().int().min(1).max(1024).default(64).describe('a journal segment is closed and the next one begun at this size (or after an hour)'),
    research_wait_ms: z.number().int().min(0).max(60000).default(3000)
      .describe('how long research (trace, report, web) waits for the store to take in what the journal had when the question came; past it, the answer says how far the store is behind'),
    retention_days: z.number().int().min(1).default(90)
      .describe('events older than this are removed by `mailproof prune` (they hold personal data)'),
  }).prefault({}),

  reply: z.strictObject({
    public_url: z.string().url().nullable().default(null)
      .describe('base URL of the public reference pages; the REF is appended (e.g. https://mx.example.net/ref/); the web server serves them at the path of this URL (web.public_path)'),
  }).prefault({}),

  dns: z.strictObject({
    servers: z.array(z.string().regex(/^(\[[0-9a-fA-F:.]+\]:\d{1,5}|[0-9a-fA-F:.]+)$/, 'expected an IP address, optionally with a port: 127.0.0.1, 127.0.0.1:5353, [::1]:53'))
      .nullable().default(null)
      .describe('recursive resolvers the checks ask (IP[:port]); null = the nameservers of /etc/resolv.conf'),
    timeout_ms: z.number().int().min(100).max(30000).default(2000).describe('per query and server, before the next try'),
    attempts: z.number().int().min(1).max(5).default(2).describe('rounds over all servers before a lookup is a temporary failure'),
    cache_entries: z.number().int().min(0).default(10000).describe('answers kept (by their TTL, failures not at all); 0 = no cache'),
    max_negative_ttl_s: z.number().int().min(0).default(300)
      .describe('longest a "does not exist" answer is cached, whatever its SOA says (RFC 2308)'),
  }).prefault({}),

  scanners: z.strictObject({
    clamd: z.strictObject({
      address: z.string().nullable().default(null)
        .describe('clamd to scan with: HOST:PORT or a unix socket path (Debian: /run/clamav/clamd.ctl); null = no virus scanning'),
      timeout_ms: z.number().int().min(100).default(30000).describe('longest one scan may take'),
      max_stream_bytes: z.number().int().min(1024).default(25 * 1024 * 1024)
        .describe("clamd's StreamMaxLength; keep both at least smtp.max_message_size"),
    }).prefault({}),
    spam: z.strictObject({
      backend: z.enum(['rspamd', 'spamd']).nullable().default(null).describe('content scanner; null = no spam scanning'),
      address: z.string().nullable().default(null)
        .describe('rspamd: base URL of the normal worker (http://127.0.0.1:11333); spamd: HOST:PORT or a unix socket path'),
      timeout_ms: z.number().int().min(100).default(20000).describe('longest one scan may take'),
      rspamd_skip: z.enum(['ours', 'none']).default('ours')
        .describe("rspamd only. ours: rspamd does not repeat, per message, what mailproof's own checks did (sent as rspamd Settings): SPF when checks.spf is enforced and judged the sender, DKIM, ARC and DMARC when checks.dmarc is enforced, the client-address block lists (rspamd_rbl_symbols) when checks.dnsbl is enforced and asked a block list; its URL and domain lists (SURBL, URIBL, DBL) always run, and those rules' scores (also rspamd's small bonus for a DKIM or SPF pass) then do not count. none: rspamd makes all its own checks again"),
      rspamd_rbl_symbols: z.array(z.string().regex(/^[A-Za-z0-9_]{1,100}$/, 'expected an rspamd symbol name such as RBL_SPAMHAUS')).default([...RSPAMD_RBL_SYMBOLS])
        .describe("rspamd only: the symbols of its rbl rules that look up the client's address (rspamd 3.4's stock rules by default); disabling one stops its rule's lookups. Add your own rules' names"),
    }).prefault({}),
  }).prefault({}),

  checks: z.strictObject({
    allowlist,
    dnsbl,
    rate,
    client_identity: clientIdentity,
    helo_syntax: z.strictObject({ ...checkBase }).prefault({}).describe('refuse a HELO/EHLO name that is neither a host name nor an address literal'),
    helo,
    sender_domain: senderDomain,
    spf,
    size: z.strictObject({ ...checkBase }).prefault({}).describe('refuse a declared SIZE over the limit'),
    relay: z.strictObject({ ...checkBase }).prefault({}).describe('refuse recipients outside the local domains'),
    recipient: z.strictObject({ ...checkBase }).prefault({}).describe('refuse unknown local recipients'),
    greylist,
    attachments,
    virus,
    dmarc,
    spam,
  }).prefault({}),

  log: z.strictObject({
    level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info')
      .describe('log lines (JSON, to stdout): info has one line per session and per transaction'),
  }).prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type DomainConfig = z.infer<typeof domainSchema>;
export type CheckSettings = { mode: 'enforce' | 'dry-run' | 'off'; on_error: 'tempfail' | 'pass' };
