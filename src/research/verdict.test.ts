import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { StoredEvent } from '../ledger/types.js';
import { tempLedger } from '../../test/helpers/temp-ledger.js';
import { explainJourney, PUBLIC_CODES, type Lang } from './explain.js';
import type { Journey } from './journeys.js';
import { search, type ExplainedJourney } from './search.js';
import { DOMAIN, NOW, REFS, storyEvents, T0 } from './testing.js';
import { causeText, checksSummary, mainFinding, orderFindings, verdictOf } from './verdict.js';

let ledger: Awaited<ReturnType<typeof tempLedger>>;
const byLang = new Map<Lang, ExplainedJourney[]>();

before(async () => {
  ledger = await tempLedger(storyEvents(), 'mp-verdict-');
  for (const lang of ['en', 'de'] as const) {
    byLang.set(lang, (await search(ledger.reader, { domain: DOMAIN, since: T0 - 3600e3, until: NOW, now: NOW }, { lang })).journeys);
  }
});
after(async () => { await ledger.done(); });

function journey(ref: string, lang: Lang = 'en'): ExplainedJourney {
  const j = byLang.get(lang)!.find((x) => x.ref === ref);
  assert.ok(j, `no journey ${ref}`);
  return j;
}

test('the verdict of each classic story: the cause in one sentence, whose side, the key evidence; German and English', () => {
  const cases: { ref: string; code: string; word: [string, string]; tone: string; side: string; en: string; de: string }[] = [
    {
      ref: REFS.pbl, code: 'sender_ip_blocklisted', word: ['Rejected', 'Abgelehnt'], tone: 'bad', side: 'sender',
      en: "Rejected: the sender's server 192.0.2.7 is on Spamhaus ZEN as a dynamic address; the sender must send through its provider's mail server.",
      de: 'Abgelehnt: Der Server des Absenders 192.0.2.7 steht auf Spamhaus ZEN als dynamische Adresse; der Absender muss über den Mailserver seines Providers senden.',
    },
    {
      ref: REFS.fetched, code: 'fetched_and_deleted', word: ['Delivered', 'Zugestellt'], tone: 'warn', side: 'recipient',
      en: "Delivered, then fetched and deleted at 10:02 UTC by a mail program at 192.0.2.50 (recipient's side).",
      de: 'Zugestellt, dann um 10:02 UTC von einem Mailprogramm mit der Adresse 192.0.2.50 abgerufen und gelöscht (Seite des Empfängers).',
    },
    {
      ref: REFS.waiting, code: 'delivered_not_fetched', word: ['Delivered', 'Zugestellt'], tone: 'ok', side: 'recipient',
      en: `Delivered, not fetched yet: the message is waiting in the mailbox of info@${DOMAIN} (recipient's side).`,
      de: `Zugestellt, noch nicht abgerufen: Die Nachricht liegt im Postfach info@${DOMAIN} (Seite des Empfängers).`,
    },
    {
      ref: REFS.pdf, code: 'virus', word: ['Rejected', 'Abgelehnt'], tone: 'bad', side: 'sender',
      en: 'Rejected: the attachment Rechnung-2026-12.pdf contains Pdf.Exploit.CVE_2018_4990-1; the sender must check the sending computer and make a new PDF from the original document.',
      de: 'Abgelehnt: Der Anhang Rechnung-2026-12.pdf enthält Pdf.Exploit.CVE_2018_4990-1; der Absender muss den sendenden Rechner prüfen und aus dem Originaldokument eine neue PDF-Datei erzeugen.',
    },
    {
      ref: REFS.macro, code: 'virus', word: ['Rejected', 'Abgelehnt'], tone: 'bad', side: 'sender',
      en: 'Rejected: the attachment Auftrag-2026-117.docx contains Office macros (executable code); the sender must send the document again without macros or as a PDF.',
      de: 'Abgelehnt: Der Anhang Auftrag-2026-117.docx enthält Office-Makros (ausführbarer Code); der Absender muss das Dokument ohne Makros oder als PDF erneut senden.',
    },
    {
      ref: REFS.disguised, code: 'virus', word: ['Rejected', 'Abgelehnt'], tone: 'bad', side: 'sender',
      en: 'Rejected: the attachment Rechnung.pdf.exe is a disguised program (.exe behind a harmless extension); that is very likely malware; the sender must check the sending computer.',
      de: 'Abgelehnt: Der Anhang Rechnung.pdf.exe ist ein getarntes Programm (.exe hinter einer harmlosen Endung); das ist sehr wahrscheinlich Schadsoftware; der Absender muss den sendenden Rechner prüfen.',
    },
    {
      ref: REFS.typo, code: 'unknown_recipient', word: ['Rejected', 'Abgelehnt'], tone: 'bad', side: 'sender',
      en: `Rejected: the address muller@${DOMAIN} does not exist here (a similar mailbox exists: mueller@${DOMAIN}); the sender must check the address for typos.`,
      de: `Abgelehnt: Die Adresse muller@${DOMAIN} gibt es hier nicht (ein ähnliches Postfach existiert: mueller@${DOMAIN}); der Absender muss die Adresse auf Tippfehler prüfen.`,
    },
    {
      ref: REFS.grey, code: 'tempfail_pending', word: ['Temporarily refused', 'Vorübergehend abgewiesen'], tone: 'warn', side: 'sender',
      en: "Temporarily refused, reason: greylisting (the first attempt of an unknown sender is deferred on purpose); a retry from the sender's server is expected by 2026-11-20 12:08 UTC.",
      de: 'Vorübergehend abgewiesen, Grund: Greylisting (der erste Versuch eines unbekannten Absenders wird absichtlich aufgeschoben); ein neuer Versuch des Absender-Servers wird bis 2026-11-20 12:08 UTC erwartet.',
    },
    {
      ref: REFS.kept, code: 'delivered', word: ['Delivered', 'Zugestellt'], tone: 'ok', side: 'none',
      en: `Delivered on 2026-11-20 at 10:09 UTC to the mailbox of chef@${DOMAIN}, and fetched at 10:12 UTC by a mail program at 192.0.2.60.`,
      de: `Zugestellt am 2026-11-20 um 10:09 UTC ins Postfach chef@${DOMAIN}; um 10:12 UTC von einem Mailprogramm mit der Adresse 192.0.2.60 abgerufen.`,
    },
    {
      ref: REFS.relay, code: 'delivered', word: ['Delivered', 'Zugestellt'], tone: 'ok', side: 'none',
      en: `Delivered on 2026-11-20 at 10:11 UTC: handed on to the mail server behind this gateway for team@${DOMAIN}.`,
      de: `Zugestellt am 2026-11-20 um 10:11 UTC: für team@${DOMAIN} an den nachgelagerten Mailserver übergeben.`,
    },
  ];
  for (const c of cases) {
    for (const [i, lang] of (['en', 'de'] as const).entries()) {
      const j = journey(c.ref, lang);
      const v = verdictOf(j, lang);
      assert.equal(v.headline, c[lang], `${c.ref} ${lang}`);
      assert.equal(v.word, c.word[i], `${c.ref} ${lang}`);
      assert.equal(v.code, c.code, c.ref);
      assert.equal(v.tone, c.tone, c.ref);
      assert.equal(v.side, c.side, c.ref);
      assert.equal(v.status, j.outcome);
      assert.equal(v.finding?.code, c.code, 'the finding is the main one');
      // The page's first card is the same cause (explainJourney orders them).
      assert.equal(j.explanations[0]?.code, c.code, c.ref);
    }
  }
});

test('a missing fact makes the sentence shorter, never a guess or a placeholder', () => {
  const j = journey(REFS.bare);
  assert.equal(verdictOf(j, 'en').headline, "Rejected: the sender's server is on a block list; the sender must fix the cause and ask the list to remove the address.");
  assert.equal(verdictOf(j, 'de').headline, 'Abgelehnt: Der Server des Absenders steht auf einer Sperrliste; der Absender muss die Ursache beheben und die Austragung beantragen.');
  for (const lang of ['en', 'de'] as const) {
    for (const x of byLang.get(lang)!) {
      for (const text of [verdictOf(x, lang).headline, verdictOf(x, lang, { audience: 'sender' }).headline, causeText(x, lang)]) {
        assert.doesNotMatch(text, /\bunknown\b(?! sender)|\bunbekannt\b|undefined|null|NaN|\{\w+\}|\s[;,.]|;;/, `${x.ref} ${lang}: ${text}`);
      }
    }
  }
});

test('the generic "delivered" never stands above the cause; orderFindings keeps the rest as given', () => {
  const order = (codes: string[]): string[] => orderFindings(codes.map((code) => ({ code }))).map((f) => f.code);
  assert.deepEqual(order(['delivered', 'access_not_recorded']), ['access_not_recorded', 'delivered']);
  assert.deepEqual(order(['fetched_and_deleted', 'delivered']), ['fetched_and_deleted', 'delivered']);
  assert.deepEqual(order(['delivered', 'tempfail_retried']), ['tempfail_retried', 'delivered']);
  assert.deepEqual(order(['sender_ip_blocklisted', 'sender_dynamic_ip', 'tempfail_pending']), ['sender_ip_blocklisted', 'sender_dynamic_ip', 'tempfail_pending']);
  assert.deepEqual(order(['tempfail_not_retried', 'spf_fail']), ['spf_fail', 'tempfail_not_retried']);
  assert.deepEqual(order(['not_a_code', 'delivered']), ['not_a_code', 'delivered']);
  // On a journey: explainJourney and mainFinding agree.
  const j = journey(REFS.fetched);
  assert.deepEqual(j.diagnosis, ['fetched_and_deleted', 'delivered']);
  const reversed: Journey = { ...j, diagnosis: ['delivered', 'access_not_recorded'] };
  const explained = explainJourney(reversed, 'en');
  assert.deepEqual(explained.map((f) => f.code), ['access_not_recorded', 'delivered']);
  assert.equal(mainFinding({ explanations: explained })?.code, 'access_not_recorded');
  assert.equal(mainFinding({ explanations: [] }), null);
});

test('for the sender: delivered is delivered, with nothing of the mailbox or the recipient', () => {
  for (const ref of [REFS.fetched, REFS.waiting, REFS.kept]) {
    const v = verdictOf(journey(ref), 'en', { audience: 'sender' });
    assert.match(v.headline, /^Delivered on 2026-11-20 at 10:\d\d UTC to the recipient's mailbox; nothing more to do on your side\.$/, ref);
    assert.equal(v.tone, 'ok', `${ref}: no colour tells the sender what happened in the mailbox`);
    const de = verdictOf(journey(ref, 'de'), 'de', { audience: 'sender' });
    assert.match(de.headline, /^Zugestellt am 2026-11-20 um 10:\d\d UTC in das Postfach des Empfängers; auf Ihrer Seite ist nichts mehr zu tun\.$/, ref);
  }
  assert.match(verdictOf(journey(REFS.relay), 'en', { audience: 'sender' }).headline, /to the recipient's mail server; nothing more to do on your side\.$/);
  const typo = verdictOf(journey(REFS.typo), 'en', { audience: 'sender' });
  assert.equal(typo.headline, 'Rejected: the recipient address does not exist here; check the address for typos.');
  assert.doesNotMatch(typo.headline, /mu(e)?ller|kunde\.test/);
});

test('causeText: the cause in a few words for a list row', () => {
  const cases: [string, string, string][] = [
    [REFS.pbl, 'on block list Spamhaus ZEN', 'auf Sperrliste Spamhaus ZEN'],
    [REFS.fetched, 'fetched and deleted by 192.0.2.50', 'abgerufen und gelöscht von 192.0.2.50'],
    [REFS.waiting, 'not fetched yet', 'noch nicht abgerufen'],
    [REFS.pdf, 'virus in Rechnung-2026-12.pdf', 'Virus in Rechnung-2026-12.pdf'],
    [REFS.macro, 'macros in Auftrag-2026-117.docx', 'Makros in Auftrag-2026-117.docx'],
    [REFS.disguised, 'disguised program Rechnung.pdf.exe', 'getarntes Programm Rechnung.pdf.exe'],
    [REFS.typo, `no such mailbox (similar: mueller@${DOMAIN})`, `Postfach existiert nicht (ähnlich: mueller@${DOMAIN})`],
    [REFS.grey, 'greylisting: retry expected by 12:08 UTC', 'Greylisting: neuer Versuch bis 12:08 UTC erwartet'],
    [REFS.kept, 'fetched by 192.0.2.60', 'abgerufen von 192.0.2.60'],
    [REFS.bare, 'on a block list', 'auf einer Sperrliste'],
    [REFS.relay, 'handed on to the mail server', 'an den Mailserver übergeben'],
  ];
  for (const [ref, en, de] of cases) {
    assert.equal(causeText(journey(ref), 'en'), en, ref);
    assert.equal(causeText(journey(ref, 'de'), 'de'), de, ref);
  }
});

test('checksSummary: passing checks in one line; skipped and failed ones said apart', () => {
  const ev = (check_name: string, verdict: string): StoredEvent => ({ id: 0, ts: T0, node: 'n', source: 'gateway', kind: 'check.result', check_name, verdict } as StoredEvent);
  const many = ['dnsbl', 'client_identity', 'helo', 'spf', 'dmarc', 'recipient', 'size', 'virus', 'attachments', 'sender_domain', 'greylist', 'rate', 'relay', 'helo_syntax'].map((c) => ev(c, 'pass'));
  assert.deepEqual(checksSummary(many, 'en'), { passed: 14, skipped: 0, failed: 0, failed_checks: [], text: '14 checks passed' });
  assert.equal(checksSummary(many, 'de').text, '14 Prüfungen bestanden');
  const mixed = [ev('spf', 'pass'), ev('allowlist', 'allow'), ev('spam', 'skip'), ev('dnsbl', 'flag'), ev('dnsbl', 'reject'), ev('virus', 'error'),
    { ...ev('x', 'pass'), kind: 'session.connect' } as StoredEvent];
  const s = checksSummary(mixed, 'en');
  assert.deepEqual({ ...s, text: undefined }, { passed: 2, skipped: 1, failed: 3, failed_checks: ['block lists (DNSBL)', 'virus scanner'], text: undefined });
  assert.equal(s.text, '2 checks passed, 1 skipped; 3 did not pass: block lists (DNSBL), virus scanner');
  assert.equal(checksSummary(mixed, 'de').text, '2 Prüfungen bestanden, 1 übersprungen; 3 nicht bestanden: Sperrlisten (DNSBL), Virenscanner');
  assert.equal(checksSummary([ev('spf', 'pass')], 'en').text, '1 check passed');
  assert.equal(checksSummary([ev('spf', 'pass')], 'de').text, '1 Prüfung bestanden');
  assert.equal(checksSummary([ev('greylist', 'tempfail')], 'en').text, 'no check passed; 1 did not pass: greylisting');
  assert.equal(checksSummary([], 'en').text, 'no checks recorded');
  assert.equal(checksSummary([], 'de').text, 'keine Prüfungen protokolliert');
  // On a journey: its own checks.
  assert.equal(checksSummary(journey(REFS.fetched).events, 'en').text, '2 checks passed, 1 skipped');
});

test('verdicts beyond the stories: a session without a message, an unfinished one, a refusal with no diagnosis, SPF of the checked domain', () => {
  const J = (diagnosis: string[], outcome: Journey['outcome'], events: Partial<StoredEvent>[], extra: Partial<Journey> = {}): ExplainedJourney => {
    const j: Journey = {
      ref: 'XX1000000001', node: 'n', source: 'gateway', started_at: new Date(T0).toISOString(), client_ip: '192.0.2.9', helo: 'mail.s.test',
      mail_from: 'a@s.test', rcpt: `bob@${DOMAIN}`, message_id: null, outcome, reply: events.at(-1)?.reply ?? null, diagnosis, access: [], near_misses: [],
      events: events.map((e, i) => ({ id: i + 1, ts: T0 + i * 1000, node: 'n', source: 'gateway', client_ip: '192.0.2.9', ...e }) as StoredEvent),
      ...extra,
    };
    return { ...j, explanations: explainJourney(j, 'en') };
  };
  const cases: [ExplainedJourney, string, string][] = [
    [J(['likely_too_large'], 'no_transaction', [{ kind: 'session.connect' }, { kind: 'session.helo', helo: 'mail.s.test', details: { size_limit: 10485760 } }, { kind: 'session.close' }], { rcpt: '', mail_from: null }),
      "No message sent: the server mail.s.test (192.0.2.9) disconnected after our greeting announced the size limit of 10485760 bytes; the message was likely too large and refused by the sender's own server (sender's side).",
      'likely larger than 10485760 bytes'],
    [J(['no_transaction'], 'no_transaction', [{ kind: 'session.connect' }, { kind: 'session.close' }], { rcpt: '', helo: null }),
      'No message sent: the server 192.0.2.9 connected and disconnected without starting a message.', 'no message sent'],
    [J([], 'incomplete', [{ kind: 'mail.from' }]), 'Not completed: the log shows neither a delivery nor a refusal of this message.', 'no final answer'],
    [J([], 'rejected', [{ kind: 'check.result', check_name: 'relay', verdict: 'reject', smtp_code: 554 }, { kind: 'rcpt.rejected', smtp_code: 554, reply: '554 5.7.1 relay denied' }]),
      'Rejected by the check relay permission; our server answered 554 5.7.1 relay denied.', 'check: relay permission'],
    // SPF checked the domain of its evidence (for the null sender: the HELO name), not a guess from MAIL FROM.
    [J(['spf_fail'], 'rejected', [{ kind: 'check.result', check_name: 'spf', verdict: 'reject', smtp_code: 550, details: { evidence: { result: 'fail', domain: 'mail.s.test' } } }, { kind: 'rcpt.rejected', smtp_code: 550, reply: '550 5.7.23 x' }], { mail_from: '' }),
      'Rejected: the SPF record of mail.s.test does not allow the server 192.0.2.9 to send for it; the sender must send through a server its SPF record names.', 'SPF of mail.s.test does not allow 192.0.2.9'],
    [J(['tempfail_not_retried'], 'tempfailed', [{ kind: 'check.result', check_name: 'virus', verdict: 'error', details: { component: 'clamd' } }, { kind: 'data.rejected', smtp_code: 451, reply: '451 4.3.0 x' }]),
      "Temporarily refused, reason: the virus scanner could not run (clamd unreachable or failing); that is on our side; the sender's server never tried again (sender's side).", 'virus scanner (error): never retried'],
  ];
  for (const [j, headline, cause] of cases) {
    assert.equal(verdictOf(j, 'en').headline, headline);
    assert.equal(causeText(j, 'en'), cause);
  }
  assert.equal(verdictOf(cases[4]![0], 'en').tone, 'bad');
  assert.equal(verdictOf(cases[5]![0], 'en').tone, 'bad', 'never retried');
  assert.equal(verdictOf(cases[2]![0], 'en').tone, 'neutral');
  assert.match(explainJourney(cases[4]![0], 'en')[0]!.what, /^The SPF record of mail\.s\.test does not allow/);
});

/** Third person about the sender, as the staff's sentences speak. */
const THIRD_PERSON = /\bthe sender (must|should|can|got|tried|did)\b|\bthe sender's\b|\bto the sender\b|\b(an|dem|den) Absender\b|\bsender's (server|mail administrator|administrator|side|own)\b|\bits (provider|administrator|mail administrator)\b|\bAbsender (muss|sollte|kann|bekam|hat)\b|des Absenders|seines Providers|\bsein(en|em)? (Server|Postausgang|Providers?)\b|Absender-Servers/i;

test('for the sender: each story\'s headline speaks to the sender, the advice fits the finding; the staff\'s stay as they are', () => {
  const cases: [string, string, string][] = [
    [REFS.pbl,
      "Rejected: your server 192.0.2.7 is on Spamhaus ZEN as a dynamic address; send through your provider's mail server.",
      'Abgelehnt: Ihr Server 192.0.2.7 steht auf Spamhaus ZEN als dynamische Adresse; senden Sie über den Mailserver Ihres Providers.'],
    [REFS.pdf,
      'Rejected: the attachment Rechnung-2026-12.pdf contains Pdf.Exploit.CVE_2018_4990-1; check your computer and make a new PDF from the original document.',
      'Abgelehnt: Der Anhang Rechnung-2026-12.pdf enthält Pdf.Exploit.CVE_2018_4990-1; prüfen Sie Ihren Rechner und erzeugen Sie aus dem Originaldokument eine neue PDF-Datei.'],
    [REFS.macro,
      'Rejected: the attachment Auftrag-2026-117.docx contains Office macros (executable code); send the document again without macros or as a PDF.',
      'Abgelehnt: Der Anhang Auftrag-2026-117.docx enthält Office-Makros (ausführbarer Code); senden Sie das Dokument ohne Makros oder als PDF erneut.'],
    [REFS.disguised,
      'Rejected: the attachment Rechnung.pdf.exe is a disguised program (.exe behind a harmless extension); that is very likely malware; check your computer.',
      'Abgelehnt: Der Anhang Rechnung.pdf.exe ist ein getarntes Programm (.exe hinter einer harmlosen Endung); das ist sehr wahrscheinlich Schadsoftware; prüfen Sie Ihren Rechner.'],
    [REFS.typo,
      'Rejected: the recipient address does not exist here; check the address for typos.',
      'Abgelehnt: Die Empfängeradresse gibt es hier nicht; prüfen Sie die Adresse auf Tippfehler.'],
    [REFS.grey,
      'Temporarily refused, reason: greylisting (the first attempt from a sender not seen before is deferred on purpose); your server should try again by 2026-11-20 12:08 UTC.',
      'Vorübergehend abgewiesen, Grund: Greylisting (der erste Versuch eines bisher unbekannten Absenders wird absichtlich aufgeschoben); Ihr Server sollte es bis 2026-11-20 12:08 UTC erneut versuchen.'],
    // No listing said what it means: the list's website says, not a guess at "request removal".
    [REFS.bare,
      "Rejected: your server is on a block list; the list's own website says why and what to do.",
      'Abgelehnt: Ihr Server steht auf einer Sperrliste; auf der Website der Liste steht, warum und was zu tun ist.'],
  ];
  for (const [ref, en, de] of cases) {
    assert.equal(verdictOf(journey(ref), 'en', { audience: 'sender' }).headline, en, ref);
    assert.equal(verdictOf(journey(ref, 'de'), 'de', { audience: 'sender' }).headline, de, ref);
    // The staff's sentence about the sender is unchanged.
    assert.match(verdictOf(journey(ref), 'en').headline, /the sender|sender's|the address|the attachment|greylisting/, ref);
  }
  assert.match(verdictOf(journey(REFS.pbl), 'en').headline, /; the sender must send through its provider's mail server\.$/);
});

test('for the sender: every journey code\'s headline speaks to the sender, in both languages', () => {
  const ev = (e: Partial<StoredEvent>, i: number): StoredEvent => ({ id: i + 1, ts: T0 + i * 1000, node: 'n', source: 'gateway', session: 's', ref: 'XX1000000002', client_ip: '192.0.2.9', ...e }) as StoredEvent;
  const refusal = (smtp: number): Partial<StoredEvent>[] => [{ kind: 'mail.from', mail_from: 'a@s.test' }, { kind: 'rcpt.rejected', rcpt: `bob@${DOMAIN}`, smtp_code: smtp, reply: `${smtp} x` }];
  const session = [{ kind: 'session.connect' }, { kind: 'session.helo', helo: 'mail.s.test', details: { size_limit: 10485760 } }, { kind: 'session.close' }] as Partial<StoredEvent>[];
  const outcomeOf = (code: string): Journey['outcome'] =>
    code === 'delivered' ? 'delivered' : code.startsWith('tempfail_') ? 'tempfailed' : code === 'likely_too_large' || code === 'no_transaction' ? 'no_transaction' : 'rejected';
  let n = 0;
  // no_attempt_seen is a finding of a search, never of a journey.
  for (const code of PUBLIC_CODES.filter((c) => c !== 'no_attempt_seen')) {
    const outcome = outcomeOf(code);
    const events = (outcome === 'no_transaction' ? session : outcome === 'delivered' ? [{ kind: 'message.delivered', rcpt: `bob@${DOMAIN}`, smtp_code: 250 }] as Partial<StoredEvent>[] : refusal(outcome === 'tempfailed' ? 451 : 550)).map(ev);
    for (const lang of ['en', 'de'] as const) {
      // As publicViewOf passes it: the recipient already masked.
      const j: Journey = {
        ref: 'XX1000000002', node: 'n', source: 'gateway', started_at: new Date(T0).toISOString(), client_ip: '192.0.2.9', helo: 'mail.s.test',
        mail_from: 'a@s.test', rcpt: lang === 'de' ? 'die Empfängeradresse' : 'the recipient address', message_id: null, outcome, reply: events.at(-1)?.reply ?? null,
        diagnosis: [code], access: [], near_misses: [], events, retry_by: code === 'tempfail_pending' ? new Date(T0 + 7200e3).toISOString() : undefined,
      };
      const v = verdictOf({ ...j, explanations: explainJourney(j, lang) }, lang, { audience: 'sender' });
      const at = `${code} ${lang}: ${v.headline}`;
      assert.doesNotMatch(v.headline, THIRD_PERSON, at);
      assert.doesNotMatch(v.headline, /\bunknown\b|\bunbekannt\b|undefined|null|NaN|\{\w+\}|\s[;,.]|;;|address the recipient address|Adresse die Empfängeradresse/, at);
      if (lang === 'de') assert.match(v.headline, /\b(Sie|Ihr|Ihre|Ihren|Ihrem|Ihrer)\b/, at);
      else if (code !== 'unknown_recipient') assert.match(v.headline, /\b(you|your)\b/i, at);
      n++;
    }
  }
  assert.ok(n >= 30);
});

test('for the sender beyond the stories: a 4xx our side caused, SPF of the checked domain, a session, a refusal with no diagnosis', () => {
  const J = (diagnosis: string[], outcome: Journey['outcome'], events: Partial<StoredEvent>[], extra: Partial<Journey> = {}): ExplainedJourney => {
    const j: Journey = {
      ref: 'XX1000000003', node: 'n', source: 'gateway', started_at: new Date(T0).toISOString(), client_ip: '192.0.2.9', helo: 'mail.s.test',
      mail_from: 'a@s.test', rcpt: 'the recipient address', message_id: null, outcome, reply: events.at(-1)?.reply ?? null, diagnosis, access: [], near_misses: [],
      events: events.map((e, i) => ({ id: i + 1, ts: T0 + i * 1000, node: 'n', source: 'gateway', client_ip: '192.0.2.9', ...e }) as StoredEvent),
      ...extra,
    };
    return { ...j, explanations: explainJourney(j, 'en') };
  };
  const sender = (j: ExplainedJourney): string => verdictOf(j, 'en', { audience: 'sender' }).headline;
  assert.equal(sender(J(['tempfail_not_retried'], 'tempfailed', [{ kind: 'check.result', check_name: 'virus', verdict: 'error', details: { component: 'clamd' } }, { kind: 'data.rejected', smtp_code: 451, reply: '451 4.3.0 x' }])),
    'Temporarily refused, reason: the virus scanner could not run; that is on our side; your server did not try again.');
  assert.equal(sender(J(['spf_fail'], 'rejected', [{ kind: 'check.result', check_name: 'spf', verdict: 'reject', smtp_code: 550, details: { evidence: { result: 'fail', domain: 'mail.s.test' } } }, { kind: 'rcpt.rejected', smtp_code: 550, reply: '550 5.7.23 x' }], { mail_from: '' })),
    'Rejected: the SPF record of mail.s.test does not allow your server 192.0.2.9 to send for that domain; send through a server the record names, or have your server added to it.');
  // An SPF lookup that failed for now is no SPF verdict on the sender's server (diagnosis.ts counts it as spf_fail all the same).
  const temperror = J(['spf_fail', 'tempfail_pending'], 'tempfailed', [
    { kind: 'check.result', check_name: 'spf', verdict: 'tempfail', smtp_code: 451, details: { evidence: { result: 'temperror', domain: 's.test', component: 'dns' } } },
    { kind: 'rcpt.rejected', smtp_code: 451, reply: '451 4.7.24 x' },
  ], { retry_by: new Date(T0 + 7200e3).toISOString() });
  assert.equal(sender(temperror), 'Temporarily refused, reason: the SPF lookup could not be completed for now (a temporary DNS error); your server should try again by 2026-11-20 12:00 UTC.');
  assert.match(verdictOf(temperror, 'en').headline, /^Temporarily refused: the SPF record of s\.test does not allow/, 'the staff\'s sentence is unchanged');
  const session = [{ kind: 'session.connect' }, { kind: 'session.helo', helo: 'mail.s.test', details: { size_limit: 10485760 } }, { kind: 'session.close' }] as Partial<StoredEvent>[];
  assert.equal(sender(J(['likely_too_large'], 'no_transaction', session, { rcpt: '', mail_from: null })),
    'No message sent: your server mail.s.test (192.0.2.9) disconnected after our greeting announced the size limit of 10485760 bytes; the message was likely too large, and your own server refused it.');
  assert.equal(sender(J([], 'rejected', [{ kind: 'check.result', check_name: 'relay', verdict: 'reject', smtp_code: 554 }, { kind: 'rcpt.rejected', smtp_code: 554, reply: '554 5.7.1 relay denied' }])),
    'Rejected by the check relay permission; our server answered 554 5.7.1 relay denied.');
});
