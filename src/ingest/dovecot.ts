// Dovecot 2.3 log lines -> ledger events: logins, logouts with their counts,
// LMTP deliveries and the mail_log plugin's expunge/delete/copy lines.
// Written by hand: no installed library parses Dovecot logs. Formats as
// Dovecot 2.3 writes them, via syslog ("host dovecot: imap-login: Login: ...")
// or to its own log_path ("imap-login: Info: Login: ...", no host field).
import type { LedgerEvent } from '../ledger/types.js';
import { clean, MAX_ADDR, MAX_TEXT, RefusalNote, type Sink, type StatefulParser } from './common.js';
import { loginFields, mailLogFields, savedMail } from './dovecot-fields.js';
import type { SyslogLine } from './syslog.js';
import { normalizeMessageId } from '../util/message-id.js';

interface DcSession { user: string | null; ip: string | null; proto: 'pop3' | 'imap'; ts: number }

/** "a=1/2, b=3" or "in=1 out=2 deleted=0" -> counts (bounded). */
function counts(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  let n = 0;
  for (const m of s.matchAll(/([a-z_]+)=([0-9/]+)/g)) {
    if (n++ >= 30) break;
    out[m[1]!] = m[2]!.slice(0, 40);
  }
  return out;
}

// mail_log_prefix: "%s(%u)" and then, in 2.3's default, "<%{pid}><%{session}>";
// %u there is the authenticated user, which passed auth_username_chars (by
// default letters, digits and ".-_@": no parenthesis, '<' or ": "), so the tag
// ends where it seems to. A configuration that empties auth_username_chars
// lets a user name such as "a): rip=6.6.6.6 " pass for prefix variables.

// 2.2's default stops after "(%u)", and configurations add or drop "<...>"
// groups. Each group is told by its syntax: digits are the pid, an address
// the client's (a "<%{rip}>" group), anything else the session ID.
const SERVICE = /^(imap|pop3|lmtp|lda|indexer-worker|doveadm|submission|managesieve)\(([^)]*)\)((?:<[^<>]*>){0,4})$/;
const LEVEL = /^(?:Info|Error|Warning|Fatal|Panic|Debug): /;
const IP = /^(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)$/;
const SID = /^[A-Za-z0-9+/=_-]{1,64}$/;
// Variables a mail_log_prefix may write after the tag, "rip=%{rip} lip=%{lip} "
// and the like: each value Dovecot's own (an address, a number, a session
// ID), none with a space, so the list ends at the first word that is not one
// of them; the message after it ("expunge: ...") never starts with one.
const PREFIX_VAR = /^(rip|lip|real_rip|real_lip|rport|lport|real_rport|real_lport|session|pid)=(\S*) /;

interface PrefixVars { pid: string | null; session: string | null; rip: string | null; lip: string | null }

/** "<6678><jcvqSUBhTrl/AAAB>" after "pop3(user)" -> pid and session (and an address, when configured). */
function groups(g: string, into: PrefixVars): boolean {
  for (const m of g.matchAll(/<([^<>]*)>/g)) {
    const v = m[1]!;
    if (/^\d{1,10}$/.test(v)) into.pid = v;
    else if (IP.test(v) && v.length <= 64) into.rip = v;
    else if (SID.test(v)) into.session = v;
    else return false;
  }
  return true;
}

/** Reads "rip=1.2.3.4 lip=5.6.7.8 " at the start of msg into vars; returns the rest. */
function prefixTail(msg: string, into: PrefixVars): string {
  for (let n = 0; n < 8; n++) {
    const m = PREFIX_VAR.exec(msg);
    if (!m) break;
    const [, k, v] = m as unknown as [string, string, string];
    if (k.endsWith('rip') || k.endsWith('lip')) {
      if (v !== '' && !IP.test(v)) break;
      if (k === 'rip') into.rip = v || null;
      else if (k === 'lip') into.lip = v || null;
    } else if (k === 'session') {
      if (v !== '' && !SID.test(v)) break;
      into.session = v || into.session;
    } else if (!/^\d{0,10}$/.test(v)) break;
    else if (k === 'pid') into.pid = v || into.pid;
    msg = msg.slice(m[0].length);
  }
  return msg;
}

export class DovecotParser implements StatefulParser {
  private sessions = new Map<string, DcSession>();
  private refusal = new RefusalNote();

  takeRefusal(): string | null { return this.refusal.take(); }

  save(): unknown { return { s: [...this.sessions] }; }
  load(state: unknown): void {
    const st = state as { s?: [string, DcSession][] } | null;
    this.sessions = new Map(st?.s ?? []);
  }
  expire(before: number): void {
    for (const [k, v] of this.sessions) if (v.ts < before) this.sessions.delete(k);
  }

  handle(l: SyslogLine, node: string, sink: Sink): boolean {
    let tag = l.program;
    let msg = l.msg;
    // Via syslog the service is the first part of the message; some
    // setups write Dovecot's own "dovecot: " in front once more.
    for (let i = 0; i < 2 && tag === 'dovecot'; i++) {
      const c = msg.indexOf(': ');
      if (c <= 0) return false;
      tag = msg.slice(0, c);
      msg = msg.slice(c + 2);
    }
    msg = msg.replace(LEVEL, '');
    if (tag === 'imap-login' || tag === 'pop3-login' || tag === 'submission-login' || tag === 'managesieve-login') {
      return this.login(l, node, sink, tag, msg);
    }
    const sm = SERVICE.exec(tag);
    if (!sm) {
      // The master, auth and config processes: nothing about a message.
      return /^(?:master|auth|auth-worker|config|log|anvil|stats|dict|lmtp|imap|pop3|dovecot-auth|ssl-params|replicator|aggregator|quota-status)(?:\(|$|:)/.test(tag);
    }
    const service = sm[1]!;
    const user = clean(sm[2]!.toLowerCase(), MAX_ADDR);
    const vars: PrefixVars = { pid: null, session: null, rip: null, lip: null };
    if (!groups(sm[3]!, vars)) return false;
    msg = prefixTail(msg, vars).replace(LEVEL, '');
    const sid = vars.session;
    const session = sid ? `dc:${node}:${clean(sid, 64)}` : null;
    const st = sid ? this.sessions.get(node + '|' + sid) : undefined;
    // The login line's address first (the session's client); the prefix's own when configured.
    const ip = st?.ip ?? (vars.rip ? clean(vars.rip, 64) : null);
    const base = { ts: l.ts, node, source: 'dovecot' as const, session, rcpt: user, client_ip: ip };

    if (service === 'lmtp' || service === 'lda') {
      // "msgid=<...>: saved mail to INBOX"
      const m = savedMail(msg);
      if (m === 'ambiguous') return this.refusal.refuse('ambiguous saved mail line');
      // The mail_log plugin's "save:" line says the same as "saved mail to".
      if (!m) return /^(?:Connect|Disconnect|session|sieve|msgid=|save: )/.test(msg);
      sink.emit({ ...base, client_ip: null, kind: 'message.delivered', message_id: clean(normalizeMessageId(m.msgid), 998), details: { box: clean(m.box, 200), service } });
      return true;
    }
    if (service !== 'pop3' && service !== 'imap') return true;
    const kindPrefix = service;
    if (msg.startsWith('Disconnected') || msg.startsWith('Connection closed') || msg.startsWith('Logged out')) {
      const c = counts(msg);
      // pop3_logout_format's "retr=N/BYTES": Dovecot logs no line per RETR
      // (the mail_log plugin has no fetch event), so the session's count is
      // the evidence that the mailbox was fetched.
      const retr = service === 'pop3' ? /^(\d+)\/(\d+)$/.exec(c.retr ?? '') : null;
      if (retr && Number(retr[1]) > 0) {
        sink.emit({ ...base, kind: 'pop3.retr', details: { messages: Number(retr[1]), bytes: Number(retr[2]), from: 'logout counts' } });
      }
      sink.emit({ ...base, kind: `${kindPrefix}.logout`, details: { counts: c, reason: clean(msg.slice(0, 120), 120) } });
      if (sid) this.sessions.delete(node + '|' + sid);
      return true;
    }
    // mail_log plugin: "expunge: box=INBOX, uid=1, msgid=<..>, size=..", "delete: ...", "copy from INBOX: box=Trash, ..."
    const ml = /^(expunge|delete|copy|copy from [^:]*|save|flag_change|mailbox_create|mailbox_delete|mailbox_rename|undelete|fetch|append): (.*)$/.exec(msg);
    if (ml) {
      const ev = ml[1]!;
      // "delete" is the \Deleted flag (a client may still undelete); the
      // message is gone at "expunge", which POP3 logs for DELE at QUIT too
      // (seen in a real Dovecot 2.3 log, test/fixtures/dovecot/sample.log).
      let kind: LedgerEvent['kind'] | null = null;
      if (ev === 'expunge') kind = service === 'pop3' ? 'pop3.dele' : 'imap.expunge';
      else if (ev.startsWith('copy')) kind = 'mailbox.copy';
      if (!kind) return true;
      // Folder names and headers are any text: read so none passes for another field.
      const r = mailLogFields(ml[2]!);
      if (!r.ok) return this.refusal.refuse(r.reason === 'ambiguous' ? 'ambiguous mail_log line' : 'no mail_log fields');
      const f = r.fields;
      const details: Record<string, unknown> = { event: ev.split(' ')[0], box: clean(f.box ?? null, 200), uid: f.uid ?? null, size: f.size ?? null };
      if (ev.startsWith('copy from ')) details.from_box = clean(ev.slice(10), 200);
      sink.emit({ ...base, kind, message_id: f.msgid ? clean(normalizeMessageId(f.msgid), 998) : null, size: f.size ? Number(f.size) || null : null, details });
      return true;
    }
    return true;
  }

  private login(l: SyslogLine, node: string, sink: Sink, tag: string, msg: string): boolean {
    const proto = tag.startsWith('pop3') ? 'pop3' : tag.startsWith('imap') ? 'imap' : null;
    // The elements start after Dovecot's own message text, at the first
    // element written (the user is left out when empty before 2.3).
    let colon = -1;
    for (const e of [': user=<', ': method=', ': rip=']) {
      const i = msg.indexOf(e);
      if (i > 0 && (colon < 0 || i < colon)) colon = i;
    }
    const ok = msg.startsWith('Login: ');
    const head = ok ? 'Login' : colon > 0 ? msg.slice(0, colon) : msg;
    const authFailed = /auth failed|Authentication failed|Aborted login \(/.test(head) && !ok;
    if (!ok && !authFailed) {
      // Disconnects before any login attempt ("no auth attempts"), TLS chatter: no event.
      return /^(?:Disconnected|Aborted login|Connection closed|Maximum number|Login aborted)/.test(msg);
    }
    if (!proto) return true;
    // The user name is the client's: read so it cannot pass for the address or session after it.
    const r = loginFields(ok ? msg.slice(7) : colon > 0 ? msg.slice(colon + 2) : '');
    if (!r.ok) return this.refusal.refuse(r.reason === 'ambiguous' ? 'ambiguous login line' : 'no login fields');
    const f = r.fields;
    const user = f.user ? clean(f.user.toLowerCase(), MAX_ADDR) : null;
    const ip = f.rip ? clean(f.rip, 64) : null;
    const sid = f.session ?? null;
    const session = sid ? `dc:${node}:${clean(sid, 64)}` : null;
    if (ok && sid) this.sessions.set(node + '|' + sid, { user, ip, proto, ts: l.ts });
    sink.emit({
      ts: l.ts, node, source: 'dovecot', kind: `${proto}.login`, session, rcpt: user, client_ip: ip,
      verdict: ok ? 'pass' : 'reject', reply: ok ? null : clean(head, MAX_TEXT),
      details: { method: f.method ? clean(f.method, 40) : null, lip: f.lip ? clean(f.lip, 64) : null, tls: /\bTLS\b/.test(msg) },
    });
    return true;
  }
}
