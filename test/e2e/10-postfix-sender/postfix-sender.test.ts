// End to end with a real sending MTA: a throwaway Debian Postfix relays to
// mailproof over loopback. Covers what a unit test cannot: Postfix's SMTP
// client (PIPELINING, STARTTLS, dot-stuffing) against smtp-server, and a
// rejection's REF surviving Postfix's bounce back to the sender.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { IN_CI, requireTool } from '../../helpers/env.js';
import { startPostfix, pollUntil, type PostfixInstance } from '../../helpers/postfix.js';
import { listNew, startServer, type Instance } from '../../helpers/server.js';

const REF = '[0-9A-HJKMNP-TV-Z]{12}';
const WAIT_MS = 60000;

function message(o: { from: string; to: string; subject: string; messageId: string; body: string[] }): string {
  return [
    `From: ${o.from}`,
    `To: ${o.to}`,
    `Subject: ${o.subject}`,
    `Message-ID: ${o.messageId}`,
    `Date: ${new Date().toUTCString()}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    ...o.body,
    '',
  ].join('\r\n');
}

/** Waits for a file in a Maildir new/ whose text contains needle; returns its text. */
async function waitForMail(dir: string, needle: string, describe: () => string): Promise<{ file: string; text: string }> {
  return pollUntil(() => {
    for (const name of listNew(dir)) {
      const file = path.join(dir, name);
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch {
        continue;
      }
      if (text.includes(needle)) return { file, text };
    }
    return null;
  }, { timeoutMs: WAIT_MS, what: `a message containing ${needle} in ${dir}`, describe });
}

/** SIGTERM, and SIGKILL if mailproof has not exited within 20 s. */
async function stopBounded(mp: Instance): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((r) => { timer = setTimeout(() => r('late'), 20000); });
  try {
    if ((await Promise.race([mp.stop(), late])) === 'late') await mp.kill9();
  } finally {
    clearTimeout(timer);
  }
}

test('a real Postfix relays to mailproof', async (t) => {
  if (!requireTool(t, 'postfix')) return;
  if (process.getuid && process.getuid() !== 0) {
    if (IN_CI) throw new Error('the Postfix end-to-end test needs root (Postfix master runs as root)');
    t.skip('needs root to run a throwaway Postfix');
    return;
  }

  let mp: Instance | null = null;
  let pf: PostfixInstance | null = null;
  t.after(async () => {
    try {
      await pf?.stop();
    } finally {
      if (mp) {
        await stopBounded(mp);
        fs.rmSync(mp.dataDir, { recursive: true, force: true });
      }
    }
  });

  mp = await startServer();
  pf = await startPostfix({ relayTo: { host: mp.host, port: mp.port } });
  const server = mp;
  const postfix = pf;
  const describe = (): string => `--- postfix log ---\n${postfix.log()}\n--- mailproof output ---\n${server.output()}`;
  const tag = randomBytes(6).toString('hex');

  await t.test('a good message arrives in the Maildir with a Received header and a delivered ledger entry', async () => {
    const messageId = `<good-${tag}@submitter.test.invalid>`;
    const qid = await postfix.submit('carol@submitter.test.invalid', ['alice@demo.test'], message({
      from: 'Carol <carol@submitter.test.invalid>',
      to: 'Alice <alice@demo.test>',
      subject: `postfix e2e ${tag}`,
      messageId,
      body: ['Hello Alice,', '', '.a line that starts with a dot survives both hops', 'Carol'],
    }));

    const { text } = await waitForMail(server.newDir('alice@demo.test'), messageId, describe);

    // mailproof's trace headers come first (Return-Path with the envelope
    // sender, RFC 5321 section 4.4), above Postfix's own.
    const received = new RegExp(`^Return-Path: <[^>]+>\\nReceived: from sender\\.test\\.invalid \\([^)]*\\[127\\.0\\.0\\.1\\]\\)\\n\\tby mx\\.test\\.invalid \\(mailproof\\) with (ESMTPS?) id (${REF})\\n\\tfor <alice@demo\\.test>;`).exec(text);
    assert.ok(received, `no mailproof Received header at the top:\n${text}`);
    const ref = received[2]!;
    assert.equal(received[1], 'ESMTPS', 'Postfix (smtp_tls_security_level=may) should have used STARTTLS');
    assert.ok(text.includes('by mx.test.invalid (mailproof)'));
    assert.match(text, new RegExp(`Received: from submitter\\.test\\.invalid [^\\n]*\\n\\tby sender\\.test\\.invalid \\(Postfix\\) with ESMTP id ${qid}`));
    assert.ok(text.includes(`Message-ID: ${messageId}`), 'original Message-ID kept');
    assert.match(text, /\n\.a line that starts with a dot survives both hops\n/, 'dot-stuffing undone exactly once');

    // Postfix saw the 250 with the same REF.
    const sent = await pollUntil(() => postfix.deliveries().find((d) => d.queueId === qid && d.status === 'sent'), {
      timeoutMs: WAIT_MS, what: `Postfix to log the delivery of ${qid}`, describe,
    });
    assert.equal(sent.to, 'alice@demo.test');
    assert.match(sent.detail, new RegExp(`^250 2\\.0\\.0 Message accepted and stored \\(ref ${ref}\\)`));

    const { journeys } = await server.trace(['--rcpt', 'alice@demo.test']);
    const j = journeys.find((x) => x.ref === ref);
    assert.ok(j, `no journey with ref ${ref}: ${JSON.stringify(journeys, null, 2)}`);
    assert.equal(j.outcome, 'delivered');
    assert.equal(j.mail_from, 'carol@submitter.test.invalid');
    assert.equal(j.helo, 'sender.test.invalid');
    assert.ok(String(j.message_id).includes(`good-${tag}@submitter.test.invalid`), `message_id ${String(j.message_id)}`);

    await postfix.waitForQueueEmpty(WAIT_MS);
  });

  await t.test('a rejected recipient comes back as a Postfix bounce carrying the reply and its REF', async () => {
    const messageId = `<bounce-${tag}@demo.test>`;
    const qid = await postfix.submit('demo@demo.test', ['nosuchuser@demo.test'], message({
      from: 'Demo <demo@demo.test>',
      to: 'Nobody <nosuchuser@demo.test>',
      subject: `postfix e2e bounce ${tag}`,
      messageId,
      body: ['This one has no mailbox to go to.'],
    }));

    const bounced = await pollUntil(() => postfix.deliveries().find((d) => d.queueId === qid && d.status !== 'deferred'), {
      timeoutMs: WAIT_MS, what: `Postfix to give up on ${qid}`, describe,
    });
    assert.equal(bounced.status, 'bounced', bounced.line);
    assert.equal(bounced.dsn, '5.1.1', bounced.line);

    // The non-delivery notification (null sender) went through mailproof to the sender's Maildir.
    const { text } = await waitForMail(server.newDir('demo@demo.test'), messageId, describe);
    // A bounce has the null sender: Return-Path: <> tells mail clients not to auto-reply.
    assert.match(text, /^Return-Path: <>\nReceived: from sender\.test\.invalid [^\n]*\n\tby mx\.test\.invalid \(mailproof\)/);
    assert.match(text, /^Subject: Undelivered Mail Returned to Sender$/m);
    assert.match(text, /^Content-Type: message\/delivery-status$/m);
    // Postfix folds long lines in the notice and in Diagnostic-Code.
    const flat = text.replace(/\s+/g, ' ');
    assert.ok(flat.includes('550 5.1.1'), `no "550 5.1.1" in the bounce:\n${text}`);
    assert.ok(flat.includes('No such mailbox'), `no "No such mailbox" in the bounce:\n${text}`);
    const m = new RegExp(`550 5\\.1\\.1 No such mailbox <nosuchuser@demo\\.test> here;[^()]*\\(ref (${REF})\\)`).exec(flat);
    assert.ok(m, `no reply with a REF in the bounce:\n${text}`);
    const ref = m[1]!;
    assert.match(flat, new RegExp(`Diagnostic-Code: smtp; 550 5\\.1\\.1 No such mailbox <nosuchuser@demo\\.test> here;[^()]*\\(ref ${ref}\\)`));
    assert.match(flat, /Status: 5\.1\.1/);

    // The same REF in the ledger, as a rejection for an unknown recipient.
    const { journeys } = await server.trace(['--rcpt', 'nosuchuser@demo.test']);
    const j = journeys.find((x) => x.ref === ref);
    assert.ok(j, `no journey with ref ${ref}: ${JSON.stringify(journeys, null, 2)}`);
    assert.equal(j.outcome, 'rejected');
    assert.ok((j.diagnosis as string[]).includes('unknown_recipient'), `diagnosis ${JSON.stringify(j.diagnosis)}`);
    assert.equal(j.mail_from, 'demo@demo.test');
    assert.match(String(j.reply), new RegExp(`^550 5\\.1\\.1 No such mailbox .*\\(ref ${ref}\\)$`));

    // And the bounce itself is in the ledger: null sender, delivered to demo.
    const notice = postfix.bounces().find((b) => b.queueId === qid);
    assert.ok(notice, `Postfix logged no non-delivery notification for ${qid}`);
    const sent = await pollUntil(() => postfix.deliveries().find((d) => d.queueId === notice.bounceId && d.status === 'sent'), {
      timeoutMs: WAIT_MS, what: `Postfix to log the delivery of bounce ${notice.bounceId}`, describe,
    });
    assert.equal(sent.to, 'demo@demo.test');
    const bounceRef = new RegExp(`\\(ref (${REF})\\)`).exec(sent.detail)?.[1];
    assert.ok(bounceRef, sent.line);
    const demo = await server.trace(['--rcpt', 'demo@demo.test']);
    const dj = demo.journeys.find((x) => x.ref === bounceRef);
    assert.ok(dj, `no journey with ref ${bounceRef}: ${JSON.stringify(demo.journeys, null, 2)}`);
    assert.equal(dj.outcome, 'delivered');
    assert.equal(dj.mail_from, '', 'a bounce has the null reverse-path');

    await postfix.waitForQueueEmpty(WAIT_MS);
  });
});
