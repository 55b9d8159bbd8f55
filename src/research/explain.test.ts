import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StoredEvent } from '../ledger/types.js';
import { ATTACHMENT_KINDS } from './attachment.js';
import { CODES, codesForSender, explainCodeForSender, explainForSender, explainJourney, LANGS, PUBLIC_CODES, senderFactsOf, TEMPFAIL_KINDS, tempfailForSender, type Lang, type SenderFacts, type TempfailKind } from './explain.js';
import type { Journey } from './journeys.js';

const T0 = Date.parse('2026-11-20T10:00:00Z');

function journey(events: Partial<StoredEvent>[]): Journey {
  const evs = events.map((e, i) => ({ id: i + 1, ts: T0 + i, node: 'n1', source: 'gateway', kind: 'check.result', session: 's1', ref: 'TXPEND000001', client_ip: '192.0.2.44', ...e }) as StoredEvent);
  return {
    ref: 'TXPEND000001', node: 'n1', source: 'gateway', started_at: new Date(T0).toISOString(), client_ip: '192.0.2.44', helo: 'mail.x.test',
    mail_from: 'a@x.test', rcpt: 'd@local.test', message_id: null, outcome: 'tempfailed', reply: evs.at(-1)!.reply ?? null,
    diagnosis: ['tempfail_pending'], access: [], near_misses: [], events: evs, retry_by: new Date(T0 + 7200e3).toISOString(),
  };
}

test('a young 4xx names its cause and the time a retry is due, in English and German', () => {
  const cases: { name: string; events: Partial<StoredEvent>[]; en: RegExp; de: RegExp }[] = [
    {
      name: 'greylisting',
      events: [
        { check_name: 'greylist', verdict: 'tempfail', smtp_code: 451, details: { stage: 'rcpt', evidence: { state: 'new' } } },
        { kind: 'rcpt.rejected', rcpt: 'd@local.test', check_name: 'greylist', verdict: 'tempfail', smtp_code: 451, reply: '451 4.7.1 Greylisted: please try again in 300 seconds' },
      ],
      en: /The reason: greylisting/, de: /Grund: Greylisting/,
    },
    {
      name: 'no PTR',
      events: [
        { check_name: 'client_identity', verdict: 'tempfail', smtp_code: 450, details: { stage: 'connect', evidence: { finding: 'no_ptr', ptr: { records: [] } } } },
        { kind: 'rcpt.rejected', rcpt: 'd@local.test', check_name: 'client_identity', verdict: 'tempfail', smtp_code: 450, reply: '450 4.7.25 no PTR' },
      ],
      en: /the sending server's address 192\.0\.2\.44 has no name in DNS \(no PTR record\)/, de: /Adresse des sendenden Servers 192\.0\.2\.44 hat keinen Namen im DNS/,
    },
    {
      name: 'a scanner down',
      events: [
        { check_name: 'virus', verdict: 'error', details: { stage: 'data', reason: 'failed: connect ECONNREFUSED', component: 'clamd' } },
        { kind: 'data.rejected', rcpt: 'd@local.test', check_name: 'virus', verdict: 'tempfail', smtp_code: 451, reply: '451 4.3.0 try again later' },
      ],
      en: /the virus scanner could not run \(clamd unreachable or failing\); that is on our side/, de: /der Virenscanner konnte nicht arbeiten \(clamd nicht erreichbar oder fehlerhaft\)/,
    },
  ];
  for (const c of cases) {
    const j = journey(c.events);
    const [en] = explainJourney(j, 'en');
    const [de] = explainJourney(j, 'de');
    assert.equal(en?.code, 'tempfail_pending', c.name);
    assert.match(en!.what, c.en, c.name);
    assert.match(en!.what, /a retry is expected by 2026-11-20 12:00 UTC/, c.name);
    assert.match(en!.action, /Wait until 2026-11-20 12:00 UTC/, c.name);
    assert.match(de!.what, c.de, c.name);
    assert.match(de!.what, /bis 2026-11-20 12:00 UTC erwartet/, c.name);
    assert.ok(en!.evidence.length > 0, c.name);
    assert.doesNotMatch(`${en!.what} ${de!.what}`, /\{\w+\}|by unknown|bis unbekannt|answered unknown/, c.name);
    // Retried or not, the cause of the 4xx is named too.
    for (const code of ['tempfail_retried', 'tempfail_not_retried']) {
      const [x] = explainJourney({ ...j, diagnosis: [code] }, 'en');
      const [y] = explainJourney({ ...j, diagnosis: [code] }, 'de');
      assert.match(x!.what, c.en, `${c.name} ${code}`);
      assert.match(y!.what, c.de, `${c.name} ${code}`);
    }
  }
});

test('every diagnosis code has a title and texts in both languages', () => {
  for (const code of CODES) {
    const j = journey([{ kind: 'rcpt.rejected', smtp_code: 451 }]);
    for (const lang of ['en', 'de'] as const) {
      const [x] = explainJourney({ ...j, diagnosis: [code] }, lang);
      assert.ok(x && x.title !== code && x.what !== code && x.action.length > 0, `${code} ${lang}`);
    }
  }
});

// The public REF page is read by the sender: every text speaks to the
// sender ("you", "Sie"), never about the sender in the third person, and
// reads right with the recipient's address masked as publicViewOf masks it.

/** Third person about the sender, as the staff's texts speak. */
const THIRD_PERSON = /\bthe sender (must|should|can|got|tried|did)\b|\bthe sender's\b|\bto the sender\b|\b(an|dem|den) Absender\b|\bsender's (server|mail administrator|administrator|side|own)\b|\bits (provider|administrator|mail administrator)\b|\bAbsender (muss|sollte|kann|bekam|hat)\b|des Absenders|seines Providers|\bsein(en|em)? (Server|Postausgang|Providers?)\b/i;
/** The masked recipient where an address was expected (publicViewOf's RECIPIENT). */
const MASKED_WRONG = /address the recipient address|Adresse die Empfängeradresse|of the recipient address|Postfach die Empfängeradresse|the recipient address's/;
const YOU: Record<Lang, RegExp> = { en: /\b(you|your)\b/i, de: /\b(Sie|Ihr|Ihre|Ihren|Ihrem|Ihrer|Ihres)\b/ };
/** A fact left out, or a template that was not filled. */
const UNFILLED = /\{\w+\}|\[|\]|\bunknown\b|\bunbekannt\b|\(no name\)|\(kein Name\)|\(ohne Namen\)|undefined|null|NaN/;

function tx(events: Partial<StoredEvent>[], over: Partial<Journey> = {}): Journey {
  return { ...journey(events), ...over };
}

/** A 4xx of each kind the sender reads (tempfailForSender), as the ledger records it. */
const TEMPFAILS: Record<TempfailKind, Partial<StoredEvent>[]> = {
  greylist: [{ check_name: 'greylist', verdict: 'tempfail', details: { evidence: { finding: 'greylisted' } } }],
  no_ptr: [{ check_name: 'client_identity', verdict: 'tempfail', details: { evidence: { finding: 'no_ptr' } } }],
  no_fcrdns: [{ check_name: 'client_identity', verdict: 'tempfail', details: { evidence: { finding: 'no_fcrdns' } } }],
  rate: [{ check_name: 'rate', verdict: 'tempfail', details: { evidence: {} } }],
  spam: [{ check_name: 'spam', verdict: 'tempfail', details: { evidence: { score: 7.5, reject_score: 10 } } }],
  ours: [{ check_name: 'virus', verdict: 'tempfail', details: { reason: 'virus scan not possible: io at /var/spool/x', evidence: { result: 'error', component: 'clamd', clamd: '127.0.0.1:3310' } } }],
  lookup: [{ check_name: 'spf', verdict: 'tempfail', details: { reason: 'SPF temperror: DNS lookup failed for x.test', evidence: { result: 'temperror', domain: 'x.test', component: 'dns', server: '10.0.0.53:53' } } }],
  recipient: [{ check_name: 'recipient', verdict: 'tempfail', details: { reason: 'delivery target could not verify the recipient', evidence: { verified_by: 'target', downstream: 'mailstore.internal:25' } } }],
  mailbox: [{ kind: 'message.delivery_failed', smtp_code: 452, reply: '451 4.3.0 later', details: { reply: '452 4.2.2 <d@local.test> quota exceeded on mailstore.internal' } }],
  check: [{ check_name: 'dnsbl', verdict: 'tempfail', details: { reason: 'zen lookup timed out' } }],
  reply: [{ kind: 'rcpt.rejected', smtp_code: 451, reply: '451 4.7.1 try again later' }],
};

test('a 4xx in the sender\'s words: its kind, no internals, and a check that could not judge is no finding', () => {
  for (const kind of TEMPFAIL_KINDS) {
    const j = tx([...TEMPFAILS[kind], { kind: 'rcpt.rejected', rcpt: 'd@local.test', smtp_code: 451, reply: '451 4.7.1 try again later' }]);
    for (const lang of LANGS) {
      const t = tempfailForSender(j, lang);
      assert.equal(t.kind, kind, `${kind} ${lang}`);
      assert.doesNotMatch(t.cause, /clamd|127\.0\.0\.1|10\.0\.0\.53|mailstore|\/var\/|d@local\.test|quota exceeded|timed out|temperror/, `${kind} ${lang}: ${t.cause}`);
      assert.doesNotMatch(t.cause, THIRD_PERSON, `${kind} ${lang}: ${t.cause}`);
    }
  }
  // An SPF lookup that failed for now, a scanner that could not scan, a recipient not verified yet:
  // diagnosis.ts counts them by the check's code, the sender is not told "your server may not send".
  const judged = (kind: TempfailKind, code: string): string[] => codesForSender({ ...tx(TEMPFAILS[kind]), diagnosis: [code, 'tempfail_pending'] });
  assert.deepEqual(judged('lookup', 'spf_fail'), ['tempfail_pending']);
  assert.deepEqual(judged('ours', 'virus'), ['tempfail_pending']);
  assert.deepEqual(judged('recipient', 'unknown_recipient'), ['tempfail_pending']);
  // A finding that deferred (a spam score between the limits) stays one.
  assert.deepEqual(judged('spam', 'spam'), ['spam', 'tempfail_pending']);
  const spf = tx([...TEMPFAILS.lookup, { kind: 'rcpt.rejected', rcpt: 'd@local.test', smtp_code: 451, reply: '451 4.7.24 Temporary DNS error' }], { diagnosis: ['spf_fail', 'tempfail_pending'] });
  for (const lang of LANGS) {
    const all = JSON.stringify(explainForSender(spf, lang));
    assert.doesNotMatch(all, /does not allow|erlaubt Ihrem Server .* nicht|SPF:/, lang);
    assert.match(all, lang === 'en' ? /the SPF lookup could not be completed for now \(a temporary DNS error\)/ : /die SPF-Abfrage konnte vorerst nicht abgeschlossen werden/);
  }
});

/** The facts of a journey that recorded everything, and of one that recorded nothing, as publicViewOf passes them (recipient masked). */
function bases(lang: Lang): { name: string; facts: SenderFacts }[] {
  const rcpt = lang === 'de' ? 'die Empfängeradresse' : 'the recipient address';
  const none = senderFactsOf({ mail_from: null, rcpt, client_ip: null, events: [], access: [], reply: null }, lang);
  const full: SenderFacts = {
    ...none,
    client_ip: '192.0.2.7', client_ptr: 'dsl-7.dyn.isp.test', sender: 'a@x.test', sender_domain: 'x.test', spf_domain: 'x.test',
    lists: 'Spamhaus ZEN', signature: 'Eicar-Test-Signature', file: 'Rechnung.pdf', score: lang === 'de' ? '9.1, Grenze 5' : '9.1, limit 5',
    mx: '192.0.2.9', limit: lang === 'de' ? '10485760 Bytes' : '10485760 bytes', retry_by: '2026-11-20 12:00 UTC', helo: 'mail.x.test',
    at: '2026-11-20 10:00 UTC', delivered_at: '2026-11-20 10:01 UTC', spf_result: 'fail', in_session: 'yes',
  };
  return [{ name: 'everything recorded', facts: full }, { name: 'nothing recorded', facts: none }];
}

/** Each value of each fact that picks a text's variant, one at a time. */
function variants(lang: Lang): Partial<SenderFacts>[] {
  return [
    {},
    ...ATTACHMENT_KINDS.map((attachment_kind) => ({ attachment_kind })),
    { file_is: 'yes' },
    ...(['dynamic', 'other', ''] as const).map((listing_kind) => ({ listing_kind })),
    ...TEMPFAIL_KINDS.map((kind) => ({ tempfail_kind: kind, tempfail_cause: tempfailForSender(tx(TEMPFAILS[kind]), lang).cause })),
    ...['fail', 'softfail', 'permerror', 'none', 'neutral', ''].map((spf_result) => ({ spf_result })),
    ...(['rejected', 'tempfailed', 'delivered'] as const).map((outcome) => ({ outcome })),
    { in_session: '' },
    ...(['mailbox', 'relay'] as const).map((delivery_kind) => ({ delivery_kind })),
  ];
}

test('every code the public page can show speaks to the sender, in both languages, whatever the ledger recorded', () => {
  assert.deepEqual([...PUBLIC_CODES].sort(), CODES.filter((c) => !['fetched_and_deleted', 'delivered_not_fetched', 'access_not_recorded'].includes(c)).sort());
  let checked = 0;
  for (const code of PUBLIC_CODES) {
    for (const lang of LANGS) {
      for (const base of bases(lang)) {
        for (const v of variants(lang)) {
          const f = explainCodeForSender(code, lang, { ...base.facts, ...v });
          const at = `${code} ${lang} ${base.name} ${JSON.stringify(v)}`;
          assert.ok(f && f.title && f.what && f.action, `${at}: no text`);
          const all = `${f.title} | ${f.what} | ${f.action}`;
          assert.doesNotMatch(all, THIRD_PERSON, `${at}: ${all}`);
          assert.doesNotMatch(all, UNFILLED, `${at}: ${all}`);
          assert.doesNotMatch(all, MASKED_WRONG, `${at}: ${all}`);
          assert.match(`${f.what} ${f.action}`, YOU[lang], `${at}: ${all}`);
          if (lang === 'de') assert.doesNotMatch(all, /\b(du|dein\w*|dich|dir)\b/i, `${at}: formal Sie`);
          checked++;
        }
      }
    }
  }
  assert.ok(checked > 1000);
  // The mailbox's codes are the customer's business.
  for (const code of ['fetched_and_deleted', 'delivered_not_fetched', 'access_not_recorded']) assert.equal(explainCodeForSender(code, 'en', bases('en')[0]!.facts), null);
});

test('the sender\'s advice fits the finding: the kind of file, what the listing says, why the 4xx came', () => {
  const [en, de] = [bases('en')[0]!.facts, bases('de')[0]!.facts];
  const x = (code: string, facts: SenderFacts, over: Partial<SenderFacts> = {}) => explainCodeForSender(code, facts === de ? 'de' : 'en', { ...facts, ...over })!;
  // An infected PDF is not told to send a PDF; an Office file is.
  assert.doesNotMatch(x('virus', en, { attachment_kind: 'pdf' }).action, /as a PDF/);
  assert.match(x('virus', en, { attachment_kind: 'pdf' }).action, /make a new PDF from the original document/);
  assert.doesNotMatch(x('virus', de, { attachment_kind: 'pdf' }).action, /als PDF/);
  assert.match(x('virus', en, { attachment_kind: 'office' }).action, /without macros .* or as a PDF/);
  assert.match(x('virus', de, { attachment_kind: 'disguised' }).action, /^Die Datei ist ein Programm.*Öffnen Sie sie nicht/);
  // A dynamic listing (Spamhaus PBL) is not fixed by asking for removal; another listing is.
  assert.doesNotMatch(x('sender_ip_blocklisted', en, { listing_kind: 'dynamic' }).action, /request removal|ask for removal/);
  assert.match(x('sender_ip_blocklisted', en, { listing_kind: 'dynamic' }).action, /removal from the list is not the fix\. Send through your provider's mail server/);
  assert.match(x('sender_ip_blocklisted', de, { listing_kind: 'dynamic' }).action, /eine Austragung ist nicht die Lösung\. Senden Sie über den Mailserver Ihres Providers/);
  assert.match(x('sender_ip_blocklisted', en, { listing_kind: 'other' }).action, /^Ask your mail administrator .* request removal/);
  assert.match(x('sender_ip_blocklisted', en, { listing_kind: '' }).action, /^Look the address up on the list's own website/);
  assert.equal(x('sender_ip_blocklisted', de).what, 'Ihr Server 192.0.2.7 steht auf Spamhaus ZEN; deshalb hat unser Server die Nachricht von ihm nicht angenommen.');
  assert.equal(x('sender_ip_blocklisted', en, { client_ip: 'unknown' }).what, 'Your server is listed on Spamhaus ZEN, so our server did not accept the message from it.');
  // A broken SPF record is not "your server may not send".
  assert.match(x('spf_fail', en, { spf_result: 'permerror' }).what, /^The SPF record of x\.test has a permanent error/);
  assert.doesNotMatch(x('spf_fail', en, { spf_result: 'permerror' }).title, /may not send/);
  // The 4xx: pending is waited for, with what the sender can fix first; never retried asks for the queue.
  const pending = x('tempfail_pending', en, { tempfail_kind: 'greylist', tempfail_cause: tempfailForSender(tx(TEMPFAILS.greylist), 'en').cause });
  assert.equal(pending.what, 'Your server was asked to try again later. The reason: greylisting (the first attempt from a sender not seen before is deferred on purpose). No new attempt of this message has reached us yet; one is expected by 2026-11-20 12:00 UTC.');
  assert.equal(pending.action, "Mail servers try again on their own, so there is nothing to do for now. If the message has not been delivered by 2026-11-20 12:00 UTC, ask your mail administrator to check your server's queue.");
  assert.match(x('tempfail_pending', de).action, /^Mailserver versuchen es von selbst erneut; im Moment ist also nichts zu tun\. Ist die Nachricht bis 2026-11-20 12:00 UTC nicht zugestellt, bitten Sie Ihren Mail-Administrator/);
  assert.match(x('tempfail_pending', en, { tempfail_kind: 'no_ptr' }).action, /^Ask whoever runs the address 192\.0\.2\.7 \(usually your provider\) to give it a name \(PTR record\)/);
  assert.match(x('tempfail_pending', en, { tempfail_kind: 'ours' }).action, /^The temporary refusal was caused on our side/);
  assert.match(x('tempfail_pending', en, { retry_by: 'unknown' }).what, /one is expected\.$/);
  assert.match(x('tempfail_not_retried', en).what, /^Your server was asked to try again later\. The reason: .*\. It did not try again: no further attempt of this message has reached us\.$/);
  assert.match(x('tempfail_not_retried', de).what, /^Ihr Server wurde gebeten, es später erneut zu versuchen\. Grund: .*\. Er hat es nicht erneut versucht/);
  assert.match(x('tempfail_not_retried', en).action, /^Ask your mail administrator to check your server's queue and log for this message/);
  // Deferred spam is not "refused".
  assert.equal(x('spam', en, { outcome: 'tempfailed' }).title, 'Deferred as possible spam');
  assert.doesNotMatch(x('spam', de, { outcome: 'tempfailed' }).what, /abgelehnt|lehnte/);
});

test('a refusal no code explains (relay, HELO) still tells the sender something true: our check and our answer', () => {
  const j = tx([
    { check_name: 'relay', verdict: 'reject', smtp_code: 554 },
    { kind: 'rcpt.rejected', rcpt: 'd@local.test', check_name: 'relay', verdict: 'reject', smtp_code: 554, reply: '554 5.7.1 relay denied' },
  ], { outcome: 'rejected', diagnosis: [] });
  assert.deepEqual(explainForSender(j, 'en'), [{
    code: '', side: 'none', title: 'Refused by one of our checks', what: 'Our server refused your message at the check "relay permission".',
    action: "Our server's answer on this page says why. If it does not tell you what to change, forward this page to your mail administrator.",
  }]);
  const [de] = explainForSender(j, 'de');
  assert.match(de!.what, /^Unser Server hat Ihre Nachricht bei der Prüfung „.+“ abgelehnt\.$/);
  assert.deepEqual(explainForSender({ ...j, reply: null }, 'en')[0]!.action, "Forward this page to your mail administrator: your server's log has our answer, which says why.");
  // Nothing happened yet that a text could explain: nothing is said.
  assert.deepEqual(explainForSender({ ...j, outcome: 'incomplete' }, 'en'), []);
});
