import type { LedgerEvent, StoredEvent } from '../types.js';

export type Row = Record<string, string | number | null>;

function domainOf(addr: string | null | undefined): string | null {
  if (!addr) return null;
  const at = addr.lastIndexOf('@');
  return at >= 0 ? addr.slice(at + 1).toLowerCase() : null;
}

export function toRow(e: LedgerEvent): Row {
  return {
    ts: e.ts,
    node: e.node,
    source: e.source,
    kind: e.kind,
    session: e.session ?? null,
    ref: e.ref ?? null,
    client_ip: e.client_ip ?? null,
    client_ptr: e.client_ptr ?? null,
    helo: e.helo ?? null,
    mail_from: e.mail_from ?? null,
    mail_from_domain: domainOf(e.mail_from),
    rcpt: e.rcpt ? e.rcpt.toLowerCase() : null,
    rcpt_domain: domainOf(e.rcpt),
    message_id: e.message_id ?? null,
    size: e.size ?? null,
    check_name: e.check_name ?? null,
    verdict: e.verdict ?? null,
    smtp_code: e.smtp_code ?? null,
    enhanced_code: e.enhanced_code ?? null,
    reply: e.reply ?? null,
    details: e.details ? JSON.stringify(e.details) : null,
  };
}

export function fromRow(r: Row): StoredEvent {
  const ev: StoredEvent = {
    id: Number(r.id),
    ts: Number(r.ts),
    node: String(r.node),
    source: r.source as StoredEvent['source'],
    kind: r.kind as StoredEvent['kind'],
  };
  const str = ['session', 'ref', 'client_ip', 'client_ptr', 'helo', 'mail_from', 'rcpt', 'message_id',
    'check_name', 'enhanced_code', 'reply'] as const;
  for (const k of str) if (r[k] !== null && r[k] !== undefined) ev[k] = String(r[k]);
  if (r.verdict !== null && r.verdict !== undefined) ev.verdict = r.verdict as StoredEvent['verdict'];
  if (r.size !== null && r.size !== undefined) ev.size = Number(r.size);
  if (r.smtp_code !== null && r.smtp_code !== undefined) ev.smtp_code = Number(r.smtp_code);
  if (typeof r.details === 'string') {
    try {
      ev.details = JSON.parse(r.details) as Record<string, unknown>;
    } catch {
      ev.details = { unparsable: r.details };
    }
  }
  return ev;
}
