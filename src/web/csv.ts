// A search as CSV (RFC 4180: CRLF lines, every field quoted, quotes doubled),
// with a UTF-8 BOM so spreadsheet programs read umlauts right. Values from
// the ledger are attacker-controlled: a cell that a spreadsheet would run as
// a formula (=, +, -, @, tab, CR at the start) gets a leading apostrophe
// (the OWASP advice against CSV injection). Hand-written: a dozen lines, and
// the rule above is what matters, which a CSV library does not do.
import type { Lang } from '../research/explain.js';
import type { ExplainedJourney } from '../research/search.js';
import type { T } from './i18n/index.js';
import { outcomeWord } from './views/format.js';
import { causeOf, subjectOf } from './views/findings.js';

export function csvCell(v: string | number | null | undefined): string {
  let s = v === null || v === undefined ? '' : String(v);
  // Control characters other than tab/CR/LF would confuse readers; they carry nothing.
  s = s.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, '\ufffd');
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return `"${s.replace(/"/g, '""')}"`;
}

function localTime(iso: string, timeZone: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  // sv-SE formats as "2026-12-05 14:03:12": sortable in a spreadsheet.
  return new Intl.DateTimeFormat('sv-SE', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(d);
}

export function journeysCsv(journeys: ExplainedJourney[], o: { t: T; lang: Lang; timeZone: string }): string {
  const { t } = o;
  const head = [t('csv.time', { zone: o.timeZone }), t('csv.time_utc'), 'REF', t('list.status'), t('list.from'), t('list.to'), t('list.subject'), t('csv.client_ip'), t('list.cause'), t('csv.codes')];
  const rows = [...journeys].reverse().map((j) => [
    localTime(j.started_at, o.timeZone), j.started_at, j.ref, outcomeWord(j.outcome, t), j.mail_from ?? '', j.rcpt, subjectOf(j) ?? '',
    j.client_ip ?? '', causeOf(j, o.lang), j.diagnosis.join(' '),
  ]);
  return '\ufeff' + [head, ...rows].map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}
