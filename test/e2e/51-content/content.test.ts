// The virus check and the attachment policy end to end: a real mailproof
// with a real clamd (Debian clamav-daemon, the shipped test signatures),
// messages over SMTP from 127.0.0.1, the exact replies, the Maildir, and the
// evidence in the ledger. Also clamd killed (451, then recovery) and clamd
// hanging (451 after scanners.clamd.timeout_ms).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { requireTool } from '../../helpers/env.js';
import { startClamd } from '../../helpers/clamd.js';
import { freePort, listNew, startServer, type Instance, NO_DNS_CHECKS } from '../../helpers/server.js';
import { sendMail } from '../../helpers/smtp-client.js';
import { EICAR, EICAR_SIG, MACRO_SIG, PDF, REF, message, peFile, wordFile, zip } from './content.js';

type Journey = Awaited<ReturnType<Instance['trace']>>['journeys'][number];

async function send(mp: Instance, to: string, body: string): Promise<string> {
  const r = await sendMail(mp.port, { from: 'sender@example.org', to: [to], body, helo: 'client.example.org' });
  assert.ok(r.final, `no reply to the message: ${JSON.stringify(r.replies)}`);
  return r.final;
}

function refOf(reply: string): string {
  const m = new RegExp(`\\(ref (${REF})\\)$`).exec(reply);
  assert.ok(m, `no REF in ${reply}`);
  return m[1]!;
}

async function journey(mp: Instance, rcpt: string, ref: string): Promise<Journey> {
  const { journeys } = await mp.trace(['--rcpt', rcpt]);
  const j = journeys.find((x) => x.ref === ref);
  assert.ok(j, `no journey ${ref}: ${JSON.stringify(journeys.map((x) => x.ref))}`);
  return j;
}

function checkEvent(j: Journey, name: string): Record<string, unknown> & { details: Record<string, unknown> } {
  const e = j.events.find((x) => x.kind === 'check.result' && x.check_name === name);
  assert.ok(e, `no check.result for ${name}: ${JSON.stringify(j.events.map((x) => [x.kind, x.check_name]))}`);
  return e as Record<string, unknown> & { details: Record<string, unknown> };
}

const VIRUS_TAIL = '; the message was not accepted\\. Clean the sending computer and send again';

test('virus check and attachment policy with a real clamd', async (t) => {
  if (!requireTool(t, 'clamd') || !requireTool(t, 'zip')) return;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-content-e2e-'));
  const clamd = await startClamd();
  let mp: Instance | null = null;
  t.after(async () => {
    await mp?.stop();
    await clamd.stop();
    if (mp) fs.rmSync(mp.dataDir, { recursive: true, force: true });
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  mp = await startServer({
    config: {
      scanners: { clamd: { address: `127.0.0.1:${clamd.tcp.port}`, timeout_ms: 20000 } },
      checks: { allowlist: { networks: [] }, ...NO_DNS_CHECKS },
    },
  });
  const server = mp;

  await t.test('EICAR as a plain attachment: 554 naming signature and file; the signature is in the ledger', async () => {
    const reply = await send(server, 'alice@demo.test', message({
      subject: 'eicar plain', messageId: '<eicar-plain@example.org>', text: 'see attachment',
      atts: [{ filename: 'eicar.txt', type: 'text/plain', content: Buffer.from(EICAR) }],
    }));
    assert.match(reply, new RegExp(`^554 5\\.7\\.1 Virus found: ${EICAR_SIG} in attachment eicar\\.txt${VIRUS_TAIL} \\(ref ${REF}\\)$`));
    const j = await journey(server, 'alice@demo.test', refOf(reply));
    assert.equal(j.outcome, 'rejected');
    const v = checkEvent(j, 'virus');
    assert.equal(v.verdict, 'reject');
    const ev = v.details.evidence as Record<string, unknown>;
    assert.match(String(ev.signature), new RegExp(`^${EICAR_SIG}$`));
    assert.equal(ev.filename, 'eicar.txt');
    assert.equal(ev.part, '2');
    assert.match(String(ev.raw), new RegExp(`^stream: ${EICAR_SIG} FOUND$`));
    assert.equal(ev.clamd, `127.0.0.1:${clamd.tcp.port}`);
    assert.match(String(ev.clamd_version), /^ClamAV \d+\.\d+/);
    // One stream of the whole message found it; then the parts, one by one, named the attachment.
    assert.deepEqual((ev.scans as Array<Record<string, unknown>>).map((s) => [s.target, s.part ?? null, s.result]),
      [['message', null, 'infected'], ['part', '1', 'clean'], ['part', '2', 'infected']], JSON.stringify(ev.scans));
    // The attachment policy ran beside it and had nothing against a .txt.
    assert.equal(checkEvent(j, 'attachments').verdict, 'pass');
    assert.deepEqual(listNew(server.newDir('alice@demo.test')), []);
  });

  await t.test('EICAR in a zip', async () => {
    // Deflated with its whitespace tail: clamd must unpack the zip to find it.
    const archive = zip(tmp, 'invoice.zip', { 'eicar.txt': EICAR + ' '.repeat(60), 'readme.txt': 'hello' });
    assert.ok(!archive.includes(EICAR));
    const reply = await send(server, 'bob@demo.test', message({
      subject: 'eicar zip', messageId: '<eicar-zip@example.org>', text: 'zipped',
      atts: [{ filename: 'invoice.zip', type: 'application/zip', content: archive }],
    }));
    assert.match(reply, new RegExp(`^554 5\\.7\\.1 Virus found: ${EICAR_SIG} in attachment invoice\\.zip${VIRUS_TAIL} \\(ref ${REF}\\)$`));
  });

  await t.test('EICAR in an attached message inside multipart/mixed', async () => {
    const inner = message({
      subject: 'inner', messageId: '<inner@example.org>', text: 'forwarded', boundary: '=_inner',
      atts: [{ filename: 'eicar.txt', type: 'text/plain', content: Buffer.from(EICAR) }],
    });
    const reply = await send(server, 'demo@demo.test', message({
      subject: 'nested', messageId: '<eicar-nested@example.org>', text: 'FYI',
      extra: ['--=_outer', 'Content-Type: message/rfc822; name="forwarded.eml"', 'Content-Disposition: attachment; filename="forwarded.eml"', '', inner],
    }));
    assert.match(reply, new RegExp(`^554 5\\.7\\.1 Virus found: ${EICAR_SIG} in attachment eicar\\.txt in attached message forwarded\\.eml${VIRUS_TAIL} \\(ref ${REF}\\)$`));
    const ev = checkEvent(await journey(server, 'demo@demo.test', refOf(reply)), 'virus').details.evidence as Record<string, unknown>;
    assert.equal(ev.part, '2.2');
    assert.deepEqual(ev.within, ['forwarded.eml']);
  });

  await t.test('"I only sent a Word file": the macro dropper is named by signature and file; the macro policy agrees', async () => {
    const reply = await send(server, 'alice@demo.test', message({
      subject: 'Rechnung', messageId: '<word-file@example.org>', text: 'Rechnung anbei',
      atts: [{ filename: 'Rechnung.docm', type: 'application/vnd.ms-word.document.macroEnabled.12', content: wordFile(tmp, 'Rechnung.docm') }],
    }));
    assert.match(reply, new RegExp(`^554 5\\.7\\.1 Virus found: ${MACRO_SIG} in attachment Rechnung\\.docm${VIRUS_TAIL} \\(ref ${REF}\\)$`));
    const j = await journey(server, 'alice@demo.test', refOf(reply));
    const v = checkEvent(j, 'virus');
    assert.match(String((v.details.evidence as Record<string, unknown>).signature), new RegExp(`^${MACRO_SIG}$`));
    const a = checkEvent(j, 'attachments');
    assert.equal(a.verdict, 'reject');
    assert.equal((a.details.evidence as Record<string, unknown>).rule, 'macro');
    const refused = j.events.find((e) => e.kind === 'data.rejected');
    assert.equal(refused?.check_name, 'virus');
  });

  await t.test('a clean message with a PDF is accepted and lies in the Maildir', async () => {
    const reply = await send(server, 'bob@demo.test', message({
      subject: 'clean pdf', messageId: '<clean-pdf@example.org>', text: 'Hallo, anbei das Angebot.',
      atts: [{ filename: 'Angebot.pdf', type: 'application/pdf', content: PDF }],
    }));
    assert.match(reply, new RegExp(`^250 2\\.0\\.0 Message accepted and stored \\(ref ${REF}\\)$`));
    const files = listNew(server.newDir('bob@demo.test'));
    assert.equal(files.length, 1);
    const text = fs.readFileSync(path.join(server.newDir('bob@demo.test'), files[0]!), 'utf8');
    assert.ok(text.includes('Message-ID: <clean-pdf@example.org>'));
    assert.ok(text.includes('filename="Angebot.pdf"'));
    const j = await journey(server, 'bob@demo.test', refOf(reply));
    const v = checkEvent(j, 'virus');
    assert.equal(v.verdict, 'pass');
    assert.equal((v.details.evidence as Record<string, unknown>).result, 'clean');
    const a = checkEvent(j, 'attachments');
    assert.deepEqual(((a.details.evidence as Record<string, unknown>).attachments as Array<Record<string, unknown>>).map((x) => [x.filename, x.detected]), [['Angebot.pdf', 'pdf']]);
  });

  await t.test('Rechnung.pdf.exe is refused by the attachment policy', async () => {
    const reply = await send(server, 'alice@demo.test', message({
      subject: 'Rechnung exe', messageId: '<pdf-exe@example.org>', text: 'Rechnung',
      atts: [{ filename: 'Rechnung.pdf.exe', type: 'application/pdf', content: peFile() }],
    }));
    assert.match(reply, new RegExp(`^554 5\\.7\\.1 Attachment Rechnung\\.pdf\\.exe is a Windows program \\(\\.exe\\) disguised as \\.pdf; programs and scripts are not accepted by mail\\. Use another way to share it \\(ref ${REF}\\)$`));
    const j = await journey(server, 'alice@demo.test', refOf(reply));
    const a = checkEvent(j, 'attachments');
    assert.equal(a.verdict, 'reject');
    assert.deepEqual(a.details.evidence, {
      rule: 'double_extension', part: '2', filename: 'Rechnung.pdf.exe', content_type: 'application/pdf', bytes: 1024,
      detected: null, ext: 'exe', decoy: 'pdf',
    });
    assert.equal(checkEvent(j, 'virus').verdict, 'pass');
  });

  await t.test('clamd killed: 451 naming no internals, component clamd in the ledger; restarted: mail is accepted again', async () => {
    await clamd.kill();
    const down = await send(server, 'demo@demo.test', message({
      subject: 'while down', messageId: '<while-down@example.org>', text: 'x',
      atts: [{ filename: 'Angebot.pdf', type: 'application/pdf', content: PDF }],
    }));
    assert.match(down, new RegExp(`^451 4\\.3\\.0 Temporary problem while checking your message; please try again later \\(ref ${REF}\\)$`));
    const j = await journey(server, 'demo@demo.test', refOf(down));
    assert.equal(j.outcome, 'tempfailed');
    const v = checkEvent(j, 'virus');
    assert.equal(v.verdict, 'error');
    assert.equal(v.details.component, 'clamd');
    assert.match(String(v.details.reason), /cannot connect to clamd/);

    await clamd.restart();
    const again = await send(server, 'demo@demo.test', message({
      subject: 'after restart', messageId: '<after-restart@example.org>', text: 'x',
      atts: [{ filename: 'Angebot.pdf', type: 'application/pdf', content: PDF }],
    }));
    assert.match(again, new RegExp(`^250 2\\.0\\.0 Message accepted and stored \\(ref ${REF}\\)$`));
  });

  await t.test('clamd hanging (accepts, never answers): 451 after scanners.clamd.timeout_ms', async () => {
    const sockets = new Set<net.Socket>();
    const hang = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
      s.resume();
    });
    const port = await freePort();
    await new Promise<void>((r) => hang.listen(port, '127.0.0.1', r));
    const slow = await startServer({
      config: {
        scanners: { clamd: { address: `127.0.0.1:${port}`, timeout_ms: 1000 } },
        checks: { allowlist: { networks: [] }, ...NO_DNS_CHECKS },
      },
    });
    try {
      const reply = await send(slow, 'alice@demo.test', message({ subject: 'hang', messageId: '<hang@example.org>', text: 'x' }));
      assert.match(reply, new RegExp(`^451 4\\.3\\.0 Temporary problem while checking your message; please try again later \\(ref ${REF}\\)$`));
      const v = checkEvent(await journey(slow, 'alice@demo.test', refOf(reply)), 'virus');
      assert.equal(v.verdict, 'error');
      assert.equal(v.details.component, 'clamd');
      assert.match(String(v.details.reason), /no reply from clamd|did not finish the scan within 1000 ms|timed out/);
      assert.ok(sockets.size >= 1, 'mailproof connected to the hanging clamd');
    } finally {
      await slow.stop();
      fs.rmSync(slow.dataDir, { recursive: true, force: true });
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => hang.close(() => r()));
    }
  });
});
