import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { tempLedger } from '../../test/helpers/temp-ledger.js';
import { LANGS } from './explain.js';
import { search } from './search.js';
import { publicViewOf } from './service.js';
import { DOMAIN, NOW, REFS, storyEvents, T0 } from './testing.js';

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
    action: 'Check the address for typos and send the message again to the correct address.',
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
  assert.match(v.verdicts[0]!.headline, /^Rejected: the sender's server 192\.0\.2\.7 is on Spamhaus ZEN as a dynamic address; /);
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
