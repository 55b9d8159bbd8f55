// The web UI in a real browser (Debian's Chromium driven by playwright-core)
// against a real `mailproof serve` that got real mail over SMTP: staff
// research, customer scoping, the public reference page, hostile values shown
// as text, login throttle and CSRF.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { requireTool } from '../../helpers/env.js';
import { freePort, NO_DNS_CHECKS, run, startServer, type Instance } from '../../helpers/server.js';
import { sendMail } from '../../helpers/smtp-client.js';

const SUBJECT = '<script>alert(1)</script>';
const HELO = '<script>alert(2)</script>';

function message(o: { from: string; to: string; subject: string; exe?: boolean }): string {
  const head = `From: <${o.from}>\r\nTo: <${o.to}>\r\nSubject: ${o.subject}\r\nMessage-ID: <${Math.random().toString(36).slice(2)}@web.test>\r\nMIME-Version: 1.0\r\n`;
  if (!o.exe) return `${head}Content-Type: text/plain\r\n\r\nhello\r\n`;
  return `${head}Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n`
    + `--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="Rechnung.pdf.exe"\r\nContent-Transfer-Encoding: base64\r\n\r\n`
    + `${Buffer.from('not really a program').toString('base64')}\r\n--b1--\r\n`;
}

async function login(page: Page, base: string, name: string, password: string): Promise<number> {
  await page.goto(`${base}/login`);
  await page.fill('input[name=name]', name);
  await page.fill('input[name=password]', password);
  const [resp] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/login') && r.request().method() === 'POST'), page.click('button[type=submit]')]);
  await page.waitForLoadState();
  return resp.status();
}

test('web UI in Chromium: research, scoping, public page, escaping, rate limit, CSRF', async (t) => {
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
      domains: { 'a.test': { mailboxes: ['alice'] }, 'b.test': { mailboxes: ['bobby'] } },
      reply: { public_url: `${base}/r/` },
      web: { listen: [`127.0.0.1:${webPort}`], login_max_failures: 3, trusted_proxies: ['127.0.0.1'] },
      checks: { allowlist: { networks: [] }, ...NO_DNS_CHECKS, helo_syntax: { mode: 'dry-run' }, helo: { mode: 'off' } },
    },
  });
  assert.match(mp.output(), new RegExp(`web UI on http://127\\.0\\.0\\.1:${webPort}/`));
  // The hint names this instance (its --config), so the account lands where this server reads it.
  assert.match(mp.output(), /no web accounts yet; create a login with: (mailproof|node \S*mailproof\.js) user add NAME --role staff --config \S+\/test-config\.yaml\n/);

  const ok = await sendMail(mp.port, { from: 'sender@x.test', to: ['alice@a.test'], body: message({ from: 'sender@x.test', to: 'alice@a.test', subject: 'hello alice' }) });
  assert.match(ok.final ?? '', /^250 /);
  const refA = /\(ref ([0-9A-Z]{12})/.exec(ok.final!)![1]!;
  const bad = await sendMail(mp.port, { from: 'evil@y.test', to: ['bobby@b.test'], helo: HELO, body: message({ from: 'evil@y.test', to: 'bobby@b.test', subject: SUBJECT, exe: true }) });
  assert.match(bad.final ?? '', /^55\d /, JSON.stringify(bad.replies));
  const refB = /\(ref ([0-9A-Z]{12})/.exec(bad.final!)![1]!;
  const publicUrl = new RegExp(`${base.replace(/[.]/g, '\\.')}/r/${refB}\\)$`).exec(bad.final!);
  assert.ok(publicUrl, `the reply links the public page: ${bad.final}`);

  const cfgFile = path.join(mp.dataDir, 'test-config.yaml');
  const pw = path.join(mp.dataDir, 'pw');
  fs.writeFileSync(pw, 'staff-password-1\n');
  assert.equal((await run(['user', 'add', 'staff1', '--role', 'staff', '--password-file', pw, '--config', cfgFile])).code, 0);
  fs.writeFileSync(pw, 'customer-password-1\n');
  const add = await run(['user', 'add', 'custa', '--role', 'customer', '--domain', 'a.test', '--password-file', pw, '--config', cfgFile]);
  assert.equal(add.code, 0, add.stderr);
  fs.rmSync(pw);
  const users = path.join(mp.dataDir, 'web-users.json');
  assert.equal(fs.statSync(users).mode & 0o777, 0o600);
  assert.doesNotMatch(fs.readFileSync(users, 'utf8'), /password-1/);

  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  const dialogs: string[] = [];

  await t.test('staff: log in, search, open the journey, see the explanation; the script subject is text', async () => {
    const ctx = await browser!.newContext();
    const page = await ctx.newPage();
    page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });
    assert.equal(await login(page, base, 'staff1', 'staff-password-1'), 303);
    assert.equal(new URL(page.url()).pathname, '/');
    // The start page's one field finds by domain.
    await page.fill('form.find input[name=q]', 'b.test');
    await page.click('form.find button[type=submit]');
    await page.waitForLoadState();
    assert.equal(new URL(page.url()).searchParams.get('domain'), 'b.test');
    await page.click(`table.list a[href^="/journey/${refB}"]`);
    await page.waitForLoadState();
    assert.match(new URL(page.url()).pathname, new RegExp(`^/journey/${refB}$`));
    assert.match(await page.locator('.finding').first().innerText(), /Virus or dangerous attachment/);
    assert.match(await page.locator('.finding').first().innerText(), /Rechnung\.pdf\.exe/);
    // The subject and the HELO are on the page as text, and no script ran.
    // innerText is what is rendered (closed <details> do not count).
    const shown = await page.locator('table.facts').innerText();
    assert.ok(shown.includes(SUBJECT), shown);
    assert.ok((await page.locator('table.facts').innerText()).includes(`HELO ${HELO}`));
    // The one script is the page's own (local times), from this origin.
    assert.deepEqual(await page.locator('script').evaluateAll((l) => l.map((e) => e.getAttribute('src'))), ['/static/local-time.js']);
    assert.ok(await page.locator('tr.evidence').count() > 0);
    // German explanations on request.
    await page.click('header a.lang');
    await page.waitForLoadState();
    assert.equal(await page.getAttribute('html', 'lang'), 'de');
    assert.match(await page.locator('.finding').first().innerText(), /Virus oder gefährlicher Anhang/);
    // The report link (PDF first) downloads the German report of this journey.
    const link = page.locator('a.report').first();
    assert.equal(await link.count(), 1);
    const r = await page.request.get(new URL((await link.getAttribute('href'))!, base).href);
    assert.equal(r.status(), 200, `report: ${r.status()} ${await r.text()}`);
    assert.match(r.headers()['content-disposition'] ?? '', /^attachment; filename="mailproof-report-[A-Za-z0-9._-]+\.pdf"$/);
    assert.equal(r.headers()['content-type'], 'application/pdf');
    assert.equal((await r.body()).subarray(0, 5).toString('latin1'), '%PDF-');
    // Recheck now: the form posts with its CSRF token.
    await page.click('button:text("Jetzt erneut prüfen")');
    await page.waitForLoadState();
    assert.match(await page.content(), /Adresse 127\.0\.0\.1/);
    // A POST without the CSRF token is refused, and the session survives it.
    const forged = await page.request.post(`${base}/logout`, { form: { x: '1' } });
    assert.equal(forged.status(), 403);
    assert.equal((await page.request.get(`${base}/api/journey/${refA}`)).status(), 200);
    await ctx.close();
  });

  await t.test('customer of a.test: the b.test journey is 404 by URL and API, its own is there', async () => {
    const ctx = await browser!.newContext();
    const page = await ctx.newPage();
    assert.equal(await login(page, base, 'custa', 'customer-password-1'), 303);
    const other = await page.goto(`${base}/journey/${refB}`);
    assert.equal(other!.status(), 404);
    assert.equal((await page.request.get(`${base}/api/journey/${refB}`)).status(), 404);
    const own = await page.goto(`${base}/journey/${refA}`);
    assert.equal(own!.status(), 200);
    const api = await page.request.get(`${base}/api/trace?domain=b.test`);
    assert.deepEqual((await api.json() as { journeys: unknown[] }).journeys, []);
    await page.goto(`${base}/search?from=y.test`);
    assert.ok(!(await page.content()).includes(refB));
    // y.test wrote to b.test only: for a.test that reads as a sender that never tried, not as "it reached somebody".
    assert.match(await page.locator('main').innerText(), /The sender never tried[^\n]*\n+No message from y\.test .* to a\.test reached our servers/);
    // Diagnostics resolve public names only for a customer.
    await page.goto(`${base}/diagnostics?domain=db.internal&ip=127.0.0.1`);
    const diag = await page.locator('main').innerText();
    assert.match(diag, /Customer accounts can check public names only: names under \.internal are reserved or internal/);
    assert.match(diag, /Customer accounts can check public addresses only: 127\.0\.0\.1 is a private, loopback/);
    await ctx.close();
  });

  await t.test('the public page of the rejected message shows reason and IP, not the mailbox or the subject', async () => {
    const ctx = await browser!.newContext();
    const page = await ctx.newPage();
    page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });
    const resp = await page.goto(publicUrl![0].slice(0, -1));
    assert.equal(resp!.status(), 200);
    const text = await page.locator('main').innerText();
    assert.match(text, /127\.0\.0\.1/);
    assert.match(text, /Rechnung\.pdf\.exe/);
    assert.match(text, /What to do:/);
    assert.match(text, /Your message was refused/);
    for (const secret of ['bobby', 'b.test', 'alert(1)', 'alice']) assert.ok(!text.includes(secret), `the public page shows ${secret}`);
    assert.equal((await page.goto(`${base}/r/ZZZZZZZZZZZZ`))!.status(), 404);
    await ctx.close();
  });

  await t.test('wrong passwords at one address slow that address down step by step; the owner elsewhere gets in', async () => {
    // The guesser and the owner at two client addresses (X-Forwarded-For is believed from 127.0.0.1 here).
    const guesser = await browser!.newContext({ extraHTTPHeaders: { 'x-forwarded-for': '203.0.113.66' } });
    const page = await guesser.newPage();
    for (let i = 0; i < 3; i++) assert.equal(await login(page, base, 'custa', 'wrong'), 401);
    // Then waits of 1 s, 2 s, 4 s ...: a browser is fast enough to run into one within a few tries.
    let status = 0;
    for (let i = 0; i < 6 && status !== 429; i++) status = await login(page, base, 'custa', 'wrong');
    assert.equal(status, 429);
    assert.match(await page.locator('main').innerText(), /Too many failed logins; try again in \d+ seconds?\./);
    const owner = await browser!.newContext({ extraHTTPHeaders: { 'x-forwarded-for': '198.51.100.66' } });
    assert.equal(await login(await owner.newPage(), base, 'custa', 'customer-password-1'), 303);
    await owner.close();
    await guesser.close();
  });

  assert.deepEqual(dialogs, [], 'no script ran');
  const metrics = await fetch(`${base}/metrics`);
  assert.equal(metrics.status, 200);
  assert.match(await metrics.text(), /mailproof_messages_total\{outcome="delivered",source="gateway"\} 1\b/);
});
