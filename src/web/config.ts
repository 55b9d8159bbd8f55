// The `web` block of the configuration (imported by config/schema.ts).
import { z } from 'zod';
import { listenList } from '../config/listen.js';

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:]+):\d{1,5}$/, 'expected HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080');

const cidr = z
  .string()
  .regex(/^[0-9a-fA-F:.]+(\/\d{1,3})?$/, 'expected an IP address or network such as 10.0.0.0/8 or ::1');

/** A time zone Intl knows (IANA names such as Europe/Berlin, or UTC). */
function validZone(z: string): boolean {
  try { new Intl.DateTimeFormat('en', { timeZone: z }); return true; } catch { return false; }
}

export const webSettings = z.strictObject({
  listen: listenList(hostPort, 8080).default(['127.0.0.1:8080'])
    .describe('addresses the web UI (research, customer self-service, public reference pages, JSON API, /metrics) listens on: HOST:PORT, or a list of them; [] = no web server'),
  public_path: z.string().regex(/^\/[A-Za-z0-9._~/-]*\/$/, 'a path such as /r/ (starting and ending with "/")').nullable().default(null)
    .describe('path of the public reference pages (<path><REF>); null = the path of reply.public_url when that is set, else /r/. The page for reply.public_url https://mx.example/ref/ is served at /ref/<REF>'),
  secure_cookies: z.enum(['auto', 'always', 'never']).default('auto')
    .describe('Secure flag on the session cookie: auto = when the request came over https (X-Forwarded-Proto is believed only from trusted_proxies), always = behind a TLS proxy that does not say so'),
  trusted_proxies: z.array(cidr).default([])
    .describe('reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (client address for rate limits and /metrics access); [] = none'),
  session_ttl_min: z.number().int().min(5).max(10080).default(480)
    .describe('minutes a login stays valid without use; sessions survive a restart (<data_dir>/web-sessions.json holds hashes of their ids, mode 0600)'),
  login_max_failures: z.number().int().min(1).max(1000).default(5)
    .describe('failed logins of one account from one client address in login_window_min before that pair must wait: 1 s, then twice as long after each further failure, up to login_max_delay_min. Nothing is locked: the account stays open from other addresses'),
  login_address_max_failures: z.number().int().min(1).max(100000).default(20)
    .describe('failed logins from one client address, any account, in login_window_min before that address waits likewise (one address guessing many accounts)'),
  login_account_max_failures: z.number().int().min(2).max(100000).default(20)
    .describe('failed logins on one account, any address, in login_window_min before attempts from browsers that never logged in to it wait likewise (a guess spread over many addresses); one address counts at most login_max_failures, so it must be larger than that'),
  login_max_delay_min: z.number().int().min(1).max(1440).default(15)
    .describe('the longest wait the login throttle imposes, in minutes (Retry-After)'),
  login_window_min: z.number().int().min(1).max(1440).default(15)
    .describe('how long a failed login counts for the login throttle, in minutes'),
  public_requests_per_min: z.number().int().min(1).max(100000).default(30)
    .describe('requests to the public reference pages per client address per minute, then 429'),
  metrics_allow: z.array(cidr).default(['127.0.0.0/8', '::1'])
    .describe('networks allowed to read /metrics (Prometheus text format); [] = nobody'),
  research_threads: z.number().int().min(1).max(32).default(2)
    .describe('threads that run searches and reports, each with its own read-only ledger connection, so a slow query never holds up the SMTP sessions of the same process'),
  research_queue: z.number().int().min(0).max(10000).default(64)
    .describe('searches and reports waiting for a free research thread; beyond that the web server answers 503 (busy) at once'),
  research_timeout_s: z.number().int().min(1).max(3600).default(60)
    .describe('seconds a search or report may run; then its thread is stopped and the user gets 503 with a hint to narrow the search'),
  internal_domains: z.array(z.string().regex(/^(?=.{1,253}$)([A-Za-z0-9_-]{1,63}\.)*[A-Za-z0-9_-]{1,63}\.?$/, 'a domain name such as corp.example.net'))
    .default([])
    .describe('zones of the operator\'s own network that customers may not look up on the diagnostics page (besides the reserved ones: single labels, localhost, .local, .internal, .lan, .home.arpa, .arpa, .test ...) nor through a recheck; staff may check any name'),
  lang: z.enum(['en', 'de']).default('en')
    .describe('language of the pages when neither the language switch (a cookie) nor the browser\'s Accept-Language asks for English or German'),
  time_zone: z.string().refine(validZone, 'an IANA time zone such as Europe/Berlin or UTC').nullable().default(null)
    .describe('time zone of the times on the pages and in web reports until the browser says its own; null = the server\'s time zone'),
  users_file: z.string().nullable().default(null)
    .describe('web accounts (scrypt hashes), written by `mailproof user`, mode 0600; null = <data_dir>/web-users.json'),
}).superRefine((w, ctx) => {
  // One address alone must never slow the account for its owner elsewhere (web/login-throttle.ts).
  if (w.login_account_max_failures <= w.login_max_failures) {
    ctx.addIssue({ code: 'custom', path: ['login_account_max_failures'], message: `must be larger than web.login_max_failures (${w.login_max_failures}), or one address alone could slow the account down for its owner everywhere` });
  }
}).prefault({}).describe('the web UI served by `mailproof serve`');

export type WebSettings = z.infer<typeof webSettings>;
