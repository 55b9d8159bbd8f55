// The overview in a real browser (Debian's Chromium driven by playwright-core)
// against a real `mailproof serve` that got real mail over SMTP: the charts
// count what was sent, a click on a bar opens the search that lists those
// messages, a customer sees its own domain only, and the page fits a phone
// and a wide screen without scrolling sideways. Screenshots go to
// $MAILPROOF_SCREENSHOTS (default: <tmp>/mailproof-screenshots) for a person
// to look at.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { requireTool } from '../../helpers/env.js';
import { freePort, NO_DNS_CHECKS, run, startServer, type Instance } from '../../helpers/server.js';
import { sendMail } from '../../helpers/smtp-client.js';

const SHOTS = process.env.MAILPROOF_SCREENSHOTS || path.join(os.tmpdir(), 'mailproof-screenshots');

function message(o: { from: string; to: string; exe?: boolean }): string {
  const head = `From: <${o.from}>\r\nTo: <${o.to}>\r\nSubject: overview\r\nMessage-ID: <${Math.random().toString(36).slice(2)}@overview.test>\r\nMIME-Version: 1.0\r\n`;
  if (!o.exe) return `${head}Content-Type: text/plain\r\n\r\nhello\r\n`;
  return `${head}Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n`
    + `--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="Rechnung.pdf.exe"\r\nContent-Transfer-Encoding: base64\r\n\r\n`
    + `${Buffer.from('not really a program').toString('base64')}\r\n--b1--\r\n`;
}

async function login(page: Page, base: string, name: string, password: string): Promise<void> {
  await page.goto(`${base}/login`);
  await page.fill('input[name=name]', name);
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('button[type=submit]')]);
}

/** Elements that stick out of the viewport on the right: what would make the page scroll sideways. */
async function sticking(page: Page, within: string): Promise<string[]> {
  return page.evaluate((sel) => [...document.querySelectorAll(`${sel} *`)]
    .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
    .map((e) => `${e.tagName.toLowerCase()}.${(e.getAttribute('class') ?? '')} "${(e.textContent ?? '').trim().slice(0, 30)}"`), within);
}

test('the overview in Chromium: counts as sent, bars open their search, a customer sees its own domain, phone and wide screen', async (t) => {
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
      web: { listen: [`127.0.0.1:${webPort}`], time_zone: 'UTC' },
      checks: { allowlist: { networks: [] }, ...NO_DNS_CHECKS, helo: { mode: 'off' } },
    },
  });

  // a.test: 2 delivered, 1 refused (no such mailbox). b.test: 1 delivered, 2 refused (a program attached; no such mailbox).
  for (let i = 0; i < 2; i++) {
    const ok = await sendMail(mp.port, { from: `friend${i}@x.test`, to: ['alice@a.test'], body: message({ from: `friend${i}@x.test`, to: 'alice@a.test' }) });
    assert.match(ok.final ?? '', /^250 /);
  }
  const unknownA = await sendMail(mp.port, { from: 'typo@x.test', to: ['nobody@a.test'], body: message({ from: 'typo@x.test', to: 'nobody@a.test' }) });
  assert.match(unknownA.replies[3] ?? '', /^550 /, JSON.stringify(unknownA.replies));
  assert.match((await sendMail(mp.port, { from: 'friend@x.test', to: ['bobby@b.test'], body: message({ from: 'friend@x.test', to: 'bobby@b.test' }) })).final ?? '', /^250 /);
  const exe = await sendMail(mp.port, { from: 'evil@y.test', to: ['bobby@b.test'], body: message({ from: 'evil@y.test', to: 'bobby@b.test', exe: true }) });
  assert.match(exe.final ?? '', /^55\d /, JSON.stringify(exe.replies));
  const refExe = /\(ref ([0-9A-Z]{12})/.exec(exe.final!)![1]!;
  const unknownB = await sendMail(mp.port, { from: 'evil@y.test', to: ['ghost@b.test'], body: message({ from: 'evil@y.test', to: 'ghost@b.test' }) });
  assert.match(unknownB.replies[3] ?? '', /^550 /);

  const cfgFile = path.join(mp.dataDir, 'test-config.yaml');
  const pw = path.join(mp.dataDir, 'pw');
  fs.writeFileSync(pw, 'staff-password-1\n');
  assert.equal((await run(['user', 'add', 'staff1', '--role', 'staff', '--password-file', pw, '--config', cfgFile])).code, 0);
  fs.writeFileSync(pw, 'customer-password-1\n');
  assert.equal((await run(['user', 'add', 'custa', '--role', 'customer', '--domain', 'a.test', '--password-file', pw, '--config', cfgFile])).code, 0);
  fs.rmSync(pw);

  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  fs.mkdirSync(SHOTS, { recursive: true });
  const served = await (await fetch(`${base}/static/style.css`)).text();
  assert.ok(served.includes('.ov-grid'), 'the stylesheet has the overview\'s styles');
  const shot = async (ctx: BrowserContext, url: string, name: string, width: number): Promise<void> => {
    const page = await ctx.newPage();
    await page.setViewportSize({ width, height: width < 500 ? 844 : 1080 });
    await page.goto(url);
    {
      assert.deepEqual(await sticking(page, 'main'), [], `${name} at ${width} px: nothing sticks out`);
      const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
      if (scroll > inner) assert.fail(`${name} at ${width} px scrolls sideways (${scroll} > ${inner}): ${(await sticking(page, 'body')).join(', ')}`);
    }
    // The page's only script is the layout's own file (the local times); the overview brings none.
    assert.equal(await page.locator('main script, script:not([src])').count(), 0);
    await page.screenshot({ path: path.join(SHOTS, `${name}-${width}.png`), fullPage: true });
    await page.close();
  };

  await t.test('staff: both domains, the counts as sent; the refused bar of b.test opens the search listing its messages', async () => {
    const ctx = await browser!.newContext();
    const page = await ctx.newPage();
    await login(page, base, 'staff1', 'staff-password-1');
    await page.goto(`${base}/overview`);
    const main = await page.locator('main').innerText();
    assert.match(main, /Delivered: 3\b/);
    assert.match(main, /Rejected: 3\b/);
    assert.match(main, /Deferred: 0\b/);
    // The per-domain chart: each domain with its total and its refused bar.
    const domains = page.locator('section.ov-domains');
    assert.deepEqual(await domains.locator('a.ov-label text').allTextContents(), ['a.test', 'b.test']);
    assert.equal(await domains.locator('a.ov-rejected[href*="domain=a.test"] title').textContent(), 'a.test: 1 × Rejected. Click to list these messages.');
    assert.equal(await domains.locator('a.ov-delivered[href*="domain=a.test"] title').textContent(), 'a.test: 2 × Delivered. Click to list these messages.');
    assert.equal(await domains.locator('a.ov-rejected[href*="domain=b.test"] title').textContent(), 'b.test: 2 × Rejected. Click to list these messages.');
    // Why: a program attached once, no such mailbox twice (once per domain).
    const causes = await page.locator('section.ov-causes').innerText();
    // (Each row reads: the cause, its domain, its count.)
    assert.match(causes, /Virus or dangerous attachment\s+b\.test\s+1\s/);
    assert.match(causes, /No such mailbox\s+a\.test\s+1\s/);
    assert.match(causes, /No such mailbox\s+b\.test\s+1\s/);
    // The busiest refused senders: the loopback client, its sender domains.
    assert.match(await page.locator('section.ov-senders').innerText(), /127\.0\.0\.1\s+y\.test \(2\), x\.test \(1\)\s+3\s/);

    await Promise.all([page.waitForURL(/\/search\?/), domains.locator('a.ov-rejected[href*="domain=b.test"]').click()]);
    const url = new URL(page.url());
    assert.equal(url.searchParams.get('domain'), 'b.test');
    assert.equal(url.searchParams.get('outcome'), 'rejected');
    const rows = page.locator('table.list tbody tr');
    assert.equal(await rows.count(), 2);
    assert.equal(await page.locator(`table.list a[href^="/journey/${refExe}?"]`).count(), 1, 'the message with the program is listed');
    const listed = await page.locator('table.list').innerText();
    assert.match(listed, /ghost@b\.test/);
    assert.doesNotMatch(listed, /Delivered/);

    // A day's refused bar (several domains) opens that day per domain, whose bars open the search.
    await page.goto(`${base}/overview`);
    await Promise.all([page.waitForURL(/\/overview\?day=/), page.locator('section.ov-days a.ov-rejected').first().click()]);
    assert.equal(await page.locator('section.ov-days svg g[transform]').count(), 1, 'that one day');
    await Promise.all([page.waitForURL(/\/search\?/), page.locator('section.ov-domains a.ov-rejected[href*="domain=a.test"]').click()]);
    assert.match(await page.locator('table.list').innerText(), /nobody@a\.test/);
    await ctx.close();

    const styled = await browser!.newContext();
    await login(await styled.newPage(), base, 'staff1', 'staff-password-1');
    for (const lang of ['en', 'de']) for (const width of [390, 1920]) await shot(styled, `${base}/overview?lang=${lang}`, `overview-staff-${lang}`, width);
    await styled.close();
  });

  await t.test('customer of a.test: its domain only, nothing of b.test anywhere on the page; its refused bar opens its search', async () => {
    const ctx = await browser!.newContext();
    const page = await ctx.newPage();
    await login(page, base, 'custa', 'customer-password-1');
    for (const lang of ['en', 'de']) {
      await page.goto(`${base}/overview?lang=${lang}`);
      const html = await page.content();
      for (const other of ['b.test', 'y.test', refExe, 'Rechnung']) assert.ok(!html.includes(other), `${lang}: the page names ${other}`);
      assert.match(await page.locator('main').innerText(), lang === 'de' ? /Zugestellt: 2\b[\s\S]*Abgelehnt: 1\b/ : /Delivered: 2\b[\s\S]*Rejected: 1\b/);
    }
    assert.equal(await page.locator('section.ov-domains').count(), 0, 'one domain: no per-domain chart');
    // A customer asking for another domain gets told it is not one of its own, and nothing about it.
    await page.goto(`${base}/overview?domain=b.test&lang=en`);
    assert.match(await page.locator('main').innerText(), /The domain b\.test is not one of the domains of this overview\./);
    assert.equal(await page.locator('svg').count(), 0);

    await page.goto(`${base}/overview`);
    await Promise.all([page.waitForURL(/\/search\?/), page.locator('section.ov-days a.ov-rejected').first().click()]);
    assert.equal(new URL(page.url()).searchParams.get('domain'), 'a.test');
    assert.match(await page.locator('table.list').innerText(), /nobody@a\.test/);
    assert.equal(await page.locator('table.list tbody tr').count(), 1);
    await ctx.close();

    const styled = await browser!.newContext();
    await login(await styled.newPage(), base, 'custa', 'customer-password-1');
    for (const width of [390, 1920]) await shot(styled, `${base}/overview?lang=de`, 'overview-customer-de', width);
    await styled.close();
  });
  t.diagnostic(`screenshots in ${SHOTS}`);
});
