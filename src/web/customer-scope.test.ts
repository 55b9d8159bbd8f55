import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type ResolvedConfig } from '../config/load.js';
import type { ChunkReader } from '../ledger/store/chunk-reader.js';
import { testJournal, testStore } from '../../test/helpers/event-table.js';
import type { LedgerEvent } from '../ledger/types.js';
import type { DomainDiagnosis, IpDiagnosis } from '../dnscheck/diagnostics.js';
import type { SearchResult } from '../research/search.js';
import { renderReport } from '../report/index.js';
import { buildWebApp } from './server.js';
import { UserStore } from './users.js';

// Side channels between customers: what a customer's search, journey,
// report and diagnostics may tell about other customers' mail and about the
// operator's network. Customer "custa" has a.test; b.test is someone else's.

const FAST = { N: 1 << 10, r: 8, p: 1 };
/** Only to b.test: a.test must not learn that this sender exists. */
const REF_B = 'BBBBBBBBBBB1';
/** One transaction to a.test and b.test. */
const REF_M = 'MMMMMMMMMMM1';
/** From a private client address, to a.test. */
const REF_P = 'PPPPPPPPPPP1';
const MAILDIR = '/srv/mailproof/maildir';
const RESOLVER = '10.9.8.53:53';
const LMTP = '10.20.30.40:24';
let dir: string;
let cfg: ResolvedConfig;
let reader: ChunkReader;
let users: UserStore;
let custToken: string;
let staffToken: string;

function ev(ts: number, e: Partial<LedgerEvent> & Pick<LedgerEvent, 'kind'>): LedgerEvent {
  return { ts, node: 'n1', source: 'gateway', ...e };
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-scope-'));
  cfg = loadConfig({ dataDir: dir, overrides: ['web.internal_domains=[corp.example.net]', `dns.servers=["${RESOLVER}"]`] });
  const w = await testJournal(cfg.paths.store);
  const t = Date.now() - 3600e3;
  const b = { session: 'SB', ref: REF_B, client_ip: '198.51.100.7', mail_from: 'spam@y.test' };
  const m = { session: 'SM', ref: REF_M, client_ip: '203.0.113.77', mail_from: 'boss@m.test', message_id: 'm1@m.test' };
  const p = { session: 'SP', ref: REF_P, client_ip: '10.1.1.1', mail_from: 'app@p.test' };
  const dnsAnswer = { name: 'm.test', type: 'MX', rcode: 'NOERROR', records: [{ preference: 10, exchange: 'mx.m.test' }], ttl: 300, server: RESOLVER, at: new Date(t).toISOString(), from_cache: false };
  await w.append([
    ev(t, { kind: 'mail.from', ...b }),
    ev(t + 1, { kind: 'rcpt.accepted', ...b, rcpt: 'carol@b.test' }),
    ev(t + 2, { kind: 'message.delivered', ...b, rcpt: 'carol@b.test', smtp_code: 250, reply: '250 2.0.0 accepted' }),

    ev(t + 10, { kind: 'session.connect', session: 'SM', ref: 'SESSM0000001', client_ip: m.client_ip }),
    ev(t + 11, { kind: 'mail.from', ...m }),
    ev(t + 12, { kind: 'check.result', ...m, check_name: 'sender_domain', verdict: 'pass', details: { stage: 'mail', reason: `MX answered by ${RESOLVER}`, evidence: { domain: 'm.test', mx: dnsAnswer } } }),
    ev(t + 13, { kind: 'rcpt.accepted', ...m, rcpt: 'dave@a.test' }),
    ev(t + 14, { kind: 'rcpt.accepted', ...m, rcpt: 'erin@b.test' }),
    ev(t + 15, { kind: 'data.received', ...m, size: 300, details: { subject: 'Quarterly numbers', rcpts: 2 } }),
    ev(t + 16, { kind: 'message.delivered', ...m, rcpt: 'dave@a.test', smtp_code: 250, reply: '250 2.0.0 accepted',
      details: { mailboxes: ['dave@a.test', 'erin@b.test'], files: [`${MAILDIR}/a.test/dave/new/1.M1.n1`], target: 'maildir', ms: 2 } }),
    ev(t + 17, { kind: 'message.delivery_failed', ...m, rcpt: 'erin@b.test', smtp_code: 451, reply: '451 4.3.0 try again',
      details: { address: LMTP, target: 'lmtp', reason: `EACCES: permission denied, open '${MAILDIR}/b.test/erin/tmp/1.M1.n1'` } }),
    ev(t + 18, { kind: 'session.close', session: 'SM', ref: 'SESSM0000001', client_ip: m.client_ip, details: { transactions: 3, delivered: 2, ms: 40 } }),

    ev(t + 20, { kind: 'mail.from', ...p }),
    ev(t + 21, { kind: 'rcpt.accepted', ...p, rcpt: 'dave@a.test' }),
    ev(t + 22, { kind: 'message.delivered', ...p, rcpt: 'dave@a.test', smtp_code: 250, reply: '250 2.0.0 accepted', details: { target: 'lmtp', address: LMTP } }),
  ]);
  await w.close();
  reader = await testStore(cfg.paths.store);
  users = new UserStore(path.join(dir, 'web-users.json'));
  const { hashPassword } = await import('../pop3/passwords.js');
  fs.writeFileSync(users.file, JSON.stringify({ users: [
    { name: 'staff1', role: 'staff', domains: [], hash: await hashPassword('staff-pw', FAST) },
    { name: 'custa', role: 'customer', domains: ['a.test'], hash: await hashPassword('cust-pw', FAST) },
  ] }), { mode: 0o600 });
  custToken = users.newToken('custa')!;
  staffToken = users.newToken('staff1')!;
});

after(async () => {
  await reader.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** DNS diagnostics as data: what the gateway's resolver would say, with its own address in the evidence. */
function fakeChecks(asked: string[]) {
  const now = new Date().toISOString();
  return {
    domain: async (name: string): Promise<DomainDiagnosis> => {
      asked.push(name);
      return {
        domain: name, checked_at: now,
        checks: [{ check: 'sender_domain', verdict: 'pass', reason: `answered by ${RESOLVER}`, reply: null, evidence: { mx: { server: RESOLVER, records: [{ exchange: 'mx.corp.internal' }] } } }],
        mx: [{ preference: 10, exchange: 'mx.corp.internal', is_ip: false, addresses: ['10.1.2.3'] }, { preference: 20, exchange: 'mx2.example.com', is_ip: false, addresses: ['192.168.7.7', '203.0.113.25'] }],
        spf: { record: null, records_found: 0, lookups: 0, errors: [] } as unknown as DomainDiagnosis['spf'],
        dmarc: { name: null, record: null, policy: null, subdomain_policy: null, pct: null, rua: null, errors: [] },
        problems: [],
      };
    },
    ip: async (addr: string): Promise<IpDiagnosis> => {
      asked.push(addr);
      return { ip: addr, checked_at: now, checks: [{ check: 'client_identity', verdict: 'pass', reason: null, reply: null, evidence: { ptr: { server: RESOLVER } } }], ptr: 'mail.example.com', problems: [] };
    },
  };
}

async function app(asked: string[] = []): Promise<FastifyInstance> {
  const a = await buildWebApp({ cfg, reader, users, checks: fakeChecks(asked), renderReport: (r, o) => renderReport(r, o) });
  await a.ready();
  return a;
}

/** Log in with the form (cookies and CSRF token as a browser keeps them), then POST to `url`. */
async function loggedIn(a: FastifyInstance, name: string, password: string, url: string) {
  const jar = new Map<string, string>();
  const cookie = (): string => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const keep = (r: Awaited<ReturnType<FastifyInstance['inject']>>): string => {
    for (const c of r.cookies as { name: string; value: string }[]) jar.set(c.name, c.value);
    return /name="_csrf" value="([^"]+)"/.exec(r.body)?.[1] ?? '';
  };
  const form = (o: Record<string, string>) => ({ 'content-type': 'application/x-www-form-urlencoded', payload: new URLSearchParams(o).toString() });
  let csrf = keep(await a.inject({ url: '/login' }));
  const login = form({ _csrf: csrf, name, password });
  keep(await a.inject({ method: 'POST', url: '/login', headers: { cookie: cookie(), 'content-type': login['content-type'] }, payload: login.payload }));
  csrf = keep(await a.inject({ url: '/', headers: { cookie: cookie() } }));
  const post = form({ _csrf: csrf });
  return a.inject({ method: 'POST', url, headers: { cookie: cookie(), 'content-type': post['content-type'] }, payload: post.payload });
}

async function get(a: FastifyInstance, url: string, token: string): Promise<{ status: number; body: string }> {
  const r = await a.inject({ url, headers: { authorization: `Bearer ${token}` } });
  return { status: r.statusCode, body: r.body };
}

test('a customer\'s findings for another customer\'s sender: the same as for a sender nobody heard of', async () => {
  const a = await app();
  const ask = async (q: string): Promise<SearchResult> => JSON.parse((await get(a, `/api/trace?${q}&since=7d`, custToken)).body) as SearchResult;
  // y.test wrote to b.test only; nowhere.test never wrote at all.
  const strip = (r: SearchResult) => JSON.stringify({ ...r, since: null, until: null }).replace(/y\.test|nowhere\.test/g, 'SENDER');
  for (const [other, none] of [['from=y.test', 'from=nowhere.test'], ['from=spam@y.test', 'from=spam@nowhere.test'],
    ['from=nowhere.test&ip=198.51.100.7', 'from=nowhere.test&ip=198.51.100.99'], ['from=colleague@y.test', 'from=colleague@nowhere.test']]) {
    const r = await ask(other!);
    const n = await ask(none!);
    assert.deepEqual(r.findings.map((f) => f.code), ['no_attempt_seen'], other);
    assert.deepEqual(r.near_misses, [], `${other}: no other addresses of the sender, no mailboxes of b.test`);
    assert.deepEqual(r.journeys, []);
    assert.equal(r.truncated, false);
    assert.equal(strip(r), strip(n), `${other} answers like ${none}`);
    // The text claims no more than the customer's own domains.
    assert.match(r.findings[0]!.what, /to a\.test reached our servers/);
  }
  // A typo hint from the sender's other recipients: only mailboxes of a.test (carol@b.test is one slip from carol@a.test).
  const typo = await ask('from=spam@y.test&rcpt=carol@a.test');
  assert.deepEqual(typo.near_misses, []);
  // The same page, the same figures.
  const page = await get(a, '/search?from=y.test&since=7d', custToken);
  assert.match(page.body, /The sender never tried/);
  assert.match(page.body, /0 messages/);
  // Staff see that y.test did write (no finding) and the colleague's near miss.
  const staff = JSON.parse((await get(a, '/api/trace?from=colleague@y.test&since=7d', staffToken)).body) as SearchResult;
  assert.deepEqual(staff.findings, []);
  assert.deepEqual(staff.near_misses, [{ kind: 'other_sender_address', value: 'spam@y.test', what: 'The same sender domain wrote from spam@y.test' }]);
  // A customer's own near misses stay: another address of a sender that wrote to a.test.
  const own = JSON.parse((await get(a, '/api/trace?from=chef@m.test&since=7d', custToken)).body) as SearchResult;
  assert.deepEqual(own.findings, []);
  assert.deepEqual(own.near_misses, [{ kind: 'other_sender_address', value: 'boss@m.test', what: 'The same sender domain wrote from boss@m.test' }]);
  await a.close();
});

test('a customer never sees Maildir paths, downstream or resolver addresses, nor other customers\' recipient counts', async () => {
  const a = await app();
  const secrets = [MAILDIR, RESOLVER, LMTP, '"rcpts"', '"files"', '"transactions"', 'erin', 'b.test'];
  const clean = (what: string, body: string): void => {
    for (const s of secrets) assert.ok(!body.includes(s), `${what} shows ${s}`);
  };
  const api = await get(a, `/api/journey/${REF_M}`, custToken);
  assert.equal(api.status, 200);
  const r = JSON.parse(api.body) as SearchResult;
  assert.deepEqual(r.journeys.map((j) => j.rcpt), ['dave@a.test']);
  clean('the API journey', api.body);
  const delivered = r.journeys[0]!.events.find((e) => e.kind === 'message.delivered')!;
  assert.deepEqual(delivered.details, { mailboxes: ['dave@a.test'], target: 'maildir', ms: 2 });
  assert.deepEqual(r.journeys[0]!.events.find((e) => e.kind === 'data.received')!.details, { subject: 'Quarterly numbers' });
  assert.match(JSON.stringify(r.journeys[0]!.events.find((e) => e.kind === 'check.result')!.details), /MX answered by \[internal\]/);
  clean('the search API', (await get(a, '/api/trace?domain=a.test&since=7d', custToken)).body);
  clean('the journey page', (await get(a, `/journey/${REF_M}?rcpt=dave@a.test`, custToken)).body);
  clean('the LMTP journey', (await get(a, `/api/journey/${REF_P}`, custToken)).body);
  for (const format of ['text', 'html']) {
    const rep = await get(a, `/journey/${REF_M}/report?rcpt=dave@a.test&format=${format}`, custToken);
    assert.equal(rep.status, 200);
    assert.match(rep.body, /Quarterly numbers/);
    clean(`the ${format} report`, rep.body);
  }
  // Staff see the internals.
  const staff = (await get(a, `/api/journey/${REF_M}`, staffToken)).body;
  for (const s of [MAILDIR, RESOLVER, LMTP, '"rcpts":2', 'erin@b.test']) assert.ok(staff.includes(s), `staff miss ${s}`);
  await a.close();
});

test('customer diagnostics: internal names and private addresses are refused with a reason; staff may check anything', async () => {
  const asked: string[] = [];
  const a = await app(asked);
  const names = ['intranet', 'db.internal', 'printer.local', 'nas.lan', 'router.home.arpa', 'localhost', 'app.localhost', 'mail.corp.example.net',
    'corp.example.net.', '10.0.0.1', '1.0.0.10.in-addr.arpa', 'x.test'];
  for (const n of names) {
    const page = await get(a, `/diagnostics?domain=${encodeURIComponent(n)}`, custToken);
    assert.equal(page.status, 200);
    assert.match(page.body, /Customer accounts can check public names only: [^<]*(reserved or internal|single label|internal network|an address)/, n);
    const api = await get(a, `/api/check/domain/${encodeURIComponent(n)}`, custToken);
    assert.equal(api.status, 400, n);
    assert.match(api.body, /public names only/, n);
  }
  for (const ip of ['10.0.0.1', '127.0.0.1', '169.254.1.1', '172.20.0.5', '192.168.1.1', '100.64.0.1', 'fe80::1', 'fd00::1', '::1', '::ffff:10.0.0.1']) {
    const page = await get(a, `/diagnostics?ip=${encodeURIComponent(ip)}`, custToken);
    assert.match(page.body, /Customer accounts can check public addresses only: [^<]*private, loopback, link-local or reserved/, ip);
    assert.equal((await get(a, `/api/check/ip/${encodeURIComponent(ip)}`, custToken)).status, 400, ip);
  }
  assert.deepEqual(asked, [], 'nothing of it reached the resolver');
  // "Recheck now" on a journey (sender domain p.test, client 10.1.1.1): the same rule.
  const recheck = await loggedIn(a, 'custa', 'cust-pw', `/journey/${REF_P}/recheck?rcpt=dave@a.test`);
  assert.equal(recheck.statusCode, 200);
  assert.match(recheck.body, /public names only: names under \.test are reserved or internal/);
  assert.match(recheck.body, /public addresses only: 10\.1\.1\.1 is a private/);
  // Public names work, without the resolver's address or internal MX addresses.
  const ok = await get(a, '/api/check/domain/example.com', custToken);
  assert.equal(ok.status, 200);
  assert.ok(!ok.body.includes(RESOLVER) && !ok.body.includes('10.1.2.3') && !ok.body.includes('192.168.7.7'), ok.body);
  const d = JSON.parse(ok.body) as DomainDiagnosis;
  assert.deepEqual(d.mx.map((h) => h.addresses), [[], ['203.0.113.25']]);
  const ip = await get(a, '/api/check/ip/203.0.113.5', custToken);
  assert.equal(ip.status, 200);
  assert.ok(!ip.body.includes(RESOLVER));
  assert.deepEqual(asked, ['example.com', '203.0.113.5']);
  // Staff: any name, the whole answer.
  const staff = await get(a, '/api/check/domain/db.internal', staffToken);
  assert.equal(staff.status, 200);
  assert.ok(staff.body.includes(RESOLVER) && staff.body.includes('10.1.2.3'));
  assert.equal((await get(a, '/api/check/ip/10.0.0.1', staffToken)).status, 200);
  assert.match((await get(a, '/diagnostics?domain=intranet', staffToken)).body, /Domain intranet/);
  await a.close();
});
