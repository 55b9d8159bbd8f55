import type { StoredEvent } from '../ledger/types.js';
import { c, checkName, d, describeEvent, ev, replyOf, s, VERDICT } from './event-words.js';
import type { Lang } from './explain.js';
import type { ExplainedJourney } from './search.js';
import { mainFinding } from './verdict.js';

// The events that prove a finding, as readable lines: the block list and its
// answer with TTL, the virus signature and the file, the SPF record, the MX
// records, the PTR. One wording for the customer report (report/model.ts)
// and the web's journey page, in German and English. Every value goes
// through displaySafe (event-words.ts c()); escaping is the renderer's job.

export interface Field { label: string; value: string }

export interface EvidenceLine {
  /** "2026-11-27 10:00:01" (UTC). */
  time: string;
  title: string;
  fields: Field[];
}

const WORDS = {
  en: { reply: 'Reply', reason: 'Reason', list: 'Block list', signature: 'Virus signature', file: 'File', score: 'Spam score', symbols: 'Filter rules', record: 'SPF record', result: 'Result', domain: 'Domain', mx: 'MX record', ptr: 'Name of the address (PTR)', finding: 'Finding', policy: 'DMARC policy', limit: 'Limit', size: 'Size', mailboxes: 'Mailbox', client: 'Client address', subject: 'Subject', messageId: 'Message-ID', target: 'Delivered via', dns: 'DNS answer' },
  de: { reply: 'Antwort', reason: 'Grund', list: 'Sperrliste', signature: 'Virensignatur', file: 'Datei', score: 'Spam-Wert', symbols: 'Filterregeln', record: 'SPF-Eintrag', result: 'Ergebnis', domain: 'Domain', mx: 'MX-Eintrag', ptr: 'Name der Adresse (PTR)', finding: 'Befund', policy: 'DMARC-Richtlinie', limit: 'Grenze', size: 'Größe', mailboxes: 'Postfach', client: 'Client-Adresse', subject: 'Betreff', messageId: 'Message-ID', target: 'Zugestellt über', dns: 'DNS-Antwort' },
} satisfies Record<Lang, Record<string, string>>;

/** "2026-11-27 10:00:01" (UTC) from epoch milliseconds or an ISO time. */
export function utc(ts: number | string): string {
  const t = typeof ts === 'number' ? ts : Date.parse(ts);
  if (!Number.isFinite(t)) return String(ts);
  return new Date(t).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '').replace(/Z$/, '');
}

/** The key facts of a proving event: reply, reason and the check's evidence (list and answer, signature, score, records). */
export function evidenceFields(e: StoredEvent, lang: Lang): Field[] {
  const w = WORDS[lang];
  const out: Field[] = [];
  const add = (label: string, v: unknown, max = 300): void => {
    const val = c(v, max);
    if (val) out.push({ label, value: val });
  };
  const x = ev(e);
  if (e.kind === 'check.result') {
    switch (e.check_name) {
      case 'dnsbl': {
        const zones = Array.isArray(x.zones) ? x.zones as Record<string, unknown>[] : [];
        for (const z of zones.filter((z) => Array.isArray(z.listings) && (z.listings as unknown[]).length > 0).slice(0, 10)) {
          const listings = (z.listings as Record<string, unknown>[]).map((l) => `${s(l.code) ?? '?'}${s(l.meaning) && l.meaning !== 'listed' ? ` (${s(l.meaning)})` : ''}`).join(', ');
          const a = z.answer as Record<string, unknown> | undefined;
          const ttl = a && typeof a.ttl === 'number' ? `, TTL ${a.ttl} s` : '';
          const at = a && s(a.at) ? `, ${utc(s(a.at)!)} UTC` : '';
          add(w.list, `${s(z.name) ?? s(z.zone) ?? '?'}: ${s(z.query) ?? ''} -> ${listings}${ttl}${at}`, 500);
        }
        if (e.source === 'postfix') add(w.finding, x.source_text, 500);
        break;
      }
      case 'virus':
        add(w.signature, x.signature);
        add(w.file, x.filename);
        if (Array.isArray(x.within) && x.within.length) add(w.file, (x.within as unknown[]).map((v) => s(v) ?? '').join(' > '));
        break;
      case 'attachments':
        add(w.finding, x.rule);
        add(w.file, x.filename);
        if (s(x.detected)) add(w.finding, x.detected);
        break;
      case 'spam':
        add(w.score, s(x.score) ? `${s(x.score)}${s(x.reject_score) ? ` (limit ${s(x.reject_score)})` : ''}` : null);
        if (Array.isArray(x.symbols)) add(w.symbols, (x.symbols as unknown[]).slice(0, 15).map((v) => s(v) ?? '').join(', '), 600);
        break;
      case 'spf':
        add(w.result, x.result);
        add(w.domain, x.domain);
        add(w.record, x.record, 600);
        add(w.reason, x.comment, 300);
        break;
      case 'sender_domain': {
        add(w.finding, x.finding);
        add(w.domain, x.domain);
        const mx = (x.mx as { records?: unknown } | undefined)?.records;
        if (Array.isArray(mx)) {
          for (const r of mx.slice(0, 10)) {
            const m = r as { exchange?: unknown; preference?: unknown };
            add(w.mx, `${s(m.preference) ?? '?'} ${s(m.exchange) ?? '?'}`);
          }
        }
        break;
      }
      case 'client_identity': {
        add(w.finding, x.finding);
        const ptr = (x.ptr as { records?: unknown } | undefined)?.records;
        if (Array.isArray(ptr) && ptr.length) add(w.ptr, ptr.map((v) => s(v) ?? '').join(', '));
        else add(w.ptr, x.verified_name);
        break;
      }
      case 'dmarc': {
        const dm = (x.dmarc ?? {}) as Record<string, unknown>;
        add(w.result, dm.result);
        add(w.domain, dm.domain);
        add(w.policy, dm.policy ?? dm.p);
        add(w.record, dm.record, 600);
        break;
      }
      case 'size':
        add(w.size, s(x.declared) ? `${s(x.declared)} bytes` : null);
        add(w.limit, s(x.limit) ? `${s(x.limit)} bytes` : null);
        break;
      case 'recipient':
        add(w.finding, x.finding);
        add(w.reply, x.downstream, 300);
        break;
      default:
        add(w.finding, x.finding);
    }
    add(w.reason, d(e).reason, 400);
  } else if (e.kind === 'message.delivered' || e.kind === 'message.recovered') {
    if (Array.isArray(d(e).mailboxes)) add(w.mailboxes, (d(e).mailboxes as unknown[]).map((v) => s(v) ?? '').join(', '));
    else add(w.mailboxes, e.rcpt ?? d(e).box);
    add(w.target, d(e).target ?? d(e).relay ?? d(e).service, 60);
  } else if (e.kind === 'data.received') {
    add(w.subject, d(e).subject);
    add(w.messageId, e.message_id);
    add(w.size, e.size ? `${e.size} bytes` : null);
  } else if (e.kind.startsWith('pop3.') || e.kind.startsWith('imap.')) {
    add(w.mailboxes, e.rcpt);
    add(w.client, e.client_ip, 60);
  } else {
    add(w.reason, d(e).reason, 400);
  }
  const reply = replyOf(e);
  if (reply) out.unshift({ label: w.reply, value: reply });
  return out;
}

/** The heading of a proving event: the check and its verdict, or the event in words. */
export function evidenceTitle(e: StoredEvent, lang: Lang): string {
  if (e.kind === 'check.result') {
    const v = VERDICT[lang][e.verdict ?? ''] ?? c(e.verdict, 20);
    return lang === 'de' ? `Prüfung ${checkName(lang, e.check_name)} (${c(e.check_name, 40)}): ${v}` : `Check ${checkName(lang, e.check_name)} (${c(e.check_name, 40)}): ${v}`;
  }
  return `${describeEvent(e, lang, { reply: false })} (${c(e.kind, 40)})`;
}

/** Events as evidence lines, oldest first. */
export function evidenceLines(events: readonly StoredEvent[], lang: Lang): EvidenceLine[] {
  return [...events].sort((a, b) => a.ts - b.ts || a.id - b.id).map((e) => ({ time: utc(e.ts), title: evidenceTitle(e, lang), fields: evidenceFields(e, lang) }));
}

/**
 * A journey's key evidence: the events that prove its main finding
 * (verdict.ts mainFinding), as lines. `code`: another finding of the
 * journey instead. Empty when the journey has no such finding.
 */
export function evidenceOf(j: ExplainedJourney, lang: Lang, code?: string): EvidenceLine[] {
  const f = code === undefined ? mainFinding(j) : j.explanations.find((x) => x.code === code) ?? null;
  if (!f) return [];
  const ids = new Set(f.evidence);
  return evidenceLines(j.events.filter((e) => ids.has(e.id)), lang);
}
