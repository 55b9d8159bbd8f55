// A real Dovecot 2.3 with a non-default mail_log_prefix that carries the
// client's addresses ("rip=%{rip} lip=%{lip}" after the session), and the
// mail_log plugin on: an IMAP expunge and a POP3 fetch-and-delete are logged,
// mailproof ingests the log and must see both, with the client's address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { requireTool } from '../../helpers/env.js';
import { startDovecot } from '../../helpers/dovecot.js';
import { run } from '../../helpers/server.js';

/** A line-based dialog: sends each command, waits for a reply line matching its pattern. */
async function dialog(port: number, steps: Array<[string | null, RegExp]>): Promise<string> {
  const s = net.connect({ host: '127.0.0.1', port });
  let buf = '';
  s.setEncoding('utf8');
  s.on('data', (d: string) => { buf += d; });
  // Each reply is looked for in what arrived after its command was sent.
  const waitFor = async (re: RegExp, from: number): Promise<void> => {
    const deadline = Date.now() + 10000;
    while (!re.test(buf.slice(from))) {
      if (Date.now() > deadline) throw new Error(`no ${re} in:\n${buf}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  for (const [cmd, re] of steps) {
    const from = buf.length;
    if (cmd !== null) s.write(cmd + '\r\n');
    await waitFor(re, cmd === null ? 0 : from);
  }
  s.end();
  return buf;
}

const MAIL = (id: string): string => `From: s@example.org\r\nTo: x@lmtp.test\r\nSubject: t\r\nMessage-ID: <${id}>\r\n\r\nhello\r\n.`;

test('a Dovecot log with mail_log_prefix "... rip=%{rip} lip=%{lip} ": IMAP expunge and POP3 retr/dele are events with the client address', async (t) => {
  if (!requireTool(t, 'dovecot')) return;
  const dc = await startDovecot({
    extraConfig: 'mail_log_prefix = "%s(%u)<%{pid}><%{session}>: rip=%{rip} lip=%{lip} "\n',
  });
  t.after(() => dc.destroy());
  for (const u of ['carol@lmtp.test', 'dave@lmtp.test']) dc.addUser({ address: u, password: 'pw' });
  for (const [u, id] of [['carol@lmtp.test', 'imap-x@example.org'], ['dave@lmtp.test', 'pop-x@example.org']] as const) {
    await dialog(dc.lmtpPort, [[null, /^220 /m], ['LHLO t', /^250 /m], ['MAIL FROM:<s@example.org>', /^250 2\.1\.0/m], [`RCPT TO:<${u}>`, /^250 2\.1\.5/m], ['DATA', /^354 /m], [MAIL(id), /^250 2\.0\.0 <[^>]*> /m], ['QUIT', /^221 /m]]);
  }
  await dialog(dc.imapPort, [[null, /^\* OK/m], ['a LOGIN carol@lmtp.test pw', /^a OK/m], ['b SELECT INBOX', /^b OK/m],
    ['c STORE 1 +FLAGS (\\Deleted)', /^c OK/m], ['d EXPUNGE', /^d OK/m], ['e LOGOUT', /^e OK/m]]);
  await dialog(dc.pop3Port, [[null, /^\+OK/m], ['USER dave@lmtp.test', /^\+OK/m], ['PASS pw', /^\+OK Logged in/m],
    ['RETR 1', /\r\n\.\r\n/], ['DELE 1', /^\+OK Marked/m], ['QUIT', /^\+OK Logging out/m]]);
  await dc.waitForLog(/pop3\(dave@lmtp\.test\).*Disconnected/);
  await dc.waitForLog(/imap\(carol@lmtp\.test\).*Disconnected/);
  const log = dc.log();

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-ingest-dc-'));
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const ing = await run(['ingest', 'dovecot', dc.logFile, '--data-dir', dataDir, '--json']);
  assert.equal(ing.code, 0, ing.stderr);
  const summary = JSON.parse(ing.stdout) as { lines: number; unknown_total: number; unknown: Record<string, number>; by_kind: Record<string, number> };
  assert.equal(summary.unknown_total, 0, `${ing.stdout}\n${log}`);
  assert.equal(summary.by_kind['imap.expunge'], 1, ing.stdout);
  assert.equal(summary.by_kind['pop3.dele'], 1, ing.stdout);

  type Ev = { kind: string; client_ip: string | null; message_id: string | null; details?: Record<string, unknown> };
  const trace = async (rcpt: string): Promise<Ev[]> => {
    const r = await run(['trace', '--data-dir', dataDir, '--rcpt', rcpt, '--json']);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { journeys: Array<{ events: Ev[] }> }).journeys.flatMap((j) => j.events);
  };
  const carol = await trace('carol@lmtp.test');
  const expunge = carol.find((e) => e.kind === 'imap.expunge');
  assert.ok(expunge, JSON.stringify(carol, null, 1));
  assert.equal(expunge.client_ip, '127.0.0.1');
  assert.equal(expunge.message_id, 'imap-x@example.org');
  const dave = await trace('dave@lmtp.test');
  const dele = dave.find((e) => e.kind === 'pop3.dele');
  assert.ok(dele, JSON.stringify(dave, null, 1));
  assert.equal(dele.client_ip, '127.0.0.1');
  assert.equal(dele.message_id, 'pop-x@example.org');
  // The fetch: Dovecot logs no line per RETR, only the session's count at
  // logout (retr=1/...), so it is a session event without a Message-ID.
  assert.equal(summary.by_kind['pop3.retr'], 1, ing.stdout);
});
