import type { ClientIdentityFinding } from '../checks/findings.js';
import type { StoredEvent } from '../ledger/types.js';
import { displaySafe } from './display-safe.js';
import type { Lang } from './lang.js';

// An event of the ledger in words, in German or English: the one wording of
// a journey's timeline, for the web's journey page and the customer report.
// Every client-sent value goes through displaySafe, so no text built here can
// carry a line break, a control byte or a direction override; escaping for
// HTML and fonts for PDF are the renderers' job.

/** Per-event-kind phrases of the timeline. */
export const VERDICT: Record<Lang, Record<string, string>> = {
  en: { pass: 'passed', skip: 'skipped', flag: 'marked as suspicious', allow: 'allow-listed', reject: 'refuse', tempfail: 'try again later', error: 'failed (error)' },
  de: { pass: 'bestanden', skip: 'übersprungen', flag: 'als verdächtig markiert', allow: 'freigegeben', reject: 'ablehnen', tempfail: 'später erneut versuchen', error: 'fehlgeschlagen (Fehler)' },
};

/** The checks' names in words; an unknown name is shown as it is. */
const CHECK_NAMES: Record<Lang, Record<string, string>> = {
  en: {
    dnsbl: 'block lists (DNSBL)', client_identity: 'name of the sending address (PTR)', helo: 'server name (HELO)', helo_syntax: 'server name syntax (HELO)',
    sender_domain: 'sender domain (MX)', spf: 'SPF', dmarc: 'DMARC', recipient: 'recipient exists', size: 'message size', virus: 'virus scanner',
    attachments: 'attachments', spam: 'spam filter', greylist: 'greylisting', rate: 'sending rate', allowlist: 'allow-list', relay: 'relay permission',
  },
  de: {
    dnsbl: 'Sperrlisten (DNSBL)', client_identity: 'Name der sendenden Adresse (PTR)', helo: 'Servername (HELO)', helo_syntax: 'Syntax des Servernamens (HELO)',
    sender_domain: 'Absender-Domain (MX)', spf: 'SPF', dmarc: 'DMARC', recipient: 'Empfänger existiert', size: 'Nachrichtengröße', virus: 'Virenscanner',
    attachments: 'Anhänge', spam: 'Spamfilter', greylist: 'Greylisting', rate: 'Senderate', allowlist: 'Freigabeliste', relay: 'Relay-Berechtigung',
  },
};

/** An event's details (an empty object when it has none). */
export function d(e: StoredEvent): Record<string, unknown> {
  return (e.details ?? {}) as Record<string, unknown>;
}
/** A check's evidence, from its details. */
export function ev(e: StoredEvent): Record<string, unknown> {
  const x = d(e).evidence;
  return x && typeof x === 'object' ? x as Record<string, unknown> : {};
}
/** A value as text: strings (not empty), numbers and booleans; null otherwise. */
export function s(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : null;
}
/** Client-sent or logged value for display. */
export const c = (v: unknown, max = 300): string => displaySafe(s(v) ?? '', max);

const NULL_SENDER: Record<Lang, string> = { en: 'the null sender (<>)', de: 'leerer Absender (<>)' };

export function checkName(lang: Lang, name: string | null | undefined): string {
  return CHECK_NAMES[lang][name ?? ''] ?? c(name ?? '?', 60);
}

export function replyOf(e: StoredEvent): string {
  if (e.reply) return c(e.reply, 600);
  if (e.smtp_code) return `${e.smtp_code}${e.enhanced_code ? ' ' + c(e.enhanced_code, 20) : ''}`;
  return '';
}

/**
 * What the journey knows of the name (PTR) of the sending address: the name,
 * null when the lookup found none, undefined when it was not looked up (or
 * not recorded). The connect event is written before the lookup, so the
 * checks' evidence and later events know more than it does.
 */
export function clientPtrOf(events: StoredEvent[]): string | null | undefined {
  const named = events.find((e) => e.client_ptr)?.client_ptr;
  if (named) return named;
  for (const e of events) {
    if (e.kind !== 'check.result' || e.check_name !== 'client_identity') continue;
    const x = ev(e);
    const records = (x.ptr as { records?: unknown } | undefined)?.records;
    const first = s(x.verified_name) ?? (Array.isArray(records) ? s(records[0]) : null);
    if (first) return first;
    if ((x.finding as ClientIdentityFinding | undefined) === 'no_ptr') return null;
  }
  return undefined;
}

/** One timeline phrase for an event, in words. `ptr`: the journey's knowledge of the client's name (clientPtrOf). */
export function describeEvent(e: StoredEvent, lang: Lang, opts: { reply?: boolean; ptr?: string | null } = {}): string {
  const de = lang === 'de';
  const ip = c(e.client_ip, 60) || (de ? 'unbekannter Adresse' : 'an unknown address');
  const reply = opts.reply === false ? '' : replyOf(e);
  const withReply = (text: string): string => (reply ? `${text}: ${reply}` : text);
  const sender = e.mail_from === '' ? NULL_SENDER[lang] : c(e.mail_from);
  switch (e.kind) {
    case 'session.connect': {
      if (d(e).xclient) return de ? `Client-Adresse vom vorgeschalteten Server übermittelt: ${ip}` : `Client address passed on by the front server: ${ip}`;
      // Only what is known: the name, "no name in DNS" when the lookup found
      // none, nothing when it was not looked up.
      const known = e.client_ptr ?? opts.ptr;
      const ptr = known ? ` (${c(known, 255)})` : known === null ? (de ? ' (kein Name im DNS)' : ' (no name in DNS)') : '';
      return de ? `Verbindung von ${ip}${ptr}` : `Connection from ${ip}${ptr}`;
    }
    case 'session.refused': return withReply(de ? 'Verbindung abgewiesen' : 'Connection refused');
    case 'session.helo': {
      // The SIZE limit our EHLO reply announced (smtp/gateway.ts).
      const limit = typeof d(e).size_limit === 'number' ? d(e).size_limit as number : null;
      if (limit !== null) return de ? `Server stellt sich vor (EHLO) als ${c(e.helo, 255)}; unsere Antwort nannte die Größengrenze ${limit} Bytes (SIZE)` : `Server introduced itself (EHLO) as ${c(e.helo, 255)}; our answer announced the size limit of ${limit} bytes (SIZE)`;
      return de ? `Server stellt sich vor (HELO/EHLO) als ${c(e.helo, 255)}` : `Server introduced itself (HELO/EHLO) as ${c(e.helo, 255)}`;
    }
    case 'session.tls': {
      const p = c(d(e).protocol, 30);
      return de ? `Verschlüsselung (TLS) begonnen${p ? ` (${p})` : ''}` : `Encryption (TLS) started${p ? ` (${p})` : ''}`;
    }
    case 'session.limit': return withReply(de ? `Grenze erreicht (${c(d(e).limit, 40)})` : `Limit reached (${c(d(e).limit, 40)})`);
    case 'session.protocol_error': return withReply(de ? 'Befehl vom Protokoll zurückgewiesen' : 'Command refused by the protocol');
    case 'session.close': return de ? 'Verbindung beendet' : 'Connection closed';
    case 'mail.from': return de ? `Absender: ${sender}` : `Sender: ${sender}`;
    case 'rcpt.accepted': return de ? `Empfänger ${c(e.rcpt)} angenommen` : `Recipient ${c(e.rcpt)} accepted`;
    case 'rcpt.rejected': return withReply(de ? `Empfänger ${c(e.rcpt)} abgelehnt` : `Recipient ${c(e.rcpt)} refused`);
    case 'data.received': {
      const size = e.size ? ` (${e.size} bytes)` : '';
      return de ? `Nachricht empfangen${size.replace('bytes', 'Bytes')}` : `Message received${size}`;
    }
    case 'data.rejected': return withReply(de ? 'Nachricht abgelehnt' : 'Message refused');
    case 'check.result': {
      const v = VERDICT[lang][e.verdict ?? ''] ?? c(e.verdict, 20);
      return de ? `Prüfung ${checkName(lang, e.check_name)}: ${v}` : `Check ${checkName(lang, e.check_name)}: ${v}`;
    }
    case 'message.delivered': {
      const boxes = Array.isArray(d(e).mailboxes) ? (d(e).mailboxes as unknown[]).map((b) => c(b)).join(', ') : c(e.rcpt) || c(d(e).box);
      if (e.source === 'postfix') return de ? `Zugestellt (${c(d(e).relay ?? d(e).service, 60)}) für ${boxes}` : `Delivered (${c(d(e).relay ?? d(e).service, 60)}) for ${boxes}`;
      if (d(e).target === 'smtp') return de ? `An den nachgelagerten Mailserver übergeben für ${boxes}` : `Handed to the downstream mail server for ${boxes}`;
      return de ? `Ins Postfach ${boxes} zugestellt` : `Delivered to the mailbox ${boxes}`;
    }
    case 'message.recovered': {
      const boxes = Array.isArray(d(e).mailboxes) ? (d(e).mailboxes as unknown[]).map((b) => c(b)).join(', ') : c(e.rcpt);
      return de
        ? `Im Postfach ${boxes} gespeichert; der Server wurde vor der Bestätigung an den Absender (250) beendet, der sie deshalb erneut senden kann (sie wird nicht doppelt abgelegt)`
        : `Stored in the mailbox ${boxes}; the server stopped before confirming it to the sender (250), who may send it again (it is not stored twice)`;
    }
    case 'message.delivery_failed': return withReply(de ? 'Zustellung fehlgeschlagen' : 'Delivery failed');
    case 'message.queued': return de ? 'In die Warteschlange übernommen' : 'Taken into the queue';
    case 'pop3.login': return e.verdict === 'reject'
      ? (de ? `POP3-Anmeldung am Postfach ${c(e.rcpt)} von ${ip} abgewiesen` : `POP3 login to the mailbox ${c(e.rcpt)} from ${ip} refused`)
      : (de ? `POP3-Anmeldung am Postfach ${c(e.rcpt)} von ${ip}` : `POP3 login to the mailbox ${c(e.rcpt)} from ${ip}`);
    case 'pop3.retr': return de ? `Per POP3 abgerufen von ${ip}` : `Fetched by POP3 from ${ip}`;
    case 'pop3.dele': return de ? `Per POP3 vom Server gelöscht von ${ip}` : `Deleted from the server by POP3 from ${ip}`;
    case 'pop3.logout': {
      const x = d(e);
      return de ? `POP3-Sitzung beendet (${s(x.retr) ?? '?'} abgerufen, ${s(x.dele) ?? '?'} gelöscht)` : `POP3 session ended (${s(x.retr) ?? '?'} fetched, ${s(x.dele) ?? '?'} deleted)`;
    }
    case 'imap.login': return de ? `IMAP-Anmeldung am Postfach ${c(e.rcpt)} von ${ip}` : `IMAP login to the mailbox ${c(e.rcpt)} from ${ip}`;
    case 'imap.logout': return de ? 'IMAP-Sitzung beendet' : 'IMAP session ended';
    case 'imap.expunge': return de ? 'Per IMAP endgültig gelöscht' : 'Deleted for good by IMAP (expunge)';
    case 'mailbox.copy': return de ? `In einen anderen Ordner kopiert oder verschoben${d(e).folder ? `: ${c(d(e).folder, 100)}` : ''}` : `Copied or moved to another folder${d(e).folder ? `: ${c(d(e).folder, 100)}` : ''}`;
    case 'ingest.line': return de ? 'Protokollzeile' : 'Log line';
    default: return c(e.kind, 40);
  }
}
