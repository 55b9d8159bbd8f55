import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from './load.js';

function tmpFile(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-cfg-'));
  const f = path.join(dir, 'c.yaml');
  fs.writeFileSync(f, text);
  return f;
}

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

test('defaults work without any file: demo domain, loopback listener, derived paths', () => {
  const cfg = loadConfig({ dataDir: '/tmp/x' });
  assert.deepEqual(cfg.smtp.listen, ['127.0.0.1:2525']);
  assert.deepEqual(cfg.domains['demo.test']?.mailboxes, ['demo']);
  assert.equal(cfg.paths.journal, '/tmp/x/journal');
  assert.equal(cfg.paths.store, '/tmp/x/store.sqlite');
  assert.equal(cfg.paths.legacyLedger, '/tmp/x/ledger.sqlite');
  assert.equal(cfg.paths.maildirRoot, '/tmp/x/maildir');
  assert.equal(cfg.smtp.greeting_delay_ms, 0);
});

test('unknown keys are errors that name the key, at any depth', () => {
  const p = problems(() => loadConfig({ file: tmpFile('smtp:\n  max_recipent: 5\nbogus: 1\n') }));
  assert.ok(p.some((l) => l.startsWith('smtp.max_recipent: unknown key')), p.join('\n'));
  assert.ok(p.some((l) => l.startsWith('bogus: unknown key')), p.join('\n'));
});

test('a wrong type names the key and what is expected', () => {
  const p = problems(() => loadConfig({ overrides: ['smtp.max_recipients=many'] }));
  assert.equal(p.length, 1);
  assert.match(p[0]!, /^smtp\.max_recipients: .*expected number/);
});

test('-o overrides with YAML values, in order, after the file', () => {
  const f = tmpFile('smtp:\n  max_recipients: 10\n');
  const cfg = loadConfig({ file: f, overrides: ['smtp.max_recipients=20', 'smtp.listen=[127.0.0.2:25, "[::1]:25"]', 'delivery.fsync=false'] });
  assert.equal(cfg.smtp.max_recipients, 20);
  assert.deepEqual(cfg.smtp.listen, ['127.0.0.2:25', '[::1]:25']);
  assert.equal(cfg.delivery.fsync, false);
});

test('-o without = and -o into a scalar are explained', () => {
  assert.match(problems(() => loadConfig({ overrides: ['smtp.max_recipients'] }))[0]!, /expected KEY=VALUE/);
  assert.match(problems(() => loadConfig({ overrides: ['smtp.listen=[127.0.0.1:25]', 'smtp.listen.x=1'] }))[0]!, /"smtp.listen" is not a section/);
});

test('--domain and --mailbox replace the demo domain', () => {
  const cfg = loadConfig({ domains: ['Example.COM'], mailboxes: ['Info@example.com', 'x@other.test'] });
  assert.deepEqual(Object.keys(cfg.domains).sort(), ['example.com', 'other.test']);
  assert.deepEqual(cfg.domains['example.com']?.mailboxes, ['info']);
});

test('bad mailbox names and alias targets are refused with the fix', () => {
  assert.match(problems(() => loadConfig({ mailboxes: ['../../etc@example.com'] })).join('\n'), /domains\.example\.com\.mailboxes\.0/);
  const p = problems(() => loadConfig({ file: tmpFile('domains:\n  ex.test:\n    mailboxes: [a]\n    aliases: { b: c, d: x@elsewhere.test }\n') }));
  assert.ok(p.some((l) => l.includes('aliases.b') && l.includes('add it to domains.ex.test.mailboxes')), p.join('\n'));
  assert.ok(p.some((l) => l.includes('aliases.d') && l.includes('not in a local domain')), p.join('\n'));
});

test('proxy features need trusted networks; tls cert and key come together', () => {
  assert.match(problems(() => loadConfig({ overrides: ['smtp.xclient=true'] })).join('\n'), /smtp\.trusted_networks/);
  assert.match(problems(() => loadConfig({ overrides: ['smtp.tls_cert=/x.pem'] })).join('\n'), /set both or neither/);
});

test('the login throttle\'s account bound must be above the pair\'s, or one address could slow an account for everyone', () => {
  const msg = problems(() => loadConfig({ overrides: ['web.login_max_failures=10', 'web.login_account_max_failures=10'] })).join('\n');
  assert.match(msg, /web\.login_account_max_failures/);
  assert.match(msg, /must be larger than web\.login_max_failures \(10\)/);
  assert.equal(loadConfig({ overrides: ['web.login_max_failures=10', 'web.login_account_max_failures=11'] }).web.login_account_max_failures, 11);
});

test('an unreadable or malformed file is a config error, not a crash', () => {
  assert.match(problems(() => loadConfig({ file: '/nonexistent/mailproof.yaml' }))[0]!, /cannot read the file \(ENOENT\)/);
  assert.match(problems(() => loadConfig({ file: tmpFile('smtp: [unclosed\n') }))[0]!, /not valid YAML/);
  assert.match(problems(() => loadConfig({ file: tmpFile('- a\n- b\n') }))[0]!, /mapping of keys/);
});

test('a PostgreSQL store: the URL is kept, the password file resolved, a password in the URL refused', () => {
  const cfg = loadConfig({ dataDir: '/tmp/x', overrides: ['ledger.store=postgres://mp@127.0.0.1:5432/mailproof', 'ledger.store_password_file=pg.pw'] });
  assert.equal(cfg.paths.store, 'postgres://mp@127.0.0.1:5432/mailproof');
  assert.equal(cfg.paths.storePasswordFile, '/tmp/x/pg.pw');
  assert.match(problems(() => loadConfig({ overrides: ['ledger.store=postgres://mp:secret@127.0.0.1/mailproof'] }))[0]!, /^ledger\.store: the URL must not hold the password; .*store_password_file.*PGPASSWORD/);
  assert.match(problems(() => loadConfig({ overrides: ['ledger.store=postgresql://127.0.0.1/mailproof'] }))[0]!, /^ledger\.store: the URL names no user/);
  assert.match(problems(() => loadConfig({ overrides: ['ledger.store=postgres://mp@127.0.0.1'] }))[0]!, /^ledger\.store: the URL names no database/);
  assert.match(problems(() => loadConfig({ overrides: ['ledger.store_password_file=pg.pw'] }))[0]!, /^ledger\.store_password_file: only a PostgreSQL store/);
  // A SQLite store stays a path below data_dir.
  assert.equal(loadConfig({ dataDir: '/tmp/x' }).paths.store, '/tmp/x/store.sqlite');
});

test('checks.rate.scope: node by default; cluster only with a PostgreSQL store', () => {
  assert.equal(loadConfig({ dataDir: '/tmp/x' }).checks.rate.scope, 'node');
  const cfg = loadConfig({ dataDir: '/tmp/x', overrides: ['ledger.store=postgres://mp@127.0.0.1:5432/mailproof', 'checks.rate.scope=cluster'] });
  assert.equal(cfg.checks.rate.scope, 'cluster');
  assert.deepEqual(problems(() => loadConfig({ dataDir: '/tmp/x', overrides: ['checks.rate.scope=cluster'] })), [
    'checks.rate.scope: cluster counts in the cluster\'s PostgreSQL, and ledger.store is not one; set ledger.store to postgres://USER@HOST:PORT/DATABASE, or checks.rate.scope to node',
  ]);
  assert.match(problems(() => loadConfig({ overrides: ['checks.rate.scope=region'] }))[0]!, /^checks\.rate\.scope: /);
});

test('a single HOST:PORT is a listen list of one, in YAML and with -o, for every listener', () => {
  const f = tmpFile('smtp:\n  listen: 127.0.0.1:2626\npop3:\n  listen: "[::1]:1111"\nweb:\n  listen: 127.0.0.1:8090\n');
  const cfg = loadConfig({ file: f });
  assert.deepEqual(cfg.smtp.listen, ['127.0.0.1:2626']);
  assert.deepEqual(cfg.pop3.listen, ['[::1]:1111']);
  assert.deepEqual(cfg.web.listen, ['127.0.0.1:8090']);
  // -o: "127.0.0.1:8091" is a YAML string, "[::1]:8091" no YAML at all (taken as the text it is).
  const o = loadConfig({ overrides: ['web.listen=127.0.0.1:8091', 'pop3.listen=[::1]:1112', 'smtp.listen=0.0.0.0:25'] });
  assert.deepEqual(o.web.listen, ['127.0.0.1:8091']);
  assert.deepEqual(o.pop3.listen, ['[::1]:1112']);
  assert.deepEqual(o.smtp.listen, ['0.0.0.0:25']);
  // Lists and the empty list mean what they meant.
  assert.deepEqual(loadConfig({ overrides: ['web.listen=[127.0.0.1:1, "[::1]:2"]'] }).web.listen, ['127.0.0.1:1', '[::1]:2']);
  assert.deepEqual(loadConfig({ overrides: ['web.listen=[]'] }).web.listen, []);
  assert.deepEqual(loadConfig({}).web.listen, ['127.0.0.1:8080']);
});

test('a listen value of the wrong kind names the key and both accepted forms', () => {
  const one = (o: string): string => {
    const p = problems(() => loadConfig({ overrides: [o] }));
    assert.equal(p.length, 1, p.join('\n'));
    return p[0]!;
  };
  assert.equal(one('web.listen=8080'), 'web.listen: expected HOST:PORT or a list of them, e.g. 127.0.0.1:8080 or [127.0.0.1:8080, "[::1]:8080"]; got 8080');
  assert.equal(one('smtp.listen=localhost'), 'smtp.listen: expected HOST:PORT or a list of them, e.g. 127.0.0.1:2525 or [127.0.0.1:2525, "[::1]:2525"]; got "localhost"');
  assert.match(one('pop3.listen=127.0.0.1:1110,127.0.0.2:1110'), /^pop3\.listen: expected HOST:PORT or a list of them, e\.g\. 127\.0\.0\.1:1110 or /);
  assert.match(one('web.listen={ host: x }'), /^web\.listen: expected HOST:PORT or a list of them/);
  // In a list, the element is named.
  assert.match(one('web.listen=[127.0.0.1:8080, nonsense]'), /^web\.listen\.1: expected HOST:PORT, e\.g\. 127\.0\.0\.1:8080/);
  assert.equal(one('web.listen=127.0.0.1:99999'), 'web.listen.0: the port must be at most 65535');
  // In a file too.
  const p = problems(() => loadConfig({ file: tmpFile('web:\n  listen: 8080\n') }));
  assert.match(p[0]!, /^web\.listen: expected HOST:PORT or a list of them/);
});

test('-o reaches keys with dots in double quotes; an unquoted domain is explained', () => {
  const cfg = loadConfig({ overrides: ['domains."c.test".delivery.type=smtp', 'domains."c.test".delivery.address=127.0.0.5:25'] });
  assert.equal(cfg.domains['c.test']?.delivery.type, 'smtp');
  assert.equal(cfg.domains['c.test']?.delivery.address, '127.0.0.5:25');
  const unquoted = problems(() => loadConfig({ overrides: ['domains.c.test.delivery.type=smtp'] }));
  assert.ok(unquoted.some((p) => /write the domain in double quotes, e\.g\. -o 'domains\."c\.test"\.delivery\.type=smtp'/.test(p)), unquoted.join('\n'));
  assert.match(problems(() => loadConfig({ overrides: ['domains."c.test.delivery.type=smtp'] }))[0]!, /a quote is not closed/);
  assert.match(problems(() => loadConfig({ overrides: ['smtp..max_recipients=5'] }))[0]!, /an empty part in the key/);
});
