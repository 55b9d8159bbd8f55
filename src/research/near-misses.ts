import type { LedgerReader } from '../ledger/types.js';
import type { Lang } from './explain.js';
import type { NearMiss } from './journeys.js';
import { senderDomainOf } from './sessions.js';

// Near misses: what is close to the searched address and explains why the
// mail is not there. The likely typo comes first: a similar address of the
// same domain that was refused as unknown ("buchhaltumg@" for
// "buchhaltung@"). Every near miss says in words what it is; none leaves the
// searched recipient domain (search.ts passes only those), so a report for a
// customer never names another customer's domain or mail.

/** Order of kinds: the refused typo explains the missing mail; another sender address only hints. */
const RANK: Record<NearMiss['kind'], number> = { refused_similar_address: 0, similar_mailbox: 1, other_sender_address: 2 };

/** Most near misses of one kind. */
const MAX_PER_KIND = 5;

/** Most edits between two local parts that count as a typing slip: one for short names, or every 3-letter name is "similar". */
function maxEdits(local: string): number {
  return local.length <= 4 ? 1 : 2;
}

function hhmm(iso: string): { time: string; date: string } {
  return { time: iso.slice(11, 16), date: iso.slice(0, 10) };
}

/** A near miss in words, in the search's language. */
export function nearMissText(n: NearMiss, lang: Lang): string {
  switch (n.kind) {
    case 'refused_similar_address': {
      const local = `${n.value.slice(0, n.value.lastIndexOf('@'))}@`;
      const { time, date } = hhmm(n.at ?? '');
      return lang === 'de'
        ? `Mail an die ähnliche Adresse ${local} wurde um ${time} abgelehnt, weil es sie nicht gibt (am ${date}, Zeiten in UTC).`
        : `Mail for the similar address ${local} was refused at ${time} because it does not exist (on ${date}, times in UTC).`;
    }
    case 'similar_mailbox': return lang === 'de' ? `Ein ähnliches Postfach existiert: ${n.value}` : `A similar mailbox exists: ${n.value}`;
    case 'other_sender_address': return lang === 'de' ? `Dieselbe Absender-Domain schrieb von ${n.value}` : `The same sender domain wrote from ${n.value}`;
  }
}

/** The near misses with their words, the likely typo first (stable within a kind). */
export function rankNearMisses(list: NearMiss[], lang: Lang): NearMiss[] {
  const seen = new Set<string>();
  return list
    .filter((n) => (seen.has(`${n.kind} ${n.value}`) ? false : (seen.add(`${n.kind} ${n.value}`), true)))
    .map((n, i) => ({ n: { ...n, what: nearMissText(n, lang) }, i }))
    .sort((a, b) => RANK[a.n.kind] - RANK[b.n.kind] || a.i - b.i)
    .map((x) => x.n);
}

/**
 * Addresses of the searched recipient's domain, one or two typing slips
 * away, that were refused as unknown in the window: the sender mistyped.
 * `from`: only refusals of mail from that sender's domain. Closest first,
 * then newest.
 */
export async function refusedSimilar(reader: LedgerReader, rcpt: string, o: { since?: number; until: number; from?: string }): Promise<NearMiss[]> {
  const at = rcpt.lastIndexOf('@');
  if (at < 0) return [];
  const local = rcpt.slice(0, at).toLowerCase();
  const domain = rcpt.slice(at + 1).toLowerCase();
  const fromDomain = o.from ? senderDomainOf(o.from) : null;
  const max = maxEdits(local);
  const scored: { n: NearMiss; d: number; ts: number }[] = [];
  for (const e of await reader.refusedRecipients(domain, o.since ?? 0, o.until)) {
    const addr = e.rcpt!.toLowerCase();
    const cl = addr.slice(0, addr.lastIndexOf('@'));
    if (cl === local || addr.slice(addr.lastIndexOf('@') + 1) !== domain) continue;
    if (fromDomain !== null && (e.mail_from ?? '').toLowerCase().split('@').pop() !== fromDomain) continue;
    const d = typoDistance(local, cl, max);
    if (d > max) continue;
    scored.push({ n: { kind: 'refused_similar_address', value: addr, at: new Date(e.ts).toISOString(), ...(e.ref ? { ref: e.ref } : {}) }, d, ts: e.ts });
  }
  return scored.sort((a, b) => a.d - b.d || b.ts - a.ts).slice(0, MAX_PER_KIND).map((s) => s.n);
}

/** Existing mailboxes of the same domain whose local part is one or two typing slips away. */
export function similarMailboxes(addr: string, candidates: string[]): string[] {
  const at = addr.lastIndexOf('@');
  const local = addr.slice(0, at).toLowerCase();
  const domain = addr.slice(at + 1).toLowerCase();
  const max = maxEdits(local);
  const scored: { m: string; d: number }[] = [];
  for (const c of candidates) {
    const cat = c.lastIndexOf('@');
    if (cat < 0 || c.slice(cat + 1).toLowerCase() !== domain) continue;
    const cl = c.slice(0, cat).toLowerCase();
    if (cl === local) continue;
    const d = typoDistance(local, cl, max);
    if (d <= max) scored.push({ m: c.toLowerCase(), d });
  }
  return scored.sort((a, b) => a.d - b.d || a.m.localeCompare(b.m)).slice(0, MAX_PER_KIND).map((s) => s.m);
}

/**
 * Optimal string alignment distance (Levenshtein plus swapped neighbours, the
 * commonest typing slip), stopping early past `max`. Hand-written: a dozen
 * lines, where the libraries on npm do plain Levenshtein without the swap.
 */
export function typoDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) rows.push([i]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    let best = Infinity;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = v;
      best = Math.min(best, v);
    }
    if (best > max) return max + 1;
  }
  return rows[a.length]![b.length]!;
}
