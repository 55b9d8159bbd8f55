// SMTP smuggling towards the delivery targets: a message whose DATA holds a
// bare-CR or bare-LF "end of data" followed by a second transaction. A
// downstream server that ends DATA on such a form would run the hidden
// transaction past every check. By default the gateway refuses the message
// (550 5.6.0, RFC 5321 section 2.3.8) and nothing reaches the target; with
// smtp.bare_line_ends=normalize it is accepted with the bare ends turned into
// line ends, and the target receives CRLF only, one transaction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type Instance } from '../../helpers/server.js';
import { RawSmtp } from '../../helpers/smtp-client.js';
import { bareLineEnds, RawSink } from '../../helpers/raw-sink.js';

// The end-of-data forms of the published smuggling variants, each bare.
const VARIANTS: Record<string, string> = {
  'LF.LF': '\n.\n',
  'LF.CRLF': '\n.\r\n',
  'CR.CRLF': '\r.\r\n',
  'CRLF.CR': '\r\n.\r',
  'CRLF.LF': '\r\n.\n',
  'CR.LF': '\r.\n',
};

function payload(v: string, rcpt: string): string {
  return 'Subject: outer\r\n\r\nouter' + v +
    `MAIL FROM:<smuggled@evil.test>\r\nRCPT TO:<${rcpt}>\r\nDATA\r\nSubject: hidden\r\n\r\nhidden` + v +
    'QUIT\r\n' + '\r\n.\r\n';
}

async function send(mp: Instance, rcpt: string, data: string): Promise<string | null> {
  const c = await RawSmtp.connect(mp.port);
  try {
    assert.match((await c.reply())!, /^220/);
    assert.match((await c.cmd('EHLO client.test'))!, /^250/);
    assert.match((await c.cmd('MAIL FROM:<sender@client.test>'))!, /^250/);
    assert.match((await c.cmd(`RCPT TO:<${rcpt}>`))!, /^250/);
    assert.match((await c.cmd('DATA'))!, /^354/);
    c.write(data);
    return await c.reply(20000);
  } finally {
    await c.cmd('QUIT').catch(() => null);
    await c.close();
  }
}

function config(smtpSink: RawSink, lmtpSink: RawSink, policy?: string): Record<string, unknown> {
  return {
    ...(policy ? { smtp: { bare_line_ends: policy } } : {}),
    checks: { allowlist: { networks: ['127.0.0.0/8'] } },
    domains: {
      'relay.test': { mailboxes: ['x'], delivery: { type: 'smtp', address: `127.0.0.1:${smtpSink.port}`, tls: 'none', timeout_ms: 5000 } },
      'lmtp.test': { mailboxes: ['x'], delivery: { type: 'lmtp', address: `127.0.0.1:${lmtpSink.port}`, timeout_ms: 5000 } },
    },
  };
}

test('bare CR/LF end-of-data forms are refused by default and never reach an SMTP or LMTP target', { timeout: 120_000 }, async (t) => {
  const smtpSink = await RawSink.start('smtp');
  const lmtpSink = await RawSink.start('lmtp');
  const mp = await startServer({ config: config(smtpSink, lmtpSink) });
  t.after(async () => { await mp.stop(); await smtpSink.close(); await lmtpSink.close(); });

  for (const [name, v] of Object.entries(VARIANTS)) {
    for (const rcpt of ['x@relay.test', 'x@lmtp.test']) {
      const reply = await send(mp, rcpt, payload(v, rcpt));
      assert.match(reply ?? '', /^550 5\.6\.0 .*bare CR or LF.*\(ref [A-Z0-9]+\)$/, `${name} to ${rcpt}: ${reply}`);
    }
  }
  assert.equal(smtpSink.transactions.length, 0, 'the SMTP target got no message');
  assert.equal(lmtpSink.transactions.length, 0, 'the LMTP target got no message');
  assert.ok(!smtpSink.commands.concat(lmtpSink.commands).some((c) => /smuggled/i.test(c)));

  // A clean message still goes through to both.
  for (const rcpt of ['x@relay.test', 'x@lmtp.test']) {
    const reply = await send(mp, rcpt, 'Subject: clean\r\n\r\nline one\r\nline two\r\n.\r\n');
    assert.match(reply ?? '', /^250 /, reply ?? '');
  }
  assert.equal(smtpSink.transactions.length, 1);
  assert.equal(lmtpSink.transactions.length, 1);

  // The refusal is in the ledger with its reason, findable by recipient.
  const tr = await mp.trace(['--rcpt', 'x@relay.test']);
  const refused = tr.journeys.filter((j) => j.outcome === 'rejected');
  assert.equal(refused.length, Object.keys(VARIANTS).length);
  const ev = refused[0]!.events.find((e) => e.kind === 'data.rejected')!;
  assert.equal(ev.check_name, 'line_ends');
  assert.match(String((ev.details as Record<string, unknown>).reason), /bare line ends: \d+ CR, \d+ LF, the first at byte \d+/);
});

test('with bare_line_ends=normalize the target receives CRLF only and one transaction', { timeout: 120_000 }, async (t) => {
  const smtpSink = await RawSink.start('smtp');
  const lmtpSink = await RawSink.start('lmtp');
  const mp = await startServer({ config: config(smtpSink, lmtpSink, 'normalize') });
  t.after(async () => { await mp.stop(); await smtpSink.close(); await lmtpSink.close(); });

  let n = 0;
  for (const [name, v] of Object.entries(VARIANTS)) {
    for (const [rcpt, sink] of [['x@relay.test', smtpSink], ['x@lmtp.test', lmtpSink]] as const) {
      const reply = await send(mp, rcpt, payload(v, rcpt));
      assert.match(reply ?? '', /^250 /, `${name} to ${rcpt}: ${reply}`);
      const got = sink.transactions[sink.transactions.length - 1]!;
      assert.deepEqual(bareLineEnds(got.data), [], `${name} to ${rcpt}: no bare CR or LF downstream`);
      assert.match(got.mailFrom, /sender@client\.test/);
      // The hidden "transaction" is body text of the one message: its lines
      // are there, the end-of-data form is a dot-stuffed line.
      assert.match(got.data.toString('latin1'), /\r\n\.\.\r\nMAIL FROM:<smuggled@evil\.test>\r\n/, name);
      n++;
    }
  }
  assert.equal(smtpSink.transactions.length + lmtpSink.transactions.length, n);
  assert.ok(!smtpSink.commands.concat(lmtpSink.commands).some((c) => /smuggled/i.test(c)), 'no smuggled command reached a target');
});
