// The commonest "it never arrived": a real Postfix reads the SIZE limit in
// our EHLO reply (RFC 1870), finds its message larger, never sends MAIL and
// bounces the message to its own user. mailproof's ledger has only the
// session; research must find it by the sender's domain (the Postfix's HELO
// name is in it) and by address, and explain it with the limit we announced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { IN_CI, requireTool } from '../../helpers/env.js';
import { startPostfix, pollUntil, type PostfixInstance } from '../../helpers/postfix.js';
import { run, startServer, type Instance } from '../../helpers/server.js';

const WAIT_MS = 60000;
const LIMIT = 200000;
/** Postfix's SMTP client connects from here (smtp_bind_address). */
const SENDER_IP = '127.0.0.113';

interface SessionJourney { ref: string; outcome: string; rcpt: string; client_ip: string | null; helo: string | null; diagnosis: string[]; explanations: { code: string; what: string }[] }

test('a real Postfix that reads our EHLO SIZE bounces locally; trace finds the session by sender domain and address and explains it', async (t) => {
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
        await mp.stop();
        fs.rmSync(mp.dataDir, { recursive: true, force: true });
      }
    }
  });
  mp = await startServer({ config: { smtp: { max_message_size: LIMIT } } });
  pf = await startPostfix({ relayTo: { host: mp.host, port: mp.port }, hostname: 'mx.lieferant.test', main: { smtp_bind_address: SENDER_IP } });
  const server = mp;
  const postfix = pf;
  const describe = (): string => `--- postfix log ---\n${postfix.log()}\n--- mailproof output ---\n${server.output()}`;

  const big = Array.from({ length: 4000 }, (_, i) => `line ${i} ${'x'.repeat(70)}`);
  const raw = ['From: Hans <hans@lieferant.test>', 'To: <demo@demo.test>', 'Subject: Rechnung (gross)', 'Message-ID: <big-1@lieferant.test>', '', ...big, ''].join('\r\n');
  assert.ok(raw.length > LIMIT);
  const qid = await postfix.submit('hans@lieferant.test', ['demo@demo.test'], raw);

  // Postfix refuses it itself, citing our limit: "message size N exceeds size limit 200000 of server".
  const bounced = await pollUntil(() => postfix.deliveries().find((d) => d.queueId === qid && d.status !== 'deferred'), {
    timeoutMs: WAIT_MS, what: `Postfix to give up on ${qid}`, describe,
  });
  assert.equal(bounced.status, 'bounced', bounced.line);
  assert.match(bounced.detail, new RegExp(`message size \\d+ exceeds size limit ${LIMIT} of server`), bounced.line);

  // The session ends when Postfix quits (or its connection cache lets go).
  const found = (r: { journeys: unknown[] }): SessionJourney | undefined =>
    (r.journeys as SessionJourney[]).find((j) => j.outcome === 'no_transaction' && j.diagnosis.includes('likely_too_large'));
  const byDomain = await pollUntil(async () => found(await server.trace(['--from', 'lieferant.test'])), {
    timeoutMs: WAIT_MS, what: 'the session of mx.lieferant.test in trace --from lieferant.test', describe,
  });
  assert.equal(byDomain.helo, 'mx.lieferant.test');
  assert.equal(byDomain.client_ip, SENDER_IP);
  assert.equal(byDomain.rcpt, '');
  const x = byDomain.explanations.find((e) => e.code === 'likely_too_large')!;
  assert.match(x.what, new RegExp(`size limit of ${LIMIT} bytes`));
  assert.match(x.what, /mx\.lieferant\.test \(127\.0\.0\.113\)/);

  // By the sender address with the intended recipient, and by the address alone.
  const byAddr = await server.trace(['--from', 'hans@lieferant.test', '--rcpt', 'demo@demo.test']);
  assert.equal(found(byAddr)?.ref, byDomain.ref, JSON.stringify(byAddr, null, 2));
  assert.deepEqual((byAddr as unknown as { findings: unknown[] }).findings, [], 'no "the sender never tried"');
  const byIp = await server.trace(['--ip', SENDER_IP]);
  assert.equal(found(byIp)?.ref, byDomain.ref, JSON.stringify(byIp, null, 2));

  // The German report says it, with the limit.
  const cfg = `${server.dataDir}/test-config.yaml`;
  const report = await run(['report', '--config', cfg, '--from', 'hans@lieferant.test', '--rcpt', 'demo@demo.test', '--lang', 'de', '--format', 'text', '-o', 'log.level=warn']);
  assert.equal(report.code, 0, report.stderr);
  const text = report.stdout.replace(/\s+/g, ' ');
  assert.match(text, /Vermutlich zu groß, vom eigenen Server des Absenders abgewiesen/);
  assert.match(text, new RegExp(`Größengrenze von ${LIMIT} bytes`));
  assert.match(text, /mx\.lieferant\.test/);
});
