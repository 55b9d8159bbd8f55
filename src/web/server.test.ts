import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { loadConfig, type ResolvedConfig } from '../config/load.js';
import type { ChunkReader } from '../ledger/store/chunk-reader.js';
import { testJournal, testStore } from '../../test/helpers/event-table.js';
import { testStoreSpec } from '../../test/helpers/test-store.js';
import type { LedgerEvent } from '../ledger/types.js';
import type { Logger } from '../log/logger.js';
import type { SearchResult } from '../research/search.js';
import { LedgerMetrics } from './metrics.js';
import { buildWebApp, SECURITY_HEADERS, type RenderReport } from './server.js';
import { UserStore } from './users.js';
import { SessionFile } from './session-file.js';
import { SessionStore } from './sessions.js';

// The web server through fastify's inject: accounts, sessions, CSRF,
// customer scoping, escaping and the public page, on a real ledger (SQLite; PostgreSQL
// when the research-suites runner asks test-store.ts for it).

const FAST = { N: 1 << 10, r: 8, p: 1 };
const MANY = 103;
const REF_A = '0123456789AB';
const REF_B = 'ABCDEFGHJKMN';
const SUBJECT = '<script>alert(1)</script>';
const HELO = '<img src=x onerror=alert(2)>';
let dir: string;
let cfg: ResolvedConfig;
let reader: ChunkReader;
let users: UserStore;
let metrics: LedgerMetrics;

function ev(ts: number, e: Partial<LedgerEvent> & Pick<LedgerEvent, 'kind'>): LedgerEvent {
  return { ts, node: 'n1', source: 'gateway', ...e };
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-web-'));
  cfg = loadConfig({ dataDir: dir, overrides: ['web.login_max_failures=3', 'web.login_address_max_failures=6', 'web.login_account_max_failures=6', 'web.public_requests_per_min=5'] });
  const w = await testJournal(cfg.paths.store);
  const t = Date.now() - 3600e3;
  const a = { session: 'S1', ref: REF_A, client_ip: '192.0.2.10', mail_from: 'sender@x.test', message_id: 'secret-mid@x.test' };
  const b = { session: 'S2', ref: REF_B, client_ip: '198.51.100.7', mail_from: 'spam@y.test', message_id: 'other-mid@y.test' };
  await w.append([
    ev(t, { kind: 'session.connect', session: 'S1', ref: 'SESSREF00001', client_ip: '192.0.2.10' }),
    ev(t + 1, { kind: 'session.helo', session: 'S1', ref: 'SESSREF00001', client_ip: '192.0.2.10', helo: HELO }),
    ev(t + 2, { kind: 'mail.from', ...a }),
    ev(t + 3, { kind: 'rcpt.accepted', ...a, rcpt: 'bob@a.test' }),
    ev(t + 4, { kind: 'data.received', ...a, size: 100, details: { subject: SUBJECT } }),
    ev(t + 5, { kind: 'check.result', ...a, check_name: 'attachments', verdict: 'pass', details: { stage: 'data', ms: 3.5 } }),
    ev(t + 6, { kind: 'message.delivered', ...a, rcpt: 'bob@a.test', smtp_code: 250, reply: `250 2.0.0 accepted (ref ${REF_A})` }),
    ev(t + 10, { kind: 'mail.from', ...b }),
    ev(t + 11, { kind: 'rcpt.accepted', ...b, rcpt: 'carol.secret@b.test' }),
    ev(t + 12, { kind: 'data.received', ...b, size: 200, details: { subject: 'Invoice for Carol' } }),
    ev(t + 13, { kind: 'check.result', ...b, check_name: 'attachments', verdict: 'reject', smtp_code: 550, enhanced_code: '5.7.1',
      details: { stage: 'data', ms: 7, evidence: { rule: 'extension', ext: 'exe', filename: 'Rechnung.pdf.exe' } } }),
    ev(t + 14, { kind: 'data.rejected', ...b, check_name: 'attachments', verdict: 'reject', smtp_code: 550, enhanced_code: '5.7.1',
      reply: `550 5.7.1 The attachment "Rechnung.pdf.exe" is a program for carol.secret@b.test; send it another way (ref ${REF_B})` }),
  ]);
  // A busy domain for the page sizes of the search page: more journeys than its first page holds.
  const many: LedgerEvent[] = [];
  for (let i = 0; i < MANY; i++) {
    const m = { session: `M${i}`, ref: `MANY${String(i).padStart(8, '0')}`, client_ip: '203.0.113.9', mail_from: 'bulk@z.test' };
    many.push(ev(t + 100 + i * 10, { kind: 'mail.from', ...m }), ev(t + 101 + i * 10, { kind: 'rcpt.accepted', ...m, rcpt: `u${i}@many.test` }),
      ev(t + 102 + i * 10, { kind: 'message.delivered', ...m, rcpt: `u${i}@many.test`, smtp_code: 250, reply: '250 2.0.0 accepted' }));
  }
  await w.append(many);
  await w.close();
  reader = await testStore(cfg.paths.store);
  users = new UserStore(path.join(dir, 'web-users.json'));
  // Accounts with cheap scrypt parameters: the hashing itself is pop3/passwords.ts's and tested there.
  const { hashPassword } = await import('../pop3/passwords.js');
  fs.writeFileSync(users.file, JSON.stringify({ users: [
    { name: 'staff1', role: 'staff', domains: [], hash: await hashPassword('staff-pw', FAST) },
    { name: 'custa', role: 'customer', domains: ['a.test'], hash: await hashPassword('cust-pw', FAST) },
  ] }), { mode: 0o600 });
  // /metrics counts the store the reader reads (SQLite, or the PostgreSQL database of test-store.ts).
  metrics = new LedgerMetrics(testStoreSpec(cfg.paths.store), dir);
});

after(async () => {
  // The reader's close lets go of the store (a PostgreSQL one is dropped): the metrics' connections first.
  await metrics.close();
  await reader.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function app(extra: { renderReport?: RenderReport; now?: () => number; log?: Logger } = {}): Promise<FastifyInstance> {
  const a = await buildWebApp({ cfg, reader, users, metrics, ...extra });
  await a.ready();
  return a;
}

/** A browser-ish client: keeps cookies, reads the CSRF token from the last page. */
class Client {
  cookies = new Map<string, string>();
  csrf = '';
  constructor(readonly app: FastifyInstance, readonly ip = '127.0.0.1') {}
  private keep(r: LightMyRequestResponse): LightMyRequestResponse {
    for (const c of r.cookies as { name: string; value: string; maxAge?: number }[]) {
      if (c.value === '' || c.maxAge === 0) this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
    const m = /name="_csrf" value="([^"]+)"/.exec(r.body);
    if (m) this.csrf = m[1]!;
    return r;
  }
  private get cookie(): string { return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '); }
  async get(url: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    return this.keep(await this.app.inject({ method: 'GET', url, remoteAddress: this.ip, headers: { cookie: this.cookie, ...headers } }));
  }
  async post(url: string, form: Record<string, string>): Promise<LightMyRequestResponse> {
    return this.keep(await this.app.inject({ method: 'POST', url, remoteAddress: this.ip, headers: { cookie: this.cookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(form).toString() }));
  }
  async login(name: string, password: string): Promise<LightMyRequestResponse> {
    await this.get('/login');
    return this.post('/login', { _csrf: this.csrf, name, password });
  }
}

test('every answer carries the security headers; pages need a login', async () => {
  const a = await app();
  const c = new Client(a);
  for (const url of ['/', '/login', '/r/ZZZZZZZZZZZZ', '/nothing', '/static/style.css', '/api/trace?domain=a.test']) {
    const r = await c.get(url);
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) assert.equal(r.headers[k], v, `${k} on ${url}`);
  }
  assert.equal((await c.get('/search?domain=a.test')).statusCode, 303);
  assert.equal((await c.get('/journey/' + REF_A)).headers.location, '/login');
  assert.equal((await c.get('/api/trace?domain=a.test')).statusCode, 401);
  assert.equal((await c.get('/api/journey/' + REF_A)).statusCode, 401);
  await a.close();
});

test('login: one answer for unknown account and wrong password, session cookie flags, throttle per address', async () => {
  const a = await app();
  const c = new Client(a, '203.0.113.1');
  const unknown = await c.login('nobody', 'x');
  const wrong = await c.login('custa', 'wrong');
  assert.equal(unknown.statusCode, 401);
  assert.equal(wrong.statusCode, 401);
  const msg = (b: string): string => /<p class="error"[^>]*>([^<]*)</.exec(b)![1]!;
  assert.equal(msg(unknown.body), msg(wrong.body));

  const ok = await c.login('custa', 'cust-pw');
  assert.equal(ok.statusCode, 303);
  const set = String(ok.headers['set-cookie']);
  assert.match(set, /mp_session=[A-Za-z0-9_-]{40,}/);
  assert.match(set, /HttpOnly/);
  assert.match(set, /SameSite=Strict/);
  assert.doesNotMatch(set, /Secure/); // plain http, secure_cookies auto
  assert.equal((await c.get('/')).statusCode, 200);

  // The address: failures on many accounts slow it down (login_address_max_failures, 6 here) for every account.
  const d = new Client(a, '203.0.113.9');
  for (const n of ['u1', 'u2', 'u3', 'u4', 'u5', 'u6']) assert.equal((await d.login(n, 'bad')).statusCode, 401);
  const slowed = await d.login('custa', 'cust-pw');
  assert.equal(slowed.statusCode, 429);
  assert.match(slowed.body, /Too many failed logins; try again in 1 second\./);
  assert.equal(slowed.headers['retry-after'], '1');

  // Logout ends the session on the server.
  const sid = c.cookies.get('mp_session')!;
  assert.equal((await c.post('/logout', { _csrf: c.csrf })).statusCode, 303);
  const again = await a.inject({ url: '/', headers: { cookie: `mp_session=${sid}` } });
  assert.equal(again.statusCode, 303);
  await a.close();
});

test('sessions kept in a file: a login survives closing the app and building a new one (a restart); the logout leaves the file', async () => {
  const file = path.join(dir, 'sessions-restart.json');
  const store = (): SessionStore => new SessionStore(cfg.web.session_ttl_min * 60e3, Date.now, undefined, { persist: new SessionFile(file) });
  const first = await buildWebApp({ cfg, reader, users, metrics, sessions: store() });
  await first.ready();
  const c = new Client(first, '203.0.113.77');
  assert.equal((await c.login('staff1', 'staff-pw')).statusCode, 303);
  const sid = c.cookies.get('mp_session')!;
  await first.close();
  assert.ok(!fs.readFileSync(file, 'utf8').includes(sid), 'the id itself is not on disk');

  const second = await buildWebApp({ cfg, reader, users, metrics, sessions: store() });
  await second.ready();
  const same = new Client(second, '203.0.113.77');
  same.cookies = new Map(c.cookies);
  assert.equal((await same.get('/')).statusCode, 200, 'the cookie of before the restart still logs in');
  assert.equal((await same.post('/logout', { _csrf: same.csrf })).statusCode, 303);
  await second.close();

  const third = await buildWebApp({ cfg, reader, users, metrics, sessions: store() });
  await third.ready();
  const again = await third.inject({ url: '/', headers: { cookie: `mp_session=${sid}` } });
  assert.equal(again.statusCode, 303, 'a logged-out cookie does not come back with a restart');
  await third.close();
  fs.rmSync(file);
});

/** A logger that keeps its lines, for the once-per-burst rule. */
function recordingLog(): { log: Logger; lines: { level: string; msg: string; obj: Record<string, unknown> }[] } {
  const lines: { level: string; msg: string; obj: Record<string, unknown> }[] = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg: string) => { lines.push({ level, msg, obj }); };
  return { log: { info: at('info'), warn: at('warn'), error: at('error') } as unknown as Logger, lines };
}

test('the lockout from two addresses: wrong passwords at A slow A down step by step, the owner at B gets in', async () => {
  let t = Date.now();
  const { log, lines } = recordingLog();
  const a = await app({ now: () => t, log });
  const A = new Client(a, '203.0.113.101');
  const B = new Client(a, '198.51.100.201');
  // login_max_failures=3: three free failures for the pair (custa, A) ...
  for (let i = 0; i < 3; i++) assert.equal((await A.login('custa', 'wrong')).statusCode, 401);
  // The owner at another address is not kept out.
  assert.equal((await B.login('custa', 'cust-pw')).statusCode, 303, 'the owner at B');
  assert.equal((await B.get('/')).statusCode, 200);
  // ... then it waits 1 s, 2 s, 4 s: each failure doubles the wait, attempts inside it are refused unchecked.
  for (const wait of [1, 2, 4]) {
    const r = await A.login('custa', 'wrong');
    assert.equal(r.statusCode, 429, `inside the ${wait} s wait`);
    assert.equal(r.headers['retry-after'], String(wait));
    assert.equal((await A.login('custa', 'cust-pw')).statusCode, 429, 'the right password waits too');
    t += wait * 1000;
    assert.equal((await A.login('custa', 'wrong')).statusCode, 401, `after the ${wait} s wait`);
  }
  assert.equal((await A.login('custa', 'cust-pw')).headers['retry-after'], '8');
  assert.equal((await new Client(a, '198.51.100.202').login('custa', 'cust-pw')).statusCode, 303, 'still, while A waits');
  // A keeps guessing as fast as it is let, past the account bound (6 here) within the window: A alone never slows the account.
  let checked = 0;
  while (checked < 8) {
    const r = await A.login('custa', 'wrong');
    if (r.statusCode === 429) t += Number(r.headers['retry-after']) * 1000;
    else checked++;
  }
  assert.equal((await new Client(a, '192.0.2.202').login('custa', 'cust-pw')).statusCode, 303, 'a clean address with the right password');
  // Not a lock: after the wait, the right password works at A too.
  t += 16 * 60e3;
  assert.equal((await A.login('custa', 'cust-pw')).statusCode, 303);
  // The same /64 is the same client address.
  const v6 = new Client(a, '2001:db8:1:2::10');
  for (let i = 0; i < 3; i++) assert.equal((await v6.login('staff1', 'bad')).statusCode, 401);
  assert.equal((await new Client(a, '2001:db8:1:2::99').login('staff1', 'staff-pw')).statusCode, 429);
  assert.equal((await new Client(a, '2001:db8:1:3::10').login('staff1', 'staff-pw')).statusCode, 303);
  // A burst of refusals is one log line (per throttled key), not one per request.
  const before = lines.filter((l) => l.msg.startsWith('web login throttled')).length;
  for (let i = 0; i < 3; i++) assert.equal((await v6.login('staff1', 'staff-pw')).statusCode, 429);
  assert.equal(lines.filter((l) => l.msg.startsWith('web login throttled')).length, before);
  assert.ok(lines.some((l) => l.msg.startsWith('web login throttled') && l.obj.by === 'pair' && l.obj.account === 'staff1'));
  await a.close();
});

test('a guess spread over many addresses is slowed on the account; a browser that logged in before still gets in', async () => {
  let t = Date.now();
  const a = await app({ now: () => t });
  // The owner logged in from this browser last week: it has the device cookie.
  const owner = new Client(a, '198.51.100.50');
  assert.equal((await owner.login('custa', 'cust-pw')).statusCode, 303);
  assert.match(String(owner.cookies.get('mp_device')), /^[A-Za-z0-9_-]+\.\d+\.[A-Za-z0-9_-]+$/);
  owner.cookies.delete('mp_session');
  t += 60e3;
  // Each address stays within its pair's free failures; together they pass the account bound (6).
  for (let i = 0; i < 3; i++) {
    const bot = new Client(a, `203.0.113.${150 + i}`);
    for (let k = 0; k < 2; k++) assert.equal((await bot.login('custa', 'guess')).statusCode, 401);
  }
  const next = await new Client(a, '203.0.113.170').login('custa', 'guess');
  assert.equal(next.statusCode, 429, 'the next guess from a fresh address waits');
  assert.equal(next.headers['retry-after'], '1');
  // The owner's browser passes the account bound, from an address it never used before.
  const device = owner.cookies.get('mp_device')!;
  const home = new Client(a, '192.0.2.78');
  home.cookies.set('mp_device', device);
  assert.equal((await home.login('custa', 'cust-pw')).statusCode, 303);
  // A forged device cookie, or one of another account, does not.
  const forged = new Client(a, '192.0.2.79');
  forged.cookies.set('mp_device', device.replace(/.$/, (ch) => (ch === 'A' ? 'B' : 'A')));
  assert.equal((await forged.login('custa', 'cust-pw')).statusCode, 429);
  const staff = new Client(a, '192.0.2.80');
  assert.equal((await staff.login('staff1', 'staff-pw')).statusCode, 303);
  const foreign = new Client(a, '192.0.2.81');
  foreign.cookies.set('mp_device', staff.cookies.get('mp_device')!);
  assert.equal((await foreign.login('custa', 'cust-pw')).statusCode, 429);
  // Slowed, not locked: after the wait, a fresh address gets its check.
  t += 1000;
  assert.equal((await new Client(a, '192.0.2.82').login('custa', 'cust-pw')).statusCode, 303);
  await a.close();
});

test('POST forms without a valid CSRF token are refused', async () => {
  const a = await app();
  const c = new Client(a, '203.0.113.20');
  await c.get('/login');
  const none = await c.post('/login', { name: 'staff1', password: 'staff-pw' });
  assert.equal(none.statusCode, 403);
  assert.equal(none.cookies.find((x) => x.name === 'mp_session'), undefined);
  const forged = await c.post('/login', { _csrf: 'forged-token', name: 'staff1', password: 'staff-pw' });
  assert.equal(forged.statusCode, 403);
  assert.equal((await c.login('staff1', 'staff-pw')).statusCode, 303);
  const rc = await c.post(`/journey/${REF_A}/recheck?rcpt=bob@a.test`, {});
  assert.equal(rc.statusCode, 403);
  const out = await c.post('/logout', {});
  assert.equal(out.statusCode, 403);
  assert.equal((await c.get('/')).statusCode, 200, 'the session survived the forged logout');
  await a.close();
});

test('staff see every domain; hostile values are shown as text', async () => {
  const a = await app();
  const c = new Client(a, '203.0.113.30');
  await c.login('staff1', 'staff-pw');
  const s = await c.get('/search?since=7d&from=');
  assert.equal(s.statusCode, 200);
  assert.match(s.body, /Enter at least a recipient, a recipient domain, a sender/);
  const all = await c.get('/search?ip=192.0.2.10');
  assert.match(all.body, new RegExp(REF_A));
  const b = await c.get('/search?domain=b.test&outcome=rejected');
  assert.match(b.body, new RegExp(REF_B));
  const j = await c.get(`/journey/${REF_A}?rcpt=bob@a.test`);
  assert.equal(j.statusCode, 200);
  assert.ok(!j.body.includes(SUBJECT), 'the subject is escaped');
  assert.ok(!j.body.includes(HELO), 'the HELO is escaped');
  assert.ok(j.body.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.ok(j.body.includes('&lt;img src=x onerror=alert(2)&gt;'));
  // The one script is the page's own, from this origin; nothing from the ledger became one.
  assert.deepEqual(j.body.match(/<script[^>]*>/gi), ['<script src="/static/local-time.js" defer>']);
  const rj = await c.get(`/journey/${REF_B}?lang=de`);
  assert.match(rj.body, /class="evidence"/);
  assert.match(rj.body, /Virus oder gefährlicher Anhang/);
  assert.match(rj.body, /Rechnung\.pdf\.exe/);
  const api = await c.get('/api/trace?domain=b.test');
  const json = JSON.parse(api.body) as SearchResult;
  assert.deepEqual(json.journeys.map((x) => [x.ref, x.outcome, x.diagnosis[0]]), [[REF_B, 'rejected', 'virus']]);
  await a.close();
});

test('a customer sees its domains only: other REFs are 404 on pages and API, searches are narrowed', async () => {
  const a = await app();
  const c = new Client(a, '203.0.113.40');
  await c.login('custa', 'cust-pw');
  assert.equal((await c.get(`/journey/${REF_A}`)).statusCode, 200);
  const other = await c.get(`/journey/${REF_B}`);
  assert.equal(other.statusCode, 404);
  const unknown = await c.get('/journey/ZZZZZZZZZZZZ');
  assert.equal(other.body, unknown.body, 'another customer\'s REF looks like an unknown one');
  assert.equal((await c.get(`/api/journey/${REF_B}`)).statusCode, 404);
  assert.equal((await c.get(`/api/journey/${REF_A}`)).statusCode, 200);
  assert.equal((await c.get(`/journey/${REF_B}/report?format=pdf`)).statusCode, 404);
  for (const q of ['domain=b.test', 'rcpt=carol.secret@b.test', 'from=y.test', 'ip=198.51.100.7', `ref=${REF_B}`, 'message-id=other-mid@y.test']) {
    const r = JSON.parse((await c.get(`/api/trace?${q}`)).body) as SearchResult;
    assert.deepEqual(r.journeys, [], q);
    const page = await c.get(`/search?${q}`);
    // The form echoes what was typed; the results must hold nothing of b.test.
    assert.ok(!page.body.includes('Invoice') && !page.body.includes('198.51.100.7</td>') && !page.body.includes(`>${REF_B}</a>`), q);
    assert.match(page.body, /No messages found/, q);
  }
  const own = JSON.parse((await c.get('/api/trace?from=x.test')).body) as SearchResult;
  assert.deepEqual(own.journeys.map((j) => j.ref), [REF_A]);
  await a.close();
});

test('bearer tokens authenticate the API with the account\'s scope', async () => {
  const token = users.newToken('custa')!;
  const a = await app();
  const ok = await a.inject({ url: `/api/journey/${REF_A}`, headers: { authorization: `Bearer ${token}` } });
  assert.equal(ok.statusCode, 200);
  assert.equal((await a.inject({ url: `/api/journey/${REF_B}`, headers: { authorization: `Bearer ${token}` } })).statusCode, 404);
  assert.equal((await a.inject({ url: `/api/journey/${REF_A}`, headers: { authorization: `Bearer ${token}x` } })).statusCode, 401);
  // limit: the newest N journeys and `truncated`; out of range is a 400 naming the field.
  const auth = { authorization: `Bearer ${token}` };
  const all = (await a.inject({ url: '/api/trace?domain=a.test&since=30d', headers: auth })).json() as { journeys: unknown[]; truncated: boolean };
  assert.equal(all.journeys.length, 1);
  assert.equal(all.truncated, false);
  for (const bad of ['0', '1001', 'x']) {
    const r = await a.inject({ url: `/api/trace?domain=a.test&limit=${bad}`, headers: auth });
    assert.equal(r.statusCode, 400, bad);
    assert.match(r.body, /limit must/);
  }
  await a.close();
});

test('the search page answers with the newest 100 first and links to bigger pages; the API keeps its 1000', async () => {
  const a = await app();
  const c = new Client(a, '203.0.113.40');
  await c.login('staff1', 'staff-pw');
  const rows = (body: string) => (body.match(/<tr class="row-/g) ?? []).length;
  const first = await c.get('/search?domain=many.test&since=30d');
  assert.equal(first.statusCode, 200);
  assert.equal(rows(first.body), 100);
  assert.match(first.body, /100 messages, [^<]*\. These are the newest; show up to <a href="[^"]*limit=250[^"]*">250<\/a> or <a href="[^"]*limit=1000[^"]*">1000<\/a>/);
  // The newest are the ones shown.
  assert.match(first.body, new RegExp(`/journey/MANY${String(MANY - 1).padStart(8, '0')}\\?`));
  assert.doesNotMatch(first.body, /\/journey\/MANY00000000\?/);
  const link = /<a href="([^"]*limit=250[^"]*)">/.exec(first.body)![1]!.replace(/&amp;/g, '&');
  assert.match(link, /domain=many\.test/);
  assert.match(link, /since=30d/);
  const second = await c.get(link);
  assert.equal(rows(second.body), MANY);
  assert.match(second.body, new RegExp(`${MANY} messages, `));
  assert.doesNotMatch(second.body, /show up to/);
  // An explicit limit at the largest size: nothing bigger to offer.
  const max = await c.get('/search?domain=many.test&since=30d&limit=1000');
  assert.equal(rows(max.body), MANY);
  const small = await c.get('/search?domain=many.test&since=30d&limit=2');
  assert.equal(rows(small.body), 2);
  assert.match(small.body, /show up to <a [^>]*>100<\/a> or <a [^>]*>250<\/a> or <a [^>]*>1000<\/a>/);
  // The API: 1000 by default, as `trace --json`.
  const token = users.newToken('staff1')!;
  const api = (await a.inject({ url: '/api/trace?domain=many.test&since=30d', headers: { authorization: `Bearer ${token}` } })).json() as SearchResult;
  assert.equal(api.journeys.length, MANY);
  assert.equal(api.truncated, false);
  await a.close();
});

test('the public REF page tells the sender why and what to do, and nothing about the recipient', async () => {
  const a = await app();
  const c = new Client(a, '203.0.113.50');
  const r = await c.get(`/r/${REF_B}`);
  assert.equal(r.statusCode, 200);
  assert.match(r.body, /198\.51\.100\.7/);
  assert.match(r.body, /Rechnung\.pdf\.exe/);
  assert.match(r.body, /What to do:/);
  // Addressed to the sender, not about the sender.
  assert.match(r.body, /Your message was refused/);
  assert.doesNotMatch(r.body, /the sender must|the sender&#39;s|the sender's/);
  for (const secret of ['carol', 'b.test', 'Invoice', 'other-mid', 'bob', 'a.test']) assert.ok(!r.body.includes(secret), `leaks ${secret}`);
  const de = await c.get(`/r/${REF_B.toLowerCase()}?lang=de`);
  assert.match(de.body, /Was zu tun ist/);
  assert.match(de.body, /Ihre Nachricht wurde abgelehnt/);
  assert.doesNotMatch(de.body, /Der Absender muss|des Absenders/);
  // The switch to German is remembered (a cookie); English again on request.
  assert.match((await c.get(`/r/${REF_B}`)).body, /Was zu tun ist/);
  const none = await c.get('/r/ZZZZZZZZZZZZ?lang=en');
  assert.equal(none.statusCode, 404);
  assert.match(none.body, /Nothing is known about this reference/);
  assert.equal((await c.get('/r/<script>')).statusCode, 404);
  // 5 a minute per address (set above): five above, then 429.
  const limited = await c.get(`/r/${REF_B}`);
  assert.equal(limited.statusCode, 429);
  assert.equal((await new Client(a, '203.0.113.51').get(`/r/${REF_B}`)).statusCode, 200);
  await a.close();
});

test('report download: 501 without the report module, the scoped journey with it', async () => {
  let a = await app();
  let c = new Client(a, '203.0.113.60');
  await c.login('staff1', 'staff-pw');
  const page = await c.get(`/journey/${REF_A}?rcpt=bob@a.test`);
  assert.match(page.body, /Reports are not available on this server/);
  assert.doesNotMatch(page.body, /\/report\?/);
  assert.equal((await c.get(`/journey/${REF_A}/report?rcpt=bob@a.test&format=pdf`)).statusCode, 501);
  await a.close();

  let seen: SearchResult | null = null;
  a = await app({ renderReport: async (result, opts) => { seen = result; return { body: Buffer.from(`report ${opts.lang} ${opts.format}`), contentType: 'text/plain; charset=utf-8', filename: 'mailproof-"x".txt' }; } });
  c = new Client(a, '203.0.113.61');
  await c.login('staff1', 'staff-pw');
  assert.match((await c.get(`/journey/${REF_A}?rcpt=bob@a.test`)).body, /href="\/journey\/0123456789AB\/report\?rcpt=bob%40a.test&amp;lang=en&amp;format=pdf"/);
  const r = await c.get(`/journey/${REF_B}/report?format=text&lang=de`);
  assert.equal(r.statusCode, 200);
  assert.equal(r.body, 'report de text');
  assert.equal(r.headers['content-disposition'], 'attachment; filename="mailproof-_x_.txt"');
  assert.deepEqual(seen!.journeys.map((j) => j.ref), [REF_B]);
  await a.close();
});

test('/metrics counts the ledger and is open to metrics_allow only', async () => {
  const a = await app();
  const denied = await a.inject({ url: '/metrics', remoteAddress: '192.0.2.99' });
  assert.equal(denied.statusCode, 403);
  const r = await a.inject({ url: '/metrics', remoteAddress: '127.0.0.1' });
  assert.equal(r.statusCode, 200);
  // REF_A and the busy domain's deliveries.
  assert.match(r.body, new RegExp(`mailproof_messages_total\\{outcome="delivered",source="gateway"\\} ${1 + MANY}\\b`));
  assert.match(r.body, /mailproof_messages_total\{outcome="rejected",source="gateway"\} 1\b/);
  assert.match(r.body, /mailproof_checks_total\{check="attachments",verdict="reject"\} 1\b/);
  assert.match(r.body, /mailproof_check_duration_seconds_bucket\{le="0.005",check="attachments"\} 1\b/);
  // A second scrape counts nothing twice.
  const again = await a.inject({ url: '/metrics', remoteAddress: '::1' });
  assert.match(again.body, new RegExp(`mailproof_messages_total\\{outcome="delivered",source="gateway"\\} ${1 + MANY}\\b`));
  await a.close();
});

test('over-long query values are refused', async () => {
  const a = await app();
  const c = new Client(a, '203.0.113.70');
  await c.login('staff1', 'staff-pw');
  assert.equal((await c.get(`/search?rcpt=${'a'.repeat(400)}`)).statusCode, 400);
  assert.equal((await c.get(`/search?rcpt=${'a'.repeat(5000)}`)).statusCode, 414);
  await a.close();
});

test('the start page\'s one field puts what was typed into the right search field; a REF as people copy it is the REF', async () => {
  const a = await app();
  const c = new Client(a, '203.0.113.70');
  await c.login('staff1', 'staff-pw');
  const where = async (q: string): Promise<string> => (await c.get(`/find?q=${encodeURIComponent(q)}`)).headers.location as string;
  assert.equal(await where('bob@a.test'), '/search?rcpt=bob%40a.test');
  assert.equal(await where('a.test'), '/search?domain=a.test');
  assert.equal(await where('192.0.2.10'), '/search?ip=192.0.2.10');
  assert.equal(await where('2001:db8::1'), '/search?ip=2001%3Adb8%3A%3A1');
  assert.equal(await where(' 0123-4567-89ab '), '/search?ref=0123456789AB');
  assert.equal(await where(''), '/search');
  // The journey page takes the REF as copied, too.
  assert.equal((await c.get('/journey/0123-4567-89ab?rcpt=bob@a.test')).statusCode, 200);
  // A German browser gets German pages without asking.
  const de = await c.get('/search?domain=a.test', { 'accept-language': 'de-DE,de;q=0.9,en;q=0.5' });
  assert.match(de.body, /<html lang="de">/);
  assert.match(de.body, /Empfänger-Domain/);
  await a.close();
});
