import type { LedgerReader, StoredEvent } from '../ledger/types.js';
import type { Journey } from './journeys.js';

// Session journeys: SMTP sessions that began no transaction (no MAIL FROM).
// They name no recipient, so journeys.ts (one journey per transaction and
// recipient) never shows them; yet one of them is the commonest "it never
// arrived" story: the sender's MTA reads the SIZE limit in our EHLO reply
// (RFC 1870 section 4), finds its message larger, quits, and bounces the
// message to its own user. The ledger has the session (connect, EHLO with the
// announced limit, close), and research finds it by client address, or by the
// sender's domain when the HELO or PTR name is in it.

export interface SessionFilter {
  /** The client address. */
  ip?: string;
  /** A sender address or domain: sessions whose HELO or PTR name is that domain or under it. */
  from?: string;
  since?: number;
  until?: number;
}

/** Most sessions one search shows: many clients connect and leave (scanners, probes); the newest are kept. */
export const MAX_SESSIONS = 20;

/** The events of a session that tell its story. */
const SESSION_KINDS = new Set(['session.connect', 'session.helo', 'session.tls', 'session.close', 'session.limit', 'session.protocol_error']);

/** The domain a sender filter names: the part after "@", or the whole. */
export function senderDomainOf(from: string): string {
  const f = from.toLowerCase();
  return f.includes('@') ? f.slice(f.lastIndexOf('@') + 1) : f;
}

/** Sessions without a transaction matching the filter (it must name an address or a sender), newest `limit`, oldest first. */
export async function sessionJourneys(reader: LedgerReader, f: SessionFilter, limit = MAX_SESSIONS): Promise<{ journeys: Journey[]; truncated: boolean }> {
  if (!f.ip && !f.from) return { journeys: [], truncated: false };
  const closes = await reader.quietSessions({
    ...(f.ip ? { client_ip: f.ip } : {}),
    ...(f.from ? { host_domain: senderDomainOf(f.from) } : {}),
    since: f.since, until: f.until, limit: limit + 1,
  });
  const truncated = closes.length > limit;
  const kept = closes.slice(0, limit).filter((e) => !!e.session);
  const bySession = new Map<string, StoredEvent[]>();
  for (const e of await reader.bySessions(kept.map((c) => c.session!))) {
    if (!SESSION_KINDS.has(e.kind)) continue;
    const list = bySession.get(e.session!) ?? [];
    list.push(e);
    bySession.set(e.session!, list);
  }
  const journeys: Journey[] = [];
  for (const close of kept) {
    const events = (bySession.get(close.session!) ?? [close]).sort((a, b) => a.ts - b.ts || a.id - b.id);
    // A session that did start a transaction after all (its close counted none: an ingested log cut short) is not one of these.
    if (events.some((e) => e.kind === 'mail.from')) continue;
    const first = events[0]!;
    journeys.push({
      ref: close.ref ?? `session:${close.session!}`,
      node: close.node,
      source: close.source,
      started_at: new Date(first.ts).toISOString(),
      client_ip: close.client_ip ?? first.client_ip ?? null,
      helo: [...events].reverse().find((e) => e.helo)?.helo ?? null,
      mail_from: null,
      rcpt: '',
      message_id: null,
      outcome: 'no_transaction',
      reply: null,
      diagnosis: [quitAfterSize(events) ? 'likely_too_large' : 'no_transaction'],
      access: [],
      near_misses: [],
      events,
    });
  }
  journeys.sort((a, b) => a.started_at.localeCompare(b.started_at));
  return { journeys, truncated };
}

/**
 * Did the client quit right after an EHLO reply that announced a SIZE limit?
 * Nothing but the close follows the last EHLO: no error, no limit, no other
 * command that the ledger records.
 */
export function quitAfterSize(events: StoredEvent[]): boolean {
  const story = events.filter((e) => SESSION_KINDS.has(e.kind));
  const last = story[story.length - 1];
  const before = story[story.length - 2];
  if (!last || last.kind !== 'session.close' || !before || before.kind !== 'session.helo') return false;
  const limit = (before.details as { size_limit?: unknown } | null)?.size_limit;
  return typeof limit === 'number' && limit > 0;
}

/** The session without a transaction that has this REF (the session's own, as the journey lists show it), if any. */
export async function sessionOfRef(reader: LedgerReader, ref: string): Promise<Journey[]> {
  const close = (await reader.query({ ref, limit: 200 })).find((e) => e.kind === 'session.close');
  if (!close?.client_ip) return [];
  return (await sessionJourneys(reader, { ip: close.client_ip, since: close.ts, until: close.ts })).journeys.filter((j) => j.ref === ref);
}
