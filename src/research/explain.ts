import type { StoredEvent } from '../ledger/types.js';
import { attachmentKind, type AttachmentKind } from './attachment.js';
import { checkCode, checksOf, CODES, couldNotJudge, type Code } from './diagnosis.js';
import { intoMailbox, type Access, type Journey, type Outcome } from './journeys.js';
import { checkName } from './event-words.js';

// The explanations of the diagnosis codes of docs/design.md, in German and English:
// what happened, whose side it is on, what that side must do, and the events
// that prove it. Texts are plain strings with facts filled in from the
// evidence; escaping is the renderer's job (HTML, PDF, terminal), never ours.

import type { Lang } from './lang.js';
export type { Lang };
export const LANGS: readonly Lang[] = ['de', 'en'];

/** Whose move it is: the sender's side, the recipient's (our customer's) side, or nobody's. */
export type Side = 'sender' | 'recipient' | 'none';

// The codes themselves are diagnosis.ts's, with the findings that give them.
export { CODES, type Code };

export interface Finding {
  code: string;
  side: Side;
  title: string;
  /** What happened, in plain words, with the facts of this journey. */
  what: string;
  /** What the side named by `side` must do. */
  action: string;
  /** Ids of the events that prove it (a subset of the journey's events). */
  evidence: number[];
}

/** Facts taken from a journey's evidence, filled into the texts. */
export interface Facts {
  client_ip: string;
  client_ptr: string;
  sender: string;
  sender_domain: string;
  /** The domain SPF checked: the MAIL FROM domain, or the HELO name for the null sender (RFC 7208 section 2.3). */
  spf_domain: string;
  rcpt: string;
  lists: string;
  signature: string;
  file: string;
  score: string;
  mx: string;
  limit: string;
  access_ip: string;
  access_at: string;
  similar: string;
  reply: string;
  /** Why the 4xx was given, in words (greylisting, no PTR, a scanner down). */
  tempfail_cause: string;
  /** tempfail_pending: when the retry window ends ("2026-11-27 12:00 UTC"). */
  retry_by: string;
  /** The name the client gave in HELO/EHLO. */
  helo: string;
  /** When the journey began, "2026-11-20 10:02 UTC". */
  at: string;
  /** When the message was delivered, "2026-11-20 10:02 UTC". */
  delivered_at: string;
  // Not for the texts: what picks a text's variant (explainCode).
  /** The kind of file a virus or attachment refusal was about (attachment.ts). */
  attachment_kind: AttachmentKind;
  /** dynamic: a listing says dynamic or end-user address space (Spamhaus PBL and its kind); other: it says something else; '': no listing says. */
  listing_kind: 'dynamic' | 'other' | '';
  /** yes: the attachment is what the check found (a program), not something in it. */
  file_is: 'yes' | '';
  /** mailbox: stored in a mailbox; relay: handed on to another mail server; '': not delivered. */
  delivery_kind: 'mailbox' | 'relay' | '';
  outcome: Outcome | '';
}

interface Text { title: string; what: string; action: string }
type Catalogue = Record<Code, { side: Side; de: Text; en: Text }>;

const CATALOGUE: Catalogue = {
  delivered: {
    side: 'none',
    en: { title: 'Delivered', what: 'The message from {sender} was accepted and stored in the mailbox of {rcpt}.', action: 'Nothing was lost on the way in. If the recipient does not see it, look behind the mailbox: mail programs, filters, other computers fetching the mailbox.' },
    de: { title: 'Zugestellt', what: 'Die Nachricht von {sender} wurde angenommen und im Postfach {rcpt} gespeichert.', action: 'Auf dem Weg hierher ging nichts verloren. Sieht der Empfänger sie nicht, liegt die Ursache hinter dem Postfach: Mailprogramme, Filter, andere Rechner, die das Postfach abrufen.' },
  },
  fetched_and_deleted: {
    side: 'recipient',
    en: { title: 'Fetched and deleted from the mailbox', what: 'The message was delivered, then fetched and deleted at {access_at} by a mail program at the address {access_ip}.', action: 'Find the computer or phone that fetches this mailbox from the address {access_ip} (a PC in the office, a phone, a laptop at home): it downloads the mailbox and deletes the messages from the server. Set it to leave copies on the server, or remove the account there.' },
    de: { title: 'Abgerufen und aus dem Postfach gelöscht', what: 'Die Nachricht wurde zugestellt und am {access_at} von einem Mailprogramm mit der Adresse {access_ip} abgerufen und gelöscht.', action: 'Suchen Sie den Rechner oder das Telefon, das dieses Postfach von der Adresse {access_ip} abruft (ein PC im Büro, ein Telefon, ein Laptop zu Hause): Es lädt das Postfach herunter und löscht die Nachrichten auf dem Server. Stellen Sie dort „Kopie auf dem Server lassen“ ein oder entfernen Sie das Konto.' },
  },
  delivered_not_fetched: {
    side: 'recipient',
    en: { title: 'Delivered, not yet fetched', what: 'The message is in the mailbox of {rcpt}; no mail program has fetched it yet.', action: 'Check the mail program: the account settings, the server name, and any rules or spam folders that hide the message.' },
    de: { title: 'Zugestellt, noch nicht abgerufen', what: 'Die Nachricht liegt im Postfach {rcpt}; kein Mailprogramm hat sie bisher abgerufen.', action: 'Prüfen Sie das Mailprogramm: Kontoeinstellungen, Servername und Regeln oder Spam-Ordner, die die Nachricht verbergen.' },
  },
  virus: {
    side: 'sender',
    en: { title: 'Virus or dangerous attachment', what: 'The message was refused because the attachment {file} contains {signature}.', action: 'The sender must check the sending computer with an up-to-date virus scanner and send the file again, clean (a Word file without macros, or as PDF).' },
    de: { title: 'Virus oder gefährlicher Anhang', what: 'Die Nachricht wurde abgelehnt, weil der Anhang {file} {signature} enthält.', action: 'Der Absender muss den sendenden Rechner mit einem aktuellen Virenscanner prüfen und die Datei sauber erneut senden (ein Word-Dokument ohne Makros oder als PDF).' },
  },
  spam: {
    side: 'sender',
    en: { title: 'Refused as spam', what: 'The content filter scored the message {score} and refused it as spam.', action: 'The sender should send the message again without what makes it look like spam (links to suspicious sites, large images only, mass-mail headers), or ask us to allow-list the sending server.' },
    de: { title: 'Als Spam abgelehnt', what: 'Der Inhaltsfilter bewertete die Nachricht mit {score} und lehnte sie als Spam ab.', action: 'Der Absender sollte die Nachricht ohne die Spam-Merkmale erneut senden (Links auf zweifelhafte Seiten, nur große Bilder, Massenmail-Kopfzeilen) oder uns bitten, den sendenden Server freizuschalten.' },
  },
  sender_ip_blocklisted: {
    side: 'sender',
    en: { title: "Sender's server is on a block list", what: 'The sending server {client_ip} is listed on {lists}; the message was refused while the sender was connected.', action: "The sender's mail administrator must find out why the address is listed (often a virus-infected computer or an open relay), fix it and request removal from the list; or send through the provider's mail server." },
    de: { title: 'Server des Absenders auf einer Sperrliste', what: 'Der sendende Server {client_ip} steht auf {lists}; die Nachricht wurde abgelehnt, während der Absender verbunden war.', action: 'Der Mail-Administrator des Absenders muss klären, warum die Adresse gelistet ist (oft ein virenverseuchter Rechner oder ein offenes Relay), das beheben und die Austragung beantragen; oder über den Mailserver seines Providers senden.' },
  },
  sender_dynamic_ip: {
    side: 'sender',
    en: { title: 'Sent from a dynamic (dial-up/DSL) address', what: 'The sending server {client_ip} has the name {client_ptr}, which marks a dynamic end-user address; servers on such addresses are refused.', action: "The sender's own mail server (for example an in-house Exchange) must send through the provider's mail server (smarthost) instead of delivering directly from the DSL line." },
    de: { title: 'Versand von einer dynamischen (DSL-)Adresse', what: 'Der sendende Server {client_ip} heißt {client_ptr}; der Name kennzeichnet eine dynamische Endkunden-Adresse, von der Mailserver abgelehnt werden.', action: 'Der eigene Mailserver des Absenders (etwa ein hauseigener Exchange) muss über den Mailserver seines Providers (Smarthost) senden, statt direkt von der DSL-Leitung zuzustellen.' },
  },
  sender_mx_is_ip: {
    side: 'sender',
    en: { title: "Sender domain's MX is an IP address", what: 'The MX record of {sender_domain} names {mx}, an IP address instead of a host name (RFC 5321 section 5.1 and RFC 1035 require a name); replies to the sender could not be delivered.', action: 'Whoever runs the DNS of {sender_domain} (usually its provider) must set the MX record to a host name that has an address record.' },
    de: { title: 'MX der Absender-Domain ist eine IP-Adresse', what: 'Der MX-Eintrag von {sender_domain} nennt {mx}, eine IP-Adresse statt eines Hostnamens (RFC 5321 Abschnitt 5.1 und RFC 1035 verlangen einen Namen); Antworten an den Absender wären nicht zustellbar.', action: 'Wer das DNS von {sender_domain} betreibt (meist der Provider), muss als MX einen Hostnamen mit Adresseintrag eintragen.' },
  },
  sender_domain_unresolvable: {
    side: 'sender',
    en: { title: 'Sender domain does not exist or takes no mail', what: 'The sender domain {sender_domain} has no mail server in DNS (no MX or address, or it does not exist); no reply could reach it.', action: 'The sender must use a working sender address, or have the DNS of {sender_domain} fixed.' },
    de: { title: 'Absender-Domain existiert nicht oder nimmt keine Mail an', what: 'Die Absender-Domain {sender_domain} hat im DNS keinen Mailserver (kein MX und keine Adresse, oder sie existiert nicht); keine Antwort könnte sie erreichen.', action: 'Der Absender muss eine funktionierende Absenderadresse verwenden oder das DNS von {sender_domain} reparieren lassen.' },
  },
  spf_fail: {
    side: 'sender',
    en: { title: 'SPF: server not allowed to send for the domain', what: 'The SPF record of {spf_domain} does not allow the server {client_ip} to send mail for it.', action: 'The sender must send through a server that the SPF record of {spf_domain} names, or its administrator must add this server to the record.' },
    de: { title: 'SPF: Server darf nicht für die Domain senden', what: 'Der SPF-Eintrag von {spf_domain} erlaubt dem Server {client_ip} nicht, für diese Domain zu senden.', action: 'Der Absender muss über einen Server senden, den der SPF-Eintrag von {spf_domain} nennt, oder dessen Administrator muss diesen Server eintragen.' },
  },
  dmarc_reject: {
    side: 'sender',
    en: { title: 'DMARC: the domain asks to refuse this message', what: 'The message failed the DMARC policy of the domain in its From: header, which asks receivers to reject such mail.', action: "The sender's administrator must make the message pass SPF or DKIM aligned with the From: domain (for example sign it with DKIM)." },
    de: { title: 'DMARC: die Domain verlangt die Ablehnung', what: 'Die Nachricht erfüllte die DMARC-Richtlinie der Domain im From:-Kopf nicht, und diese verlangt die Ablehnung solcher Mail.', action: 'Der Administrator des Absenders muss dafür sorgen, dass die Nachricht SPF oder DKIM passend zur From:-Domain besteht (etwa mit DKIM signieren).' },
  },
  unknown_recipient: {
    side: 'sender',
    en: { title: 'No such mailbox', what: 'The address {rcpt} does not exist here; the sender got this answer at once.{similar}', action: 'The sender must check the address for typos and send again to the correct address.' },
    de: { title: 'Postfach existiert nicht', what: 'Die Adresse {rcpt} gibt es hier nicht; der Absender bekam diese Antwort sofort.{similar}', action: 'Der Absender muss die Adresse auf Tippfehler prüfen und an die richtige Adresse erneut senden.' },
  },
  message_too_large: {
    side: 'sender',
    en: { title: 'Message too large', what: 'The message is larger than the limit of {limit} and was refused.', action: 'The sender must send large files another way (a download link) or in smaller parts.' },
    de: { title: 'Nachricht zu groß', what: 'Die Nachricht ist größer als die Grenze von {limit} und wurde abgelehnt.', action: 'Der Absender muss große Dateien anders übermitteln (als Download-Link) oder in kleineren Teilen.' },
  },
  mailbox_full: {
    side: 'recipient',
    en: { title: 'Mailbox full', what: 'The mailbox of {rcpt} was over its quota, so the message could not be stored.', action: 'The recipient must delete or archive old messages, or ask for more space; the sender then sends again.' },
    de: { title: 'Postfach voll', what: 'Das Postfach {rcpt} hatte sein Speicherlimit erreicht; die Nachricht konnte nicht gespeichert werden.', action: 'Der Empfänger muss alte Nachrichten löschen oder archivieren oder mehr Speicher beantragen; danach sendet der Absender erneut.' },
  },
  tempfail_not_retried: {
    side: 'sender',
    en: { title: 'Temporary refusal, never retried', what: 'The sender got a temporary refusal ("try again later"). The reason: {tempfail_cause}. Its server never tried this message again.', action: "The sender's mail administrator must check the server's queue: a temporary error (4xx) must be retried for days (RFC 5321 section 4.5.4.1)." },
    de: { title: 'Vorübergehend abgewiesen, nie erneut versucht', what: 'Der Absender bekam eine vorübergehende Abweisung („später erneut versuchen“), Grund: {tempfail_cause}; sein Server hat diese Nachricht aber nie wieder zu senden versucht.', action: 'Der Mail-Administrator des Absenders muss die Warteschlange seines Servers prüfen: Ein vorübergehender Fehler (4xx) muss über Tage wiederholt werden (RFC 5321 Abschnitt 4.5.4.1).' },
  },
  tempfail_retried: {
    side: 'none',
    en: { title: 'Temporary refusal, then retried', what: 'The first attempt got a temporary refusal. The reason: {tempfail_cause}. The sender tried the same message again later, as it should.', action: 'Nothing to do: the sender tried again, as a temporary refusal asks; the later attempt has its own journey.' },
    de: { title: 'Vorübergehend abgewiesen, dann erneut versucht', what: 'Der erste Versuch bekam eine vorübergehende Abweisung, Grund: {tempfail_cause}; der Absender hat dieselbe Nachricht, wie vorgesehen, später erneut gesendet.', action: 'Nichts zu tun: Der Absender hat es, wie bei einer vorübergehenden Abweisung vorgesehen, erneut versucht; der spätere Versuch hat einen eigenen Verlauf.' },
  },
  tempfail_pending: {
    side: 'sender',
    en: { title: 'Temporarily refused; the sender\'s server should retry', what: 'The sender got a temporary refusal ("try again later"). The reason: {tempfail_cause}. Its server should try again on its own; a retry is expected by {retry_by}, and RFC 5321 section 4.5.4.1 asks senders to keep trying for 4 to 5 days. No retry of this message has arrived yet.', action: 'Wait until {retry_by}. If the cause lies with the sender, its administrator must fix it before then; if no retry has arrived by then, the sender\'s server gave up or does not retry, and the sender must send the message again.' },
    de: { title: 'Vorübergehend abgewiesen; der Server des Absenders sollte es erneut versuchen', what: 'Der Absender bekam eine vorübergehende Abweisung („später erneut versuchen“), Grund: {tempfail_cause}. Sein Server sollte es von selbst erneut versuchen; ein neuer Versuch wird bis {retry_by} erwartet, und RFC 5321 Abschnitt 4.5.4.1 verlangt, es 4 bis 5 Tage lang zu versuchen. Ein neuer Versuch dieser Nachricht ist bisher nicht eingetroffen.', action: 'Warten Sie bis {retry_by}. Liegt der Grund beim Absender, muss dessen Administrator ihn bis dahin beheben; ist bis dahin kein neuer Versuch eingetroffen, hat der Server des Absenders aufgegeben oder versucht es nicht erneut, und der Absender muss die Nachricht noch einmal senden.' },
  },
  access_not_recorded: {
    side: 'recipient',
    en: { title: 'Access to this mailbox is not recorded here', what: 'The message was handed to the mailbox server for {rcpt}. Access to this mailbox is not recorded here: the log has no POP3 session on it after the delivery, and reading over IMAP is not logged at all, so whether a mail program has fetched or read the message cannot be told from it.', action: 'Look at the access log of the mailbox server (POP3 and IMAP logins, deletions), or have it ingested (mailproof ingest dovecot) so this research can answer it.' },
    de: { title: 'Zugriffe auf dieses Postfach sind hier nicht protokolliert', what: 'Die Nachricht wurde dem Postfach-Server für {rcpt} übergeben. Zugriffe auf dieses Postfach sind hier nicht protokolliert: Das Protokoll enthält nach der Zustellung keine POP3-Sitzung darauf, und Lesen per IMAP wird gar nicht protokolliert; ob ein Mailprogramm die Nachricht abgerufen oder gelesen hat, lässt sich daraus nicht sagen.', action: 'Sehen Sie im Zugriffsprotokoll des Postfach-Servers nach (POP3- und IMAP-Anmeldungen, Löschungen), oder lassen Sie es einlesen (mailproof ingest dovecot), damit diese Recherche es beantworten kann.' },
  },
  no_attempt_seen: {
    side: 'sender',
    en: { title: 'The sender never tried', what: 'No connection from {sender} (its domain or its servers) reached any of our servers in the searched time.', action: 'The sender must check its own outbox and server logs: the message never left, or went to another address.' },
    de: { title: 'Der Absender hat es nie versucht', what: 'Im gesuchten Zeitraum erreichte keine Verbindung von {sender} (seiner Domain oder seinen Servern) einen unserer Server.', action: 'Der Absender muss seinen Postausgang und seine Server-Protokolle prüfen: Die Nachricht wurde nie abgeschickt oder ging an eine andere Adresse.' },
  },
  // Sessions without a transaction (research/sessions.ts). A sending MTA
  // that reads the SIZE limit of our EHLO reply (RFC 1870 section 4) and has
  // a larger message does not send it: it quits and bounces the message to
  // its own user (Postfix: "message size N exceeds size limit M of server").
  likely_too_large: {
    side: 'sender',
    en: { title: "Likely too large, refused by the sender's own server", what: 'At {at} the server {helo} ({client_ip}) connected, read our greeting that announced the size limit of {limit}, and disconnected without sending a message. This is what a mail server does when its message is larger than the limit: it refuses the message itself and returns it to its sender ("message size ... exceeds size limit ... of server"), so the message never reached us.', action: 'The sender must send large files another way (a download link) or in smaller parts, each under {limit}.' },
    de: { title: 'Vermutlich zu groß, vom eigenen Server des Absenders abgewiesen', what: 'Um {at} verband sich der Server {helo} ({client_ip}), las unsere Begrüßung mit der Größengrenze von {limit} und trennte die Verbindung, ohne eine Nachricht zu senden. So verhält sich ein Mailserver, dessen Nachricht größer als die Grenze ist: Er weist die Nachricht selbst ab und schickt sie an ihren Absender zurück („message size ... exceeds size limit ... of server“); die Nachricht hat uns nie erreicht.', action: 'Der Absender muss große Dateien anders übermitteln (als Download-Link) oder in kleineren Teilen, jeweils unter {limit}.' },
  },
  no_transaction: {
    side: 'sender',
    en: { title: 'Connection without a message', what: 'At {at} the server {helo} ({client_ip}) connected and disconnected without starting a message (no MAIL FROM).', action: "The sender's mail administrator can find the reason in the sending server's log for this time." },
    de: { title: 'Verbindung ohne Nachricht', what: 'Um {at} verband sich der Server {helo} ({client_ip}) und trennte die Verbindung, ohne eine Nachricht zu beginnen (kein MAIL FROM).', action: 'Der Mail-Administrator des Absenders findet den Grund im Protokoll des sendenden Servers zu dieser Zeit.' },
  },
};

const UNKNOWN: Record<Lang, string> = { de: 'unbekannt', en: 'unknown' };

export function isCode(code: string): code is Code {
  return (CODES as readonly string[]).includes(code);
}

export function sideOf(code: string): Side {
  return isCode(code) ? CATALOGUE[code].side : 'none';
}

function details(e: StoredEvent): Record<string, unknown> {
  return (e.details ?? {}) as Record<string, unknown>;
}
function checkEvidence(e: StoredEvent): Record<string, unknown> {
  const ev = details(e).evidence;
  return ev && typeof ev === 'object' ? ev as Record<string, unknown> : {};
}
function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null;
}

const REFUSING = new Set(['reject', 'tempfail', 'flag']);
const REPLY_KINDS = new Set(['rcpt.rejected', 'data.rejected', 'message.delivery_failed', 'session.limit']);

/** The events that prove a code on this journey. */
export function evidenceEvents(j: Journey, code: string): StoredEvent[] {
  // The checks whose findings give this code (research/diagnosis.ts).
  const checks = checksOf(code);
  const ev = j.events;
  const pick = (f: (e: StoredEvent) => boolean): StoredEvent[] => ev.filter(f);
  if (checks) {
    const out = pick((e) => e.kind === 'check.result' && !!e.check_name && checks.includes(e.check_name) && REFUSING.has(e.verdict ?? ''));
    // The reply the sender got belongs to the proof.
    out.push(...pick((e) => REPLY_KINDS.has(e.kind) || (e.kind === 'message.delivery_failed')));
    return dedupe(out);
  }
  switch (code) {
    case 'delivered': return pick((e) => e.kind === 'message.delivered' || e.kind === 'message.recovered' || e.kind === 'data.received');
    case 'fetched_and_deleted': return pick((e) => e.kind === 'message.delivered' || e.kind === 'message.recovered' || e.kind === 'pop3.login' || e.kind === 'imap.login' || e.kind === 'pop3.retr' || e.kind === 'pop3.dele' || e.kind === 'imap.expunge');
    case 'delivered_not_fetched': case 'access_not_recorded': return pick((e) => e.kind === 'message.delivered' || e.kind === 'message.recovered');
    case 'mailbox_full': return pick((e) => e.kind === 'message.delivery_failed');
    case 'tempfail_retried': case 'tempfail_not_retried': case 'tempfail_pending':
      return pick((e) => (REPLY_KINDS.has(e.kind) && (e.smtp_code ?? 0) >= 400 && (e.smtp_code ?? 0) < 500) || (e.kind === 'check.result' && (e.verdict === 'tempfail' || e.verdict === 'error')));
    case 'likely_too_large': case 'no_transaction': return pick((e) => e.kind === 'session.connect' || e.kind === 'session.helo' || e.kind === 'session.close');
    default: return [];
  }
}

/** The evidence of the attachments check: its refusal, else its event. */
export function attachmentsEvidence(events: readonly StoredEvent[]): Record<string, unknown> {
  const e = events.find((c) => c.kind === 'check.result' && c.check_name === 'attachments' && REFUSING.has(c.verdict ?? ''))
    ?? events.find((c) => c.kind === 'check.result' && c.check_name === 'attachments');
  return e ? checkEvidence(e) : {};
}

/** What the attachments check found, in words. */
export function attachmentWhat(ev: Record<string, unknown>, lang: Lang): string | null {
  const ext = str(ev.ext);
  const detected = str(ev.detected);
  switch (str(ev.rule)) {
    case 'macro': return lang === 'de' ? 'Office-Makros (ausführbarer Code)' : 'Office macros (executable code)';
    case 'content': return lang === 'de' ? `ein Programm (${detected ?? 'ausführbar'})` : `a program (${detected ?? 'executable'})`;
    case 'extension': return lang === 'de' ? `einen gesperrten Dateityp (.${ext ?? '?'})` : `a blocked file type (.${ext ?? '?'})`;
    case 'double_extension': return lang === 'de' ? `ein getarntes Programm (.${ext ?? '?'} hinter einer harmlosen Endung)` : `a disguised program (.${ext ?? '?'} behind a harmless extension)`;
    case 'encrypted_archive': return lang === 'de' ? 'ein verschlüsseltes Archiv, das nicht geprüft werden kann' : 'an encrypted archive that cannot be checked';
    default: return null;
  }
}

/** The records of a DNS answer as the checks store it (dns-evidence.ts). */
function recordsOf(answer: unknown): unknown[] {
  const r = (answer as { records?: unknown } | null)?.records;
  return Array.isArray(r) ? r : [];
}

function dedupe(list: StoredEvent[]): StoredEvent[] {
  const seen = new Set<number>();
  return list.filter((e) => (seen.has(e.id) ? false : (seen.add(e.id), true))).sort((a, b) => a.ts - b.ts || a.id - b.id);
}

/** The checks' names in words, for the cause of a 4xx. */
const CHECK_WORDS: Record<Lang, Record<string, string>> = {
  en: { dnsbl: 'the block list lookup', client_identity: 'the check of the sending server\'s name', sender_domain: 'the sender domain lookup', spf: 'the SPF lookup', dmarc: 'the DMARC lookup', recipient: 'the recipient verification', virus: 'the virus scanner', spam: 'the spam filter', attachments: 'the attachment check', rate: 'the sending rate limit' },
  de: { dnsbl: 'die Sperrlisten-Abfrage', client_identity: 'die Prüfung des Servernamens', sender_domain: 'die Abfrage der Absender-Domain', spf: 'die SPF-Abfrage', dmarc: 'die DMARC-Abfrage', recipient: 'die Prüfung des Empfängers', virus: 'der Virenscanner', spam: 'der Spamfilter', attachments: 'die Anhangprüfung', rate: 'die Begrenzung der Senderate' },
};

/** Why a journey got its 4xx, in words: the refusing check and its finding, a check that could not run, or the mailbox server's answer. */
export function tempfailCause(j: Pick<Journey, 'events' | 'reply' | 'client_ip'>, lang: Lang): string {
  const de = lang === 'de';
  const ip = j.client_ip ?? (de ? 'unbekannt' : 'unknown');
  const refusing = j.events.find((e) => e.kind === 'check.result' && e.verdict === 'tempfail');
  if (refusing) {
    const finding = checkEvidence(refusing).finding;
    switch (refusing.check_name) {
      case 'greylist': return de ? 'Greylisting (der erste Versuch eines unbekannten Absenders wird absichtlich aufgeschoben)' : 'greylisting (the first attempt of an unknown sender is deferred on purpose)';
      case 'client_identity':
        if (finding === 'no_ptr') return de ? `die Adresse des sendenden Servers ${ip} hat keinen Namen im DNS (keinen PTR-Eintrag)` : `the sending server's address ${ip} has no name in DNS (no PTR record)`;
        if (finding === 'no_fcrdns') return de ? `der Name des sendenden Servers ${ip} (PTR) zeigt nicht auf dessen Adresse zurück` : `the name (PTR) of the sending server ${ip} does not resolve back to its address`;
        break;
      case 'rate': return de ? 'der Server sendete mehr Nachrichten, als die Senderate erlaubt' : 'the server sent more messages than the sending rate allows';
      case 'spam': return de ? 'der Spamfilter fand die Nachricht verdächtig und schob sie auf' : 'the spam filter found the message suspicious and deferred it';
      default: break;
    }
    const name = CHECK_WORDS[lang][refusing.check_name ?? ''] ?? refusing.check_name ?? '?';
    const why = str((refusing.details as { reason?: unknown } | null)?.reason);
    return de ? `${name} sagte „später erneut versuchen“${why ? ` (${why})` : ''}` : `${name} said "try again later"${why ? ` (${why})` : ''}`;
  }
  const failed = j.events.find((e) => e.kind === 'check.result' && e.verdict === 'error');
  if (failed) {
    const name = CHECK_WORDS[lang][failed.check_name ?? ''] ?? failed.check_name ?? '?';
    const component = str((failed.details as { component?: unknown } | null)?.component);
    return de ? `${name} konnte nicht arbeiten${component ? ` (${component} nicht erreichbar oder fehlerhaft)` : ''}; das liegt auf unserer Seite`
      : `${name} could not run${component ? ` (${component} unreachable or failing)` : ''}; that is on our side`;
  }
  const downstream = j.events.find((e) => e.kind === 'message.delivery_failed' && (e.smtp_code ?? 0) >= 400 && (e.smtp_code ?? 0) < 500);
  if (downstream) {
    const r = str((downstream.details as { reply?: unknown } | null)?.reply) ?? downstream.reply;
    return de ? `der Postfach-Server nahm die Nachricht vorübergehend nicht an${r ? ` (${r})` : ''}` : `the mailbox server did not take the message for now${r ? ` (${r})` : ''}`;
  }
  return de ? `unser Server antwortete ${j.reply ?? 'mit einem 4xx-Code'}` : `our server answered ${j.reply ?? 'with a 4xx code'}`;
}

/** "2026-11-27 12:00 UTC" from an ISO time. */
function utcMinute(iso: string | undefined, unknown: string): string {
  if (!iso || !Number.isFinite(Date.parse(iso))) return unknown;
  return `${new Date(iso).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}


/** Spamhaus PBL and its kind, as checks/dnsbl words a listing's meaning: the address should not send mail directly at all. */
const DYNAMIC_MEANING = /dynamic|end-user|dial|residential|consumer|\bPBL\b/i;

/**
 * The facts of a journey as the ledger records them, null where it does not
 * know them. Texts built from these say less when a fact is missing; they
 * never fill in a guess.
 */
export interface KnownFacts {
  client_ip: string | null;
  client_ptr: string | null;
  /** '' is the null sender (<>). */
  mail_from: string | null;
  sender_domain: string | null;
  /** The domain SPF checked (its evidence), else the sender domain. */
  spf_domain: string | null;
  /** What SPF found for the refusal (fail, softfail, permerror ...), from its evidence. */
  spf_result: string | null;
  rcpt: string;
  /** The block lists that listed the client, by their names. */
  lists: string[];
  /** Some listing says dynamic or end-user address space; false: the listings say something else; null: no listing says what it means. */
  listed_dynamic: boolean | null;
  /** The virus scanner's signature. */
  signature: string | null;
  /** The attachments check's finding (its rule: macro, content, extension, double_extension ...). */
  rule: string | null;
  /** The attachment itself is what the check found (a program, a blocked type), rather than something inside it (macros, a file in an archive). */
  file_is_finding: boolean;
  file: string | null;
  attachment: AttachmentKind;
  score: string | null;
  reject_score: string | null;
  mx: string[];
  limit: string | null;
  /** The access that deleted the message, else the first access. */
  access: Access | null;
  /** The message was fetched (POP3 RETR) before it was deleted. */
  fetched: boolean;
  retry_by: string | null;
  helo: string | null;
  /** The first event's time (epoch ms). */
  started: number | null;
  /** When and how the message was delivered. */
  delivered: { ts: number; into: 'mailbox' | 'relay' } | null;
  outcome: Outcome | null;
}

type FactSource = Pick<Journey, 'mail_from' | 'rcpt' | 'client_ip' | 'events' | 'access' | 'reply' | 'retry_by'> & Partial<Pick<Journey, 'outcome'>>;

export function knownFactsOf(j: FactSource): KnownFacts {
  const checks = j.events.filter((e) => e.kind === 'check.result');
  const refusing = (name: string): StoredEvent | undefined => checks.find((c) => c.check_name === name && REFUSING.has(c.verdict ?? ''));
  const ev = (name: string): Record<string, unknown> => {
    const e = refusing(name) ?? checks.find((c) => c.check_name === name);
    return e ? checkEvidence(e) : {};
  };
  const dnsbl = ev('dnsbl');
  const zones = (Array.isArray(dnsbl.zones) ? dnsbl.zones as Record<string, unknown>[] : [])
    .filter((z) => z.type !== 'allow' && Array.isArray(z.listings) && z.listings.length > 0);
  const lists = zones.map((z) => str(z.name) ?? str(z.zone)).filter((x): x is string => !!x);
  const meanings = zones.flatMap((z) => (z.listings as Record<string, unknown>[]).map((l) => str(l.meaning) ?? '')).filter((m) => m && m !== 'listed');
  const virus = ev('virus');
  const att = ev('attachments');
  // The file of the refusal: the refusing check's, virus scanner first.
  const fileEv = refusing('virus') ? virus : refusing('attachments') ? att : Object.keys(virus).length ? virus : att;
  const spam = ev('spam');
  const sd = ev('sender_domain');
  const ci = ev('client_identity');
  const size = ev('size');
  const mx = recordsOf(sd.mx).map((m) => str((m as { exchange?: unknown } | null)?.exchange) ?? '').filter(Boolean);
  const senderDomain = str(sd.domain) ?? (j.mail_from?.includes('@') ? j.mail_from.slice(j.mail_from.lastIndexOf('@') + 1) : null);
  const access = j.access.find((a) => a.kind === 'pop3.dele' || a.kind === 'imap.expunge') ?? j.access[0] ?? null;
  const fetched = !!access && j.access.some((a) => a.kind === 'pop3.retr' && a.at <= access.at && (a.client_ip === access.client_ip || !access.client_ip));
  const ptr = str(ci.verified_name) ?? str(recordsOf(ci.ptr)[0]) ?? j.events.find((e) => e.client_ptr)?.client_ptr ?? null;
  // The SIZE our last EHLO reply announced (smtp/gateway.ts records it): the limit of a session that never sent MAIL.
  const announced = [...j.events].reverse().find((e) => e.kind === 'session.helo' && str(details(e).size_limit));
  const limit = str(size.limit) ?? (announced ? str(details(announced).size_limit) : null);
  const delivery = j.events.find((e) => (e.kind === 'message.delivered' || e.kind === 'message.recovered') && e.source !== 'dovecot')
    ?? j.events.find((e) => e.kind === 'message.delivered' || e.kind === 'message.recovered');
  return {
    client_ip: j.client_ip ?? null,
    client_ptr: ptr,
    mail_from: j.mail_from ?? null,
    sender_domain: senderDomain,
    spf_domain: str(ev('spf').domain) ?? senderDomain,
    spf_result: str(ev('spf').result),
    rcpt: j.rcpt,
    lists,
    listed_dynamic: meanings.length ? meanings.some((m) => DYNAMIC_MEANING.test(m)) : null,
    signature: str(virus.signature),
    rule: str(att.rule),
    file_is_finding: !str(virus.signature) && ['content', 'extension', 'double_extension'].includes(str(att.rule) ?? '') && !(Array.isArray(att.entry) && att.entry.length > 0),
    file: str(fileEv.filename) ?? str(virus.filename) ?? str(att.filename),
    attachment: Object.keys(fileEv).length ? attachmentKind(fileEv) : 'none',
    score: str(spam.score),
    reject_score: str(spam.reject_score),
    mx,
    limit,
    access,
    fetched,
    retry_by: j.retry_by && Number.isFinite(Date.parse(j.retry_by)) ? j.retry_by : null,
    helo: [...j.events].reverse().find((e) => e.helo)?.helo ?? null,
    started: j.events[0]?.ts ?? null,
    delivered: delivery ? { ts: delivery.ts, into: intoMailbox(delivery) ? 'mailbox' : 'relay' } : null,
    outcome: j.outcome ?? null,
  };
}

/** Facts of a journey for the texts; anything not known reads "unknown". */
export function factsOf(j: FactSource, lang: Lang, similar: string[] = []): Facts {
  const unknown = UNKNOWN[lang];
  const k = knownFactsOf(j);
  const ingestedList = j.events.find((c) => c.kind === 'check.result' && c.check_name === 'dnsbl' && c.source === 'postfix');
  const att = attachmentsEvidence(j.events);
  const sender = j.mail_from === '' ? (lang === 'de' ? 'leerer Absender (<>)' : 'the null sender (<>)') : j.mail_from ?? unknown;
  return {
    client_ip: k.client_ip ?? unknown,
    client_ptr: k.client_ptr ?? (lang === 'de' ? '(kein Name)' : '(no name)'),
    sender,
    sender_domain: k.sender_domain ?? unknown,
    spf_domain: k.spf_domain ?? unknown,
    rcpt: j.rcpt,
    lists: k.lists.length ? k.lists.join(', ') : ingestedList?.reply ? ingestedList.reply : (lang === 'de' ? 'einer Sperrliste' : 'a block list'),
    signature: k.signature ?? attachmentWhat(att, lang) ?? unknown,
    file: k.file ?? unknown,
    score: k.score ? (k.reject_score ? `${k.score} (limit ${k.reject_score})` : k.score) : unknown,
    mx: k.mx.length ? k.mx.join(', ') : unknown,
    limit: k.limit ? `${k.limit} bytes` : unknown,
    access_ip: k.access?.client_ip ?? unknown,
    access_at: k.access && Number.isFinite(Date.parse(k.access.at)) ? `${new Date(k.access.at).toISOString().slice(0, 19).replace('T', ' ')} UTC` : unknown,
    similar: similar.length ? (lang === 'de' ? ` Ein ähnliches Postfach existiert: ${similar.join(', ')}.` : ` A similar mailbox exists: ${similar.join(', ')}.`) : '',
    reply: j.reply ?? '',
    tempfail_cause: tempfailCause(j, lang),
    retry_by: utcMinute(j.retry_by, unknown),
    helo: k.helo ?? (lang === 'de' ? '(ohne Namen)' : '(no name)'),
    at: k.started !== null ? utcMinute(new Date(k.started).toISOString(), unknown) : unknown,
    delivered_at: k.delivered ? utcMinute(new Date(k.delivered.ts).toISOString(), unknown) : unknown,
    attachment_kind: k.attachment,
    file_is: k.file_is_finding ? 'yes' : '',
    listing_kind: k.listed_dynamic === null ? '' : k.listed_dynamic ? 'dynamic' : 'other',
    delivery_kind: k.delivered?.into ?? '',
    outcome: k.outcome ?? '',
  };
}

function fill(template: string, facts: Facts): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in facts ? String(facts[k as keyof Facts]) : m));
}

/**
 * The advice on a virus or dangerous attachment, by the kind of file: "send
 * it as PDF" cannot be the advice on an infected PDF, and a program is not
 * made safe by leaving out macros.
 */
export const VIRUS_ACTION: Record<AttachmentKind, Record<Lang, string>> = {
  office: {
    en: 'The sender must check the sending computer with an up-to-date virus scanner and send the document again, clean: without macros (saved as a normal .docx or .xlsx document) or as a PDF.',
    de: 'Der Absender muss den sendenden Rechner mit einem aktuellen Virenscanner prüfen und das Dokument sauber erneut senden: ohne Makros (als normales .docx- oder .xlsx-Dokument gespeichert) oder als PDF.',
  },
  pdf: {
    en: 'The sender must check the sending computer with an up-to-date virus scanner. The same PDF would be refused again: the sender must make a new PDF from the original document on a clean computer and send that.',
    de: 'Der Absender muss den sendenden Rechner mit einem aktuellen Virenscanner prüfen. Dieselbe PDF-Datei würde wieder abgelehnt: Er muss auf einem sauberen Rechner aus dem Originaldokument eine neue PDF-Datei erzeugen und diese senden.',
  },
  program: {
    en: 'Programs and scripts are not accepted by mail. If the sender did not mean to send a program, the file is very likely malware: the sender must not open it and must check the sending computer with an up-to-date virus scanner. A program the recipient really needs is better shared by a download link.',
    de: 'Programme und Skripte werden per E-Mail nicht angenommen. Wollte der Absender kein Programm senden, ist die Datei sehr wahrscheinlich Schadsoftware: Er darf sie nicht öffnen und muss den sendenden Rechner mit einem aktuellen Virenscanner prüfen. Ein Programm, das der Empfänger wirklich braucht, gibt man besser per Download-Link weiter.',
  },
  disguised: {
    en: 'The file is a program whose name makes it look like a document (a harmless extension before the real one); that is very likely malware. The sender must not open it and must check the sending computer with an up-to-date virus scanner; a real document is never sent as a program.',
    de: 'Die Datei ist ein Programm, dessen Name es wie ein Dokument aussehen lässt (eine harmlose Endung vor der echten); das ist sehr wahrscheinlich Schadsoftware. Der Absender darf sie nicht öffnen und muss den sendenden Rechner mit einem aktuellen Virenscanner prüfen; ein echtes Dokument wird nie als Programm verschickt.',
  },
  archive: {
    en: 'The sender must check the sending computer with an up-to-date virus scanner, then send the files again clean and not packed in an archive, or share them by a download link.',
    de: 'Der Absender muss den sendenden Rechner mit einem aktuellen Virenscanner prüfen und die Dateien danach sauber und nicht in ein Archiv verpackt erneut senden oder per Download-Link weitergeben.',
  },
  other: {
    en: 'The sender must check the sending computer with an up-to-date virus scanner and send the file again only once it is clean.',
    de: 'Der Absender muss den sendenden Rechner mit einem aktuellen Virenscanner prüfen und die Datei erst erneut senden, wenn sie sauber ist.',
  },
  none: {
    en: 'The sender must check the sending computer with an up-to-date virus scanner before sending the message again.',
    de: 'Der Absender muss den sendenden Rechner mit einem aktuellen Virenscanner prüfen, bevor er die Nachricht erneut sendet.',
  },
};

/** The texts that depend on more than the facts filled in: which file, which listing, delivered where. */
const VARIANTS = {
  virusFileIs: { en: 'The message was refused because the attachment {file} is {signature}.', de: 'Die Nachricht wurde abgelehnt, weil der Anhang {file} {signature} ist.' },
  virusNoFile: { en: 'The message was refused because it contains {signature}.', de: 'Die Nachricht wurde abgelehnt, weil sie {signature} enthält.' },
  virusNoSignature: { en: 'The message was refused because of the attachment {file}.', de: 'Die Nachricht wurde wegen des Anhangs {file} abgelehnt.' },
  virusNothing: { en: 'The message was refused by the virus scanner or the attachment check.', de: 'Die Nachricht wurde vom Virenscanner oder von der Anhangprüfung abgelehnt.' },
  listedDynamic: {
    en: "The address is listed as a dynamic or end-user address, from which mail servers are not expected to send directly; removal from the list is not the fix. The sender's mail server must send through its provider's mail server (smarthost).",
    de: 'Die Adresse ist als dynamische oder Endkunden-Adresse gelistet, von der Mailserver nicht direkt senden sollen; eine Austragung ist nicht die Lösung. Der Mailserver des Absenders muss über den Mailserver seines Providers (Smarthost) senden.',
  },
  deliveredRelayWhat: {
    en: 'The message from {sender} was accepted and handed on to the mail server behind this gateway for {rcpt}.',
    de: 'Die Nachricht von {sender} wurde angenommen und für {rcpt} an den nachgelagerten Mailserver übergeben.',
  },
  deliveredRelayAction: {
    en: 'Nothing was lost on the way in. If the recipient does not see it, look at the mail server it was handed to and behind it: mail programs, filters, other computers fetching the mailbox.',
    de: 'Auf dem Weg hierher ging nichts verloren. Sieht der Empfänger sie nicht, liegt die Ursache beim Mailserver, dem sie übergeben wurde, oder dahinter: Mailprogramme, Filter, andere Rechner, die das Postfach abrufen.',
  },
  // A delivered journey's deferral is the mail server's own queue retrying (an ingested Postfix), not the sender.
  deferredWhat: {
    en: 'Delivery was deferred at first. The reason: {tempfail_cause}. The mail server tried again later and delivered the message.',
    de: 'Die Zustellung wurde zunächst aufgeschoben, Grund: {tempfail_cause}; der Mailserver hat es später erneut versucht und die Nachricht zugestellt.',
  },
  // The mailbox access was logged without the client's address (an ingested line without rip=).
  fetchedNoIpWhat: {
    en: 'The message was delivered, then fetched and deleted at {access_at} by a mail program; the log does not name its address.',
    de: 'Die Nachricht wurde zugestellt und am {access_at} von einem Mailprogramm abgerufen und gelöscht; das Protokoll nennt dessen Adresse nicht.',
  },
  fetchedNoIpAction: {
    en: 'Find the computer or phone that fetches this mailbox (a PC in the office, a phone, a laptop at home): it downloads the mailbox and deletes the messages from the server. Set it to leave copies on the server, or remove the account there.',
    de: 'Suchen Sie den Rechner oder das Telefon, das dieses Postfach abruft (ein PC im Büro, ein Telefon, ein Laptop zu Hause): Es lädt das Postfach herunter und löscht die Nachrichten auf dem Server. Stellen Sie dort „Kopie auf dem Server lassen“ ein oder entfernen Sie das Konto.',
  },
  deferredAction: { en: 'Nothing to do: the message arrived with a delay.', de: 'Nichts zu tun: Die Nachricht kam mit Verzögerung an.' },
} satisfies Record<string, Record<Lang, string>>;

/** The explanation of one code, with the facts filled in. */
export function explainCode(code: string, lang: Lang, facts: Facts): Omit<Finding, 'evidence'> {
  if (!isCode(code)) return { code, side: 'none', title: code, what: code, action: '' };
  const c = CATALOGUE[code];
  let { what, action } = c[lang];
  const unknown = UNKNOWN[lang];
  switch (code) {
    case 'virus': {
      const file = facts.file !== unknown;
      const signature = facts.signature !== unknown;
      if (!file) what = signature ? VARIANTS.virusNoFile[lang] : VARIANTS.virusNothing[lang];
      else if (!signature) what = VARIANTS.virusNoSignature[lang];
      else if (facts.file_is) what = VARIANTS.virusFileIs[lang];
      action = VIRUS_ACTION[facts.attachment_kind][lang];
      break;
    }
    case 'sender_ip_blocklisted':
      if (facts.listing_kind === 'dynamic') action = VARIANTS.listedDynamic[lang];
      break;
    case 'delivered':
      if (facts.delivery_kind === 'relay') { what = VARIANTS.deliveredRelayWhat[lang]; action = VARIANTS.deliveredRelayAction[lang]; }
      break;
    case 'fetched_and_deleted':
      if (facts.access_ip === unknown) { what = VARIANTS.fetchedNoIpWhat[lang]; action = VARIANTS.fetchedNoIpAction[lang]; }
      break;
    case 'tempfail_retried':
      if (facts.outcome === 'delivered') { what = VARIANTS.deferredWhat[lang]; action = VARIANTS.deferredAction[lang]; }
      break;
    default: break;
  }
  return { code, side: c.side, title: c[lang].title, what: fill(what, facts), action: fill(action, facts) };
}

/**
 * no_attempt_seen for a customer: research looked only at mail to the
 * customer's own domains (visibility.ts), so the text claims no more than
 * that; whether the sender reached anybody else is not the customer's business.
 */
const NO_ATTEMPT_TO: Record<Lang, string> = {
  en: 'No message from {sender} (its domain or its servers) to {rcpt} reached our servers in the searched time.',
  de: 'Im gesuchten Zeitraum erreichte keine Nachricht von {sender} (seiner Domain oder seinen Servern) an {rcpt} unsere Server.',
};

export function explainNoAttemptTo(lang: Lang, facts: Facts): Omit<Finding, 'evidence'> {
  return { ...explainCode('no_attempt_seen', lang, facts), what: fill(NO_ATTEMPT_TO[lang], facts) };
}

/**
 * Where a code stands among a journey's findings: the cause first (where
 * the message went in the mailbox, the refusing check), then what research
 * cannot see (access_not_recorded), then the retry story of a 4xx, and the
 * generic "delivered" last.
 */
const LATER: Partial<Record<Code, number>> = { access_not_recorded: 1, tempfail_pending: 2, tempfail_not_retried: 2, tempfail_retried: 2, delivered: 3 };

/** Findings (or anything with a code) in the order pages show them: causes first, generic last; otherwise as given. */
export function orderFindings<F extends { code: string }>(list: readonly F[]): F[] {
  const rank = (code: string): number => (isCode(code) ? LATER[code] ?? 0 : 0);
  return list.map((f, i) => ({ f, i })).sort((a, b) => rank(a.f.code) - rank(b.f.code) || a.i - b.i).map((x) => x.f);
}

/** Every diagnosis code of a journey, explained, with its proof; the cause first (orderFindings). */
export function explainJourney(j: Journey, lang: Lang): Finding[] {
  const facts = factsOf(j, lang, j.near_misses.filter((n) => n.kind === 'similar_mailbox').map((n) => n.value));
  return orderFindings(j.diagnosis.map((code) => ({ ...explainCode(code, lang, facts), evidence: evidenceEvents(j, code).map((e) => e.id) })));
}

/** The codes that say "it is in the mailbox", whatever happened there since: to the sender, all one. */
export const DELIVERED_CODES: readonly Code[] = ['delivered', 'fetched_and_deleted', 'delivered_not_fetched', 'access_not_recorded'];

/** What happened in the recipient's mailbox after the delivery: the customer's business, never the sender's. */
const MAILBOX_CODES = ['fetched_and_deleted', 'delivered_not_fetched', 'access_not_recorded'] as const;
type PublicCode = Exclude<Code, (typeof MAILBOX_CODES)[number]>;

function isPublicCode(code: Code): code is PublicCode {
  return !(MAILBOX_CODES as readonly string[]).includes(code);
}

/** The codes the public REF page can explain: every code but the mailbox's (a new code fails to compile in FOR_SENDER until it has its texts). */
export const PUBLIC_CODES: readonly PublicCode[] = CODES.filter(isPublicCode);

/** Why a 4xx was given, as the sender reads it; it picks the advice (TEMPFAIL_FIX). */
export const TEMPFAIL_KINDS = ['greylist', 'no_ptr', 'no_fcrdns', 'rate', 'spam', 'ours', 'lookup', 'recipient', 'mailbox', 'check', 'reply'] as const;
export type TempfailKind = (typeof TEMPFAIL_KINDS)[number];

/** The facts of the sender's texts: the staff's, with the sender's words for a 4xx and what picks a text's variant. */
export interface SenderFacts extends Facts {
  tempfail_kind: TempfailKind;
  /** What SPF found (fail, softfail, permerror ...); '' unknown. */
  spf_result: string;
  /** yes: our server refused while the sender's server was connected (RCPT or DATA), rather than in a later bounce. */
  in_session: 'yes' | '';
}

/**
 * Why a journey got its 4xx, for the sender: in the second person, and
 * without our internals (no component names, no replies of the mailbox
 * server behind us, no check's inner reason); tempfailCause is the staff's.
 */
export function tempfailForSender(j: Pick<Journey, 'events' | 'reply' | 'client_ip'>, lang: Lang): { kind: TempfailKind; cause: string } {
  const de = lang === 'de';
  const ip = j.client_ip ? ` ${j.client_ip}` : '';
  const refusing = j.events.find((e) => e.kind === 'check.result' && e.verdict === 'tempfail');
  if (refusing) {
    const ev = checkEvidence(refusing);
    const name = CHECK_WORDS[lang][refusing.check_name ?? ''] ?? checkName(lang, refusing.check_name);
    switch (refusing.check_name) {
      case 'greylist':
        return { kind: 'greylist', cause: de ? 'Greylisting (der erste Versuch eines bisher unbekannten Absenders wird absichtlich aufgeschoben)' : 'greylisting (the first attempt from a sender not seen before is deferred on purpose)' };
      case 'client_identity':
        if (ev.finding === 'no_ptr') return { kind: 'no_ptr', cause: de ? `die Adresse Ihres Servers${ip} hat keinen Namen im DNS (keinen PTR-Eintrag)` : `your server's address${ip} has no name in DNS (no PTR record)` };
        if (ev.finding === 'no_fcrdns') return { kind: 'no_fcrdns', cause: de ? `der Name (PTR) der Adresse Ihres Servers${ip} zeigt nicht auf diese Adresse zurück` : `the name (PTR) of your server's address${ip} does not resolve back to that address` };
        break;
      case 'rate': return { kind: 'rate', cause: de ? 'Ihr Server sendete mehr Nachrichten, als unsere Senderate erlaubt' : 'your server sent more messages than our sending rate allows' };
      case 'recipient': return { kind: 'recipient', cause: de ? 'die Empfängeradresse ließ sich vorerst nicht bestätigen' : 'the recipient address could not be confirmed for now' };
      case 'spam':
        if (ev.component === undefined) return { kind: 'spam', cause: de ? 'unser Spamfilter fand die Nachricht verdächtig und schob sie auf' : 'our spam filter found the message suspicious and deferred it' };
        break;
      default: break;
    }
    const component = str(ev.component);
    // A DNS lookup that failed for now may be our resolver's fault or the sender's DNS servers': not said whose.
    if (component === 'dns') return { kind: 'lookup', cause: de ? `${name} konnte vorerst nicht abgeschlossen werden (ein vorübergehender DNS-Fehler)` : `${name} could not be completed for now (a temporary DNS error)` };
    if (component) return { kind: 'ours', cause: de ? `${name} konnte nicht arbeiten; das liegt auf unserer Seite` : `${name} could not run; that is on our side` };
    return { kind: 'check', cause: de ? `${name} bat Ihren Server, es später erneut zu versuchen` : `${name} asked your server to try again later` };
  }
  const failed = j.events.find((e) => e.kind === 'check.result' && e.verdict === 'error');
  if (failed) {
    const name = CHECK_WORDS[lang][failed.check_name ?? ''] ?? checkName(lang, failed.check_name);
    return { kind: 'ours', cause: de ? `${name} konnte nicht arbeiten; das liegt auf unserer Seite` : `${name} could not run; that is on our side` };
  }
  if (j.events.some((e) => e.kind === 'message.delivery_failed' && (e.smtp_code ?? 0) >= 400 && (e.smtp_code ?? 0) < 500)) {
    return { kind: 'mailbox', cause: de ? 'der Postfach-Server nahm die Nachricht vorerst nicht an' : 'the mailbox server did not take the message for now' };
  }
  return { kind: 'reply', cause: de ? `unser Server antwortete ${j.reply ?? 'mit einem 4xx-Code'}` : `our server answered ${j.reply ?? 'with a 4xx code'}` };
}

/**
 * Codes a 4xx gave without the check finding anything: it could not judge
 * the message (our scanner or a DNS lookup failed, so the event names the
 * component; the recipient could not be verified for now). diagnosis.ts
 * gives such a tempfail the check's code all the same (an SPF temperror is
 * spf_fail), which the sender must not read as "your server may not send".
 */
function unjudgedCodes(j: Pick<Journey, 'events'>): Set<string> {
  const refusals = j.events.filter((e) => e.kind === 'check.result' && REFUSING.has(e.verdict ?? ''));
  const judged = new Set(refusals.filter((e) => !couldNotJudge(e)).map(checkCode));
  return new Set(refusals.filter(couldNotJudge).map(checkCode).filter((c): c is Code => c !== null && !judged.has(c)));
}

/** A journey's codes as the sender may read them (unjudgedCodes left out), cause first (orderFindings). */
export function codesForSender(j: Pick<Journey, 'events' | 'diagnosis'>): string[] {
  const unjudged = unjudgedCodes(j);
  return orderFindings(j.diagnosis.filter((c) => !unjudged.has(c)).map((code) => ({ code }))).map((x) => x.code);
}

/** The facts of a journey for the sender's texts. */
export function senderFactsOf(j: FactSource, lang: Lang): SenderFacts {
  const facts = factsOf(j, lang);
  const k = knownFactsOf(j);
  const de = lang === 'de';
  const t = tempfailForSender(j, lang);
  return {
    ...facts,
    // Unknown rather than "(no name)", so that fillKnown leaves the part out.
    helo: k.helo ?? UNKNOWN[lang],
    client_ptr: k.client_ptr ?? UNKNOWN[lang],
    // German units in German sentences (the staff's texts keep their own).
    score: k.score ? (k.reject_score ? `${k.score}, ${de ? 'Grenze' : 'limit'} ${k.reject_score}` : k.score) : facts.score,
    limit: k.limit ? `${k.limit} ${de ? 'Bytes' : 'bytes'}` : facts.limit,
    tempfail_cause: t.cause,
    tempfail_kind: t.kind,
    spf_result: k.spf_result ?? '',
    in_session: j.events.some((e) => e.kind === 'rcpt.rejected' || e.kind === 'data.rejected') ? 'yes' : '',
  };
}

/**
 * `fill` for the sender's texts, which say less where a fact is missing:
 * a part in [brackets] is left out when a fact in it is unknown ("Your
 * server[ {client_ip}] is listed" reads "Your server is listed"), so no
 * sentence reads "unknown" or guesses. No other text uses brackets.
 */
function fillKnown(template: string, facts: SenderFacts, lang: Lang): string {
  const known = (key: string): boolean => {
    const v = key in facts ? String(facts[key as keyof SenderFacts]) : '';
    return v !== '' && v !== UNKNOWN[lang];
  };
  const kept = template.replace(/\[([^\]]*)\]/g, (_, part: string) => ([...part.matchAll(/\{(\w+)\}/g)].every((m) => known(m[1]!)) ? part : ''));
  return fill(kept, facts);
}

/**
 * The texts for the sender (the public REF page), addressed to the sender:
 * "you", "your server", "your mail administrator"; German formal "Sie",
 * "Ihr Server", "Ihr Mail-Administrator". The recipient's address is never
 * filled in (the page masks it as "the recipient address"); what happened
 * in the mailbox after the delivery is not the sender's business.
 */
const FOR_SENDER: Record<PublicCode, Record<Lang, Text>> = {
  delivered: {
    // `what` is deliveredForSender's: when, and into a mailbox or to the next mail server.
    en: { title: 'Delivered', what: '', action: 'Nothing more to do on your side. If the recipient does not see it, ask them to check their mail program, its filter rules and the spam folder.' },
    de: { title: 'Zugestellt', what: '', action: 'Auf Ihrer Seite ist nichts mehr zu tun. Sieht der Empfänger sie nicht, bitten Sie ihn, sein Mailprogramm, dessen Filterregeln und den Spam-Ordner zu prüfen.' },
  },
  virus: {
    // `what` by what the scanner named (SENDER_VARIANTS), `action` by the kind of file (VIRUS_FOR_SENDER).
    en: { title: 'Virus or dangerous attachment', what: 'Your message was refused because the attachment {file} contains {signature}.', action: '' },
    de: { title: 'Virus oder gefährlicher Anhang', what: 'Ihre Nachricht wurde abgelehnt, weil der Anhang {file} {signature} enthält.', action: '' },
  },
  spam: {
    en: { title: 'Refused as spam', what: 'Our content filter refused your message as spam[ (score {score})].', action: 'Send the message again without what makes it look like spam (links to dubious sites, nothing but large images, mass-mail headers), or ask the recipient to have your server allow-listed.' },
    de: { title: 'Als Spam abgelehnt', what: 'Unser Inhaltsfilter lehnte Ihre Nachricht als Spam ab[ (Wert {score})].', action: 'Senden Sie die Nachricht ohne die Spam-Merkmale erneut (Links auf zweifelhafte Seiten, nur große Bilder, Massenmail-Kopfzeilen), oder bitten Sie den Empfänger, Ihren Server freischalten zu lassen.' },
  },
  sender_ip_blocklisted: {
    // `action` by what the listing says (SENDER_VARIANTS): a dynamic address is not fixed by asking for removal.
    en: { title: 'Your server is on a block list', what: 'Your server[ {client_ip}] is listed on {lists}, so our server did not accept the message from it.', action: '' },
    de: { title: 'Ihr Server steht auf einer Sperrliste', what: 'Ihr Server[ {client_ip}] steht auf {lists}; deshalb hat unser Server die Nachricht von ihm nicht angenommen.', action: '' },
  },
  sender_dynamic_ip: {
    en: { title: 'Sent from a dynamic (dial-up/DSL) address', what: 'Your server[ {client_ip}] has the name {client_ptr}, which marks a dynamic end-user address; mail servers on such addresses are not accepted.', action: "Send through your provider's mail server (smarthost) instead of delivering directly from your DSL line: your mail administrator sets it up in your mail server (for example an in-house Exchange)." },
    de: { title: 'Versand von einer dynamischen (DSL-)Adresse', what: 'Ihr Server[ {client_ip}] heißt {client_ptr}; der Name kennzeichnet eine dynamische Endkunden-Adresse, und Mailserver auf solchen Adressen werden nicht angenommen.', action: 'Senden Sie über den Mailserver Ihres Providers (Smarthost), statt direkt von Ihrer DSL-Leitung zuzustellen: Ihr Mail-Administrator richtet ihn in Ihrem Mailserver ein (etwa einem hauseigenen Exchange).' },
  },
  sender_mx_is_ip: {
    en: { title: "Your domain's MX is an IP address", what: 'The MX record of your domain[ {sender_domain}] names an IP address instead of a host name[ ({mx})]; RFC 5321 section 5.1 and RFC 1035 require a name, so mail servers may not be able to deliver replies to you.', action: 'Have whoever runs the DNS of your domain (usually your provider) set the MX record to a host name that has an address record.' },
    de: { title: 'Der MX Ihrer Domain ist eine IP-Adresse', what: 'Der MX-Eintrag Ihrer Domain[ {sender_domain}] nennt eine IP-Adresse statt eines Hostnamens[ ({mx})]; RFC 5321 Abschnitt 5.1 und RFC 1035 verlangen einen Namen, daher können Mailserver Antworten an Sie womöglich nicht zustellen.', action: 'Lassen Sie vom Betreiber des DNS Ihrer Domain (meist Ihr Provider) als MX einen Hostnamen mit Adresseintrag eintragen.' },
  },
  sender_domain_unresolvable: {
    en: { title: 'Your sender domain does not exist or takes no mail', what: 'Your sender domain[ {sender_domain}] has no mail server in DNS (it does not exist, has no MX or address record, or says it takes no mail); no reply could reach you there.', action: 'Send from a working sender address, or have the DNS of your domain fixed (usually by your provider).' },
    de: { title: 'Ihre Absender-Domain existiert nicht oder nimmt keine Mail an', what: 'Ihre Absender-Domain[ {sender_domain}] hat im DNS keinen Mailserver (sie existiert nicht, hat keinen MX- oder Adresseintrag, oder sie erklärt, keine Mail anzunehmen); keine Antwort könnte Sie dort erreichen.', action: 'Senden Sie von einer funktionierenden Absenderadresse, oder lassen Sie das DNS Ihrer Domain reparieren (meist durch Ihren Provider).' },
  },
  spf_fail: {
    // `what` and `action` by what SPF found (SENDER_VARIANTS): a broken record is not "your server may not send".
    en: { title: 'SPF: your server may not send for the domain', what: 'The SPF record[ of {spf_domain}] does not allow your server[ {client_ip}] to send mail for that domain.', action: 'Send through a server that the SPF record[ of {spf_domain}] names, or have your mail administrator add your server to the record.' },
    de: { title: 'SPF: Ihr Server darf nicht für die Domain senden', what: 'Der SPF-Eintrag[ von {spf_domain}] erlaubt Ihrem Server[ {client_ip}] nicht, für diese Domain zu senden.', action: 'Senden Sie über einen Server, den der SPF-Eintrag[ von {spf_domain}] nennt, oder lassen Sie Ihren Mail-Administrator Ihren Server in den Eintrag aufnehmen.' },
  },
  dmarc_reject: {
    en: { title: 'DMARC: the domain asks to refuse this message', what: 'Your message failed the DMARC policy of the domain in its From: header, which asks receivers to reject such mail.', action: 'Ask your mail administrator to make your messages pass SPF or DKIM aligned with the From: domain (for example, by signing them with DKIM).' },
    de: { title: 'DMARC: Die Domain verlangt die Ablehnung', what: 'Ihre Nachricht erfüllte die DMARC-Richtlinie der Domain im From:-Kopf nicht, und diese verlangt die Ablehnung solcher Mail.', action: 'Bitten Sie Ihren Mail-Administrator, dafür zu sorgen, dass Ihre Nachrichten SPF oder DKIM passend zur From:-Domain bestehen (etwa, indem er sie mit DKIM signiert).' },
  },
  unknown_recipient: {
    // Never {rcpt}: the page masks the address, and "the address the recipient address" reads wrong.
    en: { title: 'No such mailbox', what: 'The recipient address does not exist here; your server got this answer at once.', action: 'Check the address for typos and send your message again to the correct address.' },
    de: { title: 'Postfach existiert nicht', what: 'Die Empfängeradresse gibt es hier nicht; Ihr Server bekam diese Antwort sofort.', action: 'Prüfen Sie die Adresse auf Tippfehler und senden Sie Ihre Nachricht erneut an die richtige Adresse.' },
  },
  message_too_large: {
    en: { title: 'Message too large', what: 'Your message is larger than the size limit[ of {limit}] and was refused.', action: 'Send large files another way (a download link), or in smaller parts[, each under {limit}].' },
    de: { title: 'Nachricht zu groß', what: 'Ihre Nachricht ist größer als die Größengrenze[ von {limit}] und wurde abgelehnt.', action: 'Senden Sie große Dateien auf anderem Weg (als Download-Link) oder in kleineren Teilen[, jeweils unter {limit}].' },
  },
  mailbox_full: {
    en: { title: "Recipient's mailbox full", what: "The recipient's mailbox was full, so your message could not be stored.", action: "This is on the recipient's side: let the recipient know another way (by phone, for example); once they have made room, you can send the message again." },
    de: { title: 'Postfach des Empfängers voll', what: 'Das Postfach des Empfängers war voll; Ihre Nachricht konnte nicht gespeichert werden.', action: 'Das liegt auf der Seite des Empfängers: Informieren Sie ihn auf anderem Weg (etwa telefonisch); sobald er Platz geschaffen hat, können Sie die Nachricht erneut senden.' },
  },
  // The 4xx: what the sender's server was asked, whether it did, and only then what to do (TEMPFAIL_FIX first, by the cause).
  tempfail_not_retried: {
    en: { title: 'Temporarily refused, not retried', what: 'Your server was asked to try again later. The reason: {tempfail_cause}. It did not try again: no further attempt of this message has reached us.', action: "Ask your mail administrator to check your server's queue and log for this message: after a temporary refusal (4xx) a mail server must keep trying for days (RFC 5321 section 4.5.4.1). If your server gave the message up, send it again." },
    de: { title: 'Vorübergehend abgewiesen, nicht erneut versucht', what: 'Ihr Server wurde gebeten, es später erneut zu versuchen. Grund: {tempfail_cause}. Er hat es nicht erneut versucht: Kein weiterer Versuch dieser Nachricht hat uns erreicht.', action: 'Bitten Sie Ihren Mail-Administrator, Warteschlange und Protokoll Ihres Servers für diese Nachricht zu prüfen: Nach einer vorübergehenden Abweisung (4xx) muss ein Mailserver es über Tage weiter versuchen (RFC 5321 Abschnitt 4.5.4.1). Hat Ihr Server die Nachricht aufgegeben, senden Sie sie erneut.' },
  },
  tempfail_retried: {
    en: { title: 'Temporarily refused, then retried', what: 'Your server was asked to try again later. The reason: {tempfail_cause}. It did: a later attempt of this message reached us.', action: 'Nothing to do about this attempt. The later attempt has its own reference, in our answer to it.' },
    de: { title: 'Vorübergehend abgewiesen, dann erneut versucht', what: 'Ihr Server wurde gebeten, es später erneut zu versuchen. Grund: {tempfail_cause}. Er hat das getan: Ein späterer Versuch dieser Nachricht hat uns erreicht.', action: 'Zu diesem Versuch ist nichts zu tun. Der spätere Versuch hat eine eigene Referenz, in unserer Antwort darauf.' },
  },
  tempfail_pending: {
    en: { title: 'Temporarily refused; your server should try again', what: 'Your server was asked to try again later. The reason: {tempfail_cause}. No new attempt of this message has reached us yet; one is expected[ by {retry_by}].', action: "Mail servers try again on their own, so there is nothing to do for now. If the message has not been delivered[ by {retry_by}], ask your mail administrator to check your server's queue." },
    de: { title: 'Vorübergehend abgewiesen; Ihr Server sollte es erneut versuchen', what: 'Ihr Server wurde gebeten, es später erneut zu versuchen. Grund: {tempfail_cause}. Ein neuer Versuch dieser Nachricht hat uns noch nicht erreicht; er wird[ bis {retry_by}] erwartet.', action: 'Mailserver versuchen es von selbst erneut; im Moment ist also nichts zu tun. Ist die Nachricht[ bis {retry_by}] nicht zugestellt, bitten Sie Ihren Mail-Administrator, die Warteschlange Ihres Servers zu prüfen.' },
  },
  // On a REF page only in principle (a REF has an attempt); for completeness, as the sender would read it.
  no_attempt_seen: {
    en: { title: 'No attempt from you reached us', what: 'In the searched time, no connection from[ {sender},] your domain or your servers reached our servers.', action: "Check your outbox, and ask your mail administrator to check your server's log: the message did not leave, or went to another address." },
    de: { title: 'Kein Versuch von Ihnen hat uns erreicht', what: 'Im gesuchten Zeitraum erreichte keine Verbindung von[ {sender},] Ihrer Domain oder Ihren Servern unsere Server.', action: 'Prüfen Sie Ihren Postausgang, und bitten Sie Ihren Mail-Administrator, das Protokoll Ihres Servers zu prüfen: Die Nachricht wurde nicht abgeschickt oder ging an eine andere Adresse.' },
  },
  likely_too_large: {
    en: { title: 'Likely too large, refused by your own server', what: 'Your server[ {helo}][ ({client_ip})] connected[ at {at}], read our greeting that announced the size limit[ of {limit}], and disconnected without sending a message. This is what a mail server does when its message is larger than the limit: it refuses the message itself and returns it to you ("message size ... exceeds size limit ... of server"), so the message never reached us.', action: 'Send large files another way (a download link), or in smaller parts[, each under {limit}].' },
    de: { title: 'Vermutlich zu groß, von Ihrem eigenen Server abgewiesen', what: 'Ihr Server[ {helo}][ ({client_ip})] verband sich[ am {at}], las unsere Begrüßung mit der Größengrenze[ von {limit}] und trennte die Verbindung, ohne eine Nachricht zu senden. So verhält sich ein Mailserver, dessen Nachricht größer als die Grenze ist: Er weist die Nachricht selbst ab und schickt sie an Sie zurück („message size ... exceeds size limit ... of server“); die Nachricht hat uns nie erreicht.', action: 'Senden Sie große Dateien auf anderem Weg (als Download-Link) oder in kleineren Teilen[, jeweils unter {limit}].' },
  },
  no_transaction: {
    en: { title: 'Connection without a message', what: 'Your server[ {helo}][ ({client_ip})] connected[ at {at}] and disconnected without starting a message (no MAIL FROM).', action: "Your mail administrator can find the reason in your server's log for this time." },
    de: { title: 'Verbindung ohne Nachricht', what: 'Ihr Server[ {helo}][ ({client_ip})] verband sich[ am {at}] und trennte die Verbindung, ohne eine Nachricht zu beginnen (kein MAIL FROM).', action: 'Ihr Mail-Administrator findet den Grund im Protokoll Ihres Servers zu dieser Zeit.' },
  },
};

/** The virus advice for the sender, by the kind of file (VIRUS_ACTION is the staff's): an infected PDF is not told to send a PDF. */
export const VIRUS_FOR_SENDER: Record<AttachmentKind, Record<Lang, string>> = {
  office: {
    en: 'Check your computer with an up-to-date virus scanner and send the document again, clean: without macros (saved as a normal .docx or .xlsx document) or as a PDF.',
    de: 'Prüfen Sie Ihren Rechner mit einem aktuellen Virenscanner und senden Sie das Dokument sauber erneut: ohne Makros (als normales .docx- oder .xlsx-Dokument gespeichert) oder als PDF.',
  },
  pdf: {
    en: 'Check your computer with an up-to-date virus scanner. The same PDF would be refused again: make a new PDF from the original document on a clean computer and send that.',
    de: 'Prüfen Sie Ihren Rechner mit einem aktuellen Virenscanner. Dieselbe PDF-Datei würde wieder abgelehnt: Erzeugen Sie auf einem sauberen Rechner aus dem Originaldokument eine neue PDF-Datei und senden Sie diese.',
  },
  program: {
    en: 'Programs and scripts are not accepted by mail. If you did not mean to send a program, the file is very likely malware: do not open it, and check your computer with an up-to-date virus scanner. A program the recipient really needs is better shared by a download link.',
    de: 'Programme und Skripte werden per E-Mail nicht angenommen. Wollten Sie kein Programm senden, ist die Datei sehr wahrscheinlich Schadsoftware: Öffnen Sie sie nicht, und prüfen Sie Ihren Rechner mit einem aktuellen Virenscanner. Ein Programm, das der Empfänger wirklich braucht, geben Sie besser per Download-Link weiter.',
  },
  disguised: {
    en: 'The file is a program whose name makes it look like a document (a harmless extension before the real one); that is very likely malware. Do not open it, and check your computer with an up-to-date virus scanner; a real document is never sent as a program.',
    de: 'Die Datei ist ein Programm, dessen Name es wie ein Dokument aussehen lässt (eine harmlose Endung vor der echten); das ist sehr wahrscheinlich Schadsoftware. Öffnen Sie sie nicht, und prüfen Sie Ihren Rechner mit einem aktuellen Virenscanner; ein echtes Dokument wird nie als Programm verschickt.',
  },
  archive: {
    en: 'Check your computer with an up-to-date virus scanner, then send the files again clean and not packed in an archive, or share them by a download link.',
    de: 'Prüfen Sie Ihren Rechner mit einem aktuellen Virenscanner, und senden Sie die Dateien danach sauber und nicht in ein Archiv verpackt erneut, oder geben Sie sie per Download-Link weiter.',
  },
  other: {
    en: 'Check your computer with an up-to-date virus scanner, and send the file again only once it is clean.',
    de: 'Prüfen Sie Ihren Rechner mit einem aktuellen Virenscanner, und senden Sie die Datei erst erneut, wenn sie sauber ist.',
  },
  none: {
    en: 'Check your computer with an up-to-date virus scanner before you send the message again.',
    de: 'Prüfen Sie Ihren Rechner mit einem aktuellen Virenscanner, bevor Sie die Nachricht erneut senden.',
  },
};

/** What the sender can do about the cause of a 4xx, before the retry advice; '' where the retry is all it takes. */
const TEMPFAIL_FIX: Record<TempfailKind, Record<Lang, string>> = {
  greylist: { en: '', de: '' },
  no_ptr: {
    en: 'Ask whoever runs the address[ {client_ip}] (usually your provider) to give it a name (PTR record) that resolves back to the address; until then, your server\'s attempts may be refused the same way.',
    de: 'Bitten Sie den Betreiber der Adresse[ {client_ip}] (meist Ihr Provider), ihr einen Namen (PTR-Eintrag) zu geben, der auf die Adresse zurückzeigt; bis dahin können die Versuche Ihres Servers ebenso abgewiesen werden.',
  },
  no_fcrdns: {
    en: 'Ask whoever runs the address[ {client_ip}] (usually your provider) to make its name (PTR record) resolve back to the address; until then, your server\'s attempts may be refused the same way.',
    de: 'Bitten Sie den Betreiber der Adresse[ {client_ip}] (meist Ihr Provider), dafür zu sorgen, dass ihr Name (PTR-Eintrag) auf die Adresse zurückzeigt; bis dahin können die Versuche Ihres Servers ebenso abgewiesen werden.',
  },
  rate: {
    en: 'If your server sends us many messages at once, ask your mail administrator to have it send them more slowly.',
    de: 'Sendet Ihr Server uns viele Nachrichten auf einmal, bitten Sie Ihren Mail-Administrator, sie langsamer senden zu lassen.',
  },
  spam: { en: '', de: '' },
  ours: { en: 'The temporary refusal was caused on our side; there is nothing for you to change about it.', de: 'Die vorübergehende Abweisung lag an unserer Seite; daran müssen Sie nichts ändern.' },
  lookup: { en: '', de: '' },
  recipient: { en: '', de: '' },
  mailbox: { en: '', de: '' },
  check: { en: '', de: '' },
  reply: { en: '', de: '' },
};

/** The sender's texts that depend on more than the facts filled in. */
const SENDER_VARIANTS = {
  virusFileIs: { en: 'Your message was refused because the attachment {file} is {signature}.', de: 'Ihre Nachricht wurde abgelehnt, weil der Anhang {file} {signature} ist.' },
  virusNoFile: { en: 'Your message was refused because it contains {signature}.', de: 'Ihre Nachricht wurde abgelehnt, weil sie {signature} enthält.' },
  virusNoSignature: { en: 'Your message was refused because of the attachment {file}.', de: 'Ihre Nachricht wurde wegen des Anhangs {file} abgelehnt.' },
  virusNothing: { en: 'Your message was refused by our virus scanner or our attachment check.', de: 'Ihre Nachricht wurde von unserem Virenscanner oder unserer Anhangprüfung abgelehnt.' },
  listedDynamic: {
    en: "Your server's address is listed as a dynamic or end-user address, from which mail servers are not expected to send directly; removal from the list is not the fix. Send through your provider's mail server (smarthost): your mail administrator sets it up in your mail server.",
    de: 'Die Adresse Ihres Servers ist als dynamische oder Endkunden-Adresse gelistet, von der Mailserver nicht direkt senden sollen; eine Austragung ist nicht die Lösung. Senden Sie über den Mailserver Ihres Providers (Smarthost): Ihr Mail-Administrator richtet ihn in Ihrem Mailserver ein.',
  },
  listedOther: {
    en: "Ask your mail administrator to find out why the address is listed (often a computer infected with a virus, or an open relay), fix that and then request removal from the list; until then, send through your provider's mail server.",
    de: 'Bitten Sie Ihren Mail-Administrator, zu klären, warum die Adresse gelistet ist (oft ein virenverseuchter Rechner oder ein offenes Relay), das zu beheben und danach die Austragung zu beantragen; senden Sie bis dahin über den Mailserver Ihres Providers.',
  },
  // No listing said what it means (an ingested refusal, a list that answers only "listed"): its own website does.
  listedUnsaid: {
    en: "Look the address up on the list's own website: it says why the address is listed and what to do. A dynamic or end-user address is not fixed by removal: send through your provider's mail server. Otherwise your mail administrator must fix the cause (often a computer infected with a virus, or an open relay) and then request removal.",
    de: 'Schlagen Sie die Adresse auf der Website der Liste nach: Dort steht, warum sie gelistet ist und was zu tun ist. Eine dynamische oder Endkunden-Adresse wird nicht durch eine Austragung behoben: Senden Sie dann über den Mailserver Ihres Providers. Andernfalls muss Ihr Mail-Administrator die Ursache beheben (oft ein virenverseuchter Rechner oder ein offenes Relay) und danach die Austragung beantragen.',
  },
  spamDeferredTitle: { en: 'Deferred as possible spam', de: 'Als möglicher Spam aufgeschoben' },
  spamDeferredWhat: { en: 'Our content filter found your message suspicious and deferred it[ (score {score})].', de: 'Unser Inhaltsfilter fand Ihre Nachricht verdächtig und schob sie auf[ (Wert {score})].' },
  spamDeferredAction: {
    en: 'If it is deferred or refused again, send it without what makes it look like spam (links to dubious sites, nothing but large images, mass-mail headers), or ask the recipient to have your server allow-listed.',
    de: 'Wird sie wieder aufgeschoben oder abgelehnt, senden Sie sie ohne die Spam-Merkmale (Links auf zweifelhafte Seiten, nur große Bilder, Massenmail-Kopfzeilen), oder bitten Sie den Empfänger, Ihren Server freischalten zu lassen.',
  },
  spfBrokenTitle: { en: 'SPF: the record of the domain is broken', de: 'SPF: Der Eintrag der Domain ist fehlerhaft' },
  spfBrokenWhat: {
    en: 'The SPF record[ of {spf_domain}] has a permanent error (RFC 7208 section 2.6.7), so it cannot show that your server[ {client_ip}] may send for that domain.',
    de: 'Der SPF-Eintrag[ von {spf_domain}] hat einen dauerhaften Fehler (RFC 7208 Abschnitt 2.6.7); er kann daher nicht belegen, dass Ihr Server[ {client_ip}] für diese Domain senden darf.',
  },
  spfBrokenAction: { en: 'Have whoever runs the DNS of that domain (usually your provider) fix its SPF record.', de: 'Lassen Sie den SPF-Eintrag vom Betreiber des DNS dieser Domain (meist Ihr Provider) reparieren.' },
  // none, neutral ...: the record says nothing against the server, but the check was set to refuse without a pass.
  spfNoPassTitle: { en: 'SPF: your server was not confirmed for the domain', de: 'SPF: Ihr Server wurde für die Domain nicht bestätigt' },
  spfNoPassWhat: {
    en: 'The SPF check[ of {spf_domain}] did not confirm your server[ {client_ip}] as a sender for that domain (result: {spf_result}).',
    de: 'Die SPF-Prüfung[ von {spf_domain}] hat Ihren Server[ {client_ip}] nicht als Absender für diese Domain bestätigt (Ergebnis: {spf_result}).',
  },
  dynamicNoNameWhat: {
    en: 'Your server[ {client_ip}] sends from a dynamic end-user address; mail servers on such addresses are not accepted.',
    de: 'Ihr Server[ {client_ip}] sendet von einer dynamischen Endkunden-Adresse, und Mailserver auf solchen Adressen werden nicht angenommen.',
  },
  // Refused after the connection (an ingested delivery's bounce), not "at once".
  unknownLaterWhat: { en: 'The recipient address does not exist here.', de: 'Die Empfängeradresse gibt es hier nicht.' },
  refusedTitle: { en: 'Refused by one of our checks', de: 'Von einer unserer Prüfungen abgelehnt' },
  refusedWhat: { en: 'Our server refused your message at the check "{check}".', de: 'Unser Server hat Ihre Nachricht bei der Prüfung „{check}“ abgelehnt.' },
  refusedNoCheckWhat: { en: 'Our server refused your message.', de: 'Unser Server hat Ihre Nachricht abgelehnt.' },
  refusedAction: {
    en: "Our server's answer on this page says why. If it does not tell you what to change, forward this page to your mail administrator.",
    de: 'Die Antwort unseres Servers auf dieser Seite nennt den Grund. Sagt sie Ihnen nicht, was zu ändern ist, leiten Sie diese Seite an Ihren Mail-Administrator weiter.',
  },
  refusedNoReplyAction: {
    en: "Forward this page to your mail administrator: your server's log has our answer, which says why.",
    de: 'Leiten Sie diese Seite an Ihren Mail-Administrator weiter: Im Protokoll Ihres Servers steht unsere Antwort mit dem Grund.',
  },
} satisfies Record<string, Record<Lang, string>>;

function deliveredForSender(facts: Facts, lang: Lang): Omit<Finding, 'evidence'> {
  const t = FOR_SENDER.delivered[lang];
  const known = facts.delivered_at !== UNKNOWN[lang];
  const on = known ? (lang === 'de' ? ` am ${facts.delivered_at}` : ` on ${facts.delivered_at}`) : '';
  const relay = facts.delivery_kind === 'relay';
  const what = lang === 'de'
    ? `Ihre Nachricht wurde${on} angenommen und ${relay ? 'an den Mailserver des Empfängers weitergegeben' : 'in das Postfach des Empfängers zugestellt'}.`
    : `Your message was accepted${on} and ${relay ? "passed on to the recipient's mail server" : "delivered to the recipient's mailbox"}.`;
  return { code: 'delivered', side: 'none', title: t.title, what, action: t.action };
}

/**
 * One code explained to the sender, with the facts filled in; null for the
 * codes of the recipient's mailbox, which the sender never reads.
 */
export function explainCodeForSender(code: string, lang: Lang, facts: SenderFacts): Omit<Finding, 'evidence'> | null {
  if (!isCode(code) || !isPublicCode(code)) return null;
  if (code === 'delivered') return deliveredForSender(facts, lang);
  let { title, what, action } = FOR_SENDER[code][lang];
  const unknown = UNKNOWN[lang];
  const v = SENDER_VARIANTS;
  switch (code) {
    case 'virus': {
      const file = facts.file !== unknown;
      const signature = facts.signature !== unknown;
      if (!file) what = signature ? v.virusNoFile[lang] : v.virusNothing[lang];
      else if (!signature) what = v.virusNoSignature[lang];
      else if (facts.file_is) what = v.virusFileIs[lang];
      action = VIRUS_FOR_SENDER[facts.attachment_kind][lang];
      break;
    }
    case 'spam':
      if (facts.outcome === 'tempfailed') { title = v.spamDeferredTitle[lang]; what = v.spamDeferredWhat[lang]; action = v.spamDeferredAction[lang]; }
      break;
    case 'sender_ip_blocklisted':
      action = (facts.listing_kind === 'dynamic' ? v.listedDynamic : facts.listing_kind === 'other' ? v.listedOther : v.listedUnsaid)[lang];
      break;
    case 'spf_fail':
      if (facts.spf_result === 'permerror') { title = v.spfBrokenTitle[lang]; what = v.spfBrokenWhat[lang]; action = v.spfBrokenAction[lang]; }
      else if (facts.spf_result && facts.spf_result !== 'fail' && facts.spf_result !== 'softfail') { title = v.spfNoPassTitle[lang]; what = v.spfNoPassWhat[lang]; }
      break;
    case 'unknown_recipient':
      if (!facts.in_session) what = v.unknownLaterWhat[lang];
      break;
    case 'sender_dynamic_ip':
      if (facts.client_ptr === unknown) what = v.dynamicNoNameWhat[lang];
      break;
    case 'tempfail_pending': case 'tempfail_not_retried': {
      const fix = TEMPFAIL_FIX[facts.tempfail_kind][lang];
      if (fix) action = `${fix} ${action}`;
      break;
    }
    default: break;
  }
  return { code, side: CATALOGUE[code].side, title: fillKnown(title, facts, lang), what: fillKnown(what, facts, lang), action: fillKnown(action, facts, lang) };
}

/** A refusal no diagnosis code explains (relay, HELO, a name check): the check and our answer, nothing guessed. */
function refusedForSender(j: Journey, lang: Lang): Omit<Finding, 'evidence'> {
  const v = SENDER_VARIANTS;
  const check = j.events.find((e) => e.kind === 'check.result' && e.verdict === 'reject');
  const what = check ? v.refusedWhat[lang].replace('{check}', checkName(lang, check.check_name)) : v.refusedNoCheckWhat[lang];
  return { code: '', side: 'none', title: v.refusedTitle[lang], what, action: (j.reply ? v.refusedAction : v.refusedNoReplyAction)[lang] };
}

/**
 * A journey explained to its sender (the public REF page), addressed to
 * the sender: a delivered message is "delivered, nothing more to do on your
 * side", whatever the recipient did with it since (that is the customer's
 * business); the recipient's address is never named; a check that could
 * not judge the message is not read as its finding (codesForSender).
 */
export function explainForSender(j: Journey, lang: Lang): Omit<Finding, 'evidence'>[] {
  const facts = senderFactsOf(j, lang);
  if (j.outcome === 'delivered') return [deliveredForSender(facts, lang)];
  const out: Omit<Finding, 'evidence'>[] = [];
  for (const code of codesForSender(j)) {
    if ((DELIVERED_CODES as readonly string[]).includes(code)) continue;
    const f = explainCodeForSender(code, lang, facts);
    if (f) out.push(f);
  }
  if (out.length === 0 && j.outcome === 'rejected') out.push(refusedForSender(j, lang));
  return out;
}
