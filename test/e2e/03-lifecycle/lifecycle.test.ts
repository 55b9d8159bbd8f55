// SIGTERM: new clients get 421, a running transaction finishes, clean exit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventsOf, eventsIn } from '../../helpers/ledger.js';
import { listNew, startServer } from '../../helpers/server.js';
import { RawSmtp } from '../../helpers/smtp-client.js';

test('graceful stop: the running transaction completes, new clients get 421, exit 0', async () => {
  const mp = await startServer({ config: { smtp: { shutdown_grace_s: 20 } } });
  const c = await RawSmtp.connect(mp.port);
  try {
    await c.reply();
    await c.cmd('EHLO busy.example.org');
    await c.cmd('MAIL FROM:<s@example.org>');
    await c.cmd('RCPT TO:<demo@demo.test>');
    assert.match((await c.cmd('DATA'))!, /^354/);
    c.write('Subject: in flight\r\n\r\nfirst half\r\n');
    const exit = mp.stop();
    // The server is draining now; a newcomer is told to come back.
    await new Promise((r) => setTimeout(r, 300));
    const late = await RawSmtp.connect(mp.port);
    assert.match((await late.reply()) ?? '', /^421 4\.3\.2 Service shutting down; please try again later \(ref /);
    await late.close();
    // The client in DATA finishes and gets its 250; the message is stored.
    assert.match((await c.cmd('second half\r\n.'))!, /^250 2\.0\.0 Message accepted and stored/);
    const refused = (await c.cmd('MAIL FROM:<s@example.org>'))!;
    assert.match(refused, /^421 4\.3\.2 /, 'no new transaction while draining');
    await c.close();
    assert.equal(await exit, 0);
    assert.equal(listNew(mp.newDir('demo@demo.test')).length, 1);
    // The REF of that 421 is in the ledger: recorded first, then refused.
    const ref = /\(ref (\w{12})\)/.exec(refused)![1]!;
    const rows = (await eventsOf<{ kind: string; mail_from: string; smtp_code: number }>(mp, 'ref = ? AND smtp_code = 421', ref))
      .map(({ kind, mail_from, smtp_code }) => ({ kind, mail_from, smtp_code }));
    assert.deepEqual(rows, [{ kind: 'session.refused', mail_from: 's@example.org', smtp_code: 421 }]);
  } finally {
    await c.close();
    await mp.stop();
  }
});

test('a ledger that cannot be written means 4xx, never an accept without a record', async () => {
  const { execFileSync } = await import('node:child_process');
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-ledgerfull-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', dir]);
  } catch (err) {
    if (process.env.CI === 'true') throw err;
    return; // not root: cannot make a small file system
  }
  // The journal is where every event is made durable before its reply: it goes on the small file system.
  const journal = path.join(dir, 'journal');
  const mp = await startServer({ config: { ledger: { journal_dir: journal } } });
  try {
    // Fill the file system around the ledger.
    try { fs.writeFileSync(path.join(dir, 'fill'), Buffer.alloc(1024 * 1024)); } catch { /* full */ }
    let sawTempfail = false;
    for (let i = 0; i < 40 && !sawTempfail; i++) {
      const c = await RawSmtp.connect(mp.port);
      try {
        await c.reply();
        await c.cmd(`EHLO filler${i}.example.org`);
        const m = await c.cmd(`MAIL FROM:<${'x'.repeat(200)}@example.org>`);
        const r = m?.startsWith('250') ? await c.cmd('RCPT TO:<demo@demo.test>') : m;
        let d: string | null = r;
        if (r?.startsWith('250')) {
          await c.cmd('DATA');
          d = await c.cmd(`Subject: ${'y'.repeat(500)}\r\n\r\n${'z'.repeat(20000)}\r\n.`);
        }
        if (d && /^4\d\d 4\.3\.0 /.test(d)) sawTempfail = true;
        else assert.match(d ?? '', /^250 /);
      } finally { await c.close(); }
    }
    assert.ok(sawTempfail, 'a full journal must turn into 451 4.3.0');
    // Whatever got a 250 is in the ledger; whatever is in new/ got a 250.
    const stored = listNew(mp.newDir('demo@demo.test')).length;
    fs.rmSync(path.join(dir, 'fill'), { force: true });
    const { journeys } = await mp.trace(['--rcpt', 'demo@demo.test']);
    assert.equal(journeys.filter((j) => j.outcome === 'delivered').length, stored);
    assert.equal((await eventsIn({ store: path.join(mp.dataDir, 'store.sqlite'), journal }, "kind = 'message.delivered'")).length, stored);
  } finally {
    await mp.stop();
    execFileSync('umount', ['-l', dir]);
  }
});
