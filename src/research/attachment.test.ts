import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StoredEvent } from '../ledger/types.js';
import { attachmentKind, extensionOf, type AttachmentKind } from './attachment.js';
import { explainJourney, LANGS, VIRUS_ACTION, type Lang } from './explain.js';
import type { Journey, Outcome } from './journeys.js';
import { verdictOf } from './verdict.js';

const T0 = Date.parse('2026-11-20T10:00:00Z');

/** A journey refused by one check, with that check's evidence. */
function refused(check: 'virus' | 'attachments', evidence: Record<string, unknown>, diagnosis = ['virus'], outcome: Outcome = 'rejected'): Journey {
  const events = [
    { id: 1, ts: T0, node: 'n1', source: 'gateway', kind: 'check.result', ref: 'AD1000000001', check_name: check, verdict: 'reject', smtp_code: 554, details: { stage: 'data', evidence } },
    { id: 2, ts: T0 + 1, node: 'n1', source: 'gateway', kind: 'data.rejected', ref: 'AD1000000001', rcpt: 'info@kunde.test', check_name: check, verdict: 'reject', smtp_code: 554, reply: '554 5.7.1 refused' },
  ] as StoredEvent[];
  return {
    ref: 'AD1000000001', node: 'n1', source: 'gateway', started_at: new Date(T0).toISOString(), client_ip: '198.51.100.20', helo: 'mail.partner.test',
    mail_from: 'a@partner.test', rcpt: 'info@kunde.test', message_id: null, outcome, reply: '554 5.7.1 refused', diagnosis, access: [], near_misses: [], events,
  };
}

/** The files of the classic "I only sent ..." stories, as the virus scanner and the attachments check record them. */
const FILES: { name: string; check: 'virus' | 'attachments'; ev: Record<string, unknown>; kind: AttachmentKind }[] = [
  { name: 'infected PDF', check: 'virus', ev: { signature: 'Pdf.Exploit.CVE_2018_4990-1', filename: 'Rechnung-2026-12.pdf', content_type: 'application/pdf' }, kind: 'pdf' },
  { name: 'PDF by its type alone', check: 'virus', ev: { signature: 'Pdf.Dropper.Agent-1', filename: 'scan', content_type: 'application/pdf' }, kind: 'pdf' },
  { name: 'Word file with macros', check: 'attachments', ev: { rule: 'macro', filename: 'Auftrag-2026-117.docx', detected: 'ooxml-vba', ext: null }, kind: 'office' },
  { name: '.docm by its name', check: 'attachments', ev: { rule: 'macro', filename: 'Rechnung.docm', ext: 'docm' }, kind: 'office' },
  { name: 'infected .xls', check: 'virus', ev: { signature: 'Xls.Downloader.Agent-1', filename: 'Liste.xls', content_type: 'application/vnd.ms-excel' }, kind: 'office' },
  { name: 'program behind a PDF name', check: 'attachments', ev: { rule: 'double_extension', filename: 'Rechnung.pdf.exe', ext: 'exe', decoy: 'pdf' }, kind: 'disguised' },
  { name: 'padded double extension', check: 'virus', ev: { signature: 'Win.Trojan.Agent-1', filename: 'Foto.jpg          .scr' }, kind: 'disguised' },
  { name: 'program by its bytes', check: 'attachments', ev: { rule: 'content', filename: 'update.bin', detected: 'pe' }, kind: 'program' },
  { name: 'script', check: 'attachments', ev: { rule: 'extension', filename: 'invoice.js', ext: 'js' }, kind: 'program' },
  { name: 'infected .exe', check: 'virus', ev: { signature: 'Win.Trojan.Agent-2', filename: 'setup.exe' }, kind: 'program' },
  { name: 'program in a zip', check: 'attachments', ev: { rule: 'content', filename: 'Unterlagen.zip', entry: ['Unterlagen/setup.exe'], detected: 'pe' }, kind: 'archive' },
  { name: 'virus in a zip', check: 'virus', ev: { signature: 'Win.Trojan.Agent-3', filename: 'a.doc', within: ['Unterlagen.zip'] }, kind: 'archive' },
  { name: 'disk image', check: 'attachments', ev: { rule: 'extension', filename: 'Rechnung.iso', ext: 'iso' }, kind: 'archive' },
  { name: 'picture', check: 'virus', ev: { signature: 'Img.Exploit.Agent-1', filename: 'bild.png', content_type: 'image/png' }, kind: 'other' },
  { name: 'the message itself', check: 'virus', ev: { signature: 'Eicar-Test-Signature', filename: null, content_type: null }, kind: 'none' },
];

test('the kind of file a refusal was about, from the checks\' evidence', () => {
  for (const f of FILES) assert.equal(attachmentKind(f.ev), f.kind, f.name);
  assert.equal(attachmentKind({}), 'none');
  assert.equal(extensionOf('Rechnung.PDF'), 'pdf');
  assert.equal(extensionOf('Foto.jpg .scr. . '), 'scr');
  assert.equal(extensionOf('README'), null);
  assert.equal(extensionOf('.bashrc'), null);
});

test('virus advice fits the file: no "as PDF" for a PDF, no "without macros" for a program; German and English', () => {
  // What each kind's advice must say, and must not.
  const rules: Record<AttachmentKind, { must: Record<Lang, RegExp[]>; mustNot: RegExp[] }> = {
    office: { must: { en: [/without macros/, /as a PDF/], de: [/ohne Makros/, /als PDF/] }, mustNot: [/malware|Schadsoftware/] },
    pdf: { must: { en: [/new PDF from the original document/], de: [/aus dem Originaldokument eine neue PDF-Datei/] }, mustNot: [/as (a )?PDF|als PDF|macros|Makros/] },
    program: { must: { en: [/Programs and scripts are not accepted by mail/, /very likely malware/], de: [/Programme und Skripte werden per E-Mail nicht angenommen/, /sehr wahrscheinlich Schadsoftware/] }, mustNot: [/PDF|macros|Makros/] },
    disguised: { must: { en: [/look like a document/, /very likely malware/], de: [/wie ein Dokument aussehen/, /sehr wahrscheinlich Schadsoftware/] }, mustNot: [/as (a )?PDF|als PDF|macros|Makros/] },
    archive: { must: { en: [/not packed in an archive/], de: [/nicht in ein Archiv verpackt/] }, mustNot: [/PDF|macros|Makros/] },
    other: { must: { en: [/up-to-date virus scanner/], de: [/aktuellen Virenscanner/] }, mustNot: [/PDF|macros|Makros/] },
    none: { must: { en: [/before sending the message again/], de: [/bevor er die Nachricht erneut sendet/] }, mustNot: [/PDF|macros|Makros/] },
  };
  for (const f of FILES) {
    for (const lang of LANGS) {
      const j = refused(f.check, f.ev);
      const [x] = explainJourney(j, lang);
      assert.equal(x?.code, 'virus', f.name);
      assert.equal(x!.action, VIRUS_ACTION[f.kind][lang], `${f.name} ${lang}`);
      for (const r of rules[f.kind].must[lang]) assert.match(x!.action, r, `${f.name} ${lang}`);
      for (const r of rules[f.kind].mustNot) {
        assert.doesNotMatch(x!.action, r, `${f.name} ${lang}: action`);
        // The headline's short advice says the same.
        const h = verdictOf({ ...j, explanations: explainJourney(j, lang) }, lang).headline;
        assert.doesNotMatch(h.slice(h.indexOf(';')), r, `${f.name} ${lang}: headline ${h}`);
      }
      assert.doesNotMatch(x!.what, /unknown|unbekannt/, `${f.name} ${lang}`);
    }
  }
});

test('what the virus finding says when the file or the signature is missing, and when the file is the finding', () => {
  const what = (ev: Record<string, unknown>, check: 'virus' | 'attachments' = 'virus', lang: Lang = 'en'): string => explainJourney(refused(check, ev), lang)[0]!.what;
  assert.equal(what({ signature: 'Eicar-Test-Signature' }), 'The message was refused because it contains Eicar-Test-Signature.');
  assert.equal(what({ signature: 'Eicar-Test-Signature' }, 'virus', 'de'), 'Die Nachricht wurde abgelehnt, weil sie Eicar-Test-Signature enthält.');
  assert.equal(what({}), 'The message was refused by the virus scanner or the attachment check.');
  assert.equal(what({ rule: 'double_extension', filename: 'Rechnung.pdf.exe', ext: 'exe' }, 'attachments'), 'The message was refused because the attachment Rechnung.pdf.exe is a disguised program (.exe behind a harmless extension).');
  assert.equal(what({ rule: 'double_extension', filename: 'Rechnung.pdf.exe', ext: 'exe' }, 'attachments', 'de'), 'Die Nachricht wurde abgelehnt, weil der Anhang Rechnung.pdf.exe ein getarntes Programm (.exe hinter einer harmlosen Endung) ist.');
  assert.equal(what({ rule: 'macro', filename: 'Auftrag.docx', detected: 'ooxml-vba' }, 'attachments'), 'The message was refused because the attachment Auftrag.docx contains Office macros (executable code).');
  assert.equal(what({ rule: 'content', filename: 'Unterlagen.zip', entry: ['setup.exe'], detected: 'pe' }, 'attachments'), 'The message was refused because the attachment Unterlagen.zip contains a program (pe).');
});

test('other advice fits its facts: a PBL listing is not "request removal", a relay is not "stored in the mailbox", a queue\'s deferral is not the sender retrying', () => {
  const listed = (meaning: string): Journey => ({
    ...refused('virus', {}, ['sender_ip_blocklisted']),
    events: [{ id: 1, ts: T0, node: 'n1', source: 'gateway', kind: 'check.result', ref: 'AD1000000001', check_name: 'dnsbl', verdict: 'reject', smtp_code: 554, details: { stage: 'connect', evidence: { zones: [{ zone: 'zen.spamhaus.org', name: 'Spamhaus ZEN', listings: [{ code: '127.0.0.10', meaning }] }] } } }] as StoredEvent[],
  });
  for (const lang of LANGS) {
    const pbl = explainJourney(listed('listed as dynamic/end-user address space (PBL)'), lang)[0]!;
    assert.match(pbl.action, lang === 'en' ? /removal from the list is not the fix.*provider's mail server/ : /Austragung ist nicht die Lösung.*Mailserver seines Providers/);
    const sbl = explainJourney(listed('listed as a source of spam (SBL)'), lang)[0]!;
    assert.match(sbl.action, lang === 'en' ? /request removal from the list/ : /Austragung beantragen/);
  }
  const delivered = (target: string, deferred: boolean): Journey => ({
    ...refused('virus', {}, deferred ? ['delivered', 'tempfail_retried'] : ['delivered'], 'delivered'),
    events: [
      ...(deferred ? [{ id: 1, ts: T0, node: 'n1', source: 'postfix', kind: 'message.delivery_failed', ref: 'AD1000000001', rcpt: 'info@kunde.test', smtp_code: 452, reply: '452 4.2.2 Mailbox full', details: { reply: '452 4.2.2 Mailbox full' } }] : []),
      { id: 2, ts: T0 + 600_000, node: 'n1', source: 'gateway', kind: 'message.delivered', ref: 'AD1000000001', rcpt: 'info@kunde.test', smtp_code: 250, details: { target } },
    ] as StoredEvent[],
  });
  const relay = explainJourney(delivered('smtp', false), 'en')[0]!;
  assert.equal(relay.what, 'The message from a@partner.test was accepted and handed on to the mail server behind this gateway for info@kunde.test.');
  assert.doesNotMatch(explainJourney(delivered('smtp', false), 'de')[0]!.what, /gespeichert/);
  assert.match(explainJourney(delivered('maildir', false), 'en')[0]!.what, /stored in the mailbox of info@kunde\.test/);
  const [first, second] = explainJourney(delivered('maildir', true), 'en');
  assert.deepEqual([first!.code, second!.code], ['tempfail_retried', 'delivered']);
  assert.equal(first!.what, "Delivery was deferred at first. The reason: the mailbox server did not take the message for now (452 4.2.2 Mailbox full). The mail server tried again later and delivered the message.");
  assert.doesNotMatch(first!.what + first!.action, /sender|this check/);
});

test('a deletion logged without the client\'s address: the texts leave the address out instead of saying "unknown"', () => {
  const j: Journey = {
    ...refused('virus', {}, ['fetched_and_deleted', 'delivered'], 'delivered'),
    access: [{ at: new Date(T0 + 120_000).toISOString(), kind: 'imap.expunge', source: 'dovecot', client_ip: null }],
    events: [{ id: 1, ts: T0, node: 'n1', source: 'gateway', kind: 'message.delivered', ref: 'AD1000000001', rcpt: 'info@kunde.test', smtp_code: 250, details: { target: 'lmtp' } }] as StoredEvent[],
  };
  for (const lang of LANGS) {
    const explained = explainJourney(j, lang);
    const [x] = explained;
    assert.equal(x!.code, 'fetched_and_deleted');
    assert.doesNotMatch(`${x!.what} ${x!.action}`, /unknown|unbekannt|address \{|Adresse \{/, lang);
    assert.match(x!.what, lang === 'en' ? /the log does not name its address/ : /das Protokoll nennt dessen Adresse nicht/);
    const v = verdictOf({ ...j, explanations: explained }, lang);
    assert.equal(v.headline, lang === 'en'
      ? "Delivered, then deleted at 10:02 UTC by a mail program (recipient's side)."
      : 'Zugestellt, dann um 10:02 UTC von einem Mailprogramm gelöscht (Seite des Empfängers).');
  }
});
