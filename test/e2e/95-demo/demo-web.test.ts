// `mailproof demo --web`: from the demo to the web UI without guesswork. The
// demo serves `serve`'s web UI over its own ledger with a staff login it
// prints; a browser's requests (plain fetch with the cookies) log in, find
// the stories, and a "Recheck now" asks the demo's DNS server. Ctrl-C stops
// everything. Without --web the summary ends with the command that does it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { requireTool } from '../../helpers/env.js';
import { BIN, freePort, run } from '../../helpers/server.js';

/** What the verdict of each story's journey must say: its cause, in words. */
const STORY_VERDICTS: Record<string, { en: RegExp; de: RegExp }> = {
  delivered: { en: /^Delivered .* fetched .* by a mail program/, de: /^Zugestellt .* von einem Mailprogramm .* abgerufen/ },
  fetched_and_deleted: { en: /^Delivered, then fetched and deleted .*recipient's side/, de: /^Zugestellt, dann .* abgerufen und gelöscht/ },
  delivered_not_fetched: { en: /^Delivered, not fetched yet/, de: /^Zugestellt, noch nicht abgerufen/ },
  virus: { en: /^Rejected: the attachment \S+\.docx contains Office macros/, de: /^Abgelehnt: Der Anhang \S+\.docx enthält Office-Makros/ },
  spam: { en: /^Rejected: .*spam/i, de: /^Abgelehnt: .*Spam/ },
  sender_ip_blocklisted: { en: /^Rejected: the sender's server [\d.]+ is on /, de: /^Abgelehnt: Der Server des Absenders [\d.]+ steht auf / },
  sender_dynamic_ip: { en: /^Rejected: .*dynamic .*provider's mail server/, de: /^Abgelehnt: .*dynamische .*Mailserver seines Providers/ },
  sender_mx_is_ip: { en: /^Rejected: the MX record of \S+ names [\d.]+, an IP address instead of a host name/, de: /^Abgelehnt: Der MX-Eintrag von \S+ nennt [\d.]+, eine IP-Adresse statt eines Hostnamens/ },
  sender_domain_unresolvable: { en: /^Rejected: the sender domain \S+ has no mail server/, de: /^Abgelehnt: Die Absender-Domain \S+ hat im DNS keinen Mailserver/ },
  spf_fail: { en: /^Rejected: the SPF record of \S+ does not allow the server/, de: /^Abgelehnt: Der SPF-Eintrag von \S+ erlaubt dem Server/ },
  unknown_recipient: { en: /^Rejected: the address \S+ does not exist here \(a similar mailbox exists: mueller@/, de: /^Abgelehnt: Die Adresse \S+ gibt es hier nicht \(ein ähnliches Postfach existiert: mueller@/ },
  message_too_large: { en: /^Rejected: the message is larger than the limit/, de: /^Abgelehnt: Die Nachricht ist größer als die Grenze/ },
  tempfail_retried: { en: /^Temporarily refused, reason: .*no PTR.*tried again later/, de: /^Vorübergehend abgewiesen, Grund: .*PTR.*erneut versucht/ },
  tempfail_not_retried: { en: /never tried again/, de: /nie erneut versucht/ },
};

const DOMAIN = 'kunde.demo';

interface Demo {
  proc: ChildProcess;
  output(): string;
  /** Resolves with the match once stdout has it; rejects when the demo exits first or after 120 s. */
  waitFor(re: RegExp): Promise<RegExpExecArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startDemo(args: string[]): Demo {
  const proc = spawn(process.execPath, [BIN, 'demo', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    proc, exited,
    output: () => out + err,
    waitFor: (re) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`no ${re} within 120 s:\n${out}${err}`)); }, 120_000);
      const check = (): void => {
        const m = re.exec(out);
        if (m) { clearTimeout(timer); proc.stdout!.off('data', check); resolve(m); }
      };
      proc.stdout!.on('data', check);
      check();
      void exited.then(({ code }) => { clearTimeout(timer); if (!re.exec(out)) reject(new Error(`demo exited with ${code} before ${re}:\n${out}${err}`)); });
    }),
  };
}

/** True when nothing listens on host:port any more. */
function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

/** A browser's cookie jar, enough for our own server (one host, no paths that overlap). */
class Browser {
  private jar = new Map<string, string>();
  constructor(private readonly base: string) {}

  private keep(r: Response): void {
    for (const c of r.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      this.jar.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
    }
  }

  async get(p: string): Promise<{ status: number; body: string }> {
    const r = await fetch(new URL(p, this.base), { redirect: 'manual', headers: { cookie: this.cookie() } });
    this.keep(r);
    return { status: r.status, body: await r.text() };
  }

  async post(p: string, form: Record<string, string>): Promise<{ status: number; body: string; location: string | null }> {
    const r = await fetch(new URL(p, this.base), {
      method: 'POST', redirect: 'manual', body: new URLSearchParams(form),
      headers: { cookie: this.cookie(), 'content-type': 'application/x-www-form-urlencoded' },
    });
    this.keep(r);
    return { status: r.status, body: await r.text(), location: r.headers.get('location') };
  }

  private cookie(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

const csrfOf = (html: string): string => {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  assert.ok(m, 'a form with a CSRF token');
  return m[1]!;
};

/** story -> REF, from the summary's "see: ... --ref REF" lines. */
function refsOf(summary: string): Map<string, string> {
  const refs = new Map<string, string>();
  for (const block of summary.split('\n* ')) {
    const m = /^(\S+): [\s\S]*?--ref ([0-9A-Z]{12})/.exec(block);
    if (m) refs.set(m[1]!, m[2]!);
  }
  return refs;
}

test('demo --web HOST:PORT: the printed login works, the stories are in the search, a recheck asks the demo DNS, Ctrl-C stops all', { timeout: 5 * 60 * 1000 }, async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-demo-web-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true, maxRetries: 5 }));
  const port = await freePort();
  const demo = startDemo(['--web', `127.0.0.1:${port}`, '--data-dir', path.join(root, 'demo')]);
  t.after(() => { if (demo.proc.exitCode === null && demo.proc.signalCode === null) demo.proc.kill('SIGKILL'); });

  const ready = await demo.waitFor(/the demo keeps running \(SMTP 127\.0\.0\.1:(\d+), web UI (\S+)\); Ctrl-C stops it\n/);
  const out = demo.output();
  const smtpPort = Number(ready[1]);
  assert.equal(ready[2], `http://127.0.0.1:${port}/`);
  assert.match(out, new RegExp(`web UI: http://127\\.0\\.0\\.1:${port}/\\n`));
  const login = /log in as (\S+), password (\S+) {3}\(a staff account for this run, in (\S+)\)/.exec(out);
  assert.ok(login, out);
  const [, user, password, usersFile] = login;
  assert.equal(user, 'demo');
  assert.ok(password!.length >= 16, 'a random password, not a fixed one');
  assert.equal(usersFile, path.join(root, 'demo', 'web-users.json'));
  assert.doesNotMatch(fs.readFileSync(usersFile!, 'utf8'), new RegExp(password!), 'only the hash is stored');
  // With --web there is no "run it again with --web" line.
  assert.doesNotMatch(out, /demo --web/);

  const base = `http://127.0.0.1:${port}`;
  const b = new Browser(base);
  assert.equal((await b.get('/')).status, 303, 'the web UI asks for a login first');
  const form = await b.get('/login');
  const wrong = await b.post('/login', { _csrf: csrfOf(form.body), name: user!, password: 'not-the-password' });
  assert.equal(wrong.status, 401);
  const ok = await b.post('/login', { _csrf: csrfOf(wrong.body), name: user!, password: password! });
  assert.equal(ok.status, 303, ok.body);
  assert.equal(ok.location, '/');

  // The customer domain's search lists the stories' journeys by REF.
  const refs = refsOf(out);
  assert.ok(refs.size >= 10, `REFs in the summary: ${[...refs.keys()].join(', ')}`);
  const search = await b.get(`/search?domain=${DOMAIN}`);
  assert.equal(search.status, 200);
  for (const [story, ref] of refs) assert.ok(search.body.includes(ref), `${story}: ${ref} is not in the search`);

  // "Recheck now" on the SPF story asks the demo's DNS server: the record it
  // finds is the one the journey's evidence holds (bank.demo exists nowhere else).
  const spfRef = refs.get('spf_fail');
  assert.ok(spfRef);
  const journey = await b.get(`/journey/${spfRef}`);
  assert.equal(journey.status, 200);
  const record = 'v=spf1 ip4:127.0.0.11 -all';
  const count = (s: string): number => s.split(record).length - 1;
  const recheck = await b.post(`/journey/${spfRef}/recheck`, { _csrf: csrfOf(journey.body) });
  assert.equal(recheck.status, 200);
  assert.ok(count(recheck.body) > count(journey.body), 'the recheck found the SPF record through the demo DNS server');

  // In Chromium, on a phone, in both languages: every story's journey page
  // opens with a verdict that names its cause, and nothing scrolls sideways.
  const chromiumPath = requireTool(t, 'chromium');
  if (chromiumPath) {
    const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
    t.after(() => browser.close());
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await ctx.newPage();
    await page.goto(`${base}/login`);
    await page.fill('input[name=name]', user!);
    await page.fill('input[name=password]', password!);
    await Promise.all([page.waitForURL((u) => u.pathname === '/'), page.click('button[type=submit]')]);
    const missing: string[] = [];
    for (const [story, ref] of refs) {
      const want = STORY_VERDICTS[story.replace(/ \(.*$/, '')];
      assert.ok(want, `no expected verdict for the story ${story}`);
      for (const lang of ['en', 'de'] as const) {
        await page.goto(`${base}/journey/${ref}?lang=${lang}`);
        const verdict = (await page.locator('.verdict').first().innerText()).trim();
        if (!want[lang].test(verdict)) missing.push(`${story} (${lang}): ${verdict}`);
        const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(wide <= 0, `${story} (${lang}) scrolls sideways by ${wide} px`);
        // The public page of the same REF, as the sender reads it: a verdict, spoken to the sender, no mailbox named.
        const pub = await page.goto(`${base}/r/${ref}?lang=${lang}`);
        assert.equal(pub!.status(), 200, `${story}: public page`);
        assert.equal(await page.getAttribute('html', 'lang'), lang);
        const text = await page.locator('main').innerText();
        assert.ok((await page.locator('.verdict').count()) > 0, `${story} (${lang}): the public page has a verdict`);
        assert.doesNotMatch(text, new RegExp(`[a-z]+@${DOMAIN.replace('.', '\\.')}`), `${story} (${lang}): the public page names a mailbox`);
        assert.doesNotMatch(text, /[Tt]he sender must|Der Absender muss/, `${story} (${lang}): the public page speaks about the sender, not to it`);
        const pubWide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(pubWide <= 0, `${story} (${lang}) public page scrolls sideways by ${pubWide} px`);
      }
    }
    assert.deepEqual(missing, [], 'verdicts that do not name their cause');
    await ctx.close();
  }

  // Ctrl-C: every server stops, the process exits 0.
  demo.proc.kill('SIGINT');
  const { code, signal } = await demo.exited;
  assert.equal(signal, null);
  assert.equal(code, 0, demo.output());
  assert.ok(await portFree(port), 'the web port is free again');
  assert.ok(await portFree(smtpPort), 'the SMTP port is free again');
});

test('demo --once ends with the command for the web UI; that command (port 8080 taken) falls back to a free port; SIGTERM stops it', { timeout: 5 * 60 * 1000 }, async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-demo-hint-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true, maxRetries: 5 }));
  const dir = path.join(root, 'demo');
  const r = await run(['demo', '--once', '--data-dir', dir, '-o', 'smtp.max_recipients=50']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.match(lines.at(-2)!, /in the web UI, with a staff login made for you: run/);
  // One line to copy: this instance's directory and -o, nothing to guess.
  const m = /^ {4}(mailproof|node \S*mailproof\.js) (demo --web .*)$/.exec(lines.at(-1)!);
  assert.ok(m, lines.at(-1));
  assert.equal(m[2], `demo --web --data-dir ${dir} -o smtp.max_recipients=50`);
  // --json says it too.
  const j = await run(['demo', '--once', '--json', '--data-dir', dir]);
  assert.equal(j.code, 0, j.stderr);
  assert.match((JSON.parse(j.stdout) as { web_command: string }).web_command, new RegExp(`demo --web --data-dir ${dir}$`));

  // That command, with 127.0.0.1:8080 held by another program (here: us, if nobody else does).
  const blocker = net.createServer();
  await new Promise<void>((resolve) => { blocker.once('error', () => resolve()); blocker.listen(8080, '127.0.0.1', () => resolve()); });
  t.after(() => new Promise<void>((resolve) => { if (blocker.listening) blocker.close(() => resolve()); else resolve(); }));
  const demo = startDemo(m[2]!.split(' ').slice(1));
  t.after(() => { if (demo.proc.exitCode === null && demo.proc.signalCode === null) demo.proc.kill('SIGKILL'); });
  const web = await demo.waitFor(/web UI: http:\/\/127\.0\.0\.1:(\d+)\/ {3}\(127\.0\.0\.1:8080 is taken, so a free port\)\n/);
  const port = Number(web[1]);
  assert.notEqual(port, 8080);
  await demo.waitFor(/Ctrl-C stops it\n/);
  assert.equal((await fetch(`http://127.0.0.1:${port}/login`)).status, 200);
  demo.proc.kill('SIGTERM');
  const { code } = await demo.exited;
  assert.equal(code, 0, demo.output());
  assert.ok(await portFree(port));
});

test('demo --web on an address in use: one line naming --web, exit 78, before any story is played', { timeout: 2 * 60 * 1000 }, async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-demo-busy-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true, maxRetries: 5 }));
  const port = await freePort();
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', () => resolve()));
  t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const r = await run(['demo', '--web', `127.0.0.1:${port}`, '--data-dir', path.join(root, 'demo')]);
  assert.equal(r.code, 78, r.stdout + r.stderr);
  assert.equal(r.stderr, `mailproof: demo --web 127.0.0.1:${port}: the address is already in use (another mailproof or another program); choose another with --web HOST:PORT, or give --web alone (127.0.0.1:8080, or a free port when that is taken)\n`);
  assert.doesNotMatch(r.stdout, /playing the stories/);
  // A usage mistake is said without starting anything.
  const once = await run(['demo', '--web', '--once', '--data-dir', path.join(root, 'demo')]);
  assert.equal(once.code, 64);
  assert.match(once.stderr, /--web keeps the demo running/);
  const bad = await run(['demo', '--web', 'localhost', '--data-dir', path.join(root, 'demo')]);
  assert.equal(bad.code, 64);
  assert.match(bad.stderr, /--web localhost: expected HOST:PORT, e\.g\. 127\.0\.0\.1:8080, or --web alone/);
});
