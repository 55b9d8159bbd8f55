import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { tempLedger } from '../../test/helpers/temp-ledger.js';
import { LANGS } from './explain.js';
import { search } from './search.js';
import { publicViewOf } from './service.js';
import { DOMAIN, NOW, REFS, storyEvents, T0 } from './testing.js';
import type { PublicView } from './service.js';

// The public REF page speaks to the sender: what happened, why, what to do,
// where to look up a block list; nothing of the recipient or our internals.

let ledger: Awaited<ReturnType<typeof tempLedger>>;
before(async () => { ledger = await tempLedger(storyEvents(), 'mp-public-'); });
after(async () => { await ledger.done(); });

const settings = { retryWindowMs: 2 * 3600e3 };

/** What the sender must never read: recipients, other mailboxes, the fetching PC, our paths, resolver, hosts. */
const SECRETS = ['buchhaltung', 'chef', 'info@', 'muller', 'mueller', 'kunde.test', 'elsewhere', '192.0.2.50', '192.0.2.60', '/var/lib', '10.0.0.53', '10.0.0.2', 'mailstore', 'clamd', 'Subject', 'r1@partner.test'];

test('a delivered REF: delivered, nothing more to do on the sender\'s side, whatever happened in the mailbox since', async () => {
  for (const ref of [REFS.fetched, REFS.waiting, REFS.kept]) {
    const en = (await publicViewOf(ledger.reader, ref, 'en', settings))!;
    assert.equal(en.explanations.length, 1, ref);
    assert.deepEqual(en.explanations[0], {
      title: 'Delivered',
      what: en.explanations[0]!.what,
      action: 'Nothing more to do on your side. If the recipient does not see it, ask them to check their mail program, its filter rules and the spam folder.',
    });
    assert.match(en.explanations[0]!.what, /^Your message was accepted on 2026-11-20 10:\d\d UTC and delivered to the recipient's mailbox\.$/);
    assert.deepEqual(en.verdicts.map((v) => [v.status, v.word, v.tone]), [['delivered', 'Delivered', 'ok']]);
    assert.match(en.verdicts[0]!.headline, /nothing more to do on your side/);
    const de = (await publicViewOf(ledger.reader, ref, 'de', settings))!;
    assert.equal(de.explanations[0]!.title, 'Zugestellt');
    assert.match(de.explanations[0]!.what, /^Ihre Nachricht wurde am 2026-11-20 10:\d\d UTC angenommen und in das Postfach des Empfängers zugestellt\.$/);
    assert.match(de.explanations[0]!.action, /^Auf Ihrer Seite ist nichts mehr zu tun\./);
    for (const v of [en, de]) {
      const all = JSON.stringify(v);
      for (const s of SECRETS) assert.ok(!all.includes(s), `${ref}: the public page shows ${s}: ${all}`);
      assert.doesNotMatch(all, /fetch|abgerufen|gelöscht|deleted|Find the computer|Suchen Sie/, `${ref}: mailbox business`);
    }
  }
  const relay = (await publicViewOf(ledger.reader, REFS.relay, 'en', settings))!;
  assert.match(relay.explanations[0]!.what, /passed on to the recipient's mail server\.$/);
});

test('an unknown recipient reads correctly in both languages, without the address', async () => {
  const en = (await publicViewOf(ledger.reader, REFS.typo, 'en', settings))!;
  assert.deepEqual(en.explanations, [{
    title: 'No such mailbox',
    what: 'The recipient address does not exist here; your server got this answer at once.',
    action: 'Check the address for typos and send your message again to the correct address.',
  }]);
  assert.deepEqual(en.replies, [`550 5.1.1 <the recipient address>: no such mailbox here (ref ${REFS.typo})`]);
  const de = (await publicViewOf(ledger.reader, REFS.typo, 'de', settings))!;
  assert.equal(de.explanations[0]!.what, 'Die Empfängeradresse gibt es hier nicht; Ihr Server bekam diese Antwort sofort.');
  for (const v of [en, de]) {
    const all = JSON.stringify(v);
    // The old substitution: "The address the recipient address does not exist".
    assert.doesNotMatch(all, /address the recipient address|Adresse die Empfängeradresse/);
    for (const s of SECRETS) assert.ok(!all.includes(s), `shows ${s}`);
  }
});

test('a block-listed sender gets the list\'s own lookup page: built in, or as configured', async () => {
  const v = (await publicViewOf(ledger.reader, REFS.pbl, 'en', settings))!;
  // The allow-list (DNSWL) that did not list the address is no block list and gets no link.
  assert.deepEqual(v.links, [{ name: 'Spamhaus ZEN', url: 'https://check.spamhaus.org/' }]);
  assert.match(v.verdicts[0]!.headline, /^Rejected: your server 192\.0\.2\.7 is on Spamhaus ZEN as a dynamic address; /);
  assert.match(v.explanations[0]!.action, /removal from the list is not the fix/);
  const own = (await publicViewOf(ledger.reader, REFS.pbl, 'de', { ...settings, dnsblLinks: { 'ZEN.spamhaus.org.': 'https://lookup.example/zen' } }))!;
  assert.deepEqual(own.links, [{ name: 'Spamhaus ZEN', url: 'https://lookup.example/zen' }]);
  // The resolver that answered and our own address are not the sender's business.
  assert.doesNotMatch(JSON.stringify(v), /10\.0\.0\.53|10\.0\.0\.2/);
  assert.deepEqual((await publicViewOf(ledger.reader, REFS.typo, 'en', settings))!.links, []);
});

test('the virus advice on the public page fits the file', async () => {
  for (const lang of LANGS) {
    const pdf = (await publicViewOf(ledger.reader, REFS.pdf, lang, settings))!;
    assert.match(pdf.explanations[0]!.what, /Rechnung-2026-12\.pdf/);
    assert.doesNotMatch(JSON.stringify(pdf), /as (a )?PDF|als PDF/, lang);
    const macro = (await publicViewOf(ledger.reader, REFS.macro, lang, settings))!;
    assert.match(macro.explanations[0]!.action, lang === 'en' ? /without macros .* or as a PDF/ : /ohne Makros .* oder als PDF/);
    const exe = (await publicViewOf(ledger.reader, REFS.disguised, lang, settings))!;
    assert.match(exe.explanations[0]!.action, lang === 'en' ? /very likely malware/ : /sehr wahrscheinlich Schadsoftware/);
    assert.doesNotMatch(JSON.stringify(exe), /as (a )?PDF|als PDF|clamd|127\.0\.0\.1:3310/);
  }
});

test('an unknown REF is null; staff research of the same REF still sees everything', async () => {
  assert.equal(await publicViewOf(ledger.reader, 'ZZZZZZZZZZZZ', 'en', settings), null);
  const staff = await search(ledger.reader, { ref: REFS.fetched, since: T0 - 3600e3, until: NOW, now: NOW });
  assert.ok(JSON.stringify(staff.journeys[0]!.events).includes('/var/lib/mailproof/maildir'), 'staff keep the Maildir path');
  assert.equal(staff.journeys[0]!.rcpt, `buchhaltung@${DOMAIN}`);
});

// What the sender reads, story by story: the headline and the advice speak
// to the sender ("your server", "Ihr Server"), never about "the sender".

/** The staff's third person about the sender. */
const THIRD_PERSON = /\bthe sender (must|should|can|got|tried|did)\b|\bthe sender's\b|\bsender's (server|mail administrator|administrator|side)\b|\bAbsender (muss|sollte|kann|bekam|hat)\b|des Absenders|seines Providers|Absender-Servers/i;

function assertSpeaksToSender(v: PublicView, at: string): void {
  const all = JSON.stringify({ verdicts: v.verdicts, explanations: v.explanations });
  assert.doesNotMatch(all, THIRD_PERSON, `${at}: ${all}`);
  assert.doesNotMatch(all, /\{\w+\}|\bunknown\b|\bunbekannt\b|address the recipient address|Adresse die Empfängeradresse/, `${at}: ${all}`);
  for (const s of SECRETS) assert.ok(!all.includes(s), `${at}: shows ${s}`);
}

test('the public page of a block list refusal: your server, the dynamic listing\'s advice, both languages', async () => {
  const en = (await publicViewOf(ledger.reader, REFS.pbl, 'en', settings))!;
  assert.deepEqual(en.verdicts.map((v) => v.headline), ["Rejected: your server 192.0.2.7 is on Spamhaus ZEN as a dynamic address; send through your provider's mail server."]);
  assert.deepEqual(en.explanations, [{
    title: 'Your server is on a block list',
    what: 'Your server 192.0.2.7 is listed on Spamhaus ZEN, so our server did not accept the message from it.',
    action: "Your server's address is listed as a dynamic or end-user address, from which mail servers are not expected to send directly; removal from the list is not the fix. Send through your provider's mail server (smarthost): your mail administrator sets it up in your mail server.",
  }]);
  const de = (await publicViewOf(ledger.reader, REFS.pbl, 'de', settings))!;
  assert.deepEqual(de.verdicts.map((v) => v.headline), ['Abgelehnt: Ihr Server 192.0.2.7 steht auf Spamhaus ZEN als dynamische Adresse; senden Sie über den Mailserver Ihres Providers.']);
  assert.equal(de.explanations[0]!.title, 'Ihr Server steht auf einer Sperrliste');
  assert.match(de.explanations[0]!.action, /eine Austragung ist nicht die Lösung\. Senden Sie über den Mailserver Ihres Providers \(Smarthost\): Ihr Mail-Administrator richtet ihn in Ihrem Mailserver ein\.$/);
  for (const v of [en, de]) {
    assertSpeaksToSender(v, v === en ? 'en' : 'de');
    // A policy listing (Spamhaus PBL) is not fixed by removal: nowhere is the sender told to request it.
    assert.doesNotMatch(JSON.stringify(v.explanations), /request removal|ask the list to remove|Austragung (zu )?beantragen/);
  }
});

test('the public page of a virus in a PDF: a new PDF from the original, never "send it as PDF", both languages', async () => {
  const en = (await publicViewOf(ledger.reader, REFS.pdf, 'en', settings))!;
  assert.deepEqual(en.verdicts.map((v) => v.headline), ['Rejected: the attachment Rechnung-2026-12.pdf contains Pdf.Exploit.CVE_2018_4990-1; check your computer and make a new PDF from the original document.']);
  assert.deepEqual(en.explanations, [{
    title: 'Virus or dangerous attachment',
    what: 'Your message was refused because the attachment Rechnung-2026-12.pdf contains Pdf.Exploit.CVE_2018_4990-1.',
    action: 'Check your computer with an up-to-date virus scanner. The same PDF would be refused again: make a new PDF from the original document on a clean computer and send that.',
  }]);
  const de = (await publicViewOf(ledger.reader, REFS.pdf, 'de', settings))!;
  assert.deepEqual(de.verdicts.map((v) => v.headline), ['Abgelehnt: Der Anhang Rechnung-2026-12.pdf enthält Pdf.Exploit.CVE_2018_4990-1; prüfen Sie Ihren Rechner und erzeugen Sie aus dem Originaldokument eine neue PDF-Datei.']);
  assert.equal(de.explanations[0]!.what, 'Ihre Nachricht wurde abgelehnt, weil der Anhang Rechnung-2026-12.pdf Pdf.Exploit.CVE_2018_4990-1 enthält.');
  assert.equal(de.explanations[0]!.action, 'Prüfen Sie Ihren Rechner mit einem aktuellen Virenscanner. Dieselbe PDF-Datei würde wieder abgelehnt: Erzeugen Sie auf einem sauberen Rechner aus dem Originaldokument eine neue PDF-Datei und senden Sie diese.');
  for (const v of [en, de]) assertSpeaksToSender(v, v === en ? 'en' : 'de');
});

test('the public page of an unknown recipient: the headline and the advice in both languages, the address masked', async () => {
  const en = (await publicViewOf(ledger.reader, REFS.typo, 'en', settings))!;
  assert.deepEqual(en.verdicts.map((v) => v.headline), ['Rejected: the recipient address does not exist here; check the address for typos.']);
  const de = (await publicViewOf(ledger.reader, REFS.typo, 'de', settings))!;
  assert.deepEqual(de.verdicts.map((v) => v.headline), ['Abgelehnt: Die Empfängeradresse gibt es hier nicht; prüfen Sie die Adresse auf Tippfehler.']);
  assert.deepEqual(de.explanations, [{
    title: 'Postfach existiert nicht',
    what: 'Die Empfängeradresse gibt es hier nicht; Ihr Server bekam diese Antwort sofort.',
    action: 'Prüfen Sie die Adresse auf Tippfehler und senden Sie Ihre Nachricht erneut an die richtige Adresse.',
  }]);
  assert.deepEqual(de.replies, [`550 5.1.1 <die Empfängeradresse>: no such mailbox here (ref ${REFS.typo})`]);
  for (const v of [en, de]) assertSpeaksToSender(v, v === en ? 'en' : 'de');
});

test('the public page of a 4xx: still pending, your server tries again on its own; never retried, your server did not', async () => {
  // "now" pinned: 22 minutes after the greylisting (pending), then 5 hours after it (past the 2-hour retry window).
  const pending = { ...settings, now: NOW };
  const en = (await publicViewOf(ledger.reader, REFS.grey, 'en', pending))!;
  assert.deepEqual(en.verdicts.map((v) => [v.headline, v.tone]), [[
    'Temporarily refused, reason: greylisting (the first attempt from a sender not seen before is deferred on purpose); your server should try again by 2026-11-20 12:08 UTC.', 'warn']]);
  assert.deepEqual(en.explanations, [{
    title: 'Temporarily refused; your server should try again',
    what: 'Your server was asked to try again later. The reason: greylisting (the first attempt from a sender not seen before is deferred on purpose). No new attempt of this message has reached us yet; one is expected by 2026-11-20 12:08 UTC.',
    action: "Mail servers try again on their own, so there is nothing to do for now. If the message has not been delivered by 2026-11-20 12:08 UTC, ask your mail administrator to check your server's queue.",
  }]);
  const de = (await publicViewOf(ledger.reader, REFS.grey, 'de', pending))!;
  assert.deepEqual(de.verdicts.map((v) => v.headline), ['Vorübergehend abgewiesen, Grund: Greylisting (der erste Versuch eines bisher unbekannten Absenders wird absichtlich aufgeschoben); Ihr Server sollte es bis 2026-11-20 12:08 UTC erneut versuchen.']);
  assert.equal(de.explanations[0]!.title, 'Vorübergehend abgewiesen; Ihr Server sollte es erneut versuchen');
  assert.equal(de.explanations[0]!.action, 'Mailserver versuchen es von selbst erneut; im Moment ist also nichts zu tun. Ist die Nachricht bis 2026-11-20 12:08 UTC nicht zugestellt, bitten Sie Ihren Mail-Administrator, die Warteschlange Ihres Servers zu prüfen.');

  const late = { ...settings, now: T0 + 5 * 3600e3 };
  const lateEn = (await publicViewOf(ledger.reader, REFS.grey, 'en', late))!;
  assert.deepEqual(lateEn.verdicts.map((v) => [v.headline, v.tone]), [[
    'Temporarily refused, reason: greylisting (the first attempt from a sender not seen before is deferred on purpose); your server did not try again.', 'bad']]);
  assert.deepEqual(lateEn.explanations, [{
    title: 'Temporarily refused, not retried',
    what: 'Your server was asked to try again later. The reason: greylisting (the first attempt from a sender not seen before is deferred on purpose). It did not try again: no further attempt of this message has reached us.',
    action: "Ask your mail administrator to check your server's queue and log for this message: after a temporary refusal (4xx) a mail server must keep trying for days (RFC 5321 section 4.5.4.1). If your server gave the message up, send it again.",
  }]);
  const lateDe = (await publicViewOf(ledger.reader, REFS.grey, 'de', late))!;
  assert.deepEqual(lateDe.verdicts.map((v) => v.headline), ['Vorübergehend abgewiesen, Grund: Greylisting (der erste Versuch eines bisher unbekannten Absenders wird absichtlich aufgeschoben); Ihr Server hat es nicht erneut versucht.']);
  assert.equal(lateDe.explanations[0]!.what, 'Ihr Server wurde gebeten, es später erneut zu versuchen. Grund: Greylisting (der erste Versuch eines bisher unbekannten Absenders wird absichtlich aufgeschoben). Er hat es nicht erneut versucht: Kein weiterer Versuch dieser Nachricht hat uns erreicht.');
  assert.match(lateDe.explanations[0]!.action, /^Bitten Sie Ihren Mail-Administrator, Warteschlange und Protokoll Ihres Servers für diese Nachricht zu prüfen/);
  for (const v of [en, de, lateEn, lateDe]) {
    assertSpeaksToSender(v, v.verdicts[0]!.headline);
    // Pending is no "never tried again", never retried no "should try again".
    assert.doesNotMatch(JSON.stringify(v.explanations), v === en || v === de ? /did not try again|nicht erneut versucht/ : /should try again|sollte es/);
  }
});

test('a recipient whose mailbox name is a word of our sentences (mail@): masked in our answer, not in "your mail administrator"', async () => {
  const ref = 'GM1000000001';
  const events = storyEvents().filter((e) => e.ref === REFS.grey).map((e) => ({
    ...e, ref,
    ...(e.rcpt ? { rcpt: `mail@${DOMAIN}` } : {}),
    ...(e.reply ? { reply: `451 4.7.1 <mail@${DOMAIN}>: Greylisted, try again later (ref ${ref})` } : {}),
  }));
  const own = await tempLedger(events, 'mp-public-mail-');
  try {
    for (const lang of LANGS) {
      const v = (await publicViewOf(own.reader, ref, lang, { ...settings, now: T0 + 5 * 3600e3 }))!;
      const placeholder = lang === 'en' ? 'the recipient address' : 'die Empfängeradresse';
      // Our answer quotes the address: masked there (maskRecipients, with the bare mailbox name).
      assert.deepEqual(v.replies, [`451 4.7.1 <${placeholder}>: Greylisted, try again later (ref ${ref})`]);
      assert.match(v.explanations[0]!.action, lang === 'en' ? /^Ask your mail administrator to check/ : /^Bitten Sie Ihren Mail-Administrator/);
      assert.match(v.explanations[0]!.action, lang === 'en' ? /a mail server must keep trying/ : /muss ein Mailserver es/);
      const all = JSON.stringify(v);
      assert.ok(!all.includes(`mail@${DOMAIN}`), all);
      assert.doesNotMatch(JSON.stringify({ verdicts: v.verdicts, explanations: v.explanations }), new RegExp(placeholder), lang);
    }
  } finally { await own.done(); }
});
