// The seed case "I only sent a Word file" end to end with a real sending
// MTA: a throwaway Postfix relays the sender's message to mailproof (with a
// real clamd and the shipped signatures), gets the 554, and bounces; the
// bounce, back through mailproof into the sender's Maildir, carries our
// reply with the signature, the file name and the REF that the ledger knows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IN_CI, requireTool } from '../../helpers/env.js';
import { startClamd, type ClamdInstance } from '../../helpers/clamd.js';
import { pollUntil, startPostfix, type PostfixInstance } from '../../helpers/postfix.js';
import { listNew, startServer, type Instance, NO_DNS_CHECKS } from '../../helpers/server.js';
import { MACRO_SIG, REF, message, wordFile } from './content.js';

const WAIT_MS = 60000;

test('a real Postfix bounces the Word file with our reply, signature, file name and REF', async (t) => {
  if (!requireTool(t, 'postfix') || !requireTool(t, 'clamd') || !requireTool(t, 'zip')) return;
  if (process.getuid && process.getuid() !== 0) {
    if (IN_CI) throw new Error('the Postfix end-to-end test needs root (Postfix master runs as root)');
    t.skip('needs root to run a throwaway Postfix');
    return;
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-wordfile-'));
  let clamd: ClamdInstance | null = null;
  let mp: Instance | null = null;
  let pf: PostfixInstance | null = null;
  t.after(async () => {
    try {
      await pf?.stop();
    } finally {
      await mp?.stop();
      await clamd?.stop();
      if (mp) fs.rmSync(mp.dataDir, { recursive: true, force: true });
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
  clamd = await startClamd();
  mp = await startServer({
    config: {
      scanners: { clamd: { address: `127.0.0.1:${clamd.tcp.port}`, timeout_ms: 20000 } },
      checks: { allowlist: { networks: [] }, ...NO_DNS_CHECKS },
    },
  });
  // Here the bounce comes back through mailproof (the sender's domain is
  // hosted on it too). With the whole original inside, the virus check
  // would rightly refuse the bounce as well: Postfix returns only the
  // headers (text/rfc822-headers) of a message over bounce_size_limit.
  pf = await startPostfix({ relayTo: { host: mp.host, port: mp.port }, main: { bounce_size_limit: '1000' } });
  const server = mp;
  const postfix = pf;
  const describe = (): string => `--- postfix log ---\n${postfix.log()}\n--- mailproof output ---\n${server.output()}`;

  const messageId = `<word-file-${Date.now()}@demo.test>`;
  const qid = await postfix.submit('demo@demo.test', ['alice@demo.test'], message({
    subject: 'Rechnung 4711', messageId, to: 'alice@demo.test', text: 'Hallo Alice, anbei die Rechnung.',
    atts: [{ filename: 'Rechnung.docm', type: 'application/vnd.ms-word.document.macroEnabled.12', content: wordFile(tmp, 'Rechnung.docm') }],
  }));

  const bounced = await pollUntil(() => postfix.deliveries().find((d) => d.queueId === qid && d.status !== 'deferred'), {
    timeoutMs: WAIT_MS, what: `Postfix to give up on ${qid}`, describe,
  });
  assert.equal(bounced.status, 'bounced', bounced.line);
  assert.equal(bounced.dsn, '5.7.1', bounced.line);
  const reply = new RegExp(`554 5\\.7\\.1 Virus found: ${MACRO_SIG} in attachment Rechnung\\.docm; the message was not accepted\\. Clean the sending computer and send again \\(ref (${REF})\\)`);
  const inLog = reply.exec(bounced.detail);
  assert.ok(inLog, `Postfix logged: ${bounced.detail}`);
  const ref = inLog[1]!;

  // The bounce went through mailproof into the sender's Maildir.
  const text = await pollUntil(() => {
    const dir = server.newDir('demo@demo.test');
    for (const name of listNew(dir)) {
      const s = fs.readFileSync(path.join(dir, name), 'utf8');
      if (s.includes(messageId)) return s;
    }
    return null;
  }, { timeoutMs: WAIT_MS, what: 'the bounce in demo@demo.test', describe });
  assert.match(text, /^Subject: Undelivered Mail Returned to Sender$/m);
  assert.match(text, /^Content-Type: text\/rfc822-headers$/m);
  const flat = text.replace(/\s+/g, ' ');
  const inBounce = reply.exec(flat);
  assert.ok(inBounce, `no reply with signature, file name and REF in the bounce:\n${text}`);
  assert.equal(inBounce[1], ref);
  assert.ok(flat.includes(`Diagnostic-Code: smtp; ${inBounce[0]}`), `no Diagnostic-Code with the reply:\n${text}`);

  // The same REF in the ledger: refused by the virus check, with the signature as evidence.
  const { journeys } = await server.trace(['--rcpt', 'alice@demo.test']);
  const j = journeys.find((x) => x.ref === ref);
  assert.ok(j, `no journey ${ref}: ${JSON.stringify(journeys, null, 2)}`);
  assert.equal(j.outcome, 'rejected');
  assert.equal(j.mail_from, 'demo@demo.test');
  const v = j.events.find((e) => e.kind === 'check.result' && e.check_name === 'virus');
  assert.equal(v?.verdict, 'reject');
  const ev = (v?.details as { evidence: Record<string, unknown> }).evidence;
  assert.match(String(ev.signature), new RegExp(`^${MACRO_SIG}$`));
  assert.equal(ev.filename, 'Rechnung.docm');
  await postfix.waitForQueueEmpty(WAIT_MS);
});
