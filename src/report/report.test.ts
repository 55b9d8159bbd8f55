import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChunkReader } from '../ledger/store/chunk-reader.js';
import { testJournal, testStore } from '../../test/helpers/event-table.js';
import type { LedgerEvent } from '../ledger/types.js';
import type { Lang } from '../research/explain.js';
import { search, type SearchFilter, type SearchResult } from '../research/search.js';
import { escapeHtml, renderHtml } from './html.js';
import { renderReport } from './index.js';
import { buildModel } from './model.js';
import { requireTool } from '../../test/helpers/env.js';
import { tempLedger } from '../../test/helpers/temp-ledger.js';
import { DOMAIN as STORY_DOMAIN, NOW as STORY_NOW, REFS, storyEvents, T0 as STORY_T0 } from '../research/testing.js';
import { DEJAVU, FALLBACK, pickFont, renderPdf, winAnsiOnly } from './pdf.js';
import { displaySafe, wrap } from './safe.js';
import { renderText } from './text.js';

const T0 = Date.parse('2026-03-02T09:15:00Z');
const NOW = new Date('2026-03-02T12:00:00Z');
const SCRIPT = '<script>alert(1)</script>';
const HOSTILE_HELO = 'evil.example\r\nCause: forged line';
const LONG_LOCAL = 'x'.repeat(400);

function ev(kind: LedgerEvent['kind'], o: Partial<LedgerEvent>, dt = 0): LedgerEvent {
  return { ts: T0 + dt, node: 'mx1', source: 'gateway', kind, session: 's1', client_ip: '192.0.2.7', client_ptr: 'mail.sender.example', ...o };
}

/** Events as the gateway and POP3 server write them; the hostile values are raw (as an ingested line or an older version could leave them). */
const EVENTS: LedgerEvent[] = [
  // 1. Unknown recipient, from a hostile client.
  ev('session.connect', { ref: 'SESS00000001', helo: null }),
  ev('session.helo', { ref: 'SESS00000001', helo: HOSTILE_HELO }, 10),
  ev('mail.from', { ref: 'REJECT000001', helo: HOSTILE_HELO, mail_from: `${SCRIPT}@evil.example` }, 20),
  ev('check.result', { ref: 'REJECT000001', helo: HOSTILE_HELO, mail_from: `${SCRIPT}@evil.example`, rcpt: 'tpyo@kunde.test', check_name: 'recipient', verdict: 'reject', smtp_code: 550, enhanced_code: '5.1.1', details: { stage: 'rcpt', reason: 'no such mailbox' } }, 30),
  ev('rcpt.rejected', { ref: 'REJECT000001', helo: HOSTILE_HELO, mail_from: `${SCRIPT}@evil.example`, rcpt: 'tpyo@kunde.test', check_name: 'recipient', verdict: 'reject', smtp_code: 550, enhanced_code: '5.1.1', reply: '550 5.1.1 <tpyo@kunde.test>: no such mailbox here (ref REJECT000001)', details: { reason: 'no such mailbox', stage: 'rcpt' } }, 31),
  // 2. Delivered with a hostile subject and a very long sender, then fetched and deleted by POP3.
  ev('session.connect', { session: 's2', ref: 'SESS00000002' }, 1000),
  ev('session.helo', { session: 's2', ref: 'SESS00000002', helo: 'mail.sender.example' }, 1010),
  ev('mail.from', { session: 's2', ref: 'DELIVER00001', helo: 'mail.sender.example', mail_from: `${LONG_LOCAL}@sender.example` }, 1020),
  ev('rcpt.accepted', { session: 's2', ref: 'DELIVER00001', mail_from: `${LONG_LOCAL}@sender.example`, rcpt: 'jörg@kunde.test' }, 1030),
  ev('data.received', { session: 's2', ref: 'DELIVER00001', mail_from: `${LONG_LOCAL}@sender.example`, message_id: 'abc@sender.example', size: 1234, details: { subject: `${SCRIPT} Grüße \u202egnp.exe\u202c`, rcpts: 1 } }, 1040),
  ev('message.delivered', { session: 's2', ref: 'DELIVER00001', mail_from: `${LONG_LOCAL}@sender.example`, rcpt: 'jörg@kunde.test', message_id: 'abc@sender.example', smtp_code: 250, reply: '250 2.0.0 Ok: queued (ref DELIVER00001)', details: { mailboxes: ['jörg@kunde.test'], target: 'maildir' } }, 1050),
  { ts: T0 + 60000, node: 'mx1', source: 'pop3', kind: 'pop3.login', session: 'p1', client_ip: '198.51.100.9', rcpt: 'jörg@kunde.test', verdict: 'pass', details: { method: 'USER' } },
  { ts: T0 + 60010, node: 'mx1', source: 'pop3', kind: 'pop3.retr', session: 'p1', client_ip: '198.51.100.9', rcpt: 'jörg@kunde.test', ref: 'DELIVER00001', message_id: 'abc@sender.example', size: 1234, details: { uidl: 'u1' } },
  { ts: T0 + 60020, node: 'mx1', source: 'pop3', kind: 'pop3.dele', session: 'p1', client_ip: '198.51.100.9', rcpt: 'jörg@kunde.test', ref: 'DELIVER00001', message_id: 'abc@sender.example', size: 1234, details: { uidl: 'u1' } },
  // 3. A block-listed sender (DNSBL evidence with list and answer).
  ev('session.connect', { session: 's3', ref: 'SESS00000003', client_ip: '203.0.113.5', client_ptr: null }, 2000),
  ev('check.result', { session: 's3', ref: 'SESS00000003', client_ip: '203.0.113.5', client_ptr: null, check_name: 'dnsbl', verdict: 'reject', smtp_code: 554, enhanced_code: '5.7.1', details: { stage: 'connect', evidence: { client_ip: '203.0.113.5', zones: [{ zone: 'zen.example', name: 'Example Block List', query: '5.113.0.203.zen.example', answer: { ttl: 300, at: '2026-03-02T09:15:02.000Z', records: ['127.0.0.2'] }, listings: [{ code: '127.0.0.2', meaning: 'listed' }] }] } } }, 2001),
  ev('mail.from', { session: 's3', ref: 'BLOCK0000001', client_ip: '203.0.113.5', client_ptr: null, mail_from: 'boss@dsl.example' }, 2010),
  ev('rcpt.rejected', { session: 's3', ref: 'BLOCK0000001', client_ip: '203.0.113.5', client_ptr: null, mail_from: 'boss@dsl.example', rcpt: 'info@kunde.test', check_name: 'dnsbl', verdict: 'reject', smtp_code: 554, enhanced_code: '5.7.1', reply: "554 5.7.1 Your server's address 203.0.113.5 is listed on Example Block List (ref BLOCK0000001)" }, 2020),
  // 4. An in-house server on a DSL line: the connect event has no name (the lookup comes later); the check found one and refused it.
  ev('session.connect', { session: 's4', ref: 'SESS00000004', client_ip: '203.0.113.77', client_ptr: null }, 3000),
  ev('check.result', { session: 's4', ref: 'SESS00000004', client_ip: '203.0.113.77', client_ptr: null, check_name: 'client_identity', verdict: 'reject', smtp_code: 550, enhanced_code: '5.7.1', details: { stage: 'connect', evidence: { client_ip: '203.0.113.77', finding: 'dynamic_name', ptr: { records: ['dsl-203-0-113-77.dyn.example'] }, verified_name: 'dsl-203-0-113-77.dyn.example' } } }, 3001),
  ev('mail.from', { session: 's4', ref: 'DYNAMIC00001', client_ip: '203.0.113.77', client_ptr: null, mail_from: 'meier@handwerk.example' }, 3010),
  ev('rcpt.rejected', { session: 's4', ref: 'DYNAMIC00001', client_ip: '203.0.113.77', client_ptr: null, mail_from: 'meier@handwerk.example', rcpt: 'chef@kunde.test', check_name: 'client_identity', verdict: 'reject', smtp_code: 550, enhanced_code: '5.7.1', reply: "550 5.7.1 Your server's address 203.0.113.77 has the generic host name dsl-203-0-113-77.dyn.example (ref DYNAMIC00001)" }, 3020),
  // 5. No PTR at all: a 450, and the lookup's answer is "no name".
  ev('session.connect', { session: 's5', ref: 'SESS00000005', client_ip: '203.0.113.88', client_ptr: null }, 4000),
  ev('check.result', { session: 's5', ref: 'SESS00000005', client_ip: '203.0.113.88', client_ptr: null, check_name: 'client_identity', verdict: 'tempfail', smtp_code: 450, enhanced_code: '4.7.25', details: { stage: 'connect', evidence: { client_ip: '203.0.113.88', finding: 'no_ptr', ptr: { records: [] }, verified_name: null } } }, 4001),
  ev('mail.from', { session: 's5', ref: 'NOPTR0000001', client_ip: '203.0.113.88', client_ptr: null, mail_from: 'neu@neu.example' }, 4010),
  ev('rcpt.rejected', { session: 's5', ref: 'NOPTR0000001', client_ip: '203.0.113.88', client_ptr: null, mail_from: 'neu@neu.example', rcpt: 'chef@kunde.test', check_name: 'client_identity', verdict: 'tempfail', smtp_code: 450, enhanced_code: '4.7.25', reply: "450 4.7.25 Your server's address 203.0.113.88 has no host name in DNS (ref NOPTR0000001)" }, 4020),
];

async function withLedger<T>(fn: (r: ChunkReader) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-report-'));
  const file = path.join(dir, 'ledger.sqlite');
  const w = await testJournal(file);
  await w.append(EVENTS);
  await w.close();
  const r = await testStore(file);
  try {
    return await fn(r);
  } finally {
    await r.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function searchFor(f: SearchFilter, lang: Lang): Promise<SearchResult> {
  return withLedger((r) => search(r, { since: T0 - 3600e3, until: T0 + 3600e3, now: NOW.getTime(), ...f }, { lang }));
}

test('safe: line breakers and bidi overrides become visible escapes; wrap cuts long words', () => {
  assert.equal(displaySafe('a\r\nb\u2028c\u202ed\x1b'), 'a\\x0d\\x0ab\\u2028c\\u202ed\\x1b');
  assert.equal(displaySafe('\ud800x'), '\ufffdx', 'a lone surrogate is not text');
  assert.equal(displaySafe('😀 ok'), '😀 ok', 'a surrogate pair is kept');
  assert.equal(displaySafe('abcdef', 3), 'abc…');
  const lines = wrap(`short ${'y'.repeat(100)} end`, 30);
  assert.ok(lines.every((l) => l.length <= 30), JSON.stringify(lines));
  assert.equal(lines.join('').replace(/ /g, ''), `short${'y'.repeat(100)}end`);
});

test('escapeHtml escapes the five characters', () => {
  assert.equal(escapeHtml(`<a href="x" title='y'>&</a>`), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
});

test('model: timeline in words, cause, evidence with the DNSBL answer, forward block for the sender', async () => {
  const result = await searchFor({ rcpt: 'info@kunde.test' }, 'en');
  const m = buildModel(result, { lang: 'en', now: NOW, filter: { rcpt: 'info@kunde.test' } });
  assert.equal(m.journeys.length, 1);
  const j = m.journeys[0]!;
  assert.equal(j.ref, 'BLOCK0000001');
  assert.deepEqual(m.question[0], { label: 'Recipient', value: 'info@kunde.test' });
  // Its name was never looked up: none is claimed.
  assert.ok(j.timeline.some((r) => r.text === 'Connection from 203.0.113.5'), JSON.stringify(j.timeline));
  assert.ok(j.timeline.some((r) => r.text === 'Check block lists (DNSBL): refuse'));
  assert.ok(j.timeline.some((r) => r.text.startsWith('Recipient info@kunde.test refused: 554 5.7.1')));
  assert.equal(j.causes[0]?.code, 'sender_ip_blocklisted');
  const list = j.evidence.flatMap((e) => e.fields).find((f) => f.label === 'Block list');
  assert.equal(list?.value, 'Example Block List: 5.113.0.203.zen.example -> 127.0.0.2, TTL 300 s, 2026-03-02 09:15:02 UTC');
  assert.ok(j.forward, 'a sender-side cause has a text to forward');
  assert.ok(j.forward.lines.some((l) => l.includes("Our server answered your server: 554 5.7.1 Your server's address 203.0.113.5 is listed")));
  assert.ok(j.forward.lines.includes('Reference: BLOCK0000001'));
});

test('text: a CRLF in the HELO cannot forge a line; no line is wider than the page; German with umlauts', async () => {
  const result = await searchFor({ domain: 'kunde.test' }, 'de');
  const text = renderText(buildModel(result, { lang: 'de', now: NOW }));
  const lines = text.split('\n');
  assert.ok(lines.every((l) => Array.from(l).length <= 78), lines.filter((l) => Array.from(l).length > 78).join('\n'));
  assert.ok(!lines.some((l) => /^\s*Cause: forged/.test(l)), 'the HELO forged a line');
  assert.match(text, /evil\.example\\x0d\\x0aCause: forged line/);
  assert.ok(!text.includes('\r') && !text.includes('\u202e'), 'no raw CR or bidi override');
  assert.match(text, /Postfach existiert nicht/);
  assert.match(text, /Empfänger tpyo@kunde\.test abgelehnt: 550 5\.1\.1/);
  assert.match(text, /Per POP3 vom Server gelöscht von 198\.51\.100\.9/);
  assert.match(text, /Abgerufen und aus dem Postfach gelöscht/);
  assert.match(text, /Betreff: +<script>alert\(1\)<\/script> Grüße \\u202egnp\.exe\\u202c/);
  assert.match(text, /Zur Weiterleitung an den Absender/);
  // The 400-character local part is in the text, cut into lines, none of them past the edge.
  assert.ok(text.replace(/\s+/g, '').includes('x'.repeat(300)));
});

test('html: hostile subject and address show as text, never as markup', async () => {
  const r = await renderReport(await searchFor({ domain: 'kunde.test' }, 'en'), { lang: 'en', format: 'html', now: NOW });
  const html = r.body.toString('utf8');
  assert.equal(r.contentType, 'text/html; charset=utf-8');
  assert.ok(!html.includes('<script'), 'a script tag got through');
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;@evil.example'), 'the address is shown as text');
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt; Grüße \\u202egnp.exe\\u202c'), 'the subject is shown as text');
  assert.ok(!html.includes('\u202e'));
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">/);
  assert.doesNotMatch(html, /<link|src=|href="(?!#m\d+")/, 'self-contained: no external resources (links within the page only)');
  assert.match(html, /Fetched and deleted from the mailbox/);
  assert.match(html, /No such mailbox/);
});

test('nothing found: the report says so and explains no_attempt_seen', async () => {
  const result = await searchFor({ rcpt: 'info@kunde.test', from: 'nobody@never.example' }, 'en');
  assert.equal(result.journeys.length, 0);
  const m = buildModel(result, { lang: 'en', now: NOW, filter: { rcpt: 'info@kunde.test', from: 'nobody@never.example' } });
  const text = renderText(m).replace(/\s+/g, ' ');
  assert.match(text, /No message matching this search was found in the log between 2026-03-02 08:15:00 UTC and 2026-03-02 10:15:00 UTC\./);
  assert.match(text, /The sender never tried \(sender's side, no_attempt_seen\)/);
  assert.match(text, /To forward to the sender/);
  const r = await renderReport(result, { lang: 'en', format: 'text', now: NOW });
  assert.equal(r.filename, 'mailproof-report-20260302-120000.txt');
});

test('pdf: a PDF with the fonts embedded; the text comes back with umlauts where pdftotext is installed', async (t) => {
  const r = await renderReport(await searchFor({ ref: 'REJECT000001' }, 'de'), { lang: 'de', format: 'pdf', now: NOW });
  assert.equal(r.contentType, 'application/pdf');
  assert.equal(r.filename, 'mailproof-report-REJECT000001.pdf');
  assert.equal(r.body.subarray(0, 5).toString('latin1'), '%PDF-');
  let text: string;
  try {
    text = execFileSync('pdftotext', ['-enc', 'UTF-8', '-', '-'], { input: r.body, encoding: 'utf8' });
  } catch {
    t.skip('pdftotext not installed (the e2e test requires it)');
    return;
  }
  const flat = text.replace(/\s+/g, ' ');
  assert.match(flat, /Postfach existiert nicht/);
  assert.match(flat, /Empfänger/);
  assert.match(flat, /REJECT000001/);
  assert.match(flat, /Cause: forged line/, 'the HELO is in the text');
  assert.match(flat, /evil\.example\\x0d\\x0aCause/, 'as one value with visible escapes');
});

test('pdf: Chinese, Japanese and Korean text in the fallback font, returned as text by pdftotext', async (t) => {
  // Which font a string gets: the main one unless it lacks a glyph that the fallback has.
  const main = (cp: number) => cp < 0x3000;
  const fallback = (cp: number) => cp >= 0x3000 && cp < 0xd800;
  assert.equal(pickFont('Grüße, Бланк', main, fallback), 'main');
  assert.equal(pickFont('Re: 会议纪要', main, fallback), 'fallback');
  assert.equal(pickFont('\u{1F600}', main, fallback), 'main', 'a glyph neither has: the main font (a box either way)');
  assert.equal(pickFont('会议', main, null), 'main', 'no fallback font on the machine');

  const pdftotext = requireTool(t, 'pdftotext');
  if (!pdftotext) return;
  if (!fs.existsSync(FALLBACK.path)) {
    if (process.env.CI === 'true') throw new Error(`${FALLBACK.path} is missing; scripts/install-test-deps.sh installs fonts-wqy-microhei`);
    t.skip('fonts-wqy-microhei not installed');
    return;
  }
  const m = buildModel(await searchFor({ ref: 'REJECT000001' }, 'de'), { lang: 'de', now: NOW });
  m.summary = 'Betreff: 会议纪要 / 会議の議事録 / 회의록 (Protokoll für Jürgen)';
  const pdf = await renderPdf(m, { now: NOW });
  assert.match(pdf.toString('latin1'), /\/BaseFont \/[A-Z]{6}\+WenQuanYiMicroHei/, 'the fallback is embedded (subset)');
  assert.match(pdf.toString('latin1'), /\/BaseFont \/[A-Z]{6}\+DejaVuSans/, 'the rest stays in DejaVu');
  const text = execFileSync(pdftotext, ['-enc', 'UTF-8', '-', '-'], { input: pdf, encoding: 'utf8' }).replace(/\s+/g, ' ');
  assert.match(text, /会议纪要 \/ 会議の議事録 \/ 회의록 \(Protokoll für Jürgen\)/);
  assert.match(text, /REJECT000001/);
  // Without the fallback font: DejaVu, and the same PDF as before this existed.
  const plain = await renderPdf(m, { now: NOW, fonts: { ...DEJAVU, fallback: { path: '/nonexistent/Fallback.ttf' } } });
  assert.doesNotMatch(plain.toString('latin1'), /WenQuanYi/);
});

test('pdf without DejaVu: Helvetica, characters outside WinAnsi become ?', async () => {
  assert.equal(winAnsiOnly('Grüße € \u202e 😀 ж'), 'Grüße € ? ? ?');
  const m = buildModel(await searchFor({ domain: 'kunde.test' }, 'de'), { lang: 'de', now: NOW });
  const pdf = await renderPdf(m, { now: NOW, fonts: { regular: '/nonexistent/Regular.ttf', bold: '/nonexistent/Bold.ttf' } });
  assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-');
  assert.match(pdf.toString('latin1'), /\/BaseFont \/Helvetica/);
});

test('the connection line names the PTR the checks found (no "(no name)" beside a refused name), in English, German and the German PDF', async (t) => {
  for (const lang of ['en', 'de'] as const) {
    const m = buildModel(await searchFor({ rcpt: 'chef@kunde.test' }, lang), { lang, now: NOW });
    const dyn = m.journeys.find((j) => j.ref === 'DYNAMIC00001')!;
    const noPtr = m.journeys.find((j) => j.ref === 'NOPTR0000001')!;
    const texts = (j: typeof dyn): string[] => j.timeline.map((r) => r.text);
    const connect = lang === 'de' ? 'Verbindung von' : 'Connection from';
    assert.ok(texts(dyn).includes(`${connect} 203.0.113.77 (dsl-203-0-113-77.dyn.example)`), JSON.stringify(texts(dyn)));
    assert.ok(!texts(dyn).some((x) => /no name|kein Name/.test(x)), JSON.stringify(texts(dyn)));
    assert.ok(dyn.facts.some((f) => f.value === '203.0.113.77 (dsl-203-0-113-77.dyn.example)'), JSON.stringify(dyn.facts));
    assert.equal(dyn.causes[0]?.code, 'sender_dynamic_ip');
    // The lookup found no name: said so, as the check says it.
    assert.ok(texts(noPtr).includes(lang === 'de' ? `${connect} 203.0.113.88 (kein Name im DNS)` : `${connect} 203.0.113.88 (no name in DNS)`), JSON.stringify(texts(noPtr)));
  }
  const pdftotext = requireTool(t, 'pdftotext');
  if (!pdftotext) return;
  const r = await renderReport(await searchFor({ ref: 'DYNAMIC00001' }, 'de'), { lang: 'de', format: 'pdf', now: NOW });
  const text = execFileSync(pdftotext, ['-enc', 'UTF-8', '-', '-'], { input: r.body, encoding: 'utf8' }).replace(/\s+/g, ' ');
  assert.match(text, /Verbindung von 203\.0\.113\.77 \(dsl-203-0-113-77\.dyn\.example\)/);
  assert.match(text, /heißt dsl-203-0-113-77\.dyn\.example/);
  assert.doesNotMatch(text, /kein Name/);
});

test('each message says its verdict first, and the text to forward fits the attachment (no "as PDF" for an infected PDF)', async () => {
  const { reader, done } = await tempLedger(storyEvents(), 'mp-report-stories-');
  try {
    for (const lang of ['en', 'de'] as const) {
      const result = await search(reader, { domain: STORY_DOMAIN, since: STORY_T0 - 3600e3, until: STORY_NOW, now: STORY_NOW }, { lang });
      const m = buildModel(result, { lang, now: NOW });
      const pdf = m.journeys.find((j) => j.ref === REFS.pdf)!;
      assert.match(pdf.verdict, lang === 'en' ? /^Rejected: the attachment Rechnung-2026-12\.pdf contains / : /^Abgelehnt: Der Anhang Rechnung-2026-12\.pdf enthält /);
      const forward = pdf.forward!.lines.join('\n');
      assert.match(forward, lang === 'en' ? /new PDF from the original document/ : /aus dem Originaldokument eine neue PDF-Datei/);
      assert.doesNotMatch(forward, /as (a )?PDF|als PDF/);
      // The cause before the generic "delivered", in every format.
      const fetched = m.journeys.find((j) => j.ref === REFS.fetched)!;
      assert.deepEqual(fetched.causes.map((x) => x.code), ['fetched_and_deleted', 'delivered']);
      assert.match(fetched.verdict, lang === 'en' ? /^Delivered, then fetched and deleted at 10:02 UTC by a mail program at 192\.0\.2\.50/ : /^Zugestellt, dann um 10:02 UTC von einem Mailprogramm mit der Adresse 192\.0\.2\.50 abgerufen und gelöscht/);
      const text = renderText(m).replace(/\s+/g, ' ');
      assert.ok(text.includes(fetched.verdict), 'the text report shows the verdict');
      // The customer's report names no other customer's recipient of the same transaction, nor our Maildir path.
      assert.doesNotMatch(text, /elsewhere\.test|\/var\/lib\/mailproof/);
      const html = renderHtml(m);
      assert.ok(html.includes(`<p class="verdict">${escapeHtml(pdf.verdict)}</p>`));
      // A report of a whole search lists every message's verdict before the first message, in order.
      const contents = m.labels.contents;
      const head = text.slice(text.indexOf(contents), text.indexOf(`${m.labels.journey} 1`));
      assert.ok(head.startsWith(contents), 'the list of verdicts comes before the first message');
      let at = 0;
      m.journeys.forEach((j, i) => {
        const k = head.indexOf(`${i + 1}. ${j.verdict.slice(0, 40)}`, at);
        assert.ok(k >= at, `message ${i + 1} in order in the list`);
        at = k;
      });
      assert.ok(html.includes(`<li><a href="#m1">${escapeHtml(m.journeys[0]!.verdict)}</a></li>`));
    }
  } finally { await done(); }
});
