import { isIP } from 'node:net';
import type { StoredEvent } from '../ledger/types.js';
import { checkName } from './event-words.js';
import { attachmentsEvidence, attachmentWhat, codesForSender, knownFactsOf, orderFindings, tempfailCause, tempfailForSender, type Finding, type KnownFacts, type Lang, type Side } from './explain.js';
import type { AttachmentKind } from './attachment.js';
import type { Journey, Outcome } from './journeys.js';
import type { ExplainedJourney } from './search.js';

// The verdict on one journey in words, before anything else a page shows:
// what happened (delivered, rejected ...), the cause, whose side it is on
// and the key evidence, in one sentence; and a short cause for list rows.
// Only facts the ledger recorded go in (explain.ts knownFactsOf): where one
// is missing the sentence says less, it never guesses. German and English.

export { orderFindings };

/** For a page's colour: ok (delivered), bad (refused, or a 4xx never retried), warn (waiting, or gone from the mailbox), neutral. */
export type Tone = 'ok' | 'bad' | 'warn' | 'neutral';

/** staff and customers (the recipient's side), or the sender (the public REF page: no recipient address, nothing of the mailbox). */
export type Audience = 'staff' | 'sender';

export interface Verdict {
  status: Outcome;
  /** "Rejected" / "Abgelehnt". */
  word: string;
  tone: Tone;
  /** The main finding's code; null when the journey has none. */
  code: string | null;
  side: Side;
  /** One sentence: the status, the cause, whose side, the key evidence. */
  headline: string;
  finding: Finding | null;
}

const WORDS: Record<Lang, Record<Outcome, string>> = {
  en: { delivered: 'Delivered', rejected: 'Rejected', tempfailed: 'Temporarily refused', incomplete: 'Not completed', no_transaction: 'No message sent' },
  de: { delivered: 'Zugestellt', rejected: 'Abgelehnt', tempfailed: 'Vorübergehend abgewiesen', incomplete: 'Nicht abgeschlossen', no_transaction: 'Keine Nachricht gesendet' },
};

const SIDE: Record<Lang, Record<Side, string>> = {
  en: { sender: "sender's side", recipient: "recipient's side", none: '' },
  de: { sender: 'Seite des Absenders', recipient: 'Seite des Empfängers', none: '' },
};

/** The status in one word: "Delivered", "Rejected" ... */
export function statusWord(status: Outcome, lang: Lang): string {
  return WORDS[lang][status];
}

/** The finding a page shows first: the cause (orderFindings), null when there is none. */
export function mainFinding(j: Pick<ExplainedJourney, 'explanations'>): Finding | null {
  return orderFindings(j.explanations)[0] ?? null;
}

const RETRY_CODES = ['tempfail_pending', 'tempfail_not_retried', 'tempfail_retried'] as const;
type RetryCode = (typeof RETRY_CODES)[number];

function retryCode(j: Pick<Journey, 'diagnosis'>): RetryCode | null {
  return RETRY_CODES.find((c) => j.diagnosis.includes(c)) ?? null;
}

function toneOf(status: Outcome, code: string | null, retry: RetryCode | null): Tone {
  switch (status) {
    case 'delivered': return code === 'fetched_and_deleted' ? 'warn' : 'ok';
    case 'rejected': return 'bad';
    case 'tempfailed': return retry === 'tempfail_not_retried' ? 'bad' : retry === 'tempfail_retried' ? 'neutral' : 'warn';
    case 'no_transaction': return code === 'likely_too_large' ? 'warn' : 'neutral';
    default: return 'neutral';
  }
}

/**
 * A time in a sentence: "at 10:02 UTC" when on the day of `ref` (epoch ms),
 * else "on 2026-11-20 at 10:02 UTC"; German "um ..." / "am ... um ...".
 */
function clock(ts: number, lang: Lang, ref: number | null = null): string {
  const iso = new Date(ts).toISOString();
  const time = `${iso.slice(11, 16)} UTC`;
  const sameDay = ref !== null && new Date(ref).toISOString().slice(0, 10) === iso.slice(0, 10);
  if (lang === 'de') return sameDay ? `um ${time}` : `am ${iso.slice(0, 10)} um ${time}`;
  return sameDay ? `at ${time}` : `on ${iso.slice(0, 10)} at ${time}`;
}

/** "mail.x.test (192.0.2.7)", or what of it is known; null when nothing is. */
function serverName(k: KnownFacts): string | null {
  if (k.helo && k.client_ip) return `${k.helo} (${k.client_ip})`;
  return k.helo ?? k.client_ip;
}

function similarOf(j: Pick<Journey, 'near_misses'>): string | null {
  const list = j.near_misses.filter((n) => n.kind === 'similar_mailbox').map((n) => n.value);
  return list.length ? list.join(', ') : null;
}

/** The short advice of a virus or dangerous-attachment refusal, by the kind of file (attachment.ts). */
const VIRUS_ADVICE: Record<AttachmentKind, Record<Lang, string>> = {
  office: { en: 'the sender must send the document again without macros or as a PDF', de: 'der Absender muss das Dokument ohne Makros oder als PDF erneut senden' },
  pdf: { en: 'the sender must check the sending computer and make a new PDF from the original document', de: 'der Absender muss den sendenden Rechner prüfen und aus dem Originaldokument eine neue PDF-Datei erzeugen' },
  program: { en: 'programs are not accepted by mail; if the sender did not mean to send one, it is very likely malware', de: 'Programme werden per E-Mail nicht angenommen; wollte der Absender keines senden, ist es sehr wahrscheinlich Schadsoftware' },
  disguised: { en: 'that is very likely malware; the sender must check the sending computer', de: 'das ist sehr wahrscheinlich Schadsoftware; der Absender muss den sendenden Rechner prüfen' },
  archive: { en: 'the sender must check the sending computer and send the files again clean, not in an archive', de: 'der Absender muss den sendenden Rechner prüfen und die Dateien sauber und nicht als Archiv erneut senden' },
  other: { en: 'the sender must check the sending computer with an up-to-date virus scanner', de: 'der Absender muss den sendenden Rechner mit einem aktuellen Virenscanner prüfen' },
  none: { en: 'the sender must check the sending computer with an up-to-date virus scanner', de: 'der Absender muss den sendenden Rechner mit einem aktuellen Virenscanner prüfen' },
};

const PROVIDER: Record<Lang, string> = { en: "the sender must send through its provider's mail server", de: 'der Absender muss über den Mailserver seines Providers senden' };

/** VIRUS_ADVICE addressed to the sender (the public REF page). */
const VIRUS_ADVICE_YOU: Record<AttachmentKind, Record<Lang, string>> = {
  office: { en: 'send the document again without macros or as a PDF', de: 'senden Sie das Dokument ohne Makros oder als PDF erneut' },
  pdf: { en: 'check your computer and make a new PDF from the original document', de: 'prüfen Sie Ihren Rechner und erzeugen Sie aus dem Originaldokument eine neue PDF-Datei' },
  program: { en: 'programs are not accepted by mail; if you did not mean to send one, it is very likely malware', de: 'Programme werden per E-Mail nicht angenommen; wollten Sie keines senden, ist es sehr wahrscheinlich Schadsoftware' },
  disguised: { en: 'that is very likely malware; check your computer', de: 'das ist sehr wahrscheinlich Schadsoftware; prüfen Sie Ihren Rechner' },
  archive: { en: 'check your computer and send the files again clean, not in an archive', de: 'prüfen Sie Ihren Rechner und senden Sie die Dateien sauber und nicht als Archiv erneut' },
  other: { en: 'check your computer with an up-to-date virus scanner', de: 'prüfen Sie Ihren Rechner mit einem aktuellen Virenscanner' },
  none: { en: 'check your computer with an up-to-date virus scanner', de: 'prüfen Sie Ihren Rechner mit einem aktuellen Virenscanner' },
};

const PROVIDER_YOU: Record<Lang, string> = { en: "send through your provider's mail server", de: 'senden Sie über den Mailserver Ihres Providers' };

interface Clause { cause: string; advice: string | null }

/** The cause of a refusal (and what the side must do), as a clause; null for a code that is no refusal's cause. */
function refusalClause(code: string, j: Journey, k: KnownFacts, lang: Lang, audience: Audience): Clause | null {
  const de = lang === 'de';
  const ip = k.client_ip;
  const domain = k.sender_domain;
  switch (code) {
    case 'virus': {
      const what = k.signature ?? (k.rule ? attachmentWhat(attachmentsEvidence(j.events), lang) : null);
      const f = k.file;
      if (f && what && k.file_is_finding) return { cause: de ? `der Anhang ${f} ist ${what}` : `the attachment ${f} is ${what}`, advice: VIRUS_ADVICE[k.attachment][lang] };
      const cause = de
        ? (f && what ? `der Anhang ${f} enthält ${what}` : what ? `die Nachricht enthält ${what}` : f ? `der Anhang ${f} wurde als gefährlich erkannt` : 'der Virenscanner oder die Anhangprüfung hat sie abgelehnt')
        : (f && what ? `the attachment ${f} contains ${what}` : what ? `the message contains ${what}` : f ? `the attachment ${f} was found dangerous` : 'the virus scanner or the attachment check refused it');
      return { cause, advice: VIRUS_ADVICE[k.attachment][lang] };
    }
    case 'spam': {
      const limit = k.reject_score ? (de ? ` (Grenze ${k.reject_score})` : ` (limit ${k.reject_score})`) : '';
      return {
        cause: de
          ? (k.score ? `der Inhaltsfilter bewertete die Nachricht mit ${k.score}${limit} und lehnte sie als Spam ab` : 'der Inhaltsfilter lehnte sie als Spam ab')
          : (k.score ? `the content filter scored the message ${k.score}${limit} and refused it as spam` : 'the content filter refused it as spam'),
        advice: null,
      };
    }
    case 'sender_ip_blocklisted': {
      const lists = k.lists.length ? k.lists.join(', ') : null;
      const dyn = k.listed_dynamic === true;
      return {
        cause: de
          ? `der Server des Absenders${ip ? ` ${ip}` : ''} steht auf ${lists ?? 'einer Sperrliste'}${dyn ? ' als dynamische Adresse' : ''}`
          : `the sender's server${ip ? ` ${ip}` : ''} is on ${lists ?? 'a block list'}${dyn ? ' as a dynamic address' : ''}`,
        advice: dyn ? PROVIDER[lang] : de ? 'der Absender muss die Ursache beheben und die Austragung beantragen' : 'the sender must fix the cause and ask the list to remove the address',
      };
    }
    case 'sender_dynamic_ip':
      return {
        cause: de
          ? (k.client_ptr ? `der Server des Absenders${ip ? ` ${ip}` : ''} heißt ${k.client_ptr}, was eine dynamische (DSL-)Adresse kennzeichnet` : `der Server des Absenders${ip ? ` ${ip}` : ''} sendet von einer dynamischen (DSL-)Adresse`)
          : (k.client_ptr ? `the sender's server${ip ? ` ${ip}` : ''} has the name ${k.client_ptr}, which marks a dynamic (DSL) address` : `the sender's server${ip ? ` ${ip}` : ''} sends from a dynamic (DSL) address`),
        advice: PROVIDER[lang],
      };
    case 'sender_mx_is_ip': {
      const ips = k.mx.filter((m) => isIP(m.replace(/^\[|\]$/g, '')) !== 0);
      const of = domain ?? (de ? 'der Absender-Domain' : 'the sender domain');
      const names = ips.length ? ` ${ips.join(', ')},` : '';
      return {
        cause: de
          ? `der MX-Eintrag von ${of} nennt${names} ${ips.length > 1 ? 'IP-Adressen statt Hostnamen' : 'eine IP-Adresse statt eines Hostnamens'}`
          : `the MX record of ${of} names${names} ${ips.length > 1 ? 'IP addresses instead of host names' : 'an IP address instead of a host name'}`,
        advice: de ? `wer das DNS von ${of} betreibt, muss einen Hostnamen eintragen` : `whoever runs the DNS of ${of} must set a host name`,
      };
    }
    case 'sender_domain_unresolvable':
      return {
        cause: de ? `die Absender-Domain${domain ? ` ${domain}` : ''} hat im DNS keinen Mailserver` : `the sender domain${domain ? ` ${domain}` : ''} has no mail server in DNS`,
        advice: de ? 'der Absender muss eine funktionierende Absenderadresse verwenden' : 'the sender must use a working sender address',
      };
    case 'spf_fail':
      return {
        cause: de
          ? `der SPF-Eintrag ${k.spf_domain ? `von ${k.spf_domain}` : 'der Absender-Domain'} erlaubt dem Server${ip ? ` ${ip}` : ''} nicht, für die Domain zu senden`
          : `the SPF record of ${k.spf_domain ?? 'the sender domain'} does not allow the server${ip ? ` ${ip}` : ''} to send for it`,
        advice: de ? 'der Absender muss über einen Server senden, den sein SPF-Eintrag nennt' : 'the sender must send through a server its SPF record names',
      };
    case 'dmarc_reject':
      return {
        cause: de ? 'die Nachricht erfüllte die DMARC-Richtlinie ihrer From:-Domain nicht, und diese verlangt die Ablehnung' : 'the message failed the DMARC policy of its From: domain, which asks for rejection',
        advice: de ? 'der Administrator des Absenders muss für SPF oder DKIM passend zur From:-Domain sorgen' : "the sender's administrator must make it pass SPF or DKIM aligned with the From: domain",
      };
    case 'unknown_recipient': {
      const similar = audience === 'staff' ? similarOf(j) : null;
      const cause = audience === 'sender'
        ? (de ? 'die Empfängeradresse gibt es hier nicht' : 'the recipient address does not exist here')
        : de ? `die Adresse ${k.rcpt} gibt es hier nicht${similar ? ` (ein ähnliches Postfach existiert: ${similar})` : ''}` : `the address ${k.rcpt} does not exist here${similar ? ` (a similar mailbox exists: ${similar})` : ''}`;
      return { cause, advice: de ? 'der Absender muss die Adresse auf Tippfehler prüfen' : 'the sender must check the address for typos' };
    }
    case 'message_too_large':
      return {
        cause: de ? (k.limit ? `die Nachricht ist größer als die Grenze von ${k.limit} Bytes` : 'die Nachricht ist größer als die Größengrenze') : (k.limit ? `the message is larger than the limit of ${k.limit} bytes` : 'the message is larger than the size limit'),
        advice: de ? 'der Absender muss große Dateien anders übermitteln (als Download-Link)' : 'the sender must send large files another way (a download link)',
      };
    case 'mailbox_full':
      return {
        cause: audience === 'sender'
          ? (de ? 'das Postfach des Empfängers war voll' : "the recipient's mailbox was full")
          : de ? `das Postfach ${k.rcpt} war voll` : `the mailbox of ${k.rcpt} was full`,
        advice: de ? 'der Empfänger muss Platz schaffen' : 'the recipient must make room',
      };
    default: return null;
  }
}

/**
 * The cause of a refusal as the sender reads it (the public REF page):
 * "your server", "your domain", and what to do in the imperative; the
 * recipient's address is never named. Only facts the ledger recorded.
 */
function senderClause(code: string, j: Journey, k: KnownFacts, lang: Lang): Clause | null {
  const de = lang === 'de';
  const ip = k.client_ip ? ` ${k.client_ip}` : '';
  switch (code) {
    case 'virus': {
      // What was found is the same sentence for everybody; the advice speaks to the sender.
      const staff = refusalClause(code, j, k, lang, 'sender');
      return staff && { cause: staff.cause, advice: VIRUS_ADVICE_YOU[k.attachment][lang] };
    }
    case 'spam': {
      const limit = k.reject_score ? (de ? `, Grenze ${k.reject_score}` : `, limit ${k.reject_score}`) : '';
      const score = k.score ? (de ? ` (Wert ${k.score}${limit})` : ` (score ${k.score}${limit})`) : '';
      // A spam filter may defer rather than refuse (a score between its limits).
      const deferred = j.outcome === 'tempfailed';
      return {
        cause: de
          ? `unser Inhaltsfilter ${deferred ? 'fand Ihre Nachricht verdächtig und schob sie auf' : 'lehnte Ihre Nachricht als Spam ab'}${score}`
          : `our content filter ${deferred ? 'found your message suspicious and deferred it' : 'refused your message as spam'}${score}`,
        advice: null,
      };
    }
    case 'sender_ip_blocklisted': {
      const lists = k.lists.length ? k.lists.join(', ') : null;
      const dyn = k.listed_dynamic;
      return {
        cause: de
          ? `Ihr Server${ip} steht auf ${lists ?? 'einer Sperrliste'}${dyn ? ' als dynamische Adresse' : ''}`
          : `your server${ip} is on ${lists ?? 'a block list'}${dyn ? ' as a dynamic address' : ''}`,
        // A dynamic address is not fixed by asking for removal; a listing that says nothing sends the sender to the list.
        advice: dyn === true ? PROVIDER_YOU[lang]
          : dyn === false ? (de ? 'lassen Sie Ihren Mail-Administrator die Ursache beheben und die Austragung beantragen' : 'have your mail administrator fix the cause and ask the list to remove the address')
            : (de ? 'auf der Website der Liste steht, warum und was zu tun ist' : "the list's own website says why and what to do"),
      };
    }
    case 'sender_dynamic_ip':
      return {
        cause: de
          ? (k.client_ptr ? `Ihr Server${ip} heißt ${k.client_ptr}, was eine dynamische (DSL-)Adresse kennzeichnet` : `Ihr Server${ip} sendet von einer dynamischen (DSL-)Adresse`)
          : (k.client_ptr ? `your server${ip} has the name ${k.client_ptr}, which marks a dynamic (DSL) address` : `your server${ip} sends from a dynamic (DSL) address`),
        advice: PROVIDER_YOU[lang],
      };
    case 'sender_mx_is_ip': {
      const ips = k.mx.filter((m) => isIP(m.replace(/^\[|\]$/g, '')) !== 0);
      const of = k.sender_domain ? ` ${k.sender_domain}` : '';
      const names = ips.length ? ` ${ips.join(', ')},` : '';
      return {
        cause: de
          ? `der MX-Eintrag Ihrer Domain${of} nennt${names} ${ips.length > 1 ? 'IP-Adressen statt Hostnamen' : 'eine IP-Adresse statt eines Hostnamens'}`
          : `the MX record of your domain${of} names${names} ${ips.length > 1 ? 'IP addresses instead of host names' : 'an IP address instead of a host name'}`,
        advice: de ? 'lassen Sie vom Betreiber des DNS Ihrer Domain (meist Ihr Provider) einen Hostnamen eintragen' : "have whoever runs your domain's DNS (usually your provider) set a host name",
      };
    }
    case 'sender_domain_unresolvable': {
      const d = k.sender_domain ? ` ${k.sender_domain}` : '';
      return {
        cause: de ? `Ihre Absender-Domain${d} hat im DNS keinen Mailserver` : `your sender domain${d} has no mail server in DNS`,
        advice: de ? 'senden Sie von einer funktionierenden Absenderadresse' : 'send from a working sender address',
      };
    }
    case 'spf_fail': {
      const of = k.spf_domain ? (de ? ` von ${k.spf_domain}` : ` of ${k.spf_domain}`) : '';
      const r = k.spf_result;
      // A broken record, or a result that is no "fail" (none, neutral), is not "your server may not send".
      if (r === 'permerror') {
        return {
          cause: de ? `der SPF-Eintrag${of} hat einen dauerhaften Fehler` : `the SPF record${of} has a permanent error`,
          advice: de ? 'lassen Sie ihn vom Betreiber des DNS der Domain reparieren' : "have whoever runs the domain's DNS fix it",
        };
      }
      return {
        cause: r && r !== 'fail' && r !== 'softfail'
          ? (de ? `die SPF-Prüfung${of} hat Ihren Server${ip} nicht als Absender bestätigt (Ergebnis: ${r})` : `the SPF check${of} did not confirm your server${ip} as a sender (result: ${r})`)
          : (de ? `der SPF-Eintrag${of} erlaubt Ihrem Server${ip} nicht, für diese Domain zu senden` : `the SPF record${of} does not allow your server${ip} to send for that domain`),
        advice: de ? 'senden Sie über einen Server, den der Eintrag nennt, oder lassen Sie Ihren Server eintragen' : 'send through a server the record names, or have your server added to it',
      };
    }
    case 'dmarc_reject':
      return {
        cause: de ? 'Ihre Nachricht erfüllte die DMARC-Richtlinie ihrer From:-Domain nicht, und diese verlangt die Ablehnung' : 'your message failed the DMARC policy of its From: domain, which asks for rejection',
        advice: de ? 'lassen Sie Ihren Mail-Administrator für SPF oder DKIM passend zur From:-Domain sorgen' : 'have your mail administrator make it pass SPF or DKIM aligned with the From: domain',
      };
    case 'unknown_recipient':
      return {
        cause: de ? 'die Empfängeradresse gibt es hier nicht' : 'the recipient address does not exist here',
        advice: de ? 'prüfen Sie die Adresse auf Tippfehler' : 'check the address for typos',
      };
    case 'message_too_large':
      return {
        cause: de ? (k.limit ? `Ihre Nachricht ist größer als die Grenze von ${k.limit} Bytes` : 'Ihre Nachricht ist größer als die Größengrenze') : (k.limit ? `your message is larger than the limit of ${k.limit} bytes` : 'your message is larger than the size limit'),
        advice: de ? 'senden Sie große Dateien auf anderem Weg (als Download-Link)' : 'send large files another way (a download link)',
      };
    case 'mailbox_full':
      return {
        cause: de ? 'das Postfach des Empfängers war voll, Ihre Nachricht konnte nicht gespeichert werden' : "the recipient's mailbox was full, so your message could not be stored",
        advice: de ? 'informieren Sie den Empfänger auf anderem Weg' : 'let the recipient know another way',
      };
    default: return null;
  }
}

/** retryClause addressed to the sender. */
function retryClauseForSender(code: RetryCode | null, k: KnownFacts, lang: Lang): string {
  const de = lang === 'de';
  switch (code) {
    case 'tempfail_pending': {
      if (!k.retry_by) return de ? '; Ihr Server sollte es von selbst erneut versuchen' : '; your server should try again on its own';
      const by = `${new Date(k.retry_by).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
      return de ? `; Ihr Server sollte es bis ${by} erneut versuchen` : `; your server should try again by ${by}`;
    }
    case 'tempfail_not_retried': return de ? '; Ihr Server hat es nicht erneut versucht' : '; your server did not try again';
    case 'tempfail_retried': return de ? '; Ihr Server hat es später, wie vorgesehen, erneut versucht' : '; your server tried again later, as it should';
    default: return '';
  }
}

/** A 4xx's retry story, as the end of a sentence. */
function retryClause(code: RetryCode | null, k: KnownFacts, lang: Lang): string {
  const de = lang === 'de';
  switch (code) {
    case 'tempfail_pending': {
      if (!k.retry_by) return de ? '; der Server des Absenders sollte es erneut versuchen' : "; the sender's server should try again";
      const by = `${new Date(k.retry_by).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
      return de ? `; ein neuer Versuch des Absender-Servers wird bis ${by} erwartet` : `; a retry from the sender's server is expected by ${by}`;
    }
    case 'tempfail_not_retried': return de ? '; der Server des Absenders hat es nie erneut versucht (Seite des Absenders)' : "; the sender's server never tried again (sender's side)";
    case 'tempfail_retried': return de ? '; der Server des Absenders hat es später, wie vorgesehen, erneut versucht' : "; the sender's server tried again later, as it should";
    default: return '';
  }
}

/** The refusing check in words, and the reply the sender got: a refusal with no diagnosis code of its own (relay, HELO). */
function plainRefusal(j: Journey, lang: Lang): string {
  const de = lang === 'de';
  const check = j.events.find((e) => e.kind === 'check.result' && (e.verdict === 'reject' || e.verdict === 'tempfail'));
  const by = check ? (de ? ` von der Prüfung ${checkName(lang, check.check_name)}` : ` by the check ${checkName(lang, check.check_name)}`) : '';
  if (j.reply) return de ? `${by ? `${by.trim()}; ` : ''}unser Server antwortete ${j.reply}` : `${by ? `${by.trim()}; ` : ''}our server answered ${j.reply}`;
  return by.trim();
}

function deliveredHeadline(code: string | null, j: Journey, k: KnownFacts, lang: Lang, audience: Audience): string {
  const de = lang === 'de';
  const word = WORDS[lang].delivered;
  const when = k.delivered ? ` ${clock(k.delivered.ts, lang)}` : '';
  const relay = k.delivered?.into === 'relay';
  if (audience === 'sender') {
    return de
      ? `${word}${when} ${relay ? 'an den Mailserver des Empfängers' : 'in das Postfach des Empfängers'}; auf Ihrer Seite ist nichts mehr zu tun.`
      : `${word}${when} ${relay ? "to the recipient's mail server" : "to the recipient's mailbox"}; nothing more to do on your side.`;
  }
  const side = ` (${SIDE[lang].recipient})`;
  const a = k.access;
  const accessAt = a ? ` ${clock(Date.parse(a.at), lang, k.delivered?.ts ?? null)}` : '';
  switch (code) {
    case 'fetched_and_deleted': {
      const by = de ? `von einem Mailprogramm${a?.client_ip ? ` mit der Adresse ${a.client_ip}` : ''}` : `by a mail program${a?.client_ip ? ` at ${a.client_ip}` : ''}`;
      return de
        ? `${word}, dann${accessAt} ${by} ${k.fetched ? 'abgerufen und gelöscht' : 'gelöscht'}${side}.`
        : `${word}, then ${k.fetched ? 'fetched and deleted' : 'deleted'}${accessAt} ${by}${side}.`;
    }
    case 'delivered_not_fetched':
      return de ? `${word}, noch nicht abgerufen: Die Nachricht liegt im Postfach ${k.rcpt}${side}.` : `${word}, not fetched yet: the message is waiting in the mailbox of ${k.rcpt}${side}.`;
    case 'access_not_recorded':
      return de
        ? `${word}${when} an den Postfach-Server für ${k.rcpt}; ob ein Mailprogramm sie abgerufen hat, ist hier nicht protokolliert.`
        : `${word}${when} to the mailbox server for ${k.rcpt}; whether a mail program has fetched it is not recorded here.`;
    case 'tempfail_retried':
      return de
        ? `${word}${when} nach einer Verzögerung: Die Zustellung wurde zunächst aufgeschoben, Grund: ${tempfailCause(j, lang)}.`
        : `${word}${when} after a delay: delivery was deferred at first, reason: ${tempfailCause(j, lang)}.`;
    default: {
      const retr = j.access.find((x) => x.kind === 'pop3.retr');
      const fetched = retr
        ? de
          ? `; ${clock(Date.parse(retr.at), lang, k.delivered?.ts ?? null)} von einem Mailprogramm${retr.client_ip ? ` mit der Adresse ${retr.client_ip}` : ''} abgerufen`
          : `, and fetched ${clock(Date.parse(retr.at), lang, k.delivered?.ts ?? null)} by a mail program${retr.client_ip ? ` at ${retr.client_ip}` : ''}`
        : '';
      if (relay) {
        return de
          ? `${word}${when}: für ${k.rcpt} an den nachgelagerten Mailserver übergeben${fetched}.`
          : `${word}${when}: handed on to the mail server behind this gateway for ${k.rcpt}${fetched}.`;
      }
      return de ? `${word}${when} ins Postfach ${k.rcpt}${fetched}.` : `${word}${when} to the mailbox of ${k.rcpt}${fetched}.`;
    }
  }
}

function sessionHeadline(code: string | null, k: KnownFacts, lang: Lang, audience: Audience): string {
  const de = lang === 'de';
  const word = WORDS[lang].no_transaction;
  const server = serverName(k);
  if (audience === 'sender') {
    const srv = server ? ` ${server}` : '';
    if (code === 'likely_too_large') {
      const limit = k.limit ? (de ? ` von ${k.limit} Bytes` : ` of ${k.limit} bytes`) : '';
      return de
        ? `${word}: Ihr Server${srv} trennte die Verbindung, nachdem unsere Begrüßung die Größengrenze${limit} nannte; die Nachricht war vermutlich zu groß und wurde von Ihrem eigenen Server abgewiesen.`
        : `${word}: your server${srv} disconnected after our greeting announced the size limit${limit}; the message was likely too large, and your own server refused it.`;
    }
    return de ? `${word}: Ihr Server${srv} verband sich und trennte die Verbindung, ohne eine Nachricht zu beginnen.` : `${word}: your server${srv} connected and disconnected without starting a message.`;
  }
  // German starts the sentence after the colon with a capital.
  const srv = server ? (de ? `Der Server ${server}` : `the server ${server}`) : de ? 'Der Server' : 'the server';
  if (code === 'likely_too_large') {
    const limit = k.limit ? (de ? ` von ${k.limit} Bytes` : ` of ${k.limit} bytes`) : '';
    return de
      ? `${word}: ${srv} trennte die Verbindung, nachdem unsere Begrüßung die Größengrenze${limit} nannte; die Nachricht war vermutlich zu groß und wurde vom eigenen Server des Absenders abgewiesen (Seite des Absenders).`
      : `${word}: ${srv} disconnected after our greeting announced the size limit${limit}; the message was likely too large and refused by the sender's own server (sender's side).`;
  }
  return de ? `${word}: ${srv} verband sich und trennte die Verbindung, ohne eine Nachricht zu beginnen.` : `${word}: ${srv} connected and disconnected without starting a message.`;
}

/** "Abgelehnt: der ..." is "Abgelehnt: Der ..." in German, where a sentence after a colon starts with a capital. */
function joinCause(word: string, clause: string, lang: Lang): string {
  return lang === 'de' ? `${word}: ${clause.charAt(0).toUpperCase()}${clause.slice(1)}` : `${word}: ${clause}`;
}

/**
 * The verdict on one journey. `audience` 'sender': for the public REF page,
 * addressed to the sender ("your server ...; send through ..."); a
 * delivered message is "delivered, nothing more to do on your side"; the
 * recipient's address and mailbox are never named; a check that could not
 * judge the message is not read as its finding (explain.ts codesForSender).
 */
export function verdictOf(j: ExplainedJourney, lang: Lang, opts: { audience?: Audience } = {}): Verdict {
  const audience = opts.audience ?? 'staff';
  const sender = audience === 'sender';
  const forSender = sender ? new Set(codesForSender(j)) : null;
  const finding = forSender ? mainFinding({ explanations: j.explanations.filter((f) => forSender.has(f.code)) }) : mainFinding(j);
  const code = finding?.code ?? null;
  const k = knownFactsOf(j);
  const retry = retryCode(j);
  const word = WORDS[lang][j.outcome];
  // The sender is told "delivered", and nothing of what happened in the mailbox since: not even by a colour.
  const tone = audience === 'sender' && j.outcome === 'delivered' ? 'ok' : toneOf(j.outcome, code, retry);
  const base = { status: j.outcome, word, tone, code, side: finding?.side ?? 'none', finding } as const;
  const de = lang === 'de';
  let headline: string;
  switch (j.outcome) {
    case 'delivered': headline = deliveredHeadline(code, j, k, lang, audience); break;
    case 'no_transaction': headline = sessionHeadline(code, k, lang, audience); break;
    case 'incomplete':
      headline = de ? `${word}: Das Protokoll zeigt weder eine Zustellung noch eine Ablehnung dieser Nachricht.` : `${word}: the log shows neither a delivery nor a refusal of this message.`;
      break;
    default: {
      const clause = !code ? null : sender ? senderClause(code, j, k, lang) : refusalClause(code, j, k, lang, audience);
      const side = clause && finding?.side === 'recipient' ? ` (${SIDE[lang].recipient})` : '';
      if (j.outcome === 'tempfailed') {
        const tail = sender ? retryClauseForSender(retry, k, lang) : retryClause(retry, k, lang);
        if (clause) {
          const advice = clause.advice && retry !== 'tempfail_retried' ? `; ${clause.advice}` : '';
          headline = `${joinCause(word, clause.cause, lang)}${side}${advice}${tail}.`;
        } else {
          const why = sender ? tempfailForSender(j, lang).cause : tempfailCause(j, lang);
          headline = de ? `${word}, Grund: ${why}${tail}.` : `${word}, reason: ${why}${tail}.`;
        }
      } else if (clause) {
        headline = `${joinCause(word, clause.cause, lang)}${side}${clause.advice ? `; ${clause.advice}` : ''}.`;
      } else {
        const plain = plainRefusal(j, lang);
        headline = plain ? `${word} ${plain}.` : `${word}.`;
      }
    }
  }
  return { ...base, headline };
}

/**
 * The cause in a few words, for a row of a list: "on block list Spamhaus
 * ZEN", "virus in Rechnung.docm", "fetched and deleted by 192.0.2.50".
 * Empty when there is nothing to say beyond the status.
 */
export function causeText(j: ExplainedJourney, lang: Lang): string {
  const code = mainFinding(j)?.code ?? null;
  const k = knownFactsOf(j);
  const retry = retryCode(j);
  const main = causePhrase(code, j, k, lang);
  // A 4xx refused by a check with a diagnosis of its own: its retry story too.
  if (j.outcome !== 'tempfailed' || !retry || code === retry) return main;
  const state = retryState(retry, k, lang);
  return main ? `${main}; ${state}` : state;
}

/** Where a 4xx's retry stands, in a few words. */
function retryState(r: RetryCode, k: KnownFacts, lang: Lang): string {
  const de = lang === 'de';
  // The time alone on the day the journey began; the date too after it (a retry window longer than a day).
  const iso = k.retry_by ? new Date(k.retry_by).toISOString() : null;
  const sameDay = iso !== null && k.started !== null && new Date(k.started).toISOString().slice(0, 10) === iso.slice(0, 10);
  const by = iso ? `${sameDay ? iso.slice(11, 16) : iso.slice(0, 16).replace('T', ' ')} UTC` : null;
  if (r === 'tempfail_pending') return de ? (by ? `neuer Versuch bis ${by} erwartet` : 'neuer Versuch erwartet') : (by ? `retry expected by ${by}` : 'retry expected');
  if (r === 'tempfail_not_retried') return de ? 'nie erneut versucht' : 'never retried';
  return de ? 'erneut versucht' : 'retried';
}

/** The refusing check of a 4xx in a word or two ("greylisting"), or the mailbox server. */
function tempfailShort(j: Journey, lang: Lang): string {
  const de = lang === 'de';
  const refusing = j.events.find((e) => e.kind === 'check.result' && e.verdict === 'tempfail');
  if (refusing) return checkName(lang, refusing.check_name);
  const failed = j.events.find((e) => e.kind === 'check.result' && e.verdict === 'error');
  if (failed) return de ? `${checkName(lang, failed.check_name)} (Fehler)` : `${checkName(lang, failed.check_name)} (error)`;
  if (j.events.some((e) => e.kind === 'message.delivery_failed')) return de ? 'Postfach-Server' : 'mailbox server';
  return '';
}

function causePhrase(code: string | null, j: Journey, k: KnownFacts, lang: Lang): string {
  const de = lang === 'de';
  switch (code) {
    case 'virus': {
      const f = k.file;
      if (k.attachment === 'disguised' && f) return de ? `getarntes Programm ${f}` : `disguised program ${f}`;
      if (k.signature) return f ? (de ? `Virus in ${f}` : `virus in ${f}`) : (de ? `Virus ${k.signature}` : `virus ${k.signature}`);
      if (k.rule === 'macro') return f ? (de ? `Makros in ${f}` : `macros in ${f}`) : (de ? 'Makros' : 'macros');
      if (k.rule === 'content' || k.rule === 'extension') return f ? (de ? `Programm ${f}` : `program ${f}`) : (de ? 'Programm' : 'program');
      return f ? (de ? `gefährlicher Anhang ${f}` : `dangerous attachment ${f}`) : (de ? 'Virus oder gefährlicher Anhang' : 'virus or dangerous attachment');
    }
    case 'spam': return k.score ? (de ? `Spam (Wert ${k.score})` : `spam (score ${k.score})`) : 'spam';
    case 'sender_ip_blocklisted': {
      const lists = k.lists.join(', ');
      return lists ? (de ? `auf Sperrliste ${lists}` : `on block list ${lists}`) : (de ? 'auf einer Sperrliste' : 'on a block list');
    }
    case 'sender_dynamic_ip': return k.client_ptr ? (de ? `dynamische Adresse ${k.client_ptr}` : `dynamic address ${k.client_ptr}`) : (de ? 'dynamische Adresse' : 'dynamic address');
    case 'sender_mx_is_ip': return k.sender_domain ? (de ? `MX von ${k.sender_domain} ist eine IP-Adresse` : `MX of ${k.sender_domain} is an IP address`) : (de ? 'MX ist eine IP-Adresse' : 'MX is an IP address');
    case 'sender_domain_unresolvable': return k.sender_domain ? (de ? `kein Mailserver für ${k.sender_domain}` : `no mail server for ${k.sender_domain}`) : (de ? 'kein Mailserver für die Absender-Domain' : 'no mail server for the sender domain');
    case 'spf_fail': return k.spf_domain ? (de ? `SPF von ${k.spf_domain} erlaubt ${k.client_ip ?? 'den Server'} nicht` : `SPF of ${k.spf_domain} does not allow ${k.client_ip ?? 'the server'}`) : (de ? 'SPF nicht bestanden' : 'SPF failed');
    case 'dmarc_reject': return de ? 'DMARC-Richtlinie: ablehnen' : 'DMARC policy: reject';
    case 'unknown_recipient': {
      const similar = similarOf(j);
      return de ? `Postfach existiert nicht${similar ? ` (ähnlich: ${similar})` : ''}` : `no such mailbox${similar ? ` (similar: ${similar})` : ''}`;
    }
    case 'message_too_large': return k.limit ? (de ? `größer als ${k.limit} Bytes` : `larger than ${k.limit} bytes`) : (de ? 'zu groß' : 'too large');
    case 'mailbox_full': return de ? 'Postfach voll' : 'mailbox full';
    case 'tempfail_pending': case 'tempfail_not_retried': case 'tempfail_retried': {
      const short = tempfailShort(j, lang);
      const state = retryState(code, k, lang);
      if (j.outcome === 'delivered') return short ? (de ? `aufgeschoben (${short}), dann zugestellt` : `deferred (${short}), then delivered`) : (de ? 'aufgeschoben, dann zugestellt' : 'deferred, then delivered');
      return short ? `${short}: ${state}` : state;
    }
    case 'fetched_and_deleted': {
      const what = k.fetched ? (de ? 'abgerufen und gelöscht' : 'fetched and deleted') : (de ? 'gelöscht' : 'deleted');
      const ip = k.access?.client_ip;
      return ip ? (de ? `${what} von ${ip}` : `${what} by ${ip}`) : what;
    }
    case 'delivered_not_fetched': return de ? 'noch nicht abgerufen' : 'not fetched yet';
    case 'access_not_recorded': return de ? 'Postfachzugriffe nicht protokolliert' : 'mailbox access not recorded';
    case 'delivered': {
      const retr = j.access.find((a) => a.kind === 'pop3.retr');
      if (retr) return retr.client_ip ? (de ? `abgerufen von ${retr.client_ip}` : `fetched by ${retr.client_ip}`) : (de ? 'abgerufen' : 'fetched');
      return k.delivered?.into === 'relay' ? (de ? 'an den Mailserver übergeben' : 'handed on to the mail server') : (de ? 'im Postfach' : 'in the mailbox');
    }
    case 'likely_too_large': return k.limit ? (de ? `vermutlich größer als ${k.limit} Bytes` : `likely larger than ${k.limit} bytes`) : (de ? 'vermutlich zu groß' : 'likely too large');
    case 'no_transaction': return de ? 'keine Nachricht gesendet' : 'no message sent';
    default: {
      if (j.outcome === 'incomplete') return de ? 'keine abschließende Antwort' : 'no final answer';
      const check = j.events.find((e) => e.kind === 'check.result' && (e.verdict === 'reject' || e.verdict === 'tempfail'));
      return check ? `${de ? 'Prüfung' : 'check'}: ${checkName(lang, check.check_name)}` : '';
    }
  }
}

/** How a journey's checks went, in one line. */
export interface ChecksSummary {
  /** Checks that passed (pass) or allow-listed the client (allow). */
  passed: number;
  /** Checks that did not run for this message (skip). */
  skipped: number;
  /** Checks that flagged, refused, deferred or failed with an error. */
  failed: number;
  /** The checks that did not pass, in words, each once. */
  failed_checks: string[];
  /** "14 checks passed" / "14 Prüfungen bestanden", with what was skipped or did not pass. */
  text: string;
}

const PASSED = new Set(['pass', 'allow']);
const NOT_PASSED = new Set(['flag', 'reject', 'tempfail', 'error']);

/** The check.result events of a journey, counted: passed, skipped, not passed. */
export function checksSummary(events: readonly StoredEvent[], lang: Lang): ChecksSummary {
  const de = lang === 'de';
  const checks = events.filter((e) => e.kind === 'check.result');
  const passed = checks.filter((e) => PASSED.has(e.verdict ?? '')).length;
  const skipped = checks.filter((e) => e.verdict === 'skip').length;
  const bad = checks.filter((e) => NOT_PASSED.has(e.verdict ?? ''));
  const failedChecks = [...new Set(bad.map((e) => checkName(lang, e.check_name)))];
  const n = (count: number, one: string, many: string): string => `${count} ${count === 1 ? one : many}`;
  let text: string;
  if (checks.length === 0) text = de ? 'keine Prüfungen protokolliert' : 'no checks recorded';
  else {
    text = passed > 0 ? (de ? `${n(passed, 'Prüfung', 'Prüfungen')} bestanden` : `${n(passed, 'check', 'checks')} passed`) : (de ? 'keine Prüfung bestanden' : 'no check passed');
    if (skipped) text += de ? `, ${skipped} übersprungen` : `, ${skipped} skipped`;
    if (bad.length) text += de ? `; ${bad.length} nicht bestanden: ${failedChecks.join(', ')}` : `; ${bad.length} did not pass: ${failedChecks.join(', ')}`;
  }
  return { passed, skipped, failed: bad.length, failed_checks: failedChecks, text };
}
