import type { SearchResult } from '../research/search.js';

/**
 * Why no report may be written from this answer now, or null. A report is
 * forwarded to customers and every sentence of it must hold: while the store
 * has not taken in all of the journal (ledger/open.ts), "no connection came",
 * "never retried" or "not fetched" could be contradicted by the very events
 * still missing. A trace may show such an answer with its notice; a report
 * waits.
 */
export function reportRefusal(result: SearchResult, lang: 'de' | 'en'): string | null {
  const behind = result.store_behind ?? [];
  if (behind.length === 0) return null;
  const silent = behind.find((l) => l.silent_ms !== undefined);
  if (silent) {
    const s = Math.round(silent.silent_ms! / 1000);
    return lang === 'de'
      ? `Der Server ${silent.node} hat sich seit ${s} s nicht gemeldet; seine neuesten Ereignisse können fehlen, und ein Bericht könnte jetzt Falsches behaupten. Ist der Server dauerhaft außer Betrieb, meldet ihn ein Administrator mit \`mailproof cluster retire ${silent.node}\` ab.`
      : `Server ${silent.node} has not reported for ${s} s; its newest events may be missing, and a report now could claim what they contradict. If the server is out of service for good, an operator retires it with \`mailproof cluster retire ${silent.node}\`.`;
  }
  const n = behind.reduce((a, l) => a + l.events, 0);
  return lang === 'de'
    ? `Der Datenbestand ist noch nicht vollständig (${n} Ereignis(se) fehlen noch); ein Bericht könnte jetzt Falsches behaupten. Bitte in einigen Sekunden erneut versuchen.`
    : `The store has not taken in all events yet (${n} missing); a report now could claim what they contradict. Please try again in a few seconds.`;
}
