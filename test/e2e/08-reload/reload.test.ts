// SIGHUP under load: sessions that are sending when the configuration
// changes finish under the configuration they started with; sessions after
// the reload get the new one. Nothing is dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { listNew, run, startServer } from '../../helpers/server.js';
import { RawSmtp, sendMail } from '../../helpers/smtp-client.js';
import { readConfig, reload, writeConfig } from './reload-helpers.js';

const RELAY_DENIED = /^550 5\.7\.1 Relaying denied/;

interface Sent { phase: 'before' | 'after'; mail: string | null; keep: string | null; gone: string | null; fresh: string | null; data: string | null; final: string | null }

test('reload under load: no session dropped, old sessions keep the old domains, new sessions get the new ones', async (t) => {
  const mp = await startServer({
    config: { domains: { 'keep.test': { mailboxes: ['k'] }, 'gone.test': { mailboxes: ['g'] } } },
  });
  t.after(async () => { await mp.stop(); fs.rmSync(mp.dataDir, { recursive: true, force: true }); });

  let phase: 'before' | 'reloading' | 'after' = 'before';
  const SESSIONS = 4;
  const counts = new Array<number>(SESSIONS).fill(0);
  // One session: message after message in one connection, each to a
  // mailbox that stays, one of the domain that goes and one of the domain
  // that comes, until two messages were begun after the reload.
  const session = async (n: number): Promise<Sent[]> => {
    const c = await RawSmtp.connect(mp.port);
    const sent: Sent[] = [];
    try {
      assert.match((await c.reply())!, /^220 /);
      assert.match((await c.cmd(`EHLO load${n}.example.org`))!, /^250/);
      for (let after = 0; after < 2;) {
        const begun = phase;
        const s: Sent = { phase: begun === 'after' ? 'after' : 'before', mail: null, keep: null, gone: null, fresh: null, data: null, final: null };
        s.mail = await c.cmd(`MAIL FROM:<s${n}@example.org>`);
        s.keep = await c.cmd('RCPT TO:<k@keep.test>');
        s.gone = await c.cmd('RCPT TO:<g@gone.test>');
        s.fresh = await c.cmd('RCPT TO:<n@new.test>');
        s.data = await c.cmd('DATA');
        s.final = await c.cmd(`Subject: session ${n} message ${sent.length}\r\n\r\nbody\r\n.`);
        sent.push(s);
        counts[n]!++;
        if (begun === 'after') after++;
      }
      assert.match((await c.cmd('QUIT'))!, /^221 /);
    } finally {
      await c.close();
    }
    return sent;
  };
  let broken: unknown = null;
  const running = Array.from({ length: SESSIONS }, (_, n) => session(n).catch((err: unknown) => { broken = err; throw err; }));
  // Every session is under way (two messages each) before the file changes.
  while (counts.some((c) => c < 2)) {
    if (broken) throw broken as Error;
    await new Promise((r) => setTimeout(r, 20));
  }

  phase = 'reloading';
  const cfg = readConfig(mp);
  cfg.domains = { 'keep.test': { mailboxes: ['k'] }, 'new.test': { mailboxes: ['n'] } };
  writeConfig(mp, cfg);
  const outcome = await reload(mp);
  assert.match(outcome.msg, /^reloaded: domains \+new\.test -gone\.test$/);
  const duringReload = counts.reduce((a, b) => a + b, 0);
  phase = 'after';

  // Right after the reload, in new sessions: the new domain is local, the removed one is not.
  const fresh = await sendMail(mp.port, { from: 'late@example.org', to: ['n@new.test'], body: 'Subject: new domain\n\nhello\n' });
  assert.match(fresh.final ?? '', /^250 2\.0\.0 /);
  const removed = await sendMail(mp.port, { from: 'late@example.org', to: ['g@gone.test'], body: 'Subject: gone\n\nhello\n' });
  assert.match(removed.replies[3] ?? '', RELAY_DENIED);
  assert.equal(removed.final, null);

  const all = await Promise.all(running);
  const total = all.reduce((a, s) => a + s.length, 0);
  assert.ok(total > duringReload, 'the sessions went on sending after the reload');
  for (const [n, sent] of all.entries()) {
    assert.ok(sent.filter((s) => s.phase === 'after').length >= 2, `session ${n} sent after the reload`);
    for (const s of sent) {
      // Every command got its reply (none is null: no connection was dropped),
      // and each follows the configuration the session started with,
      // whether the message began before or after the reload.
      assert.match(s.mail ?? '', /^250 /);
      assert.match(s.keep ?? '', /^250 /);
      assert.match(s.gone ?? '', /^250 /, 'the removed domain is still local for a session from before');
      assert.match(s.fresh ?? '', RELAY_DENIED, 'the added domain is not local for a session from before');
      assert.match(s.data ?? '', /^354 /);
      assert.match(s.final ?? '', /^250 2\.0\.0 Message accepted and stored/);
    }
  }
  assert.equal(listNew(mp.newDir('g@gone.test')).length, total, 'every message of the old sessions reached the removed domain\'s mailbox');
  assert.equal(listNew(mp.newDir('k@keep.test')).length, total);
  assert.equal(listNew(mp.newDir('n@new.test')).length, 1, 'the new mailbox\'s Maildir was made at the reload');

  // The process never restarted: same pid, one start line.
  assert.equal(mp.output().split('\n').filter((l) => l.includes('"msg":"mailproof is running"')).length, 1);
  // `trace` agrees: the refusal of the removed domain is recorded like any relay refusal.
  const { journeys } = await mp.trace(['--rcpt', 'g@gone.test']);
  assert.equal(journeys.filter((j) => j.outcome === 'delivered').length, total);
  assert.equal(journeys.filter((j) => j.outcome === 'rejected').length, 1);
});

test('a broken configuration is refused with the messages of config --check; the running one stays', async (t) => {
  // Six mailboxes: enough to see whether a smaller smtp.max_recipients took effect.
  const KEEP = { mailboxes: ['k', 'a1', 'a2', 'a3', 'a4', 'a5'] };
  const mp = await startServer({ config: { domains: { 'keep.test': KEEP } } });
  t.after(async () => { await mp.stop(); fs.rmSync(mp.dataDir, { recursive: true, force: true }); });
  const good = readConfig(mp);

  // An unknown key and a bad value, with a domain added that must not come into effect.
  const broken = { ...good, domains: { 'keep.test': KEEP, 'new.test': { mailboxes: ['n'] } }, smtp: { ...(good.smtp as object), max_recipients: 'many' }, bogus_key: 1 };
  writeConfig(mp, broken);
  const check = await run(['config', '--check', '--config', mp.configFile]);
  assert.equal(check.code, 78);
  const problems = check.stderr.split('\n').map((l) => l.trim()).filter((l) => /^[a-z_.]+: /.test(l) && !l.startsWith('mailproof:'));
  assert.ok(problems.some((p) => p.startsWith('bogus_key: unknown key')), check.stderr);
  assert.ok(problems.some((p) => p.startsWith('smtp.max_recipients: ')), check.stderr);

  const outcome = await reload(mp);
  assert.equal(outcome.level, 50, 'an error line');
  assert.match(outcome.msg, /^reload refused: .*the running configuration stays$/);
  assert.deepEqual([...(outcome.problems as string[])].sort(), [...problems].sort(), 'the same messages as config --check');
  assert.equal(mp.proc.exitCode, null, 'still running');

  // The old domains work, the new one did not come in.
  const ok = await sendMail(mp.port, { from: 's@example.org', to: ['k@keep.test'], body: 'Subject: after\n\nx\n' });
  assert.match(ok.final ?? '', /^250 2\.0\.0 /);
  const no = await sendMail(mp.port, { from: 's@example.org', to: ['n@new.test'], body: 'Subject: after\n\nx\n' });
  assert.match(no.replies[3] ?? '', RELAY_DENIED);

  // Fixed, the next SIGHUP applies it, and names what needs a restart.
  writeConfig(mp, { ...good, domains: broken.domains, smtp: { ...(good.smtp as object), max_recipients: 5 } });
  const from = mp.output().length;
  const fixed = await reload(mp);
  assert.match(fixed.msg, /^reloaded: domains \+new\.test$/);
  assert.match(mp.output().slice(from), /"msg":"reload: changed keys that need a restart to take effect \(the old values stay until then\): smtp\.max_recipients"/);
  const now = await sendMail(mp.port, { from: 's@example.org', to: ['n@new.test'], body: 'Subject: fixed\n\nx\n' });
  assert.match(now.final ?? '', /^250 2\.0\.0 /);
  // smtp.max_recipients kept its old value (100): six recipients are taken.
  const many = await sendMail(mp.port, { from: 's@example.org', to: KEEP.mailboxes.map((m) => `${m}@keep.test`), body: 'Subject: six\n\nx\n' });
  assert.ok(many.replies.slice(3, 9).every((r) => r?.startsWith('250')), many.replies.join('\n'));
});
