// `mailproof demo`: every classic story played through the real gateway,
// POP3 server and a DNS server on loopback, and each diagnosis code found
// by `mailproof trace` on the right journey, with the event that proves it.
// This is the "each diagnosis code from a real story" test: the expectations
// below are written here, not taken from the demo's own summary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireTool } from '../../helpers/env.js';
import { run } from '../../helpers/server.js';
import { startSpamd } from '../../helpers/spamd.js';

type Ev = Record<string, unknown> & { kind: string; check_name?: string | null; verdict?: string | null; smtp_code?: number | null; details?: Record<string, unknown> | null };
interface Journey { ref: string; source: string; started_at: string; client_ip: string; mail_from: string; rcpt: string; outcome: string; reply: string | null; diagnosis: string[]; access: { kind: string; client_ip: string | null }[]; events: Ev[] }
interface Story { story: string; client_ip: string; mail_from: string; rcpt: string; reply: string; ref: string | null; skipped?: string; source?: string }

const DOMAIN = 'kunde.demo';

async function playDemo(dir: string, extra: string[] = []): Promise<{ stories: Story[]; journeys: Journey[] }> {
  const r = await run(['demo', '--once', '--json', '--data-dir', dir, ...extra]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout) as { data_dir: string; stories: Story[] };
  assert.equal(out.data_dir, dir);
  const t = await run(['trace', '--json', '--data-dir', dir, '--domain', DOMAIN]);
  assert.equal(t.code, 0, t.stderr);
  return { stories: out.stories, journeys: (JSON.parse(t.stdout) as { journeys: Journey[] }).journeys };
}

function evidence(e: Ev): Record<string, unknown> {
  return ((e.details as { evidence?: Record<string, unknown> } | null)?.evidence) ?? {};
}

/** The one journey of this sender; the demo gives every story a sender of its own. */
function journeyOf(journeys: Journey[], from: string, outcome?: string): Journey {
  const found = journeys.filter((j) => j.mail_from === from && (!outcome || j.outcome === outcome));
  assert.equal(found.length, 1, `${from}: ${found.length} journeys: ${JSON.stringify(journeys.map((j) => [j.mail_from, j.outcome]))}`);
  return found[0]!;
}

function checkEvent(j: Journey, name: string, verdict: string): Ev {
  const e = j.events.find((x) => x.kind === 'check.result' && x.check_name === name && x.verdict === verdict);
  assert.ok(e, `${j.mail_from}: no ${name} ${verdict} event in ${JSON.stringify(j.events.map((x) => [x.kind, x.check_name, x.verdict]))}`);
  return e;
}

test('mailproof demo plays every classic story and trace diagnoses each one', { timeout: 10 * 60 * 1000 }, async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-demo-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const dir = path.join(root, 'demo');
  const { stories, journeys } = await playDemo(dir);

  // The REF in each reply is the journey's ref.
  for (const s of stories.filter((x) => !x.skipped && !x.source)) {
    assert.ok(s.ref, `${s.story}: no REF in ${s.reply}`);
    const j = journeys.find((x) => x.ref === s.ref);
    assert.ok(j, `${s.story}: no journey with ref ${s.ref}`);
    assert.equal(j.client_ip, s.client_ip);
    assert.equal(j.mail_from, s.mail_from);
    assert.equal(j.rcpt, s.rcpt);
  }
  // No spam scanner here: the story says what it needs instead of pretending.
  const spam = stories.find((s) => s.story === 'spam');
  assert.match(spam?.skipped ?? '', /needs a spam scanner.*scanners\.spam\.backend/);

  // delivered: fetched by the boss's PC, left on the server.
  const delivered = journeyOf(journeys, 'angebot@partner.demo');
  assert.deepEqual(delivered.diagnosis, ['delivered']);
  assert.equal(delivered.rcpt, `chef@${DOMAIN}`);
  assert.deepEqual(delivered.access.map((a) => [a.kind, a.client_ip]), [['pop3.retr', '127.0.0.100']]);

  // fetched_and_deleted: another PC (127.0.0.200) fetched and deleted it.
  const fetched = journeyOf(journeys, 'rechnung@partner.demo');
  assert.deepEqual(fetched.diagnosis, ['fetched_and_deleted', 'delivered']);
  assert.deepEqual(fetched.access.map((a) => [a.kind, a.client_ip]), [['pop3.retr', '127.0.0.200'], ['pop3.dele', '127.0.0.200']]);
  assert.ok(fetched.events.some((e) => e.kind === 'message.delivered'));

  // delivered_not_fetched
  const waiting = journeyOf(journeys, 'termin@partner.demo');
  assert.deepEqual(waiting.diagnosis, ['delivered_not_fetched', 'delivered']);
  assert.deepEqual(waiting.access, []);

  // virus: the "harmless Word file" with a VBA project, refused at DATA by the attachment check.
  const virus = journeyOf(journeys, 'auftrag@partner.demo');
  assert.equal(virus.outcome, 'rejected');
  assert.deepEqual(virus.diagnosis, ['virus']);
  const macro = evidence(checkEvent(virus, 'attachments', 'reject'));
  assert.equal(macro.rule, 'macro');
  assert.equal(macro.detected, 'ooxml-vba');
  assert.equal(macro.filename, 'Auftrag-2026-117.docx');
  assert.match(virus.reply ?? '', /^554 5\.7\.1 .*Auftrag-2026-117\.docx.*macros/);

  // sender_ip_blocklisted: 127.0.0.66 on the demo DNSBL, refused at RCPT (delayed from connect).
  const listed = journeyOf(journeys, 'news@spamschleuder.demo');
  assert.equal(listed.client_ip, '127.0.0.66');
  assert.deepEqual(listed.diagnosis, ['sender_ip_blocklisted']);
  const zones = evidence(checkEvent(listed, 'dnsbl', 'reject')).zones as { zone: string; query: string }[];
  assert.deepEqual(zones.map((z) => [z.zone, z.query]), [['bl.demo', '66.0.0.127.bl.demo']]);
  assert.match(listed.reply ?? '', /^554 5\.7\.1 .*127\.0\.0\.66 is listed on Demo-Blocklist/);

  // sender_dynamic_ip: the DSL PTR.
  const dsl = journeyOf(journeys, 'meier@handwerk-meier.demo');
  assert.equal(dsl.client_ip, '127.0.0.23');
  assert.deepEqual(dsl.diagnosis, ['sender_dynamic_ip']);
  const ci = evidence(checkEvent(dsl, 'client_identity', 'reject'));
  assert.equal(ci.finding, 'dynamic_name');
  assert.deepEqual((ci.ptr as { records: string[] }).records, ['127-0-0-23.dyn.example-dsl.demo']);
  // The German PDF of it names the PTR the check refused on the connection line too, never "kein Name".
  const pdftotext = requireTool(t, 'pdftotext');
  if (pdftotext) {
    const file = path.join(root, 'dsl.pdf');
    const r = await run(['report', '--data-dir', dir, '--ref', dsl.ref, '--lang', 'de', '--format', 'pdf', '--output', file]);
    assert.equal(r.code, 0, r.stderr);
    const text = execFileSync(pdftotext, ['-enc', 'UTF-8', file, '-'], { encoding: 'utf8' }).replace(/\s+/g, ' ');
    assert.match(text, /Verbindung von 127\.0\.0\.23 \(127-0-0-23\.dyn\.example-dsl\.demo\)/);
    assert.match(text, /heißt 127-0-0-23\.dyn\.example-dsl\.demo/);
    assert.doesNotMatch(text, /kein Name/);
  }

  // sender_mx_is_ip
  const ipMx = journeyOf(journeys, 'bestellung@baeckerei-ip-mx.demo');
  assert.deepEqual(ipMx.diagnosis, ['sender_mx_is_ip']);
  const sd = evidence(checkEvent(ipMx, 'sender_domain', 'reject'));
  assert.equal(sd.finding, 'mx_is_ip');
  assert.match(ipMx.reply ?? '', /^550 5\.1\.8 /);

  // sender_domain_unresolvable: NXDOMAIN, with the SOA-backed answer in the evidence.
  const nx = journeyOf(journeys, 'kontakt@gibts-nicht.demo');
  assert.deepEqual(nx.diagnosis, ['sender_domain_unresolvable']);
  const nxe = evidence(checkEvent(nx, 'sender_domain', 'reject'));
  assert.equal(nxe.finding, 'nxdomain');
  assert.equal((nxe.mx as { rcode: string }).rcode, 'NXDOMAIN');

  // spf_fail: bank.demo allows only 127.0.0.11.
  const spf = journeyOf(journeys, 'zahlung@bank.demo');
  assert.equal(spf.client_ip, '127.0.0.12');
  assert.deepEqual(spf.diagnosis, ['spf_fail']);
  const spfe = evidence(checkEvent(spf, 'spf', 'reject'));
  assert.equal(spfe.record, 'v=spf1 ip4:127.0.0.11 -all');
  assert.match(spf.reply ?? '', /^550 5\.7\.23 /);

  // unknown_recipient: the typo muller@ for mueller@.
  const typo = journeyOf(journeys, 'anfrage@partner.demo');
  assert.equal(typo.rcpt, `muller@${DOMAIN}`);
  assert.deepEqual(typo.diagnosis, ['unknown_recipient']);
  checkEvent(typo, 'recipient', 'reject');
  assert.match(typo.reply ?? '', /^550 5\.1\.1 /);

  // message_too_large: refused after DATA with 552 5.3.4.
  const big = journeyOf(journeys, 'fotos@partner.demo');
  assert.deepEqual(big.diagnosis, ['message_too_large']);
  const rej = big.events.find((e) => e.kind === 'data.rejected');
  assert.equal(rej?.check_name, 'size');
  assert.equal(rej?.smtp_code, 552);

  // tempfail_retried: 450 for the missing PTR, then (PTR added) the retry was delivered.
  const first = journeyOf(journeys, 'bestellung@neuer-kunde.demo', 'tempfailed');
  assert.deepEqual(first.diagnosis, ['tempfail_retried']);
  const noPtr = evidence(checkEvent(first, 'client_identity', 'tempfail'));
  assert.equal(noPtr.finding, 'no_ptr');
  assert.match(first.reply ?? '', /^450 4\.7\.25 /);
  const retry = journeyOf(journeys, 'bestellung@neuer-kunde.demo', 'delivered');
  assert.ok(retry.events.some((e) => e.kind === 'check.result' && e.check_name === 'client_identity' && e.verdict === 'pass'));
  assert.ok(retry.ref !== first.ref);

  // tempfail_not_retried: not live (the gateway's clock is not faked) but an
  // ingested Postfix log of three hours ago, and labelled so.
  const story = stories.find((s) => s.story === 'tempfail_not_retried');
  assert.equal(story?.source, 'ingested postfix log');
  const stale = journeyOf(journeys, 'lieferung@langsam.demo');
  assert.equal(stale.source, 'postfix');
  assert.equal(stale.outcome, 'tempfailed');
  assert.deepEqual(stale.diagnosis, ['tempfail_not_retried']);
  assert.ok(Date.now() - Date.parse(stale.started_at) > 2 * 3600e3);
  assert.ok(stale.events.some((e) => e.kind === 'rcpt.rejected' && e.smtp_code === 450));

  // The cause first, for every story: the first code is what the story is about
  // (README), never the generic "delivered" before what happened in the mailbox.
  const causeOf: Record<string, string> = {
    delivered: 'delivered', fetched_and_deleted: 'fetched_and_deleted', delivered_not_fetched: 'delivered_not_fetched',
    virus: 'virus', spam: 'spam', sender_ip_blocklisted: 'sender_ip_blocklisted', sender_dynamic_ip: 'sender_dynamic_ip',
    sender_mx_is_ip: 'sender_mx_is_ip', sender_domain_unresolvable: 'sender_domain_unresolvable', spf_fail: 'spf_fail',
    unknown_recipient: 'unknown_recipient', message_too_large: 'message_too_large', tempfail_retried: 'tempfail_retried',
    // The retry went into info@, where nobody has fetched it yet.
    'tempfail_retried (the retry)': 'delivered_not_fetched', tempfail_not_retried: 'tempfail_not_retried',
  };
  for (const s of stories.filter((x) => !x.skipped)) {
    const j = s.ref ? journeys.find((x) => x.ref === s.ref) : journeyOf(journeys, s.mail_from);
    assert.ok(causeOf[s.story], `no expected cause for the story ${s.story}`);
    assert.equal(j?.diagnosis[0], causeOf[s.story], `${s.story}: ${JSON.stringify(j?.diagnosis)}`);
  }

  // Nothing else in the ledger: one journey per story (the tempfail story has two).
  assert.equal(journeys.length, stories.filter((s) => !s.skipped).length);
  assert.equal(journeys.filter((j) => j.source === 'gateway').length, journeys.length - 1);

  // Running it again empties the directory: a fresh ledger with new REFs.
  const again = await playDemo(dir);
  assert.equal(again.journeys.length, journeys.length);
  const oldRefs = new Set(journeys.map((j) => j.ref));
  assert.ok(again.journeys.every((j) => !oldRefs.has(j.ref)));
});

test('mailproof demo refuses a data directory it did not make, and leaves it alone', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-demo-foreign-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  // A gateway's ledger: its store and a journal segment.
  fs.writeFileSync(path.join(dir, 'store.sqlite'), 'production data');
  const seg = path.join(dir, 'journal', 'mx1', 'smtp', '00000001.seg');
  fs.mkdirSync(path.dirname(seg), { recursive: true });
  fs.writeFileSync(seg, 'journal data');
  const r = await run(['demo', '--once', '--data-dir', dir]);
  assert.equal(r.code, 64, r.stdout + r.stderr);
  assert.match(r.stderr, /not empty and was not made by mailproof demo/);
  assert.equal(fs.readFileSync(path.join(dir, 'store.sqlite'), 'utf8'), 'production data');
  assert.equal(fs.readFileSync(seg, 'utf8'), 'journal data');
});

test('the spam story with a real spamd', { timeout: 10 * 60 * 1000 }, async (t) => {
  if (!requireTool(t, 'spamd')) return;
  const spamd = await startSpamd();
  t.after(() => spamd.stop());
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-demo-spam-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const dir = path.join(root, 'demo');
  const { stories, journeys } = await playDemo(dir, ['-o', 'scanners.spam.backend=spamd', '-o', `scanners.spam.address=${spamd.host}:${spamd.port}`]);
  const story = stories.find((s) => s.story === 'spam');
  assert.equal(story?.skipped, undefined);
  const j = journeyOf(journeys, 'gewinn@partner.demo');
  assert.equal(j.ref, story?.ref);
  assert.equal(j.outcome, 'rejected');
  assert.deepEqual(j.diagnosis, ['spam']);
  const e = evidence(checkEvent(j, 'spam', 'reject'));
  assert.equal(e.backend, 'spamd');
  assert.match(j.reply ?? '', /^550 5\.7\.1 /);
});
