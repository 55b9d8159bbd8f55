import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { loadConfig } from '../config/load.js';
import type { LedgerEvent } from '../ledger/types.js';
import { parseFilter } from '../research/filters.js';
import { overviewOf, type Overview } from '../research/overview.js';
import { search } from '../research/search.js';
import { tempLedger } from '../../test/helpers/temp-ledger.js';
import { testStoreSpec } from '../../test/helpers/test-store.js';
import { textsOf } from './i18n/index.js';
import { OverviewCache, overviewQuestion } from './overview-page.js';
import { overviewView } from './overview-view.js';
import { inlineResearch, type Research } from './research.js';
import { ResearchPool } from './research-pool.js';
import { buildWebApp } from './server.js';
import { UserStore } from './users.js';

// The overview page: its links open the searches that list what the bars
// count, its texts in both languages, a customer's page of its own domains,
// the cache, and the research thread's answer.

const NOW = Date.parse('2026-12-05T12:00:00Z');
const HOSTILE_FROM = 'x@"><script>alert(1)</script>.test';
let seq = 0;
let ledger: Awaited<ReturnType<typeof tempLedger>>;

function tx(kind: 'delivered' | 'unknown' | 'virus', ts: number, rcpt: string, ip = '192.0.2.1', from = 'a@sender.test'): LedgerEvent[] {
  const n = ++seq;
  const base = { node: 'n1', source: 'gateway' as const, session: `V${n}`, ref: `VW${String(n).padStart(10, '0')}`, client_ip: ip, mail_from: from };
  const e = (dt: number, kind: LedgerEvent['kind'], o: Partial<LedgerEvent> = {}): LedgerEvent => ({ ts: ts + dt, kind, ...base, ...o });
  if (kind === 'delivered') return [e(0, 'mail.from'), e(1, 'rcpt.accepted', { rcpt }), e(2, 'message.delivered', { rcpt, smtp_code: 250, details: { target: 'maildir' } })];
  if (kind === 'unknown') return [e(0, 'mail.from'), e(1, 'check.result', { rcpt, check_name: 'recipient', verdict: 'reject', smtp_code: 550, details: { stage: 'rcpt' } }), e(2, 'rcpt.rejected', { rcpt, check_name: 'recipient', verdict: 'reject', smtp_code: 550 })];
  return [e(0, 'mail.from'), e(1, 'rcpt.accepted', { rcpt }),
    e(2, 'check.result', { check_name: 'attachments', verdict: 'reject', smtp_code: 550, details: { stage: 'data', evidence: { rule: 'extension', filename: 'a.exe' } } }),
    e(3, 'data.rejected', { rcpt, check_name: 'attachments', verdict: 'reject', smtp_code: 550 })];
}

before(async () => {
  ledger = await tempLedger([
    ...tx('delivered', NOW - 3600e3, 'alice@a.test'),
    ...tx('delivered', NOW - 86400e3, 'alice@a.test'),
    ...tx('unknown', NOW - 1800e3, 'nobody@a.test', '203.0.113.9', HOSTILE_FROM),
    ...tx('virus', NOW - 2 * 86400e3, 'bob@b.test', '203.0.113.9', 'bot@spam.test'),
    ...tx('unknown', NOW - 600e3, 'carl@b.test', '198.51.100.4', ''),
  ], 'mp-overview-view-');
});
after(async () => { await ledger.done(); });

/** The /search links of a page, parsed as the search page parses them. */
function searchLinks(page: string): { params: URLSearchParams; title: string }[] {
  return [...page.matchAll(/<a href="\/search\?([^"]+)"[^>]*>(?:<title>([^<]*)<\/title>)?/g)].map((m) => ({
    params: new URLSearchParams(m[1]!.replace(/&amp;/g, '&')), title: m[2] ?? '',
  }));
}

function render(data: Overview, view: { days: number; domain: string | null; day: string | null }, lang: 'en' | 'de' = 'en'): string {
  return overviewView(data, { lang, t: textsOf(lang), scope: null, view }).s;
}

test('one domain: a bar of a day opens the search that lists exactly what it counts', async () => {
  const data = await overviewOf(ledger.reader, { scope: null, domains: ['a.test'], now: NOW });
  const page = render(data, { days: 7, domain: 'a.test', day: null });
  const links = searchLinks(page).filter((l) => /× Rejected/.test(l.title) && l.params.get('since') === '2026-12-05T00:00:00Z');
  assert.equal(links.length, 1, page);
  const p = links[0]!.params;
  assert.deepEqual(Object.fromEntries(p), { domain: 'a.test', since: '2026-12-05T00:00:00Z', until: '2026-12-05T23:59:59.999Z', outcome: 'rejected', lang: 'en' });
  // Parsed as the search page parses it, the search lists the one refused message of the bar.
  const f = parseFilter(Object.fromEntries(p));
  const listed = await search(ledger.reader, { ...f, now: NOW });
  assert.deepEqual(listed.journeys.map((j) => j.rcpt), ['nobody@a.test']);
  // Every link of the page parses.
  for (const l of searchLinks(page)) assert.doesNotThrow(() => parseFilter(Object.fromEntries(l.params)), l.params.toString());
  // The hostile sender domain is text.
  assert.doesNotMatch(page, /<script/);
  assert.match(page, /&quot;&gt;&lt;script&gt;alert\(1\)&lt;\/script&gt;\.test/);
  // The busiest refused sender links its search by address.
  assert.ok(searchLinks(page).some((l) => l.params.get('ip') === '203.0.113.9' && l.params.get('domain') === 'a.test'));
});

test('several domains: a day opens that day per domain, a domain its own overview, a cause row the search of its domain', async () => {
  const data = await overviewOf(ledger.reader, { scope: null, domains: ['a.test', 'b.test'], now: NOW });
  const page = render(data, { days: 7, domain: null, day: null });
  assert.match(page, /<a href="\/overview\?day=2026-12-05&amp;lang=en" class="ov-bar ov-rejected"><title>Sat 5 Dec: 2 × Rejected\. Click to see this day per domain\.<\/title>/);
  assert.match(page, /<a href="\/overview\?domain=b\.test&amp;days=7&amp;lang=en" class="ov-label"><title>Overview of b\.test alone<\/title>/);
  // The cause rows, one per cause and domain, open the search of that domain and outcome.
  const causes = searchLinks(page).filter((l) => /No such mailbox/.test(l.title));
  assert.deepEqual(causes.map((l) => [l.params.get('domain'), l.params.get('outcome')]).sort(), [['a.test', 'rejected'], ['b.test', 'rejected']]);
  assert.match(page, /Counted from 5 messages to a\.test, b\.test, 29 Nov, 00:00 to 5 Dec, 12:00 \(UTC\)/);
  assert.match(page, /empty sender \(&lt;&gt;\)/);
});

test('every text in both languages, no placeholder left; German with umlauts', async () => {
  for (const lang of ['en', 'de'] as const) {
    const data = await overviewOf(ledger.reader, { scope: null, domains: ['a.test', 'b.test'], now: NOW, lang, perDomainLimit: 1 });
    const page = render(data, { days: 7, domain: null, day: null }, lang);
    assert.doesNotMatch(page, /\{[a-z_]+\}/, lang);
    if (lang === 'de') {
      assert.match(page, /Warum Mail nicht zugestellt wurde/);
      assert.match(page, /Am häufigsten abgewiesene Absender/);
      assert.match(page, /Postfach existiert nicht/);
      assert.match(page, /Für a\.test sind nur die neuesten 1 Nachrichten gezählt, zurück bis 5\. Dez\., 11:30/);
    } else {
      assert.match(page, /Only the newest 1 messages to a\.test are counted, back to/);
    }
  }
});

test('the question: a customer chooses among its own domains; periods and days are checked', () => {
  const o = { scope: ['a.test'], configured: ['a.test', 'b.test'], timeZone: 'Europe/Berlin', now: NOW, lang: 'en' as const };
  const own = overviewQuestion({}, o);
  assert.ok(!('error' in own));
  assert.deepEqual(own.req, { domains: ['a.test'], days: 7, timeZone: 'Europe/Berlin', now: NOW });
  const other = overviewQuestion({ domain: 'b.test' }, o);
  assert.ok('error' in other && /b\.test is not one of the domains/.test(other.error));
  const staff = overviewQuestion({ domain: 'B.TEST', days: '14' }, { ...o, scope: null });
  assert.ok(!('error' in staff));
  assert.deepEqual([staff.req.domains, staff.req.days, staff.choosable], [['b.test'], 14, ['a.test', 'b.test']]);
  assert.equal((overviewQuestion({ days: '99' }, o) as { req: { days: number } }).req.days, 7);
  const day = overviewQuestion({ day: '2026-12-04' }, o);
  assert.ok(!('error' in day));
  assert.deepEqual([day.req.days, day.req.lastDay, day.view.day], [1, '2026-12-04', '2026-12-04']);
  for (const bad of ['2026-12-06', '2026-02-30', 'yesterday', '2020-01-01']) assert.ok('error' in overviewQuestion({ day: bad }, o), bad);
});

test('the cache: one research run per question a minute, shared by concurrent requests; a failure is not kept', async () => {
  let now = 0;
  const cache = new OverviewCache(60e3, () => now);
  let runs = 0;
  const make = async (): Promise<Overview> => { runs++; await new Promise((r) => setTimeout(r, 5)); return { runs } as unknown as Overview; };
  const [a, b] = await Promise.all([cache.get('k', make), cache.get('k', make)]);
  assert.equal(a, b);
  assert.equal(runs, 1);
  now = 59e3;
  await cache.get('k', make);
  assert.equal(runs, 1);
  await cache.get('other', make);
  assert.equal(runs, 2);
  now = 61e3;
  await cache.get('k', make);
  assert.equal(runs, 3);
  await assert.rejects(cache.get('bad', () => Promise.reject(new Error('busy'))));
  await new Promise((r) => setImmediate(r));
  await cache.get('bad', make);
  assert.equal(runs, 4, 'asked again after the failure');
  const small = new OverviewCache(60e3, () => 0, 2);
  for (const k of ['1', '2', '3']) await small.get(k, make);
  assert.equal(small.size, 2);
});

test('GET /overview: staff see both domains, a customer its own only; reloads come from the cache', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-overview-web-'));
  try {
    const cfg = loadConfig({ dataDir: dir, overrides: ['domains={"a.test":{"mailboxes":["alice"]},"b.test":{"mailboxes":["bob"]}}', 'web.time_zone=UTC'] });
    const users = new UserStore(path.join(dir, 'web-users.json'));
    const { hashPassword } = await import('../pop3/passwords.js');
    const FAST = { N: 1 << 10, r: 8, p: 1 };
    fs.writeFileSync(users.file, JSON.stringify({ users: [
      { name: 'staff1', role: 'staff', domains: [], hash: await hashPassword('staff-pw', FAST) },
      { name: 'custa', role: 'customer', domains: ['a.test'], hash: await hashPassword('cust-pw', FAST) },
    ] }), { mode: 0o600 });
    const inline = inlineResearch(ledger.reader, () => []);
    let runs = 0;
    const research: Research = { ...inline, overview: (...args) => { runs++; return inline.overview(...args); } };
    const app = await buildWebApp({ cfg, research, users, now: () => NOW });
    const as = async (name: string, pw: string, url: string): Promise<LightMyRequestResponse> => {
      // Pages take a session: log in through the form.
      const login = await app.inject({ method: 'GET', url: '/login' });
      const csrf = /name="_csrf" value="([^"]+)"/.exec(login.body)![1]!;
      const jar = (r: LightMyRequestResponse): string => (r.cookies as { name: string; value: string }[]).map((c) => `${c.name}=${c.value}`).join('; ');
      const posted = await app.inject({ method: 'POST', url: '/login', headers: { cookie: jar(login), 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ _csrf: csrf, name, password: pw }).toString() });
      assert.equal(posted.statusCode, 303);
      return app.inject({ method: 'GET', url, headers: { cookie: jar(posted) } });
    };
    assert.equal((await app.inject({ method: 'GET', url: '/overview' })).headers.location, '/login');
    const staff = await as('staff1', 'staff-pw', '/overview');
    assert.equal(staff.statusCode, 200);
    assert.match(staff.body, /<h1>Overview<\/h1>/);
    assert.match(staff.body, /a\.test/);
    assert.match(staff.body, /b\.test/);
    assert.equal(runs, 1);
    assert.equal((await as('staff1', 'staff-pw', '/overview')).statusCode, 200);
    assert.equal(runs, 1, 'the reload came from the cache');
    const cust = await as('custa', 'cust-pw', '/overview?lang=de');
    assert.equal(cust.statusCode, 200);
    assert.match(cust.body, /Übersicht/);
    assert.match(cust.body, /a\.test/);
    assert.doesNotMatch(cust.body, /b\.test|spam\.test|198\.51\.100\.4/);
    assert.equal(runs, 2, 'a customer has its own cache entry');
    const refused = await as('custa', 'cust-pw', '/overview?domain=b.test');
    assert.match(refused.body, /<p class="error">The domain b\.test is not one of the domains of this overview\.<\/p>/);
    await app.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the research thread answers the overview as the calling thread does', async () => {
  const pool = new ResearchPool({ ledger: { ...testStoreSpec(ledger.file), journal: ledger.journal }, waitMs: 0, mailboxes: { 'a.test': [], 'b.test': [] }, threads: 1, maxQueue: 4, timeoutMs: 30e3 });
  try {
    const req = { domains: ['a.test', 'b.test'], days: 7, now: NOW, timeZone: 'UTC' };
    const threaded = await pool.overview(req, ['b.test'], 'de');
    const here = await inlineResearch(ledger.reader, () => []).overview(req, ['b.test'], 'de');
    assert.deepEqual({ ...threaded, store_behind: undefined }, { ...here, store_behind: undefined });
    assert.deepEqual(threaded.domains.map((d) => d.domain), ['b.test']);
  } finally {
    await pool.close();
  }
});
