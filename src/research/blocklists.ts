import type { StoredEvent } from '../ledger/types.js';

// Where a sender looks up, and asks to remove, the listing of its server on
// a DNS block list: the list's own lookup page. A built-in table of
// well-known lists, and the configuration's checks.dnsbl.zones[].lookup_url
// for any other (or to override one of these). Only pages known to be the
// list's own are here; lists that stopped answering are not (SORBS closed in
// 2024; NiX Spam, ix.dnsbl.manitu.net, returns no listings since 2025).

export interface ListLink { name: string; url: string }

interface Known { name: string; url: string; zones: RegExp }

const KNOWN: Known[] = [
  // zen, sbl, xbl, pbl, sbl-xbl; and the Data Query Service, <key>.zen.dq.spamhaus.net.
  { name: 'Spamhaus', url: 'https://check.spamhaus.org/', zones: /^(?:(?:zen|sbl|xbl|pbl|sbl-xbl)\.spamhaus\.org|(?:[a-z0-9]+\.)?(?:zen|sbl|xbl|pbl|sbl-xbl)\.dq\.spamhaus\.net)$/ },
  { name: 'SpamCop', url: 'https://www.spamcop.net/bl.shtml', zones: /^bl\.spamcop\.net$/ },
  { name: 'Barracuda', url: 'https://www.barracudacentral.org/lookups', zones: /^b{1,2}\.barracudacentral\.org$/ },
  { name: 'PSBL', url: 'https://psbl.org/', zones: /^psbl\.surriel\.com$/ },
  { name: 'Mailspike', url: 'https://mailspike.org/', zones: /^(?:bl|z)\.mailspike\.net$/ },
  { name: 'UCEPROTECT', url: 'https://www.uceprotect.net/en/rblcheck.php', zones: /^dnsbl-[123]\.uceprotect\.net$/ },
];

/** A zone as configured and recorded: lower case, without the root dot. */
export function normalZone(zone: string): string {
  return zone.trim().toLowerCase().replace(/\.$/, '');
}

/** The lookup page of a block list zone: the configured one (`configured`, by zone), else the built-in one, else null. */
export function lookupUrlOf(zone: string, configured: Readonly<Record<string, string>> = {}): string | null {
  const z = normalZone(zone);
  const own = Object.entries(configured).find(([k]) => normalZone(k) === z)?.[1];
  if (own && /^https?:\/\//i.test(own)) return own;
  return KNOWN.find((k) => k.zones.test(z))?.url ?? null;
}

/** The built-in name of a well-known zone ("Spamhaus"), for a list the evidence names only by its zone. */
export function knownListName(zone: string): string | null {
  const z = normalZone(zone);
  return KNOWN.find((k) => k.zones.test(z))?.name ?? null;
}

function evidence(e: StoredEvent): Record<string, unknown> {
  const x = (e.details as { evidence?: unknown } | null)?.evidence;
  return x && typeof x === 'object' ? x as Record<string, unknown> : {};
}

/** Zone-like words of a logged text (Postfix: "blocked using zen.spamhaus.org"). */
const ZONE_WORD = /\b[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+\b/gi;

/**
 * The block lists that listed the sending server in these events (the
 * dnsbl check's refusals and flags), each with its lookup page where one is
 * known. Allow-lists (DNSWL) are not block lists and are left out. For an
 * ingested Postfix refusal the list is found by its zone in the logged reply.
 */
export function blocklistLinks(events: readonly StoredEvent[], configured: Readonly<Record<string, string>> = {}): ListLink[] {
  const out: ListLink[] = [];
  const add = (name: string, zone: string): void => {
    const url = lookupUrlOf(zone, configured);
    if (url && !out.some((l) => l.url === url && l.name === name)) out.push({ name, url });
  };
  for (const e of events) {
    if (e.kind !== 'check.result' || e.check_name !== 'dnsbl' || !['reject', 'tempfail', 'flag'].includes(e.verdict ?? '')) continue;
    const x = evidence(e);
    const zones = Array.isArray(x.zones) ? x.zones as Record<string, unknown>[] : [];
    for (const z of zones) {
      if (z.type === 'allow' || !Array.isArray(z.listings) || z.listings.length === 0 || typeof z.zone !== 'string') continue;
      add(typeof z.name === 'string' && z.name ? z.name : knownListName(z.zone) ?? normalZone(z.zone), z.zone);
    }
    if (zones.length === 0) {
      const text = [x.source_text, e.reply].filter((t): t is string => typeof t === 'string').join(' ');
      for (const word of text.match(ZONE_WORD) ?? []) {
        if (lookupUrlOf(word, configured)) add(knownListName(word) ?? normalZone(word), word);
      }
    }
  }
  return out;
}
