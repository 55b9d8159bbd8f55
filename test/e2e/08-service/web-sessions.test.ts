// A login to the web UI of a running `serve` survives a restart of serve
// (systemctl restart, an upgrade, a crash recovery): the same cookie still
// works afterwards; a logout is gone for good, across the next restart too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, run, startServer, type Instance } from '../../helpers/server.js';

/** A client that keeps cookies by name, as a browser does for one site. */
class Browser {
  readonly cookies = new Map<string, string>();
  constructor(private readonly base: string) {}
  async request(p: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<{ status: number; location: string | null; body: string }> {
    const headers: Record<string, string> = { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const r = await fetch(this.base + p, { method: init.method ?? 'GET', headers, body, redirect: 'manual' });
    for (const c of r.headers.getSetCookie()) {
      const m = /^([^=]+)=([^;]*)/.exec(c);
      if (!m) continue;
      if (m[2] === '' || /max-age=0/i.test(c)) this.cookies.delete(m[1]!);
      else this.cookies.set(m[1]!, m[2]!);
    }
    return { status: r.status, location: r.headers.get('location'), body: await r.text() };
  }
  /** A page's CSRF token (the hidden field of its forms). */
  static csrf(body: string): string {
    const m = /name="_csrf" value="([^"]+)"/.exec(body);
    assert.ok(m, 'the page has a form with a CSRF token');
    return m[1]!;
  }
}

test('web login survives a restart of serve: the same cookie works after it; a logout does not come back', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-websessions-'));
  const webPort = await freePort();
  const base = `http://127.0.0.1:${webPort}`;
  const config = { web: { listen: [`127.0.0.1:${webPort}`] } };
  let mp: Instance | null = null;
  // One hook: the server stops before its directory goes.
  t.after(async () => {
    await mp?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  mp = await startServer({ dataDir, config });
  const cfgFile = path.join(dataDir, 'test-config.yaml');
  const pw = path.join(dataDir, 'pw');
  fs.writeFileSync(pw, 'staff-password-1\n');
  const add = await run(['user', 'add', 'staff1', '--role', 'staff', '--password-file', pw, '--config', cfgFile]);
  assert.equal(add.code, 0, add.stderr);
  fs.rmSync(pw);

  const b = new Browser(base);
  const form = await b.request('/login');
  assert.equal(form.status, 200);
  const login = await b.request('/login', { method: 'POST', form: { _csrf: Browser.csrf(form.body), name: 'staff1', password: 'staff-password-1' } });
  assert.equal(login.status, 303, login.body);
  const sid = b.cookies.get('mp_session');
  assert.ok(sid, 'a session cookie');
  const before = await b.request('/');
  assert.equal(before.status, 200);
  assert.match(before.body, /staff1/);

  // A restart: SIGTERM (what systemctl stop/restart sends), then a new serve on the same data directory.
  assert.equal(await mp.stop(), 0);
  const file = path.join(dataDir, 'web-sessions.json');
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.ok(!fs.readFileSync(file, 'utf8').includes(sid), 'the session id itself is not on disk');
  mp = await startServer({ dataDir, config });

  const after = await b.request('/');
  assert.equal(after.status, 200, `the cookie of before the restart is still a login (got ${after.status} ${after.location ?? ''})`);
  assert.match(after.body, /staff1/);
  assert.equal(b.cookies.get('mp_session'), sid, 'the same cookie, not a new login');

  // Logout, restart again: the cookie stays logged out.
  const out = await b.request('/logout', { method: 'POST', form: { _csrf: Browser.csrf(after.body) } });
  assert.equal(out.status, 303);
  assert.equal(await mp.stop(), 0);
  mp = await startServer({ dataDir, config });
  const old = new Browser(base);
  old.cookies.set('mp_session', sid);
  const refused = await old.request('/');
  assert.equal(refused.status, 303);
  assert.equal(refused.location, '/login');
});
