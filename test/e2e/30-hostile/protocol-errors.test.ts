// Refusals that smtp-server writes itself (syntax, sequence, unknown
// commands) carry a REF and leave a ledger event, like every other refusal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { eventsOf } from '../../helpers/ledger.js';
import { startServer } from '../../helpers/server.js';
import { RawSmtp } from '../../helpers/smtp-client.js';

const REF = /\(ref ([0-9A-HJKMNP-TV-Z]{12})\)$/;

test('syntax, sequence and unknown-command errors carry a REF and are in the ledger', async () => {
  const mp = await startServer();
  try {
    const c = await RawSmtp.connect(mp.port, { localAddress: '127.0.0.61' });
    assert.match((await c.reply()) ?? '', /^220 /);
    assert.match((await c.cmd('EHLO client.example.org')) ?? '', /^250[ -]/);
    const seq = (await c.cmd('RCPT TO:<demo@demo.test>')) ?? '';
    assert.match(seq, /^503 /);
    assert.match(seq, REF);
    const syntax = (await c.cmd('MAIL FROM:<no closing bracket')) ?? '';
    assert.match(syntax, /^501 /);
    assert.match(syntax, REF);
    const unknown = (await c.cmd('FROB\x01NICATE')) ?? '';
    assert.match(unknown, /^50[02] /);
    assert.match(unknown, REF);
    await c.cmd('QUIT');
    await c.close();
    // These events are notes (no reply waits for their commit): poll, on a
    // loaded machine a fixed pause was once too short.
    let rows: { ref: string; smtp_code: number; reply: string }[] = [];
    for (let i = 0; i < 100 && rows.length < 3; i++) {
      if (i) await new Promise((r) => setTimeout(r, 100));
      rows = await eventsOf(mp, `kind = 'session.protocol_error' AND client_ip = '127.0.0.61'`);
    }
    assert.deepEqual(rows.map((r) => r.smtp_code), [503, 501, Number(unknown.slice(0, 3))]);
    assert.equal(rows[0]!.ref, REF.exec(seq)![1]);
    assert.equal(rows[1]!.ref, REF.exec(syntax)![1]);
    for (const r of rows) assert.doesNotMatch(r.reply, /[\x00-\x1f]/, 'no control bytes from the client in the ledger');
  } finally {
    await mp.stop();
    fs.rmSync(mp.dataDir, { recursive: true, force: true });
  }
});

test('unknown MAIL FROM and RCPT TO parameters get 555 5.5.4 with a REF (RFC 5321 section 4.1.1.11); announced ones pass', async () => {
  const mp = await startServer();
  try {
    const c = await RawSmtp.connect(mp.port, { localAddress: '127.0.0.62' });
    assert.match((await c.reply()) ?? '', /^220 /);
    assert.match((await c.cmd('EHLO client.example.org')) ?? '', /^250[ -]/);
    const frob = (await c.cmd('MAIL FROM:<a@example.org> FROB=1')) ?? '';
    assert.match(frob, /^555 5\.5\.4 MAIL FROM parameter FROB is not supported here; please send without it/);
    assert.match(frob, REF);
    // DSN is not announced: its parameters are unknown too.
    assert.match((await c.cmd('MAIL FROM:<a@example.org> RET=HDRS')) ?? '', /^555 5\.5\.4 /);
    assert.match((await c.cmd('MAIL FROM:<a@example.org> SIZE=100 BODY=8BITMIME')) ?? '', /^250 /);
    const notify = (await c.cmd('RCPT TO:<demo@demo.test> NOTIFY=NEVER')) ?? '';
    assert.match(notify, /^555 5\.5\.4 RCPT TO parameter NOTIFY is not supported here/);
    assert.match(notify, REF);
    assert.match((await c.cmd('RCPT TO:<demo@demo.test>')) ?? '', /^250 /);
    await c.cmd('QUIT');
    await c.close();
    let rows: { smtp_code: number }[] = [];
    for (let i = 0; i < 100 && rows.length < 3; i++) {
      if (i) await new Promise((r) => setTimeout(r, 100));
      rows = await eventsOf(mp, `kind = 'session.protocol_error' AND client_ip = '127.0.0.62'`);
    }
    assert.deepEqual(rows.map((r) => r.smtp_code), [555, 555, 555]);
  } finally {
    await mp.stop();
    fs.rmSync(mp.dataDir, { recursive: true, force: true });
  }
});
