import Database from 'better-sqlite3';
import { applySchema, openPragmas } from './schema.js';
import { fromValues, SELECT_COLUMNS } from './row.js';
import type { EventQuery, LedgerReader, QuietSessionQuery, StoredEvent } from '../types.js';
import { normalizeMessageId } from '../../util/message-id.js';

// The columns by name, in the order fromValues reads them (not `*`: the order of a table's columns is its creator's).
const COLS = SELECT_COLUMNS.join(', ');
const CHUNK = 500;
const LIST_LENGTHS = [1, 2, 4, 8, 16, 32, 64, 128, 256, CHUNK];

/** Read side of the previous ledger format. Synchronous inside; the LedgerReader interface is asynchronous (a cluster store's client is). */
export class SqliteLedgerReader implements LedgerReader {
  private db: Database.Database;
  /** Prepared statements by SQL text: query() builds a handful of shapes, byColumn three. */
  private statements = new Map<string, Database.Statement>();

  constructor(path: string, opts: { readonly?: boolean } = {}) {
    this.db = new Database(path, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
    if (!opts.readonly) {
      openPragmas(this.db);
      applySchema(this.db);
    } else {
      this.db.pragma('busy_timeout = 10000');
    }
  }

  /** A prepared `SELECT <SELECT_COLUMNS> FROM events ...` in raw mode (rows as arrays, decoded by fromValues). */
  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql).raw(true);
      this.statements.set(sql, s);
    }
    return s;
  }

  async query(q: EventQuery): Promise<StoredEvent[]> {
    const where: string[] = [];
    const args: Record<string, string | number> = {};
    const eq = (col: string, v: string | undefined, lower = false): void => {
      if (v === undefined) return;
      where.push(`${col} = @${col}`);
      args[col] = lower ? v.toLowerCase() : v;
    };
    eq('rcpt', q.rcpt, true);
    eq('rcpt_domain', q.rcpt_domain, true);
    eq('mail_from', q.mail_from);
    // mail_from has no index of its own; its domain column (toRow derives it
    // from mail_from) has one, so a sender address alone is not a table scan.
    const at = q.mail_from?.lastIndexOf('@') ?? -1;
    eq('mail_from_domain', q.mail_from_domain ?? (at >= 0 ? q.mail_from!.slice(at + 1) : undefined), true);
    eq('client_ip', q.client_ip);
    eq('ref', q.ref);
    eq('message_id', normalizeMessageId(q.message_id) ?? undefined);
    if (q.kinds !== undefined) {
      where.push(`kind IN (${q.kinds.map((_, i) => `@k${i}`).join(',') || 'NULL'})`);
      q.kinds.forEach((k, i) => { args[`k${i}`] = k; });
    }
    if (q.since !== undefined) { where.push('ts >= @since'); args.since = q.since; }
    if (q.until !== undefined) { where.push('ts <= @until'); args.until = q.until; }
    const sql = `SELECT ${COLS} FROM events ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY ${q.newest_first ? 'ts DESC, id DESC' : 'ts, id'} LIMIT @limit`;
    args.limit = q.limit ?? 10000;
    return (this.stmt(sql).all(args) as unknown[][]).map(fromValues);
  }

  private byColumn(col: 'ref' | 'session' | 'message_id', values: string[]): StoredEvent[] {
    if (values.length === 0) return [];
    const out: StoredEvent[] = [];
    // SQLite caps bound parameters; chunk to stay well below it. A chunk is
    // padded to the next of a few list lengths (repeating its last value,
    // which IN ignores) so that a handful of prepared statements serve every
    // list. No ORDER BY: the rows are sorted here, which spares SQLite a
    // temporary B-tree.
    for (let i = 0; i < values.length; i += CHUNK) {
      const chunk = values.slice(i, i + CHUNK);
      const n = LIST_LENGTHS.find((l) => l >= chunk.length)!;
      while (chunk.length < n) chunk.push(chunk[chunk.length - 1]!);
      const sql = `SELECT ${COLS} FROM events WHERE ${col} IN (${chunk.map(() => '?').join(',')})`;
      for (const r of this.stmt(sql).all(...chunk) as unknown[][]) out.push(fromValues(r));
    }
    return out.sort((a, b) => a.ts - b.ts || a.id - b.id);
  }

  async byRefs(refs: string[]): Promise<StoredEvent[]> { return this.byColumn('ref', refs); }
  async bySessions(sessions: string[]): Promise<StoredEvent[]> { return this.byColumn('session', sessions); }
  async byMessageIds(ids: string[]): Promise<StoredEvent[]> { return this.byColumn('message_id', ids); }

  async recipients(domain: string, since: number, until = Date.now()): Promise<string[]> {
    const rows = this.db.prepare(`SELECT DISTINCT rcpt FROM events WHERE rcpt_domain = ? AND ts >= ? AND ts <= ?
      AND kind IN ('rcpt.accepted', 'message.delivered') AND rcpt IS NOT NULL LIMIT 100000`).all(domain.toLowerCase(), since, until) as { rcpt: string }[];
    return rows.map((r) => r.rcpt);
  }

  async quietSessions(q: QuietSessionQuery): Promise<StoredEvent[]> {
    // The literal kind matches the partial index events_close_p (schema.ts).
    const where = ["kind = 'session.close'", 'ts >= @since', 'ts <= @until'];
    const args: Record<string, string | number> = { since: q.since ?? 0, until: q.until ?? Date.now(), limit: q.limit ?? 100 };
    if (q.client_ip !== undefined) { where.push('client_ip = @ip'); args.ip = q.client_ip; }
    if (q.host_domain !== undefined) {
      const d = q.host_domain.toLowerCase().replace(/\.$/, '');
      args.d = d;
      args.like = `%.${d.replace(/[\\%_]/g, (x) => `\\${x}`)}`;
      where.push("(lower(helo) = @d OR lower(helo) LIKE @like ESCAPE '\\' OR lower(client_ptr) = @d OR lower(client_ptr) LIKE @like ESCAPE '\\')");
    }
    // Our gateway counts the session's transactions; an ingested Postfix
    // session lists its commands (no "mail=" when MAIL never came).
    where.push("(json_extract(details, '$.transactions') = 0 OR (source = 'postfix' AND json_type(details, '$.commands') = 'object' AND json_extract(details, '$.commands.mail') IS NULL))");
    const sql = `SELECT ${COLS} FROM events WHERE ${where.join(' AND ')} ORDER BY ts DESC, id DESC LIMIT @limit`;
    return (this.stmt(sql).all(args) as unknown[][]).map(fromValues);
  }

  async refusedRecipients(domain: string, since: number, until = Date.now()): Promise<StoredEvent[]> {
    // RFC 3463: X.1.1 bad destination mailbox address.
    const sql = `SELECT ${COLS} FROM events WHERE id IN (SELECT MAX(id) FROM events WHERE rcpt_domain = @domain AND ts >= @since AND ts <= @until
      AND kind = 'rcpt.rejected' AND rcpt IS NOT NULL AND (check_name = 'recipient' OR enhanced_code = '5.1.1') GROUP BY rcpt, mail_from_domain LIMIT 1000) ORDER BY ts DESC, id DESC`;
    return (this.stmt(sql).all({ domain: domain.toLowerCase(), since, until }) as unknown[][]).map(fromValues);
  }

  async close(): Promise<void> { this.db.close(); }
}
