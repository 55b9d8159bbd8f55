// The web server of `mailproof serve`: staff research, customer self-service
// (scoped to the customer's domains), the public reference pages that the
// reply texts link to, a JSON API and /metrics. Server-rendered HTML in the
// viewer's language (web/lang.ts) with one small same-origin script (local
// times), so a strict Content-Security-Policy holds.
// Not report/index.js: that loads pdfkit, which waits for the first download.
import { reportRefusal } from '../report/refusal.js';
import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyFormbody from '@fastify/formbody';
import { getServers } from 'node:dns';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ResolvedConfig } from '../config/load.js';
import type { LedgerReader } from '../ledger/types.js';
import type { Logger } from '../log/logger.js';
import type { DomainDiagnosis, IpDiagnosis } from '../dnscheck/diagnostics.js';
import type { Lang } from '../research/explain.js';
import type { SearchFilter, SearchResult } from '../research/search.js';
import { nonPublicAddress, nonPublicName } from '../dns/public-name.js';
import { visibleDomainDiagnosis, visibleIpDiagnosis } from '../research/visibility.js';
import { REF_PATTERN } from '../mail/ref.js';
import { blockListOf, inList } from '../util/cidr.js';
import { logSafe } from '../util/sanitize.js';
import { FilterError, filterErrorText, normalizeRef, parseFilter } from '../research/filters.js';
import { href, html, type Html } from './html.js';
import { isIP } from 'node:net';
import { textsOf, type T, type TextKey, type Params } from './i18n/index.js';
import { LANG_COOKIE, negotiateLang, serverTimeZone, TZ_COOKIE, validTimeZone } from './lang.js';
import { journeysCsv } from './csv.js';
import type { ViewContext } from './views/format.js';
import { LOCAL_TIME_JS, page } from './views/layout.js';
import { CSS } from './views/style.js';
import { loginForm } from './views/login.js';
import { findForm, PAGE_SIZES, results, searchForm, SEARCH_FIELDS } from './views/search.js';
import { journeyView, type RecheckView } from './views/journey.js';
import { diagnosticsForm, domainResult, ipResult } from './views/diagnostics.js';
import { publicPage } from './views/public.js';
import type { LedgerMetrics } from './metrics.js';
import { configuredMailboxes, researchSettings } from '../research/settings.js';
import { inlineResearch, ResearchUnavailable, type RenderedReport, type ReportOptions, type Research } from './research.js';
import type { Scope } from '../research/service.js';
import { DeviceCookies, LoginThrottle } from './login-throttle.js';
import { clientKey, FailureCounter, SessionStore } from './sessions.js';
import type { User, UserStore } from './users.js';
import { OverviewCache, overviewPage } from './overview-page.js';

/** The report module's entry point (src/report/index.ts), injected so the web server does not depend on it. */
export type RenderReport = (result: SearchResult, opts: ReportOptions) => Promise<RenderedReport>;

export interface WebDeps {
  cfg: ResolvedConfig;
  /** Research in worker threads (research-pool.ts), as `serve` runs it; without it, research runs inline on `reader`. */
  research?: Research;
  reader?: LedgerReader;
  users: UserStore;
  log?: Logger;
  /** DNS diagnostics (research/diagnostics.ts checkDomain / checkIp, bound to the gateway's resolver); absent = 501. */
  checks?: { domain(name: string): Promise<DomainDiagnosis>; ip(addr: string): Promise<IpDiagnosis> };
  /** Report rendering; absent = the report routes answer 501. */
  renderReport?: RenderReport;
  metrics?: LedgerMetrics | null;
  /** The login sessions; `serve` gives one kept in the data directory (web/index.ts), absent = in memory. Written at close. */
  sessions?: SessionStore;
  now?: () => number;
}

export const SESSION_COOKIE = 'mp_session';
/** "This browser logged in to this account before": a pass through the account bound of the login throttle. */
export const DEVICE_COOKIE = 'mp_device';
const DEVICE_TTL_S = 90 * 86400;

/** "12 seconds", "4 minutes": the wait of a throttled login in words. */
function waitText(s: number, t: T): string {
  if (s < 120) return t(s === 1 ? 'wait.second_one' : 'wait.second_other', { n: s });
  return t('wait.minutes', { n: Math.ceil(s / 60) });
}
/** Longest query string, and longest single value in it. */
const MAX_URL = 4096;
const MAX_VALUE = 320;

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

interface Auth { user: User; scope: Scope; sessionId: string | null }

/** An error for the user: the English message for logs and the API, a catalogue key for the page in the viewer's language. */
class HttpError extends Error {
  constructor(readonly statusCode: number, message: string, readonly key?: TextKey, readonly params?: Params, readonly words?: (lang: Lang) => string) { super(message); }
  text(t: T, lang: Lang): string { return this.words ? this.words(lang) : this.key ? t(this.key, this.params) : this.message; }
}

/** The public path of the reference pages: web.public_path, else the path of reply.public_url, else /r/. */
export function publicPathOf(cfg: ResolvedConfig): string {
  if (cfg.web.public_path) return cfg.web.public_path;
  if (cfg.reply.public_url) {
    try {
      const u = new URL(cfg.reply.public_url);
      if (u.pathname.endsWith('/') && !u.search && !u.hash && /^\/[A-Za-z0-9._~/-]*$/.test(u.pathname)) return u.pathname;
    } catch { /* validated by the schema */ }
  }
  return '/r/';
}

function langOf(v: unknown): Lang {
  return v === 'de' ? 'de' : 'en';
}

/** This request's address with `lang` set to the other language: the switch. GET pages only (a POST answer links its GET page). */
function switchHref(req: FastifyRequest, lang: Lang, path?: string): string {
  const u = new URL(req.url, 'http://x');
  u.searchParams.set('lang', lang === 'de' ? 'en' : 'de');
  return (path ?? u.pathname) + u.search;
}

/** One string per key (the first, if repeated); too-long values are refused, not cut (a cut address would search for something else). */
function queryOf(req: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((req.query ?? {}) as Record<string, unknown>)) {
    const s = Array.isArray(v) ? v[0] : v;
    if (typeof s !== 'string') continue;
    if (s.length > MAX_VALUE) throw new HttpError(400, `the value of ${k} is longer than ${MAX_VALUE} characters`, 'error.value_too_long', { max: MAX_VALUE });
    out[k] = s.trim();
  }
  return out;
}

const WEB_MAX_LIMIT = 1000;

function isKey(v: string): v is TextKey {
  return /^[a-z_]+\.[a-z_.]+$/.test(v);
}

function filterOf(q: Record<string, string>): SearchFilter {
  const values: Record<string, string | undefined> = {};
  for (const [k] of SEARCH_FIELDS) values[k] = q[k] || undefined;
  values.outcome = q.outcome || undefined;
  values.limit = q.limit || undefined;
  let f: SearchFilter;
  try {
    f = parseFilter(values);
  } catch (err) {
    // Research's words name the fields, as the form and the API do.
    if (err instanceof FilterError) throw new HttpError(400, err.message, undefined, undefined, (lang) => filterErrorText(err, lang));
    throw err;
  }
  // A page of the UI or one API answer: 1000 journeys at most (the default).
  if (f.limit !== undefined && f.limit > WEB_MAX_LIMIT) throw new HttpError(400, `limit must be at most ${WEB_MAX_LIMIT}`, 'error.limit', { max: WEB_MAX_LIMIT });
  return f;
}

export async function buildWebApp(deps: WebDeps): Promise<FastifyInstance> {
  const { cfg, users } = deps;
  const w = cfg.web;
  const sessions = deps.sessions ?? new SessionStore(w.session_ttl_min * 60e3, deps.now);
  const throttle = new LoginThrottle({
    pairFailures: w.login_max_failures, addressFailures: w.login_address_max_failures, accountFailures: w.login_account_max_failures,
    windowMs: w.login_window_min * 60e3, maxDelayMs: w.login_max_delay_min * 60e3, now: deps.now,
  });
  const devices = new DeviceCookies(DEVICE_TTL_S * 1000, deps.now);
  const publicHits = new FailureCounter(w.public_requests_per_min, 60e3, deps.now);
  const metricsAllow = blockListOf(w.metrics_allow);
  const publicPath = publicPathOf(cfg);
  const mailboxes = configuredMailboxes(cfg);
  const research = deps.research ?? (deps.reader ? inlineResearch(deps.reader, mailboxes, researchSettings(deps.cfg)) : null);
  if (!research) throw new Error('buildWebApp needs research or a ledger reader');

  const app = Fastify({
    logger: false,
    // X-Forwarded-* only from the configured proxies: the client address
    // drives the rate limits and /metrics access.
    trustProxy: w.trusted_proxies.length ? w.trusted_proxies : false,
    bodyLimit: 16 * 1024,
    routerOptions: { maxParamLength: 256 },
    return503OnClosing: true,
  });
  await app.register(fastifyCookie);
  await app.register(fastifyFormbody);
  await app.register(fastifyCsrf, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: 'mp_csrf',
    cookieOpts: { path: '/', sameSite: 'strict', httpOnly: true },
  });

  const secure = (req: FastifyRequest): boolean => w.secure_cookies === 'always' || (w.secure_cookies === 'auto' && req.protocol === 'https');
  const csrfToken = (req: FastifyRequest, reply: FastifyReply): string => reply.generateCsrf({ path: '/', sameSite: 'strict', httpOnly: true, secure: secure(req) });

  // The last write of the sessions, after the last request (fastify closes the server first).
  app.addHook('onClose', async () => { sessions.close(); });
  app.addHook('onRequest', async (req) => {
    if (req.url.length > MAX_URL) throw new HttpError(414, 'the address is too long');
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) reply.header(k, v);
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });

  /** Who is asking: a session cookie, or an API bearer token. The account is read again on every request, so a removed account or changed domains take effect at once. */
  const authOf = (req: FastifyRequest): Auth | null => {
    const authz = req.headers.authorization;
    if (typeof authz === 'string' && /^Bearer /i.test(authz)) {
      const u = users.byToken(authz.slice(7).trim());
      return u ? { user: u, scope: u.role === 'staff' ? null : u.domains, sessionId: null } : null;
    }
    const sid = req.cookies[SESSION_COOKIE];
    const s = sessions.get(sid);
    if (!s) return null;
    const u = users.get(s.user);
    if (!u) { sessions.destroy(s.id); return null; }
    return { user: u, scope: u.role === 'staff' ? null : u.domains, sessionId: s.id };
  };

  // DNS diagnostics as the account may run them: staff any name; customers
  // public names and addresses only, and no internals in the answer, since
  // the gateway's resolver also knows the operator's own network.
  const resolvers = cfg.dns.servers ?? getServers();
  const checkDomain = async (a: Auth, name: string): Promise<DomainDiagnosis> => {
    if (a.scope !== null) {
      const why = nonPublicName(name, w.internal_domains);
      if (why) throw new HttpError(400, `Customer accounts can check public names only: ${why}.`);
    }
    const r = await deps.checks!.domain(name);
    return a.scope === null ? r : visibleDomainDiagnosis(r, resolvers);
  };
  const checkIp = async (a: Auth, addr: string): Promise<IpDiagnosis> => {
    if (a.scope !== null) {
      const why = nonPublicAddress(addr);
      if (why) throw new HttpError(400, `Customer accounts can check public addresses only: ${why}.`);
    }
    const r = await deps.checks!.ip(addr);
    return a.scope === null ? r : visibleIpDiagnosis(r, resolvers);
  };

  /** The viewer's language (?lang=, the switch's cookie, Accept-Language, web.lang) and time zone (the browser's cookie, web.time_zone, the server's). */
  const defaultZone = w.time_zone ?? serverTimeZone();
  const viewOf = (req: FastifyRequest, reply: FastifyReply | null, a: Auth | null): ViewContext => {
    const q = (req.query ?? {}) as Record<string, unknown>;
    const asked = typeof q.lang === 'string' ? q.lang : undefined;
    const lang = negotiateLang({ query: asked, cookie: req.cookies[LANG_COOKIE], acceptLanguage: req.headers['accept-language'], fallback: w.lang });
    // The switch is remembered, so the next page and the next visit keep it.
    if (reply && asked === lang && req.cookies[LANG_COOKIE] !== lang) {
      reply.setCookie(LANG_COOKIE, lang, { path: '/', sameSite: 'strict', httpOnly: true, secure: secure(req), maxAge: 365 * 86400 });
    }
    const tz = req.cookies[TZ_COOKIE];
    return { lang, t: textsOf(lang), timeZone: validTimeZone(tz) ? tz : defaultZone, staff: a !== null && a.scope === null };
  };
  const sendPage = (reply: FastifyReply, status: number, body: string): FastifyReply => reply.code(status).header('vary', 'accept-language, cookie').type('text/html; charset=utf-8').send(body);
  /** A page outside a login (login form, errors, the public page). */
  const plainPage = (req: FastifyRequest, reply: FastifyReply, status: number, title: TextKey | string, body: Html, ctx = viewOf(req, reply, null), withSwitch = true): FastifyReply =>
    sendPage(reply, status, page({ title: isKey(title) ? ctx.t(title) : title, lang: ctx.lang, t: ctx.t, switchHref: withSwitch && req.method === 'GET' ? switchHref(req, ctx.lang) : null }, body));
  const userPage = (req: FastifyRequest, reply: FastifyReply, a: Auth, ctx: ViewContext, title: string, body: Html, o: { status?: number; switchPath?: string } = {}): FastifyReply =>
    sendPage(reply, o.status ?? 200, page({
      title, lang: ctx.lang, t: ctx.t, user: { name: a.user.name, role: a.user.role }, csrf: csrfToken(req, reply),
      switchHref: req.method === 'GET' || o.switchPath ? switchHref(req, ctx.lang, o.switchPath) : null,
    }, body));

  /** Page routes: no session, off to the login form. */
  const pageAuth = (req: FastifyRequest, reply: FastifyReply): Auth | null => {
    const a = authOf(req);
    if (!a) void reply.redirect('/login', 303);
    return a;
  };
  const apiAuth = (req: FastifyRequest, reply: FastifyReply): Auth | null => {
    const a = authOf(req);
    if (!a) void reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'login required' });
    return a;
  };

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const api = req.url.startsWith('/api/');
    const ctx = viewOf(req, null, null);
    if (err instanceof ResearchUnavailable) {
      // Busy or too slow: the operator sees it in the log (research-pool.ts), the user a text and a time to come back.
      reply.header('retry-after', '60');
      if (api) return reply.code(503).send({ error: err.message });
      return plainPage(req, reply, 503, 'error.busy_title', html`<p>${ctx.t('error.busy')}</p>`, ctx);
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) deps.log?.error({ err: err.message, url: req.url.slice(0, 200) }, 'web request failed');
    // CSRF failures and the like: a neutral text, never the internals.
    const csrf = err.code?.startsWith('FST_CSRF') === true;
    const msg = csrf ? 'The form was stale or did not come from this site; reload the page and try again.'
      : status >= 500 ? 'Internal error.' : err.message;
    if (api) return reply.code(status).send({ error: msg });
    const text = csrf ? ctx.t('error.csrf') : status >= 500 ? ctx.t('error.internal') : err instanceof HttpError ? err.text(ctx.t, ctx.lang) : status === 404 ? ctx.t('error.not_found') : err.message;
    return plainPage(req, reply, status, status === 403 ? 'error.refused_title' : 'error.title', html`<p>${text}</p><p><a href="/">${ctx.t('error.back')}</a></p>`, ctx);
  });
  const notFound = (req: FastifyRequest, reply: FastifyReply, api = false): FastifyReply => {
    if (api) return reply.code(404).send({ error: 'not found' });
    const ctx = viewOf(req, null, null);
    // No language switch: it would carry the address, and an unknown REF must look like another customer's.
    return plainPage(req, reply, 404, 'error.not_found_title', html`<p>${ctx.t('error.not_found')}</p><p><a href="/search">${ctx.t('error.back_search')}</a></p>`, ctx, false);
  };
  app.setNotFoundHandler((req, reply) => notFound(req, reply, req.url.startsWith('/api/')));

  app.get('/static/style.css', async (_req, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(CSS));
  app.get('/static/local-time.js', async (_req, reply) => reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').send(LOCAL_TIME_JS));

  // --- login / logout -------------------------------------------------------
  app.get('/login', async (req, reply) => {
    if (authOf(req)) return reply.redirect('/', 303);
    const ctx = viewOf(req, reply, null);
    return plainPage(req, reply, 200, 'login.title', loginForm(csrfToken(req, reply), null, ctx.t), ctx);
  });

  app.post('/login', { preHandler: app.csrfProtection }, async (req, reply) => {
    const ctx = viewOf(req, reply, null);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const name = typeof body.name === 'string' ? body.name.trim().toLowerCase().slice(0, 64) : '';
    const password = typeof body.password === 'string' ? body.password.slice(0, 1024) : '';
    const address = clientKey(req.ip);
    const gate = throttle.check(name, address, devices.valid(req.cookies[DEVICE_COOKIE], name));
    if (!gate.ok) {
      // Once per burst: a flood of refused attempts is one line, not thousands.
      if (gate.announce) deps.log?.warn({ ip: req.ip, account: logSafe(name, 64), by: gate.by, failures: gate.failures, retry_after_s: gate.retryAfterS }, 'web login throttled: too many failures');
      return plainPage(req, reply.header('retry-after', String(gate.retryAfterS)), 429, 'login.title',
        loginForm(csrfToken(req, reply), ctx.t('login.throttled', { wait: waitText(gate.retryAfterS, ctx.t) }), ctx.t), ctx);
    }
    const user = name && password ? await users.verify(name, password) : null;
    if (!user) {
      throttle.failed(name, address);
      deps.log?.info({ ip: req.ip, account: logSafe(name, 64) }, 'web login failed');
      // One message for an unknown account and a wrong password.
      return plainPage(req, reply, 401, 'login.title', loginForm(csrfToken(req, reply), ctx.t('login.wrong'), ctx.t), ctx);
    }
    throttle.succeeded(name, address);
    reply.setCookie(DEVICE_COOKIE, devices.issue(user.name), { path: '/login', httpOnly: true, sameSite: 'strict', secure: secure(req), maxAge: DEVICE_TTL_S });
    // A fresh id on every login (no session fixation).
    sessions.destroy(req.cookies[SESSION_COOKIE]);
    const s = sessions.create(user);
    deps.log?.info({ ip: req.ip, account: user.name }, 'web login');
    reply.setCookie(SESSION_COOKIE, s.id, { path: '/', httpOnly: true, sameSite: 'strict', secure: secure(req), maxAge: w.session_ttl_min * 60 });
    return reply.redirect('/', 303);
  });

  app.post('/logout', { preHandler: app.csrfProtection }, async (req, reply) => {
    sessions.destroy(req.cookies[SESSION_COOKIE]);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return reply.redirect('/login', 303);
  });

  // --- research pages ---------------------------------------------------------
  const searchPage = async (req: FastifyRequest, reply: FastifyReply) => {
    const a = pageAuth(req, reply);
    if (!a) return reply;
    const ctx = viewOf(req, reply, a);
    const q = queryOf(req);
    const asked = SEARCH_FIELDS.some(([k]) => q[k]) || q.outcome;
    let body: Html = html``;
    if (asked) {
      try {
        const f = filterOf(q);
        // The page's first answer: the newest PAGE_SIZES[0]; a busy domain's 1000 take seconds.
        f.limit ??= PAGE_SIZES[0];
        const r = await research.search(f, a.scope, ctx.lang);
        body = results(r, ctx, { q, limit: f.limit, reports: !!deps.renderReport });
      } catch (err) {
        if (!(err instanceof HttpError)) throw err;
        body = html`<p class="error">${err.text(ctx.t, ctx.lang)}</p>`;
      }
    }
    return userPage(req, reply, a, ctx, ctx.t('search.title'), html`${searchForm(q, ctx, a.scope)}${body}`);
  };
  app.get('/search', searchPage);

  // One field on the start page: an address, a domain, an IP address or a REF, sent to the search with the field it belongs in.
  app.get('/find', async (req, reply) => {
    const v = (queryOf(req).q ?? '').trim();
    const ref = v.includes('@') || v.includes('.') || v.includes(':') ? null : normalizeRef(v);
    const field = ref ? 'ref' : v.includes('@') ? 'rcpt' : isIP(v) ? 'ip' : 'domain';
    return reply.redirect(v ? href('/search', { [field]: ref ?? v }) : '/search', 303);
  });

  // The overview: charts of the last days' mail (overview-page.ts), a customer's of its own domains only; cached a minute per question.
  const overviews = new OverviewCache(undefined, deps.now);
  const overview = async (req: FastifyRequest, reply: FastifyReply) => {
    const a = pageAuth(req, reply);
    if (!a) return reply;
    const ctx = viewOf(req, reply, a);
    const body = await overviewPage({ research, cache: overviews, q: queryOf(req), scope: a.scope, lang: ctx.lang, configured: Object.keys(cfg.domains), timeZone: ctx.timeZone, now: deps.now?.() ?? Date.now() });
    return userPage(req, reply, a, ctx, ctx.t('overview.title'), html`${findForm(ctx)}${body}`);
  };
  app.get('/', overview);
  app.get('/overview', overview);

  /** The search of an export or a report: the same filter, up to the web's maximum. */
  const exportSearch = async (req: FastifyRequest, a: Auth, lang: Lang): Promise<{ q: Record<string, string>; f: SearchFilter; r: SearchResult }> => {
    const q = queryOf(req);
    if (!SEARCH_FIELDS.some(([k]) => q[k])) throw new HttpError(400, 'a search needs at least one field', 'error.empty_search');
    const f = filterOf(q);
    f.limit ??= WEB_MAX_LIMIT;
    return { q, f, r: await research.search(f, a.scope, lang) };
  };

  app.get('/search.csv', async (req, reply) => {
    const a = pageAuth(req, reply);
    if (!a) return reply;
    const ctx = viewOf(req, reply, a);
    const { r } = await exportSearch(req, a, ctx.lang);
    const stamp = new Date(deps.now?.() ?? Date.now()).toISOString().slice(0, 16).replace(/[-:]/g, '').replace('T', '-');
    return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="mailproof-search-${stamp}.csv"`)
      .send(journeysCsv(r.journeys, { t: ctx.t, lang: ctx.lang, timeZone: ctx.timeZone }));
  });

  app.get('/search/report', async (req, reply) => {
    const a = pageAuth(req, reply);
    if (!a) return reply;
    const ctx = viewOf(req, reply, a);
    if (!deps.renderReport) return plainPage(req, reply, 501, 'error.title', html`<p>${ctx.t('journey.reports_unavailable')}</p>`, ctx);
    const { q, f, r } = await exportSearch(req, a, ctx.lang);
    return sendReport(req, reply, ctx, r, q.format, f);
  });

  const sendReport = async (req: FastifyRequest, reply: FastifyReply, ctx: ViewContext, result: SearchResult, format: string | undefined, filter?: SearchFilter) => {
    const fmt = format === 'html' || format === 'text' ? format : 'pdf';
    const refusal = reportRefusal(result, ctx.lang);
    if (refusal) {
      reply.header('retry-after', '5');
      return plainPage(req, reply, 503, 'report.wait_title', html`<p class="notice">${refusal}</p>`, ctx);
    }
    const out = await deps.renderReport!(result, { lang: ctx.lang, format: fmt, now: new Date(deps.now?.() ?? Date.now()), filter });
    // The file name comes from the report module; keep it to safe characters for the header.
    const filename = out.filename.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100) || `report.${fmt}`;
    return reply.type(out.contentType).header('content-disposition', `attachment; filename="${filename}"`).send(out.body);
  };

  const journeyOf = async (a: Auth, asked: string, rcpt: string | undefined, lang: Lang) => {
    // A REF as people copy it (lower case, a dash, O for 0) is the same REF.
    const ref = /^[\x21-\x7e]{1,200}$/.test(asked) ? normalizeRef(asked) : null;
    if (!ref) return null;
    const r = await research.journeysOfRef(ref, a.scope, lang, true);
    const j = rcpt ? r.journeys.find((x) => x.rcpt === rcpt.toLowerCase()) : r.journeys[0];
    return j ? { result: { ...r, journeys: [j] }, journey: j } : null;
  };

  const showJourney = async (req: FastifyRequest<{ Params: { ref: string } }>, reply: FastifyReply, recheck: boolean) => {
    const a = pageAuth(req, reply);
    if (!a) return reply;
    const ctx = viewOf(req, reply, a);
    const q = queryOf(req);
    const found = await journeyOf(a, req.params.ref, q.rcpt, ctx.lang);
    // Another customer's REF and an unknown REF look the same.
    if (!found) return notFound(req, reply);
    const j = found.journey;
    let rc: RecheckView | null = null;
    if (recheck) {
      const domain = j.mail_from?.includes('@') ? j.mail_from.slice(j.mail_from.lastIndexOf('@') + 1) : null;
      const run = async <R>(f: (() => Promise<R>) | undefined): Promise<{ result: R | null; error: string | null }> => {
        if (!f) return { result: null, error: ctx.t('diag.unavailable') };
        try { return { result: await f(), error: null }; } catch (err) { return { result: null, error: (err as Error).message }; }
      };
      const checks = deps.checks;
      rc = {
        domain: domain ? { name: domain, ...(await run(checks && (() => checkDomain(a, domain)))) } : null,
        ip: j.client_ip ? { addr: j.client_ip, ...(await run(checks && (() => checkIp(a, j.client_ip!)))) } : null,
        resolvers,
      };
    }
    const others = (await research.journeysOfRef(j.ref, a.scope, ctx.lang, false)).journeys.filter((x) => x.rcpt !== j.rcpt);
    const self = `/journey/${encodeURIComponent(j.ref)}`;
    return userPage(req, reply, a, ctx, ctx.t('journey.title'), journeyView(j, ctx, {
      csrf: csrfToken(req, reply), recheck: rc, reportFormats: !!deps.renderReport, others: others.map((x) => ({ ref: x.ref, rcpt: x.rcpt })),
    }), { switchPath: recheck ? `${self}` : undefined });
  };
  app.get<{ Params: { ref: string } }>('/journey/:ref', (req, reply) => showJourney(req, reply, false));
  app.post<{ Params: { ref: string } }>('/journey/:ref/recheck', { preHandler: app.csrfProtection }, (req, reply) => showJourney(req, reply, true));

  app.get<{ Params: { ref: string } }>('/journey/:ref/report', async (req, reply) => {
    const a = pageAuth(req, reply);
    if (!a) return reply;
    const ctx = viewOf(req, reply, a);
    const q = queryOf(req);
    const found = await journeyOf(a, req.params.ref, q.rcpt, ctx.lang);
    if (!found) return notFound(req, reply);
    if (!deps.renderReport) return plainPage(req, reply, 501, 'error.title', html`<p>${ctx.t('journey.reports_unavailable')}</p>`, ctx);
    return sendReport(req, reply, ctx, found.result, q.format);
  });

  app.get('/diagnostics', async (req, reply) => {
    const a = pageAuth(req, reply);
    if (!a) return reply;
    const ctx = viewOf(req, reply, a);
    const q = queryOf(req);
    const parts: Html[] = [diagnosticsForm(q, ctx)];
    const checks = deps.checks;
    if ((q.domain || q.ip) && !checks) parts.push(html`<p class="error">${ctx.t('diag.unavailable')}</p>`);
    if (q.domain && checks) {
      try { parts.push(domainResult(q.domain, await checkDomain(a, q.domain), null, ctx)); } catch (err) { parts.push(domainResult(q.domain, null, (err as Error).message, ctx)); }
    }
    if (q.ip && checks) {
      try { parts.push(ipResult(q.ip, await checkIp(a, q.ip), null, ctx)); } catch (err) { parts.push(ipResult(q.ip, null, (err as Error).message, ctx)); }
    }
    return userPage(req, reply, a, ctx, ctx.t('diag.title'), html`${parts}`);
  });

  // --- public reference page --------------------------------------------------
  app.get<{ Params: { ref: string } }>(`${publicPath}:ref`, async (req, reply) => {
    const ctx = viewOf(req, reply, null);
    const key = clientKey(req.ip);
    if (publicHits.blocked(key)) return plainPage(req, reply.header('retry-after', '60'), 429, 'public.busy_title', html`<p>${ctx.t('public.busy')}</p>`, ctx);
    publicHits.fail(key);
    const ref = normalizeRef(req.params.ref.slice(0, 64));
    const v = ref && REF_PATTERN.test(ref) ? await research.publicView(ref, ctx.lang) : null;
    if (!v) return plainPage(req, reply, 404, 'public.unknown_title', html`<p>${ctx.t('public.unknown')}</p>`, ctx);
    return plainPage(req, reply, 200, 'public.title', publicPage(v, ctx), ctx);
  });

  // --- JSON API -----------------------------------------------------------------
  app.get('/api/trace', async (req, reply) => {
    const a = apiAuth(req, reply);
    if (!a) return reply;
    const q = queryOf(req);
    // The same JSON as `mailproof trace --json`.
    return reply.send(await research.search(filterOf(q), a.scope, langOf(q.lang)));
  });
  app.get<{ Params: { ref: string } }>('/api/journey/:ref', async (req, reply) => {
    const a = apiAuth(req, reply);
    if (!a) return reply;
    const q = queryOf(req);
    const r = /^[\x21-\x7e]{1,200}$/.test(req.params.ref) ? await research.journeysOfRef(req.params.ref, a.scope, langOf(q.lang), true) : null;
    if (!r || r.journeys.length === 0) return notFound(req, reply, true);
    return reply.send(r);
  });
  app.get<{ Params: { name: string } }>('/api/check/domain/:name', async (req, reply) => {
    const a = apiAuth(req, reply);
    if (!a) return reply;
    if (!deps.checks) return reply.code(501).send({ error: 'diagnostics are not available' });
    try { return reply.send(await checkDomain(a, req.params.name)); } catch (err) { throw new HttpError(400, (err as Error).message); }
  });
  app.get<{ Params: { addr: string } }>('/api/check/ip/:addr', async (req, reply) => {
    const a = apiAuth(req, reply);
    if (!a) return reply;
    if (!deps.checks) return reply.code(501).send({ error: 'diagnostics are not available' });
    try { return reply.send(await checkIp(a, req.params.addr)); } catch (err) { throw new HttpError(400, (err as Error).message); }
  });

  // --- metrics --------------------------------------------------------------------
  app.get('/metrics', async (req, reply) => {
    if (!inList(metricsAllow, req.ip)) return reply.code(403).type('text/plain').send('forbidden\n');
    if (!deps.metrics) return reply.code(501).type('text/plain').send('metrics are not available\n');
    const text = await deps.metrics.text();
    return reply.type(deps.metrics.contentType).send(text);
  });

  return app;
}
