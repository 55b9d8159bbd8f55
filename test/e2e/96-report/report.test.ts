// `mailproof report` end to end: real mail through a real gateway (one
// message refused for an unknown recipient, one delivered with a hostile
// subject), then the report of each from the ledger, read back as a user
// would: the PDF through pdftotext, the text and HTML as written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireTool } from '../../helpers/env.js';
import { NO_DNS_CHECKS, run, startServer } from '../../helpers/server.js';
import { sendMail } from '../../helpers/smtp-client.js';

const REF = /\(ref ([0-9A-HJKMNP-TV-Z]{12})\)$/;

function refOf(reply: string | null | undefined): string {
  const m = REF.exec(reply ?? '');
  assert.ok(m, `no REF in ${JSON.stringify(reply)}`);
  return m[1]!;
}

/** RFC 2047 encoded-word: the subject goes over the wire as ASCII, the gateway decodes it. */
function encodedWord(s: string): string {
  return `=?UTF-8?B?${Buffer.from(s, 'utf8').toString('base64')}?=`;
}

const HOSTILE_SUBJECT = '<script>alert(1)</script> Grüße aus Köln';

test('report: German PDF of a refused message, English text and HTML of a delivered one', async (t) => {
  const pdftotext = requireTool(t, 'pdftotext');
  if (!pdftotext) return;
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-report-e2e-'));
  const mp = await startServer({ config: { checks: { allowlist: { networks: [] }, ...NO_DNS_CHECKS } } });
  t.after(async () => {
    await mp.stop();
    fs.rmSync(mp.dataDir, { recursive: true, force: true });
    fs.rmSync(out, { recursive: true, force: true });
  });
  const dd = ['--data-dir', mp.dataDir];

  const refused = await sendMail(mp.port, { from: 'hans@sender.example', to: ['nosuch@demo.test'], body: 'x', helo: 'mail.sender.example' });
  const rcptReply = refused.replies.find((r) => r?.startsWith('550'));
  assert.match(rcptReply ?? '', /^550 5\.1\.1 /);
  const rejectRef = refOf(rcptReply);

  const delivered = await sendMail(mp.port, {
    from: 'erika@sender.example', to: ['alice@demo.test'], helo: 'mail.sender.example',
    body: `Subject: ${encodedWord(HOSTILE_SUBJECT)}\nMessage-ID: <report-e2e-1@sender.example>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nHallo\n`,
  });
  assert.match(delivered.final ?? '', /^250 /);
  const deliveredRef = refOf(delivered.final);

  await t.test('German PDF with -o: umlauts, the cause, the REF, the text to forward', async () => {
    const file = path.join(out, 'x.pdf');
    const r = await run(['report', ...dd, '--ref', rejectRef, '--lang', 'de', '--format', 'pdf', '-o', file, '-o', 'log.level=warn']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /report written to .*x\.pdf/);
    assert.equal(fs.readFileSync(file).subarray(0, 5).toString('latin1'), '%PDF-');
    assert.deepEqual(fs.readdirSync(out).filter((f) => f.endsWith('.tmp')), [], 'no temp file left behind');
    const text = execFileSync(pdftotext, ['-enc', 'UTF-8', file, '-'], { encoding: 'utf8' }).replace(/\s+/g, ' ');
    assert.match(text, /Bericht zur E-Mail-Zustellung/);
    assert.match(text, /Postfach existiert nicht/);
    assert.match(text, /Die Adresse nosuch@demo\.test gibt es hier nicht/);
    assert.match(text, /Empfänger nosuch@demo\.test abgelehnt: 550 5\.1\.1/);
    assert.match(text, /Zur Weiterleitung an den Absender/);
    assert.match(text, /für dessen Mail-Administrator/);
    assert.match(text, /Verbindung von 127\.0\.0\.1/);
    // No DNS check looked the name up: none is claimed, "no name" neither.
    assert.doesNotMatch(text, /kein Name/);
    assert.ok(text.includes(rejectRef), 'the REF is in the PDF');
    assert.match(text, new RegExp(`Referenz: ${rejectRef}`), 'and in the text to forward');
  });

  await t.test('English text to stdout for the delivered message', async () => {
    const r = await run(['report', ...dd, '--ref', deliveredRef, '--lang', 'en', '--format', 'text']);
    assert.equal(r.code, 0, r.stderr);
    const text = r.stdout;
    assert.match(text, /^Mail delivery report\n/);
    assert.match(text, new RegExp(`Reference \\(REF\\): +${deliveredRef}`));
    assert.match(text.replace(/\s+/g, ' '), /Message from erika@sender\.example to alice@demo\.test, \S+ \S+ UTC: delivered\./);
    assert.match(text, /Delivered to the mailbox alice@demo\.test/);
    assert.match(text, /Subject: +<script>alert\(1\)<\/script> Grüße aus Köln/);
    assert.match(text, /Delivered, not yet fetched/);
    assert.doesNotMatch(text, /To forward to the sender/, 'nothing for the sender to do');
  });

  await t.test('English HTML: the hostile subject is text, not markup', async () => {
    const file = path.join(out, 'r.html');
    const r = await run(['report', ...dd, '--ref', deliveredRef, '--lang', 'en', '--format', 'html', '--output', file]);
    assert.equal(r.code, 0, r.stderr);
    const html = fs.readFileSync(file, 'utf8');
    assert.ok(!html.includes('<script'), 'a script tag got through');
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt; Grüße aus Köln'));
    assert.match(html, /Delivered to the mailbox alice@demo\.test/);
  });

  await t.test('a PDF goes to a pipe; nothing found still makes a report', async () => {
    const pdf = await run(['report', ...dd, '--rcpt', 'alice@demo.test', '--format', 'pdf']);
    assert.equal(pdf.code, 0, pdf.stderr);
    assert.ok(pdf.stdout.startsWith('%PDF-'));
    const none = await run(['report', ...dd, '--rcpt', 'alice@demo.test', '--from', 'ghost@never.example']);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout.replace(/\s+/g, ' '), /No message matching this search was found/);
    assert.match(none.stdout, /The sender never tried/);
  });

  await t.test('usage errors exit 64', async () => {
    const noFilter = await run(['report', ...dd, '--format', 'text']);
    assert.equal(noFilter.code, 64);
    assert.match(noFilter.stderr, /needs at least one of --rcpt/);
    const lang = await run(['report', ...dd, '--ref', rejectRef, '--lang', 'fr']);
    assert.equal(lang.code, 64);
    assert.match(lang.stderr, /--lang must be en or de/);
    const format = await run(['report', ...dd, '--ref', rejectRef, '--format', 'docx']);
    assert.equal(format.code, 64);
    assert.match(format.stderr, /--format must be one of text, html, pdf/);
    const two = await run(['report', ...dd, '--ref', rejectRef, '-o', 'a.txt', '--output', 'b.txt']);
    assert.equal(two.code, 64);
    // A REF cut short is a usage error in words, not a report of nothing found.
    const short = await run(['report', ...dd, '--ref', rejectRef.slice(0, 10), '--format', 'text']);
    assert.equal(short.code, 64, short.stdout);
    assert.match(short.stderr, /--ref "\w{10}" is not a REF: a REF has 12 letters and digits/);
    // As people copy it: lower case, with a dash.
    const copied = await run(['report', ...dd, '--ref', `${rejectRef.slice(0, 6).toLowerCase()}-${rejectRef.slice(6)}`, '--format', 'text']);
    assert.equal(copied.code, 0, copied.stderr);
    assert.ok(copied.stdout.includes(rejectRef));
  });
});
