// A generated ledger for the research benchmark (issue 5, "Speed"): N events
// (default 10 million) over 30 days to 50,000 mailboxes on 500 domains,
// written into the journal-first ledger's store (store/sqlite) through its
// own writer (SqliteStoreWriter, as the indexer writes it), plus the same
// traffic as a Postfix/Dovecot-style mail.log for the grep peer. Deterministic (seeded PRNG): the same parameters give the
// same files.
//
// The mix, per SMTP session of the gateway (source 'gateway'):
//  - session.connect, connect checks (dnsbl, client_identity) with evidence,
//    session.helo, session.tls for 60%;
//  - about 22% of sessions come from a DNSBL-listed address: the dnsbl check
//    rejects at connect and the refusal is given at RCPT (rcpt.rejected 554);
//  - 1-2 transactions: mail.from, spf check (pass / softfail flag / fail
//    reject), 1-3 recipients each with a recipient check and rcpt.accepted, or
//    rcpt.rejected for unknown users (550 5.1.1) and greylisting (451 4.7.1,
//    retried by the sender 10-40 minutes later in a new session), then
//    data.received, virus and spam checks (spam/virus rejections:
//    data.rejected), message.delivered per recipient (LMTP; 1% mailbox full:
//    message.delivery_failed 452 4.2.2), session.close.
//  - 3% of sessions are ingested Postfix (source 'postfix', an old MX): connect,
//    message.queued, message.delivered (service lmtp), close;
//  - 4% of deliveries are also seen by Dovecot (source 'dovecot', no REF:
//    joined by Message-ID);
//  - 30% of mailboxes read by POP3: after a delivery the mailbox is polled
//    within hours: pop3.login, pop3.retr (+ pop3.dele for 85%) per waiting
//    message, pop3.logout.
// Recipients are Zipf-distributed (s = 0.8: the busiest mailbox gets ~2.5% of
// the mail, a median one a few messages a month). Arrivals are uniform over
// the 30 days (no day/night curve: it would not change the index work).
//
// node generate.js [--dir /var/tmp/mailproof-bench] [--events N] [--mailboxes N] [--domains N] [--days N] [--seed N] [--batch 50000]
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { STORE_FORMAT } from '../../src/ledger/store/sqlite/schema.js';
import { SqliteStoreWriter, type StoreInput } from '../../src/ledger/store/sqlite/writer.js';
import type { LedgerEvent } from '../../src/ledger/types.js';
import { rng } from '../../test/helpers/rng.js';

export interface GenParams {
  events: number;
  mailboxes: number;
  domains: number;
  days: number;
  seed: number;
  /** End of the generated period (ms); fixed so that the files do not depend on the day they were made. */
  end: number;
}

export interface GenMeta extends GenParams {
  written: number;
  sessions: number;
  messages: number;
  log_lines: number;
  generation_ms: number;
  /** Time spent in the store writer (encoding chunks, terms, SQLite), ms. */
  store_ms: number;
  /** Events per store transaction. */
  batch: number;
  /** Mailboxes by rank (0 = busiest), for the benchmark's choice of recipients. */
  heavy: string[];
  light_sample: string[];
}

export const DEFAULTS: GenParams = {
  events: 10_000_000, mailboxes: 50_000, domains: 500, days: 30, seed: 1, end: Date.UTC(2026, 10, 27, 0, 0, 0),
};

/** Named after the store's format: a cache of another layout (the one-table ledger before) is never taken for this one. */
export function cacheName(p: GenParams, batch = STORE_BATCH): string {
  return `research-store${STORE_FORMAT}-e${p.events}-m${p.mailboxes}-d${p.domains}-t${p.days}-s${p.seed}${batch === STORE_BATCH ? '' : `-b${batch}`}`;
}


const B32 = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const FIRST = ['anna', 'ben', 'carla', 'david', 'eva', 'felix', 'greta', 'hans', 'ida', 'jonas', 'klara', 'lukas', 'mia', 'noah',
  'olga', 'paul', 'rosa', 'sven', 'tina', 'uwe', 'vera', 'walter', 'info', 'office', 'sales', 'kontakt', 'buero', 'service'];
const LAST = ['mueller', 'schmidt', 'schneider', 'fischer', 'weber', 'meyer', 'wagner', 'becker', 'schulz', 'hoffmann', 'koch',
  'richter', 'klein', 'wolf', 'neumann', 'schwarz', 'braun', 'zimmermann', 'krueger', 'hartmann'];
const WORDS = ['bau', 'auto', 'praxis', 'kanzlei', 'hotel', 'shop', 'technik', 'design', 'handel', 'verlag', 'schule', 'verein',
  'bäcker', 'apotheke', 'reisen', 'immobilien', 'garten', 'holz', 'metall', 'medien'];
const SUBJECTS = ['Rechnung', 'Ihre Bestellung', 'Newsletter', 'Termin', 'Angebot', 'Re: Anfrage', 'Fwd: Unterlagen', 'Protokoll',
  'Lieferung', 'Einladung'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

interface Future { ts: number; run: (ts: number) => void }

/** A binary min-heap on ts: POP3 polls and greylist retries that come later. */
class Heap {
  private a: Future[] = [];
  get size(): number { return this.a.length; }
  peek(): Future | undefined { return this.a[0]; }
  push(x: Future): void {
    const a = this.a;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]!.ts <= a[i]!.ts) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }
  pop(): Future | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l]!.ts < a[m]!.ts) m = l;
        if (r < a.length && a[r]!.ts < a[m]!.ts) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}

interface Sink {
  event(e: LedgerEvent): void;
  line(ts: number, text: string): void;
}

/**
 * The traffic model. `sink` receives events and mail.log lines; generate()
 * writes them, calibrate() only counts.
 */
function model(p: GenParams, sink: Sink, sessionsWanted: number): { sessions: number; messages: number; heavy: string[]; light: string[] } {
  const rand = rng(p.seed);
  const int = (n: number): number => Math.floor(rand() * n);
  const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;
  const b32 = (n: number): string => { let s = ''; for (let i = 0; i < n; i++) s += B32[int(32)]; return s; };
  const lc = (n: number): string => { let s = ''; for (let i = 0; i < n; i++) s += 'abcdefghijklmnopqrstuvwxyz0123456789'[int(36)]; return s; };

  const mailboxes = mailboxList(p);
  const zipf = (n: number, s: number): Float64Array => {
    const c = new Float64Array(n);
    let sum = 0;
    for (let k = 0; k < n; k++) { sum += 1 / Math.pow(k + 1, s); c[k] = sum; }
    for (let k = 0; k < n; k++) c[k]! /= sum;
    return c;
  };
  const draw = (c: Float64Array): number => {
    const x = rand();
    let lo = 0;
    let hi = c.length - 1;
    while (lo < hi) { const m = (lo + hi) >> 1; if (c[m]! < x) lo = m + 1; else hi = m; }
    return lo;
  };
  const rcptCdf = zipf(p.mailboxes, 0.8);
  const senderDomains = Array.from({ length: 3000 }, (_, i) => `${WORDS[(i * 3) % WORDS.length]}${i}.sender.example`);
  const senders = Array.from({ length: 30000 }, (_, i) => `${FIRST[i % FIRST.length]}${i % 97}@${senderDomains[(i * 31) % senderDomains.length]}`);
  const senderCdf = zipf(senders.length, 1.0);
  const senderIp = senderDomains.map((_, i) => `${20 + (i % 180)}.${(i * 13) % 256}.${(i * 29) % 256}.${1 + (i % 250)}`);
  const isPop = (k: number): boolean => (Math.imul(k + 17, 40503) >>> 0) % 10 < 3;
  const unknownLocal = (): string => `${pick(FIRST)}${int(1000)}x`;

  let pid = 10000;
  let qn = 0;
  const qid = (): string => (0x100000 + (qn++ * 2654435761 >>> 0) % 0xeffffff).toString(16).toUpperCase();

  const heap = new Heap();
  const popWaiting = new Map<number, Array<{ ref: string; mid: string; size: number }>>();
  let sessions = 0;
  let messages = 0;

  function popSession(ts: number, k: number): void {
    const box = mailboxes[k]!;
    const waiting = popWaiting.get(k) ?? [];
    popWaiting.delete(k);
    const session = `pop3-${lc(12)}`;
    const ip = `10.${k % 250}.${(k >> 8) % 250}.${1 + (k % 200)}`;
    const base = { node: 'mx1', source: 'pop3' as const, session, client_ip: ip };
    let t = ts;
    sink.event({ ...base, ts: t, kind: 'pop3.login', rcpt: box, verdict: 'allow', details: { method: 'USER', tls: true } });
    sink.line(t, `mx1 dovecot: pop3-login: Login: user=<${box}>, method=PLAIN, rip=${ip}, lip=192.0.2.1, TLS`);
    let dele = 0;
    for (const m of waiting) {
      t += 50 + int(400);
      sink.event({ ...base, ts: t, kind: 'pop3.retr', rcpt: box, ref: m.ref, message_id: m.mid, size: m.size, details: { uidl: `${m.ref}` } });
      if (rand() < 0.85) {
        dele++;
        sink.event({ ...base, ts: t + 5, kind: 'pop3.dele', rcpt: box, ref: m.ref, message_id: m.mid, size: m.size, details: { uidl: `${m.ref}` } });
      }
    }
    t += 20 + int(100);
    sink.event({ ...base, ts: t, kind: 'pop3.logout', rcpt: box, details: { retr: waiting.length, dele, dropped: false, method: 'USER' } });
    sink.line(t, `mx1 dovecot: pop3(${box})<${pid++}><${session.slice(5)}>: Disconnected: Logged out top=0/0, retr=${waiting.length}/${waiting.reduce((a, m) => a + m.size, 0)}, del=${dele}/${waiting.length}, size=${waiting.reduce((a, m) => a + m.size, 0)}`);
  }

  function delivered(ts: number, k: number, ref: string, mid: string, size: number): void {
    if (!isPop(k)) return;
    const w = popWaiting.get(k);
    if (w) { w.push({ ref, mid, size }); return; }
    popWaiting.set(k, [{ ref, mid, size }]);
    // The mail client polls within hours; a few mailboxes are left unread for the rest of the period.
    if (rand() < 0.97) heap.push({ ts: ts + 60_000 + Math.floor(-Math.log(1 - rand()) * 3 * 3600e3), run: (at) => popSession(at, k) });
  }

  /** An ingested Postfix session on the old MX (source 'postfix'). */
  function postfixSession(ts: number): void {
    const k = draw(rcptCdf);
    const rcpt = mailboxes[k]!;
    const from = senders[draw(senderCdf)]!;
    const ip = `${30 + int(150)}.${int(256)}.${int(256)}.${1 + int(250)}`;
    const q = qid();
    const session = `postfix:mx-old:${pid++}:${ts}`;
    const ref = `P${q}`;
    const mid = `${q}.${ts}@${from.split('@')[1]}`;
    const size = 2000 + int(60000);
    const base = { node: 'mx-old', source: 'postfix' as const, session, client_ip: ip };
    sink.event({ ...base, ts, kind: 'session.connect', client_ptr: `mail.${from.split('@')[1]}` });
    sink.event({ ...base, ts: ts + 300, kind: 'message.queued', ref, mail_from: from, message_id: mid, size, details: { queue_id: q, nrcpt: 1 } });
    sink.event({ ...base, ts: ts + 900, kind: 'message.delivered', ref, mail_from: from, message_id: mid, rcpt, smtp_code: 250, enhanced_code: '2.0.0', reply: `250 2.0.0 <${rcpt}> Saved`, details: { service: 'lmtp', relay: '127.0.0.1[127.0.0.1]:24', queue_id: q } });
    sink.event({ ...base, ts: ts + 1000, kind: 'session.close', details: { commands: 'ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5' } });
    sink.line(ts, `mx-old postfix/smtpd[${pid}]: connect from mail.${from.split('@')[1]}[${ip}]`);
    sink.line(ts + 300, `mx-old postfix/qmgr[900]: ${q}: from=<${from}>, size=${size}, nrcpt=1 (queue active)`);
    sink.line(ts + 900, `mx-old postfix/lmtp[${pid}]: ${q}: to=<${rcpt}>, relay=127.0.0.1[127.0.0.1]:24, delay=0.9, dsn=2.0.0, status=sent (250 2.0.0 <${rcpt}> Saved)`);
    messages++;
    delivered(ts + 900, k, ref, mid, size);
  }

  /** A gateway SMTP session; `retry` replays a greylisted transaction. */
  function gatewaySession(ts: number, retry?: { from: string; k: number; ip: string; ptr: string }): void {
    sessions++;
    const si = retry ? -1 : draw(senderCdf);
    const listed = !retry && rand() < 0.22;
    const from0 = retry ? retry.from : listed ? `${lc(8)}@${lc(6)}.example` : senders[si]!;
    const fromDomain = from0.split('@')[1]!;
    const ip = retry ? retry.ip : listed ? `${30 + int(190)}.${int(256)}.${int(256)}.${1 + int(250)}`
      : rand() < 0.9 ? senderIp[(si * 31) % senderIp.length]! : `${30 + int(190)}.${int(256)}.${int(256)}.${1 + int(250)}`;
    const dynamic = !retry && !listed && rand() < 0.05;
    const ptr = retry ? retry.ptr : dynamic ? `dsl-${ip.replace(/\./g, '-')}.dyn.isp.example` : listed ? null : `mail.${fromDomain}`;
    const session = lc(16);
    const sref = b32(12);
    const node = rand() < 0.5 ? 'mx1' : 'mx2';
    const helo = ptr ?? `[${ip}]`;
    let t = ts;
    const base = (): Pick<LedgerEvent, 'ts' | 'node' | 'source' | 'session' | 'client_ip' | 'client_ptr' | 'helo'> =>
      ({ ts: t, node, source: 'gateway', session, client_ip: ip, client_ptr: ptr, helo: null });
    const step = (ms: number): void => { t += 1 + int(ms); };
    const spid = pid++;
    const logName = `${ptr ?? 'unknown'}[${ip}]`;

    sink.event({ ...base(), kind: 'session.connect', ref: sref, details: { local: '192.0.2.1:25', port: 30000 + int(30000) } });
    sink.line(t, `${node} postfix/smtpd[${spid}]: connect from ${logName}`);
    step(40);
    sink.event({ ...base(), kind: 'check.result', ref: sref, check_name: 'dnsbl', verdict: listed ? 'reject' : 'pass',
      ...(listed ? { smtp_code: 554, enhanced_code: '5.7.1' } : {}),
      details: { stage: 'connect', ms: 3 + int(40),
        evidence: listed ? { finding: 'listed', zone: 'zen.spamhaus.org', query: `${ip.split('.').reverse().join('.')}.zen.spamhaus.org`, answers: ['127.0.0.4'], txt: 'https://www.spamhaus.org/query/ip/' + ip }
          : { finding: 'not_listed', zones: ['zen.spamhaus.org', 'bl.spamcop.net'] } } });
    step(20);
    sink.event({ ...base(), kind: 'check.result', ref: sref, check_name: 'client_identity', verdict: dynamic ? 'flag' : 'pass',
      details: { stage: 'connect', ms: 2 + int(30), evidence: { finding: dynamic ? 'dynamic_name' : ptr ? 'fcrdns' : 'no_ptr', ptr, forward: ptr ? [ip] : [] } } });
    step(200);
    const heloBase = (): LedgerEvent => ({ ...base(), helo, kind: 'session.helo' });
    sink.event({ ...heloBase(), ref: sref, details: { command: 'EHLO' } });
    if (rand() < 0.6) { step(50); sink.event({ ...heloBase(), kind: 'session.tls', ref: sref, details: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' } }); }

    const txs = retry ? 1 : rand() < 0.9 ? 1 : 2;
    let deliveredCount = 0;
    for (let x = 0; x < txs; x++) {
      const ref = b32(12);
      const from = from0;
      const tb = (): LedgerEvent => ({ ...base(), helo, kind: 'mail.from', ref, mail_from: from });
      step(100);
      const size = 1500 + Math.floor(-Math.log(1 - rand()) * 40000);
      sink.event({ ...tb(), size, details: { body: '8BITMIME', smtputf8: false, tls: true } });
      step(30);
      const spfX = rand();
      const spf = listed || spfX < 0.85 ? 'pass' : spfX < 0.98 ? 'softfail' : 'fail';
      sink.event({ ...tb(), kind: 'check.result', check_name: 'spf', verdict: spf === 'pass' ? 'pass' : spf === 'softfail' ? 'flag' : 'reject',
        ...(spf === 'fail' ? { smtp_code: 550, enhanced_code: '5.7.23' } : {}),
        details: { stage: 'mail', ms: 5 + int(60), evidence: { result: spf, domain: fromDomain, ip, record: `v=spf1 ip4:${ip}/24 include:_spf.${fromDomain} ~all` } } });
      const nr = retry ? 1 : rand() < 0.8 ? 1 : rand() < 0.75 ? 2 : 3;
      const accepted: Array<{ rcpt: string; k: number }> = [];
      for (let r = 0; r < nr; r++) {
        const k = retry ? retry.k : draw(rcptCdf);
        const unknown = !retry && rand() < 0.04;
        const rcpt = unknown ? `${unknownLocal()}@${mailboxes[k]!.split('@')[1]}` : mailboxes[k]!;
        step(60);
        const rb = (): LedgerEvent => ({ ...tb(), rcpt });
        if (listed || spf === 'fail') {
          const code = listed ? 554 : 550;
          const en = listed ? '5.7.1' : '5.7.23';
          const text = listed ? `Service unavailable; client [${ip}] blocked using zen.spamhaus.org (REF ${ref})` : `SPF fail for ${fromDomain} (REF ${ref})`;
          sink.event({ ...rb(), kind: 'rcpt.rejected', check_name: listed ? 'dnsbl' : 'spf', verdict: 'reject', smtp_code: code, enhanced_code: en,
            reply: `${code} ${en} ${text}`, details: { reason: listed ? 'listed by zen.spamhaus.org' : 'SPF fail', stage: listed ? 'connect' : 'mail', delayed: true } });
          sink.line(t, `${node} postfix/smtpd[${spid}]: NOQUEUE: reject: RCPT from ${logName}: ${code} ${en} <${rcpt}>: ${text}; from=<${from}> to=<${rcpt}> proto=ESMTP helo=<${helo}>`);
          continue;
        }
        if (unknown) {
          sink.event({ ...rb(), kind: 'check.result', check_name: 'recipient', verdict: 'reject', smtp_code: 550, enhanced_code: '5.1.1',
            details: { stage: 'rcpt', ms: 1, reason: 'no such mailbox', evidence: { finding: 'unknown', domain: rcpt.split('@')[1] } } });
          sink.event({ ...rb(), kind: 'rcpt.rejected', check_name: 'recipient', verdict: 'reject', smtp_code: 550, enhanced_code: '5.1.1',
            reply: `550 5.1.1 No such mailbox here (REF ${ref})`, details: { reason: 'no such mailbox', stage: 'rcpt', delayed: false } });
          sink.line(t, `${node} postfix/smtpd[${spid}]: NOQUEUE: reject: RCPT from ${logName}: 550 5.1.1 <${rcpt}>: Recipient address rejected: User unknown in virtual mailbox table; from=<${from}> to=<${rcpt}> proto=ESMTP helo=<${helo}>`);
          continue;
        }
        sink.event({ ...rb(), kind: 'check.result', check_name: 'recipient', verdict: 'pass', details: { stage: 'rcpt', ms: 1, evidence: { finding: 'mailbox' } } });
        if (!retry && rand() < 0.03) {
          sink.event({ ...rb(), kind: 'check.result', check_name: 'greylist', verdict: 'tempfail', smtp_code: 451, enhanced_code: '4.7.1',
            details: { stage: 'rcpt', ms: 2, reason: 'greylisted', evidence: { triplet: `${ip}/${from}/${rcpt}`, first_seen: t } } });
          sink.event({ ...rb(), kind: 'rcpt.rejected', check_name: 'greylist', verdict: 'tempfail', smtp_code: 451, enhanced_code: '4.7.1',
            reply: `451 4.7.1 Greylisted, please try again later (REF ${ref})`, details: { reason: 'greylisted', stage: 'rcpt', delayed: false } });
          sink.line(t, `${node} postfix/smtpd[${spid}]: NOQUEUE: reject: RCPT from ${logName}: 451 4.7.1 <${rcpt}>: Recipient address rejected: Greylisted; from=<${from}> to=<${rcpt}> proto=ESMTP helo=<${helo}>`);
          // RFC 5321 section 4.5.4.1: the sender retries after 30 minutes or so; most do sooner.
          if (rand() < 0.9) {
            const again = { from, k, ip, ptr: ptr ?? '' };
            heap.push({ ts: t + 600_000 + int(1_800_000), run: (at) => gatewaySession(at, again) });
          }
          continue;
        }
        sink.event({ ...rb(), kind: 'rcpt.accepted' });
        accepted.push({ rcpt, k });
      }
      if (accepted.length === 0) continue;
      messages++;
      const q = qid();
      const mid = `${b32(10).toLowerCase()}.${t.toString(36)}@${fromDomain}`;
      step(300);
      const db = (): LedgerEvent => ({ ...tb(), kind: 'data.received', message_id: mid, size });
      sink.event({ ...db(), details: { subject: pick(SUBJECTS), rcpts: accepted.length } });
      sink.line(t, `${node} postfix/smtpd[${spid}]: ${q}: client=${logName}`);
      sink.line(t, `${node} postfix/cleanup[${pid}]: ${q}: message-id=<${mid}>`);
      step(80);
      const virus = rand() < 0.003;
      sink.event({ ...db(), kind: 'check.result', check_name: 'virus', verdict: virus ? 'reject' : 'pass', ...(virus ? { smtp_code: 554, enhanced_code: '5.7.1' } : {}),
        details: { stage: 'data', ms: 20 + int(200), evidence: { engine: 'clamd', result: virus ? 'Win.Trojan.Agent-123 FOUND' : 'OK' } } });
      step(300);
      const sx = rand();
      const spam = virus ? 'pass' : sx < 0.02 ? 'reject' : sx < 0.1 ? 'flag' : 'pass';
      const score = spam === 'reject' ? 15 + rand() * 10 : spam === 'flag' ? 6 + rand() * 8 : rand() * 5;
      sink.event({ ...db(), kind: 'check.result', check_name: 'spam', verdict: spam, ...(spam === 'reject' ? { smtp_code: 550, enhanced_code: '5.7.1' } : {}),
        details: { stage: 'data', ms: 100 + int(900), evidence: { engine: 'rspamd', score: Math.round(score * 100) / 100, required: 15, symbols: spam === 'pass' ? ['DKIM_SIGNED', 'SPF_ALLOW'] : ['BAYES_SPAM', 'MISSING_MID'] } } });
      if (virus || spam === 'reject') {
        const text = virus ? `Virus found (REF ${ref})` : `Message looks like spam (REF ${ref})`;
        const code = virus ? 554 : 550;
        sink.event({ ...db(), kind: 'data.rejected', check_name: virus ? 'virus' : 'spam', verdict: 'reject', smtp_code: code, enhanced_code: '5.7.1', reply: `${code} 5.7.1 ${text}`, details: { stage: 'data' } });
        sink.line(t, `${node} postfix/cleanup[${pid}]: ${q}: milter-reject: END-OF-MESSAGE from ${logName}: ${code} 5.7.1 ${text}; from=<${from}> to=<${accepted[0]!.rcpt}> proto=ESMTP helo=<${helo}>`);
        continue;
      }
      sink.line(t, `${node} postfix/qmgr[900]: ${q}: from=<${from}>, size=${size}, nrcpt=${accepted.length} (queue active)`);
      step(200);
      for (const a of accepted) {
        const full = rand() < 0.01;
        if (full) {
          sink.event({ ...db(), kind: 'message.delivery_failed', rcpt: a.rcpt, smtp_code: 452, enhanced_code: '4.2.2', reply: `452 4.2.2 Mailbox full, try again later (REF ${ref})`,
            details: { target: 'lmtp', mailboxes: [a.rcpt], temporary: true, our_reply: '452 4.2.2', lmtp_reply: '452 4.2.2 Quota exceeded' } });
          sink.line(t, `${node} postfix/lmtp[${pid}]: ${q}: to=<${a.rcpt}>, relay=127.0.0.1[127.0.0.1]:24, delay=1.2, dsn=4.2.2, status=deferred (host 127.0.0.1 said: 452 4.2.2 Quota exceeded (in reply to end of DATA command))`);
          continue;
        }
        deliveredCount++;
        sink.event({ ...db(), kind: 'message.delivered', rcpt: a.rcpt, smtp_code: 250, enhanced_code: '2.0.0', reply: `250 2.0.0 OK (REF ${ref})`,
          details: { target: 'lmtp', mailboxes: [a.rcpt], lmtp_reply: `250 2.0.0 <${a.rcpt}> ${b32(6)} Saved` } });
        sink.line(t, `${node} postfix/lmtp[${pid}]: ${q}: to=<${a.rcpt}>, relay=127.0.0.1[127.0.0.1]:24, delay=0.8, delays=0.3/0/0.2/0.3, dsn=2.0.0, status=sent (250 2.0.0 <${a.rcpt}> Saved)`);
        if (rand() < 0.04) {
          sink.event({ ts: t + 30, node, source: 'dovecot', kind: 'message.delivered', rcpt: a.rcpt, message_id: mid, details: { box: 'INBOX', service: 'lmtp' } });
          sink.line(t + 30, `${node} dovecot: lmtp(${a.rcpt})<${pid}><${b32(8)}>: msgid=<${mid}>: saved mail to INBOX`);
        }
        delivered(t, a.k, ref, mid, size);
      }
      sink.line(t, `${node} postfix/qmgr[900]: ${q}: removed`);
    }
    step(100);
    sink.event({ ...base(), helo, kind: 'session.close', ref: sref, details: { transactions: txs, delivered: deliveredCount, ms: t - ts } });
    sink.line(t, `${node} postfix/smtpd[${spid}]: disconnect from ${logName} ehlo=1 mail=${txs} quit=1`);
  }

  const start = p.end - p.days * 86400e3;
  const gap = (p.days * 86400e3) / sessionsWanted;
  let now = start;
  for (let i = 0; i < sessionsWanted; i++) {
    now += Math.max(1, Math.floor(-Math.log(1 - rand()) * gap));
    if (now >= p.end) break;
    while (heap.size && heap.peek()!.ts <= now) { const f = heap.pop()!; f.run(f.ts); }
    if (rand() < 0.03) postfixSession(now);
    else gatewaySession(now);
  }
  while (heap.size && heap.peek()!.ts < p.end) { const f = heap.pop()!; f.run(f.ts); }
  return {
    sessions, messages,
    heavy: mailboxes.slice(0, 200),
    light: Array.from({ length: 2000 }, (_, i) => mailboxes[200 + ((i * 7919) % (p.mailboxes - 200))]!),
  };
}

/** Mailbox k has Zipf rank k; its domain is scattered so that busy mailboxes are not all on one domain. */
export function mailboxList(p: GenParams): string[] {
  const domains = Array.from({ length: p.domains }, (_, i) => `${WORDS[i % WORDS.length]}-${LAST[(i * 7) % LAST.length]}${i}.example`);
  return Array.from({ length: p.mailboxes }, (_, k) => {
    const d = domains[(Math.imul(k, 2654435761) >>> 0) % domains.length]!;
    return `${FIRST[k % FIRST.length]}.${LAST[(k >> 3) % LAST.length]}${k.toString(36)}@${d}`;
  });
}

/** Events per session of the model: a dry run of 20,000 sessions, nothing written. */
function eventsPerSession(p: GenParams): number {
  let n = 0;
  const probe = 3000;
  model(p, { event: () => { n++; }, line: () => undefined }, probe);
  return n / probe;
}

function sizeOnDisk(file: string): number {
  let total = 0;
  for (const f of [file, `${file}-wal`, `${file}-shm`]) if (fs.existsSync(f)) total += fs.statSync(f).size;
  return total;
}

/**
 * How many copies of the modelled traffic make up the ledger. On the 2-core
 * machine of this project, shared with other work, the JavaScript model made
 * 700-2,500 events/s: 10 million events would have taken hours. So the model
 * makes 1/COPIES of the traffic (a template, every mix and ratio as
 * described above), and the copies are derived from it, each with its own
 * session ids, REFs and Message-IDs, shifted in time and with its recipients
 * moved to other mailboxes of the same Zipf band (ranks 2^m .. 2^(m+1)-1
 * rotated), so per-mailbox volumes follow the distribution.
 */
export const COPIES = 40;

/**
 * Copies for a generation: COPIES per 10M events, so that the template stays
 * about as large as the default's (250,000 events). A template ten times as
 * large (100M events) kept the generator's thread in garbage collection: a
 * few thousand events/s instead of tens of thousands. The default keeps
 * COPIES, and with it its cached store.
 */
export function copiesFor(p: GenParams): number {
  const n = COPIES * Math.max(1, Math.round(p.events / DEFAULTS.events));
  // copyOf writes the copy's number into a REF's last two base-32 digits.
  if (n > 32 * 32) throw new Error(`generate: ${p.events} events need ${n} copies of the template; at most ${32 * 32}`);
  return n;
}

/**
 * Events per store transaction. The indexer of `serve` takes up to
 * BATCH_RECORDS per transaction when it is behind and far fewer when it keeps
 * up; a large batch keeps a session's events together in one chunk, as a
 * caught-up store of finished sessions has them (see RESULTS.md on what
 * smaller batches cost).
 */
export const STORE_BATCH = 50_000;

interface TplEvent { e: LedgerEvent; details: string | null; rk: number; base: number; span: number }

/** Copy c of a template event: what the replication of the one-row-per-event generator did in SQL, here in JavaScript. */
function copyOf(t: TplEvent, c: number, gap: number, mailboxes: string[]): LedgerEvent {
  const e = t.e;
  const ref = e.ref ?? null;
  const ref2 = ref === null ? null : ref.length === 12 ? ref.slice(0, 10) + B32[Math.floor(c / 32)]! + B32[c % 32]! : `${ref}.${c}`;
  const sub = (v: string): string => (ref === null ? v : v.replaceAll(ref, ref2!));
  const rcpt = t.rk >= 0 ? mailboxes[t.base + ((t.rk - t.base + c * 7919) % t.span)]! : e.rcpt;
  let details = t.details === null ? null : sub(t.details);
  if (details !== null && t.rk >= 0 && e.rcpt) details = details.replaceAll(e.rcpt, rcpt!);
  const out: LedgerEvent = { ...e, ts: e.ts + c * gap };
  if (e.session) out.session = `${e.session}.${c}`;
  if (ref2 !== null) out.ref = ref2;
  if (rcpt) out.rcpt = rcpt;
  if (e.message_id) out.message_id = `c${c}.${e.message_id}`;
  if (e.reply) out.reply = sub(e.reply);
  if (details !== null) out.details = JSON.parse(details) as Record<string, unknown>;
  return out;
}

/**
 * The modelled traffic of a generation: the template (1/copies of it, in time
 * order) and what deriving the copies from it needs. Every store the
 * benchmarks fill (the embedded SQLite one, a cluster's PostgreSQL one) takes
 * its events from eventStream() over this, so they hold the same traffic.
 */
export interface Traffic {
  p: GenParams;
  tpl: TplEvent[];
  /** Log lines of the template, mailboxes as rank tokens (see writeLog). */
  tplLines: string[];
  mailboxes: string[];
  /** Copies of the template that make up the traffic (copiesFor). */
  copies: number;
  /** Shift between copies (ms). */
  gap: number;
  sessions: number;
  messages: number;
  heavy: string[];
  light: string[];
  /** When the model started and finished (ms since the epoch). */
  t0: number;
  tTpl: number;
}

/** Zipf band of mailbox rank k: [first rank of the band, ranks in it]; a copy rotates recipients within their band. */
function bandOf(p: GenParams, k: number): [number, number] {
  if (k < 1) return [0, 1];
  const base = 2 ** Math.floor(Math.log2(k));
  return [base, Math.min(base, p.mailboxes - base)];
}

/**
 * Runs the model once (1/copies of the traffic) and sorts it into time order.
 * `log: false`: no mail.log lines are kept (a store alone needs none; at 100M
 * events the template's lines take a few hundred MB).
 */
export function traffic(p: GenParams, progress: (s: string) => void, opts: { log?: boolean } = {}): Traffic {
  const keepLog = opts.log ?? true;
  const t0 = Date.now();
  const perSession = eventsPerSession(p);
  // A little over the target: the session count is a Poisson draw, and POP3 polls near the end fall outside the period.
  const copies = copiesFor(p);
  const sessionsWanted = Math.ceil((p.events * 1.02) / perSession / copies);
  progress(`model: ${perSession.toFixed(2)} events per session -> ${sessionsWanted.toLocaleString('en')} sessions x ${copies} copies`);
  const mailboxes = mailboxList(p);
  const rankOf = new Map(mailboxes.map((m, k) => [m, k]));
  const tpl: TplEvent[] = [];
  const tplLines: string[] = [];
  const mbRe = /[^\s<>(),=]+@[^\s<>(),=;:]+/g;
  const sink: Sink = {
    event(e) {
      const k = e.rcpt ? rankOf.get(e.rcpt) ?? -1 : -1;
      const [base, span] = bandOf(p, k);
      const details = e.details ? JSON.stringify(e.details) : null;
      // The copies are made from the JSON (copyOf): the object need not stay in memory beside it.
      if (details !== null) e.details = undefined;
      tpl.push({ e, details, rk: k, base, span });
    },
    line(ts, text) {
      if (!keepLog) return;
      // Mailbox addresses become rank tokens, replaced per copy below.
      tplLines.push(`${stampOf(ts)} ${text.replace(mbRe, (a) => { const k = rankOf.get(a); return k === undefined ? a : `\u0001${k}\u0001`; })}`);
    },
  };
  const r = model(p, sink, sessionsWanted);
  // Time order, as the gateway appends them (a session's events interleave with other sessions').
  tpl.sort((x, y) => x.e.ts - y.e.ts);
  const tTpl = Date.now();
  progress(`template: ${tpl.length.toLocaleString('en')} events, ${tplLines.length.toLocaleString('en')} log lines in ${((tTpl - t0) / 1000).toFixed(0)} s`);
  return {
    p, tpl, tplLines, mailboxes, copies, gap: Math.floor((p.days * 86400e3) / sessionsWanted / copies),
    sessions: r.sessions * copies, messages: r.messages * copies, heavy: r.heavy, light: r.light, t0, tTpl,
  };
}

/**
 * The whole traffic in time order: copy c is the template shifted by c/copies
 * of its mean gap between sessions, so that the copies interleave; merged
 * into one stream by a heap over the copies' cursors. Ends a day after the
 * period (POP3 polls of the last hours).
 */
export function* eventStream(t: Traffic): Generator<LedgerEvent> {
  const { tpl, gap, mailboxes } = t;
  const end = t.p.end + 86400e3;
  const cursor = new Int32Array(t.copies);
  const heap: number[] = Array.from({ length: t.copies }, (_, c) => c);
  const tsOf = (c: number): number => (cursor[c]! < tpl.length ? tpl[cursor[c]!]!.e.ts + c * gap : Infinity);
  const less = (x: number, y: number): boolean => tsOf(x) < tsOf(y) || (tsOf(x) === tsOf(y) && x < y);
  const down = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1;
      const rr = l + 1;
      let m = i;
      if (l < heap.length && less(heap[l]!, heap[m]!)) m = l;
      if (rr < heap.length && less(heap[rr]!, heap[m]!)) m = rr;
      if (m === i) return;
      [heap[m], heap[i]] = [heap[i]!, heap[m]!];
      i = m;
    }
  };
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i);
  for (;;) {
    const c = heap[0]!;
    const ts = tsOf(c);
    if (!(ts < end)) return;
    const e = copyOf(tpl[cursor[c]!]!, c, gap, mailboxes);
    cursor[c]!++;
    down(0);
    yield e;
  }
}

/** The same traffic as a mail.log: the template's lines once per copy, each copy with its own recipients. Returns the lines written. */
export function writeLog(t: Traffic, log: string): number {
  const fd = fs.openSync(log, 'w');
  let logLines = 0;
  const tokenRe = /\u0001(\d+)\u0001/g;
  for (let c = 0; c < t.copies; c++) {
    let out: string[] = [];
    for (const l of t.tplLines) {
      out.push(l.replace(tokenRe, (_m, d: string) => {
        const k = Number(d);
        const [base, span] = bandOf(t.p, k);
        return t.mailboxes[base + ((k - base + c * 7919) % span)]!;
      }));
      if (out.length >= 20000) { fs.writeSync(fd, out.join('\n') + '\n'); logLines += out.length; out = []; }
    }
    if (out.length) { fs.writeSync(fd, out.join('\n') + '\n'); logLines += out.length; }
  }
  fs.closeSync(fd);
  return logLines;
}

/** Writes `file` (the store) and `log` (the same traffic as mail.log text); `file`.json holds GenMeta. */
export async function generate(file: string, log: string, p: GenParams, progress: (s: string) => void, batch = STORE_BATCH): Promise<GenMeta> {
  const t = traffic(p, progress);
  progress(`writing x${t.copies} into the store`);
  const tmp = `${file}.tmp`;
  for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`]) fs.rmSync(f, { force: true });
  // Written in transactions of `batch` events through the store's own writer.
  const store = new SqliteStoreWriter(tmp);
  // Generation only: nothing here must survive a crash (the file is renamed into place at the end).
  store.db.pragma('synchronous = OFF');
  store.db.pragma('cache_size = -1048576');
  let written = 0;
  let pending: StoreInput[] = [];
  let writeMs = 0;
  let lastShown = Date.now();
  const flush = async (): Promise<void> => {
    const w0 = Date.now();
    const inputs = pending;
    await store.transaction((tx) => tx.add(inputs));
    writeMs += Date.now() - w0;
    written += inputs.length;
    pending = [];
    if (Date.now() - lastShown > 10_000) {
      lastShown = Date.now();
      const sec = (Date.now() - t.tTpl) / 1000;
      progress(`${written.toLocaleString('en')} events, ${Math.round(written / sec).toLocaleString('en')} events/s, ${(sizeOnDisk(tmp) / 1048576).toFixed(0)} MiB`);
    }
  };
  for (const event of eventStream(t)) {
    pending.push({ event });
    if (pending.length >= batch) await flush();
  }
  if (pending.length) await flush();

  const logLines = writeLog(t, `${log}.tmp`);

  store.db.exec('ANALYZE');
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  await store.close();
  fs.renameSync(tmp, file);
  for (const f of [`${tmp}-wal`, `${tmp}-shm`]) fs.rmSync(f, { force: true });
  fs.renameSync(`${log}.tmp`, log);
  // Busiest mailboxes: the ranks that stay busiest after the band rotation are the low ranks.
  const meta: GenMeta = {
    ...p, written, sessions: t.sessions, messages: t.messages, log_lines: logLines,
    generation_ms: Date.now() - t.t0, store_ms: writeMs, batch, heavy: t.heavy, light_sample: t.light,
  };
  fs.writeFileSync(`${file}.json`, JSON.stringify(meta, null, 1));
  return meta;
}

// Syslog stamps without a year, as Postfix writes them.
function stampOf(ts: number): string {
  const d = new Date(ts);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;
}

/** The cached store for these parameters, generated when missing. */
export async function ensureLedger(dir: string, p: GenParams, progress: (s: string) => void, batch = STORE_BATCH): Promise<{ file: string; log: string; meta: GenMeta; cached: boolean }> {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${cacheName(p, batch)}.sqlite`);
  const log = path.join(dir, `${cacheName(p, batch)}.mail.log`);
  if (fs.existsSync(file) && fs.existsSync(`${file}.json`) && fs.existsSync(log)) {
    return { file, log, meta: JSON.parse(fs.readFileSync(`${file}.json`, 'utf8')) as GenMeta, cached: true };
  }
  const meta = await generate(file, log, p, progress, batch);
  return { file, log, meta, cached: false };
}

export function ledgerBytes(file: string): number { return sizeOnDisk(file); }

/**
 * Bytes on disk per table and index (SQLite's dbstat virtual table: pages
 * in use per b-tree), with the file's free pages as their own line; sums to
 * the file's size.
 */
export function storeBreakdown(file: string): Array<{ name: string; bytes: number }> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC').all() as Array<{ name: string; bytes: number }>;
    const pageSize = Number(db.pragma('page_size', { simple: true }));
    const free = Number(db.pragma('freelist_count', { simple: true })) * pageSize;
    if (free) rows.push({ name: '(free pages)', bytes: free });
    return rows;
  } finally {
    db.close();
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/.*\//, '/'))) {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' }, events: { type: 'string' }, mailboxes: { type: 'string' }, domains: { type: 'string' },
      days: { type: 'string' }, seed: { type: 'string' }, batch: { type: 'string' },
    },
  });
  const p: GenParams = {
    ...DEFAULTS,
    ...(values.events ? { events: Number(values.events) } : {}),
    ...(values.mailboxes ? { mailboxes: Number(values.mailboxes) } : {}),
    ...(values.domains ? { domains: Number(values.domains) } : {}),
    ...(values.days ? { days: Number(values.days) } : {}),
    ...(values.seed ? { seed: Number(values.seed) } : {}),
  };
  const r = await ensureLedger(values.dir ?? '/var/tmp/mailproof-bench', p, (s) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`), Number(values.batch ?? STORE_BATCH));
  const bytes = ledgerBytes(r.file);
  process.stdout.write(`${r.cached ? 'cached' : 'generated'}: ${r.file} (${r.meta.written.toLocaleString('en')} events, ${(bytes / 1048576).toFixed(0)} MiB on disk, ${(bytes / r.meta.written).toFixed(1)} bytes/event)` +
    `, ${r.log} (${r.meta.log_lines.toLocaleString('en')} lines, ${(fs.statSync(r.log).size / 1048576).toFixed(0)} MiB)` +
    `${r.cached ? '' : `, ${(r.meta.generation_ms / 1000).toFixed(0)} s (store writer ${(r.meta.store_ms / 1000).toFixed(0)} s)`}\n`);
  for (const t of storeBreakdown(r.file)) process.stdout.write(`  ${t.name.padEnd(28)} ${(t.bytes / 1048576).toFixed(1).padStart(9)} MiB ${(t.bytes / r.meta.written).toFixed(1).padStart(7)} bytes/event\n`);
}
