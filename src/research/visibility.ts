// What a customer may see of the ledger: one rule, used by research where
// the query runs (search.ts) and therefore by every page, the JSON API and
// the reports alike.
//
// A customer (a web account with domains) sees the journeys of recipients in
// its domains, and of those only what is about that recipient and the
// sender: not the operator's internals (Maildir paths, downstream and
// resolver addresses, scanner sockets), and no figure that counts across
// customers (a transaction's recipients, a session's transactions). Staff
// (scope null) see everything.
import { nonPublicAddress, nonPublicName } from '../dns/public-name.js';
import type { StoredEvent } from '../ledger/types.js';
import type { DomainDiagnosis, IpDiagnosis } from '../dnscheck/diagnostics.js';
import type { Journey, NearMiss } from './journeys.js';

/** null = staff (no restriction); otherwise the recipient domains, lower case. */
export type Scope = readonly string[] | null;

export function domainOf(addr: string): string {
  return addr.slice(addr.lastIndexOf('@') + 1).toLowerCase();
}

export function inScope(scope: Scope, rcpt: string): boolean {
  return scope === null || scope.includes(domainOf(rcpt));
}

/**
 * Detail keys that hold the operator's internals, at any depth: Maildir files
 * and locations, downstream (LMTP/SMTP) addresses, the resolver that answered
 * a DNS question, the clamd socket, allow-listed networks, a scanner's raw
 * answer, Postfix's relay (host and socket of the next hop), our own address
 * and port a session came in on (the gateway's `local`, Dovecot's `lip`),
 * the front server that passed a client on by XCLIENT or PROXY (`proxy`),
 * and the process id of a gateway that crashed.
 */
const INTERNAL_KEYS = new Set(['files', 'location', 'address', 'server', 'servers', 'resolver', 'clamd', 'networks', 'raw', 'relay', 'local', 'lip', 'proxy', 'crashed_pid']);

/** Detail keys that count or name other recipients of the transaction or session: other customers' mail. */
const CROSS_KEYS = new Set(['rcpts', 'nrcpt', 'transactions', 'delivered', 'commands', 'bounce_of']);

/** An absolute file path inside a text ("open '/var/mail/a.test/bob/tmp/x'"), not the path of a URL. */
const ABS_PATH = /(?<![\w.:/~-])\/(?:[\w.@+%=,-]+\/)+[\w.@+%=,-]*/g;

const HIDDEN = '[internal]';

/** The string values under internal keys, to be masked wherever else they are quoted (a reason naming the resolver). */
function internalStrings(v: unknown, out: Set<string>, internal = false): Set<string> {
  // Only what looks like an address or a path: a short word ("dns") would mask half of every text.
  if (typeof v === 'string') {
    if (internal && v.length >= 5 && /[0-9/:]/.test(v)) out.add(v);
    // The host of "host:port" or "lmtp:host:port" on its own too: a downstream reply may name it without the port.
    const host = internal ? /^(?:[a-z]+:)?\[?([^\s[\]/]+?)\]?:\d{1,5}$/i.exec(v)?.[1] : undefined;
    if (host && host.length >= 5 && /[.:]/.test(host)) out.add(host);
  }
  else if (Array.isArray(v)) for (const x of v) internalStrings(x, out, internal);
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) internalStrings(x, out, internal || INTERNAL_KEYS.has(k));
  return out;
}

/** A secret as a pattern of whole values: the secret 127.0.0.1 is not the start of 127.0.0.10. */
function secretPattern(x: string): RegExp {
  return new RegExp(`(?<![0-9A-Za-z.])${x.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')}(?![0-9A-Za-z])`, 'g');
}

function maskText(s: string, secrets: readonly RegExp[]): string {
  let out = s;
  for (const x of secrets) out = out.replace(x, HIDDEN);
  return out.replace(ABS_PATH, HIDDEN);
}

function clean(v: unknown, secrets: readonly RegExp[], scope: Scope, depth: number): unknown {
  if (typeof v === 'string') return maskText(v, secrets);
  if (depth > 8 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => clean(x, secrets, scope, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (INTERNAL_KEYS.has(k) || CROSS_KEYS.has(k)) continue;
    // The mailboxes an alias fanned out to, and the address before rewriting: only those of the account's domains.
    if (scope !== null && k === 'mailboxes' && Array.isArray(x)) { out[k] = x.filter((m) => typeof m === 'string' && inScope(scope, m)); continue; }
    if (scope !== null && k === 'orig_to' && typeof x === 'string' && !inScope(scope, x)) continue;
    out[k] = clean(x, secrets, scope, depth + 1);
  }
  return out;
}

/**
 * Any value (event details, a DNS diagnosis) without the operator's
 * internals: internal and cross-recipient keys removed, absolute paths and
 * the removed values masked where other texts quote them. `extraSecrets`:
 * more strings to mask (the configured resolvers).
 */
export function hideInternals<T>(value: T, o: { scope?: Scope; extraSecrets?: readonly string[] } = {}): T {
  const secrets = [...internalStrings(value, new Set(o.extraSecrets?.filter((s) => s.length >= 5) ?? []))]
    .sort((a, b) => b.length - a.length);
  return clean(value, secrets.map(secretPattern), o.scope ?? null, 0) as T;
}

/** What a customer may see of one event of its own journey. */
export function visibleEvent(e: StoredEvent, scope: Scope): StoredEvent {
  if (scope === null) return e;
  // A session's end counts its transactions and commands: other customers' mail in the same connection.
  const details = e.kind === 'session.close' ? null : e.details ? hideInternals(e.details, { scope }) : e.details;
  return { ...e, details };
}

/** What a customer may see of a journey: null when it is not the customer's, else the journey without internals. */
export function visibleJourney<J extends Journey>(j: J, scope: Scope): J | null {
  if (scope === null) return j;
  if (!inScope(scope, j.rcpt)) return null;
  return { ...j, events: j.events.map((e) => visibleEvent(e, scope)), near_misses: visibleNearMisses(j.near_misses, scope) };
}

/**
 * A session without a transaction (research/sessions.ts) as a report shows
 * it: without internals and the close's counts. It names no recipient, so it
 * belongs to no customer: search.ts gives it to staff only (a customer could
 * otherwise learn that a sender's server talked to us for someone else), and
 * a report that staff make of it shows it like this.
 */
export function visibleSession<J extends Journey>(j: J): J {
  return { ...j, events: j.events.map((e) => visibleEvent(e, [])), near_misses: [] };
}

/** Near misses a customer may see: similar and refused addresses of its own domains; other sender addresses only from research that was scoped already. */
export function visibleNearMisses(list: NearMiss[], scope: Scope): NearMiss[] {
  return scope === null ? list : list.filter((n) => n.kind === 'other_sender_address' || inScope(scope, n.value));
}

/**
 * A DNS diagnosis as a customer may see it (the name was public, see
 * dns/public-name.ts): without the checks' raw evidence (the resolver that
 * answered, every record of the trail), and without addresses that an MX
 * host name resolved to inside the operator's network, for a public domain
 * may still point its MX at an internal name. `resolvers`: the configured
 * resolver addresses, masked wherever a text names them.
 */
export function visibleDomainDiagnosis(r: DomainDiagnosis, resolvers: readonly string[] = []): DomainDiagnosis {
  const mx = r.mx.map((h) => ({ ...h, addresses: !h.is_ip && nonPublicName(h.exchange) ? [] : h.addresses.filter((a) => nonPublicAddress(a) === null) }));
  return hideInternals({ ...r, mx, checks: r.checks.map((c) => ({ ...c, evidence: null })) }, { extraSecrets: resolvers });
}

export function visibleIpDiagnosis(r: IpDiagnosis, resolvers: readonly string[] = []): IpDiagnosis {
  return hideInternals({ ...r, checks: r.checks.map((c) => ({ ...c, evidence: null })) }, { extraSecrets: resolvers });
}
