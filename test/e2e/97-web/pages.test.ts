// Every main page as people see it, in real Chromium: German and English,
// at phone (390 px) and desktop (1920 px) width. No page may scroll
// sideways; a German page may carry no English label of the catalogue; a
// customer never sees a server path or a resolver address. Screenshots of
// each page go to $MAILPROOF_SCREENSHOTS (default: <tmp>/mailproof-screenshots)
// for a reviewer to look at; they are not compared pixel by pixel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CATALOGUES } from '../../../src/web/i18n/index.js';
import { requireTool } from '../../helpers/env.js';
import { freePort, NO_DNS_CHECKS, run, startServer, type Instance } from '../../helpers/server.js';
import { sendMail } from '../../helpers/smtp-client.js';

const SHOTS = process.env.MAILPROOF_SCREENSHOTS ?? path.join(os.tmpdir(), 'mailproof-screenshots');
const WIDTHS = { phone: { width: 390, height: 844 }, desktop: { width: 1920, height: 1080 } } as const;

function message(o: { from: string; to: string; subject: string; exe?: boolean }): string {
  const head = `From: <${o.from}>\r\nTo: <${o.to}>\r\nSubject: ${o.subject}\r\nMessage-ID: <${Math.random().toString(36).slice(2)}@pages.test>\r\nMIME-Version: 1.0\r\n`;
  if (!o.exe) return `${head}Content-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n`;
  return `${head}Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n`
    + `--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="Rechnung-2026-12.pdf.exe"\r\nContent-Transfer-Encoding: base64\r\n\r\n`
    + `${Buffer.from('not really a program').toString('base64')}\r\n--b1--\r\n`;
}

async function login(page: Page, base: string, name: string, password: string): Promise<void> {
  await page.goto(`${base}/login`);
  await page.fill('input[name=name]', name);
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('button[type=submit]')]);
}

/**
 * English texts of the catalogue that a German page must not show: those
 * that differ from the German and carry no placeholder, as whole words (the
 * account "staff1" is not the label "staff"). The switch to English is
 * English on purpose.
 */
const ENGLISH_ONLY = Object.entries(CATALOGUES.en)
  .filter(([k, v]) => !k.startsWith('lang.') && v !== CATALOGUES.de[k as keyof typeof CATALOGUES.de] && !v.includes('{') && v.length >= 4)
  .map(([, v]) => ({ v, re: new RegExp(`(^|[^\\p{L}\\p{N}])${v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^\\p{L}\\p{N}])`, 'u') }));

async function look(page: Page, name: string, lang: 'de' | 'en'): Promise<string> {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  assert.equal(await page.getAttribute('html', 'lang'), lang, `${name}: <html lang>`);
  const wide = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, view: window.innerWidth }));
  assert.ok(wide.scroll <= wide.view, `${name} scrolls sideways: ${wide.scroll} px content in ${wide.view} px`);
  const text = await page.locator('body').innerText();
  if (lang === 'de') {
    const english = ENGLISH_ONLY.map((e) => e.re.exec(text)).filter((m) => m !== null).map((m) => text.slice(Math.max(0, m.index - 30), m.index + m[0].length + 30));
    assert.deepEqual(english, [], `${name}: English labels on a German page`);
  }
  return text;
}

test('the pages in German and English, on a phone and a desktop', async (t) => {
  const chromiumPath = requireTool(t, 'chromium');
  if (!chromiumPath) return;
  const webPort = await freePort();
  const base = `http://127.0.0.1:${webPort}`;
  let mp: Instance | null = null;
  let browser: Browser | null = null;
  t.after(async () => {
    await browser?.close();
    await mp?.stop();
    if (mp) fs.rmSync(mp.dataDir, { recursive: true, force: true });
  });
  mp = await startServer({
    config: {
      domains: { 'a.test': { mailboxes: ['alice', 'anna.lena.schmidt-mueller'] }, 'b.test': { mailboxes: ['bobby'] } },
      reply: { public_url: `${base}/r/` },
      web: { listen: [`127.0.0.1:${webPort}`] },
      checks: { allowlist: { networks: [] }, ...NO_DNS_CHECKS, helo_syntax: { mode: 'dry-run' }, helo: { mode: 'off' } },
    },
  });
  const refOf = (r: { final?: string | null }): string => /\(ref ([0-9A-Z]{12})/.exec(r.final ?? '')![1]!;
  const long = 'anna.lena.schmidt-mueller@a.test';
  const ok = await sendMail(mp.port, { from: 'buchhaltung.zentrale@lieferant-beispiel.test', to: [long], body: message({ from: 'buchhaltung.zentrale@lieferant-beispiel.test', to: long, subject: 'Angebot für Dezember' }) });
  assert.match(ok.final ?? '', /^250 /);
  const refOk = refOf(ok);
  const virus = await sendMail(mp.port, { from: 'rechnung@y.test', to: ['alice@a.test'], body: message({ from: 'rechnung@y.test', to: 'alice@a.test', subject: 'Ihre Rechnung', exe: true }) });
  assert.match(virus.final ?? '', /^55\d /);
  const refVirus = refOf(virus);
  const typo = await sendMail(mp.port, { from: 'kunde@z.test', to: ['alicee@a.test'], body: message({ from: 'kunde@z.test', to: 'alicee@a.test', subject: 'Termin' }) });
  assert.ok(JSON.stringify(typo.replies).includes('550'), JSON.stringify(typo.replies));

  const cfgFile = path.join(mp.dataDir, 'test-config.yaml');
  const pw = path.join(mp.dataDir, 'pw');
  fs.writeFileSync(pw, 'staff-password-1\n');
  assert.equal((await run(['user', 'add', 'staff1', '--role', 'staff', '--password-file', pw, '--config', cfgFile])).code, 0);
  fs.writeFileSync(pw, 'customer-password-1\n');
  assert.equal((await run(['user', 'add', 'custa', '--role', 'customer', '--domain', 'a.test', '--password-file', pw, '--config', cfgFile])).code, 0);
  fs.rmSync(pw);

  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  const contexts: BrowserContext[] = [];
  t.after(async () => { for (const c of contexts) await c.close(); });

  for (const [device, viewport] of Object.entries(WIDTHS)) {
    for (const lang of ['en', 'de'] as const) {
      await t.test(`staff, ${lang}, ${device}`, async () => {
        const ctx = await browser!.newContext({ viewport, locale: lang === 'de' ? 'de-DE' : 'en-US', timezoneId: 'Europe/Berlin' });
        contexts.push(ctx);
        const page = await ctx.newPage();
        await page.goto(`${base}/login`);
        await look(page, `login-${lang}-${device}`, lang);
        await login(page, base, 'staff1', 'staff-password-1');
        // The start page: the overview with its charts.
        const start = await look(page, `overview-staff-${lang}-${device}`, lang);
        assert.match(start, lang === 'de' ? /Nachricht finden/ : /Find a message/);
        // The language comes from the browser (Accept-Language), without a switch.
        await page.goto(`${base}/search?domain=a.test&since=1d`);
        const list = await look(page, `search-staff-${lang}-${device}`, lang);
        assert.match(list, lang === 'de' ? /3 Nachrichten/ : /3 messages/);
        assert.match(list, /Angebot für Dezember/);
        assert.match(list, lang === 'de' ? /Abgelehnt/ : /Rejected/);
        // Times in the browser's zone (Berlin is UTC+1 in December).
        assert.match(list, /(CET|MEZ)/);
        // The whole search as CSV and as a report, in the page's language.
        const csv = await page.request.get(`${base}/search.csv?domain=a.test&since=1d&lang=${lang}`);
        assert.equal(csv.status(), 200);
        assert.match(csv.headers()['content-type'] ?? '', /^text\/csv/);
        const rows = (await csv.text()).trimEnd().split('\r\n');
        assert.equal(rows.length, 4, 'a header and three messages');
        assert.match(rows[0]!, lang === 'de' ? /"Zeit \(Europe\/Berlin\)"/ : /"Time \(Europe\/Berlin\)"/);
        if (device === 'desktop') {
          const report = await page.request.get(`${base}/search/report?domain=a.test&since=1d&format=pdf&lang=${lang}`);
          assert.equal(report.status(), 200);
          assert.equal((await report.body()).subarray(0, 5).toString('latin1'), '%PDF-');
          fs.writeFileSync(path.join(SHOTS, `search-report-${lang}.pdf`), await report.body());
        }
        await page.goto(`${base}/journey/${refVirus}`);
        const virusText = await look(page, `journey-virus-staff-${lang}-${device}`, lang);
        // The verdict comes first: before the timeline, it names the cause.
        const verdict = await page.locator('.verdict').innerText();
        assert.match(verdict, lang === 'de' ? /Abgelehnt/ : /Rejected/);
        assert.match(verdict, lang === 'de' ? /Virus|Anhang/ : /[Vv]irus|attachment/);
        assert.ok(virusText.indexOf(verdict.trim().slice(0, 20)) < virusText.indexOf(lang === 'de' ? 'Zeitlicher Ablauf' : 'Timeline'));
        // The reply column does not repeat the code ("554 554 ...").
        assert.doesNotMatch(virusText, /\b(\d{3}) \1\b/);
        await page.goto(`${base}/journey/${refOk}`);
        await look(page, `journey-delivered-staff-${lang}-${device}`, lang);
        await page.goto(`${base}/diagnostics`);
        await look(page, `diagnostics-staff-${lang}-${device}`, lang);
        await page.goto(`${base}/search?domain=nowhere.test`);
        const none = await look(page, `search-empty-${lang}-${device}`, lang);
        assert.match(none, lang === 'de' ? /Keine Nachrichten gefunden/ : /No messages found/);
        await page.goto(`${base}/search?since=7d`);
        const bad = await look(page, `search-bad-${lang}-${device}`, lang);
        assert.match(bad, lang === 'de' ? /mindestens einen Empfänger/ : /Enter at least a recipient/);
        const missing = await page.goto(`${base}/journey/ZZZZZZZZZZZZ`);
        assert.equal(missing!.status(), 404);
        await look(page, `journey-404-${lang}-${device}`, lang);
        assert.equal(await page.locator('main a[href="/search"]').count(), 1, 'the 404 page leads back');
      });

      await t.test(`customer, ${lang}, ${device}: no paths, no resolver addresses, no raw events`, async () => {
        const ctx = await browser!.newContext({ viewport, locale: lang === 'de' ? 'de-DE' : 'en-US', timezoneId: 'Europe/Berlin' });
        contexts.push(ctx);
        const page = await ctx.newPage();
        await login(page, base, 'custa', 'customer-password-1');
        for (const ref of [refOk, refVirus]) {
          await page.goto(`${base}/journey/${ref}`);
          await look(page, `journey-${ref === refOk ? 'delivered' : 'virus'}-customer-${lang}-${device}`, lang);
          const html = await page.content();
          assert.ok(!html.includes(mp!.dataDir), 'a server path');
          // A path, not the word: "delivered via maildir" names the kind of store, which is no internal.
          assert.doesNotMatch(html, /\/(?:new|cur|tmp)\/|\/var\/|Maildir\//, 'a mailbox path');
          assert.equal(await page.locator('details.raw').count(), 0, 'raw events are for staff');
          // A recheck says which resolver only to staff.
          await page.click('form[action*="/recheck"] button');
          await page.waitForLoadState();
          const after = await look(page, `journey-recheck-customer-${lang}-${device}-${ref === refOk ? 'ok' : 'virus'}`, lang);
          assert.match(after, lang === 'de' ? /Resolver des Gateways/ : /gateway's own resolver/);
          assert.doesNotMatch(after, /resolver \d|Resolver \d/);
        }
      });

      await t.test(`public page, ${lang}, ${device}`, async () => {
        const ctx = await browser!.newContext({ viewport, locale: lang === 'de' ? 'de-DE' : 'en-US' });
        contexts.push(ctx);
        const page = await ctx.newPage();
        await page.goto(`${base}/r/${refVirus}`);
        const text = await look(page, `public-virus-${lang}-${device}`, lang);
        assert.match(text, lang === 'de' ? /Was zu tun ist/ : /What to do/);
        // The page speaks to the sender, not about the sender.
        assert.match(text, lang === 'de' ? /Ihre Nachricht wurde abgelehnt/ : /Your message was refused/);
        assert.doesNotMatch(text, /the sender must|the sender's|Der Absender muss|des Absenders/i);
        for (const secret of ['alice', 'a.test', 'Ihre Rechnung']) assert.ok(!text.includes(secret), `the public page shows ${secret}`);
      });
    }
  }
});
