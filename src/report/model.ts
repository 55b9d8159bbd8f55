import type { Finding, Lang, Side } from '../research/explain.js';
import type { Outcome } from '../research/journeys.js';
import { nearMissText } from '../research/near-misses.js';
import type { ExplainedJourney, SearchFilter, SearchResult } from '../research/search.js';
import { verdictOf } from '../research/verdict.js';
import { domainOf, visibleJourney, visibleSession } from '../research/visibility.js';
import { c, clientPtrOf, d, describeEvent, s } from '../research/event-words.js';
import { evidenceFields, evidenceLines, evidenceTitle, utc, type EvidenceLine, type Field } from '../research/evidence.js';

// The customer report as data: what text.ts, html.ts and pdf.ts lay out. All
// wording and every decision about what to show is made here, once, so the
// three formats say the same thing. Every string in the model is display-safe
// (report/safe.ts): client-sent values cannot carry a line break, a control
// byte or a direction override into any format. Escaping for HTML and fonts
// for PDF remain the renderers' job.

// The evidence lines live in research/evidence.ts, shared with the web's journey page.
export { clientPtrOf, describeEvent, evidenceFields, evidenceTitle, utc, type EvidenceLine, type Field };

export interface TimelineRow {
  /** "2026-11-27 10:00:01" (UTC). */
  time: string;
  node: string;
  source: string;
  text: string;
}

export interface CauseBlock { code: string; side: Side; title: string; what: string; action: string }

/** What our customer can forward to the sender, so the sender's administrator can act. */
export interface ForwardBlock {
  ref: string | null;
  lines: string[];
}

export interface JourneySection {
  ref: string;
  outcome: Outcome;
  summary: string;
  /** The verdict in one sentence: status, cause, whose side, key evidence (research/verdict.ts). */
  verdict: string;
  facts: Field[];
  timeline: TimelineRow[];
  causes: CauseBlock[];
  evidence: EvidenceLine[];
  near_misses: string[];
  forward: ForwardBlock | null;
}

export interface ReportModel {
  lang: Lang;
  title: string;
  generated_at: string;
  /** The question asked: the search filter and time window. */
  question: Field[];
  /** One sentence: how many messages were found. */
  summary: string;
  /** Findings about the search as a whole (no_attempt_seen). */
  findings: CauseBlock[];
  near_misses: string[];
  forward: ForwardBlock | null;
  journeys: JourneySection[];
  truncated: boolean;
  labels: Labels;
}

export interface Labels {
  question: string; timeline: string; time: string; node: string; source: string; event: string; contents: string;
  cause: string; evidence: string; forward: string; forward_intro: string; near_misses: string;
  generated: string; truncated: string; action: string; journey: string; side: Record<Side, string>;
}

const LABELS: Record<Lang, Labels> = {
  en: {
    question: 'Search', timeline: 'Journey of the message (times in UTC)', time: 'Time (UTC)', node: 'Server', source: 'Source', event: 'What happened',
    cause: 'Cause', evidence: 'Evidence from the log', forward: 'To forward to the sender',
    forward_intro: "You can forward the following text to the sender; it is meant for the sender's mail administrator.",
    near_misses: 'Near misses', contents: 'The messages of this report, each in one sentence', generated: 'Generated', truncated: 'More messages matched than are shown; narrow the search.',
    action: 'What to do', journey: 'Message', side: { sender: "sender's side", recipient: "recipient's side", none: 'no fault' },
  },
  de: {
    question: 'Suche', timeline: 'Weg der Nachricht (Zeiten in UTC)', time: 'Zeit (UTC)', node: 'Server', source: 'Quelle', event: 'Was geschah',
    cause: 'Ursache', evidence: 'Belege aus dem Protokoll', forward: 'Zur Weiterleitung an den Absender',
    forward_intro: 'Den folgenden Text können Sie an den Absender weiterleiten; er ist für dessen Mail-Administrator bestimmt.',
    near_misses: 'Ähnliche Treffer', contents: 'Die Nachrichten dieses Berichts in je einem Satz', generated: 'Erstellt', truncated: 'Es passten mehr Nachrichten als gezeigt; bitte die Suche eingrenzen.',
    action: 'Was zu tun ist', journey: 'Nachricht', side: { sender: 'Seite des Absenders', recipient: 'Seite des Empfängers', none: 'kein Fehler' },
  },
};

const T = {
  en: {
    title: 'Mail delivery report',
    found: (n: number) => (n === 1 ? 'One message matches this search.' : n === 0 ? 'No message matches this search.' : `${n} messages match this search.`),
    sessions: (n: number) => (n === 1 ? 'One connection ended without sending a message.' : `${n} connections ended without sending a message.`),
    none: (since: string, until: string) => `No message matching this search was found in the log between ${since} and ${until}.`,
    anyTime: 'the beginning of the log',
    outcome: { delivered: 'delivered', rejected: 'refused', tempfailed: 'temporarily refused', incomplete: 'not completed', no_transaction: 'disconnected without sending a message' } as Record<Outcome, string>,
    summary: (from: string, to: string, at: string, outcome: string) => `Message from ${from} to ${to}, ${at} UTC: ${outcome}.`,
    session: (client: string, at: string, outcome: string) => `Connection from ${client}, ${at} UTC: ${outcome}.`,
    nullSender: 'the null sender (<>)', unknown: 'unknown',
    q: { rcpt: 'Recipient', domain: 'Domain', from: 'Sender', ip: 'Sending server', ref: 'Reference (REF)', messageId: 'Message-ID', outcome: 'Outcome', since: 'From', until: 'Until' },
    f: { ref: 'Reference (REF)', from: 'Sender', to: 'Recipient', client: 'Sending server', helo: 'Server name (HELO)', subject: 'Subject', messageId: 'Message-ID', outcome: 'Outcome', reply: 'Answer of our server' },
    fwd: { ref: 'Reference', reply: 'Our server answered your server' },
  },
  de: {
    title: 'Bericht zur E-Mail-Zustellung',
    found: (n: number) => (n === 1 ? 'Eine Nachricht passt zu dieser Suche.' : n === 0 ? 'Keine Nachricht passt zu dieser Suche.' : `${n} Nachrichten passen zu dieser Suche.`),
    sessions: (n: number) => (n === 1 ? 'Eine Verbindung endete, ohne eine Nachricht zu senden.' : `${n} Verbindungen endeten, ohne eine Nachricht zu senden.`),
    none: (since: string, until: string) => `Im Protokoll wurde zwischen ${since} und ${until} keine Nachricht gefunden, die zu dieser Suche passt.`,
    anyTime: 'Beginn des Protokolls',
    outcome: { delivered: 'zugestellt', rejected: 'abgelehnt', tempfailed: 'vorübergehend abgewiesen', incomplete: 'nicht abgeschlossen', no_transaction: 'getrennt, ohne eine Nachricht zu senden' } as Record<Outcome, string>,
    summary: (from: string, to: string, at: string, outcome: string) => `Nachricht von ${from} an ${to}, ${at} UTC: ${outcome}.`,
    session: (client: string, at: string, outcome: string) => `Verbindung von ${client}, ${at} UTC: ${outcome}.`,
    nullSender: 'leerer Absender (<>)', unknown: 'unbekannt',
    q: { rcpt: 'Empfänger', domain: 'Domain', from: 'Absender', ip: 'Sendender Server', ref: 'Referenz (REF)', messageId: 'Message-ID', outcome: 'Ergebnis', since: 'Von', until: 'Bis' },
    f: { ref: 'Referenz (REF)', from: 'Absender', to: 'Empfänger', client: 'Sendender Server', helo: 'Servername (HELO)', subject: 'Betreff', messageId: 'Message-ID', outcome: 'Ergebnis', reply: 'Antwort unseres Servers' },
    fwd: { ref: 'Referenz', reply: 'Unser Server antwortete Ihrem Server' },
  },
};

type Words = (typeof T)['en'];

function cause(f: Omit<Finding, 'evidence'>): CauseBlock {
  // The explanation texts carry client-sent facts (addresses, the reply).
  return { code: c(f.code, 60), side: f.side, title: c(f.title, 200), what: c(f.what, 2000), action: c(f.action, 2000) };
}

function forwardOf(causes: CauseBlock[], ref: string | null, reply: string | null, lang: Lang): ForwardBlock | null {
  const mine = causes.filter((x) => x.side === 'sender');
  if (mine.length === 0) return null;
  const lines: string[] = [];
  for (const x of mine) lines.push(`${x.title}. ${x.what}`, `${LABELS[lang].action}: ${x.action}`);
  if (reply) lines.push(`${T[lang].fwd.reply}: ${c(reply, 600)}`);
  if (ref) lines.push(`${T[lang].fwd.ref}: ${ref}`);
  return { ref, lines };
}

function subjectOf(j: ExplainedJourney): string | null {
  const e = j.events.find((x) => x.kind === 'data.received' && s(d(x).subject));
  return e ? s(d(e).subject) : null;
}

function journeySection(j: ExplainedJourney, lang: Lang): JourneySection {
  const w: Words = T[lang];
  const from = j.mail_from === '' ? w.nullSender : j.mail_from === null ? w.unknown : c(j.mail_from);
  const ref = c(j.ref, 80);
  const facts: Field[] = [{ label: w.f.ref, value: ref }];
  const add = (label: string, v: string | null): void => { if (v) facts.push({ label, value: v }); };
  // A session without a transaction (research/sessions.ts) has neither sender nor recipient.
  const session = j.outcome === 'no_transaction';
  if (!session) add(w.f.from, from);
  if (!session) add(w.f.to, c(j.rcpt));
  const ptr = clientPtrOf(j.events);
  const client = j.client_ip ? `${c(j.client_ip, 60)}${ptr ? ` (${c(ptr, 255)})` : ''}` : null;
  add(w.f.client, client);
  add(w.f.helo, j.helo ? c(j.helo, 255) : null);
  const subject = subjectOf(j);
  add(w.f.subject, subject ? c(subject, 300) : null);
  add(w.f.messageId, j.message_id ? c(j.message_id, 300) : null);
  add(w.f.outcome, w.outcome[j.outcome]);
  add(w.f.reply, j.reply ? c(j.reply, 600) : null);

  const byId = new Map(j.events.map((e) => [e.id, e]));
  const evidenceIds = [...new Set(j.explanations.flatMap((x) => x.evidence))].filter((id) => byId.has(id));
  const causes = j.explanations.map(cause);
  return {
    ref,
    outcome: j.outcome,
    summary: session ? w.session(client ?? w.unknown, utc(j.started_at), w.outcome[j.outcome]) : w.summary(from, c(j.rcpt), utc(j.started_at), w.outcome[j.outcome]),
    verdict: c(verdictOf(j, lang).headline, 2000),
    facts,
    timeline: j.events.map((e) => ({ time: utc(e.ts), node: c(e.node, 60), source: c(e.source, 20), text: describeEvent(e, lang, { ptr }) })),
    causes,
    evidence: evidenceLines(evidenceIds.map((id) => byId.get(id)!), lang),
    near_misses: j.near_misses.map((n) => c(nearMissText(n, lang), 600)),
    forward: forwardOf(causes, ref, j.reply, lang),
  };
}

/** How many messages matched; sessions without a message (research/sessions.ts) are counted apart. */
function summaryOf(result: SearchResult, w: Words, since: string, until: string): string {
  const sessions = result.journeys.filter((j) => j.outcome === 'no_transaction').length;
  const messages = result.journeys.length - sessions;
  if (messages === 0 && sessions === 0) return w.none(since, until);
  return sessions ? `${w.found(messages)} ${w.sessions(sessions)}` : w.found(messages);
}

export interface ModelOptions {
  lang: Lang;
  now?: Date;
  /** The search as asked, for the report's "Search" block; without it only the time window is shown. */
  filter?: SearchFilter;
}

export function buildModel(result: SearchResult, opts: ModelOptions): ReportModel {
  const lang = opts.lang;
  const w = T[lang];
  const now = opts.now ?? new Date();
  const question: Field[] = [];
  const f = opts.filter;
  if (f) {
    const q = (label: string, v: string | undefined): void => { if (v) question.push({ label, value: c(v, 300) }); };
    q(w.q.ref, f.ref); q(w.q.rcpt, f.rcpt); q(w.q.domain, f.domain); q(w.q.from, f.from); q(w.q.ip, f.ip);
    q(w.q.messageId, f.messageId); q(w.q.outcome, f.outcome ? w.outcome[f.outcome] : undefined);
  }
  const since = result.since ? `${utc(result.since)} UTC` : w.anyTime;
  const until = result.until ? `${utc(result.until)} UTC` : utc(now.getTime()) + ' UTC';
  question.push({ label: w.q.since, value: since }, { label: w.q.until, value: until });
  const findings = result.findings.map(cause);
  return {
    lang,
    title: w.title,
    generated_at: `${utc(now.getTime())} UTC`,
    question,
    summary: summaryOf(result, w, since, until),
    findings,
    near_misses: result.near_misses.map((n) => c(nearMissText(n, lang), 600)),
    forward: forwardOf(findings, null, null, lang),
    // A document for the recipient's customer, whoever asked for it: what that customer may see of the journey (research/visibility.ts).
    journeys: result.journeys.map((j) => journeySection(j.outcome === 'no_transaction' ? visibleSession(j) : visibleJourney(j, [domainOf(j.rcpt)])!, lang)),
    truncated: result.truncated,
    labels: LABELS[lang],
  };
}
