// Property test of the Postfix and Dovecot parsers: for random client-chosen
// HELOs, addresses, user names, folder names, Message-IDs and reply texts,
// full of the very text that separates fields, each line is written the way
// the daemon writes it (the formats are described in postfix-fields.ts and
// dovecot-fields.ts) and parsed. The parsed fields must equal what was
// logged, or the line must be refused; no exception may escape. Seeded, so a
// failure names its seed and case and replays exactly (PROPERTY_SEED=n).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LedgerEvent } from '../ledger/types.js';
import { clean, MAX_ADDR, MAX_HELO, MAX_TEXT, type StatefulParser } from './common.js';
import { DovecotParser } from './dovecot.js';
import { PostfixParser } from './postfix.js';
import type { SyslogLine } from './syslog.js';
import { normalizeMessageId } from '../util/message-id.js';
import { rng } from '../../test/helpers/rng.js';

const SEED = Number(process.env.PROPERTY_SEED ?? 20261205);
const CASES = 2500;


// Separators and keys of every format under test, and characters that end or quote values.
const TRICKY = [
  '>', '<', '"', '\\', ';', ':', ',', ' ', '=', '(', ')', '@', '?', 'é',
  '; from=<', ' from=<', ' to=<', ' proto=', ' proto=ESMTP', ' helo=<', '> ', '>, ', '; ', ': ',
  ', to=<', ', proto=', ', helo=<', ', orig_to=<', ', relay=', ', relay=none', ', delay=1', ', delays=0/0/0/0',
  ', dsn=2.0.0', ', status=sent (', ', conn_use=2', ', size=1', ', nrcpt=1 (queue active)', ', status=expired, returned to sender',
  'user=<', ', method=PLAIN', ', rip=6.6.6.6', ', lip=1.1.1.1', ', mpid=9', ', TLS', ', secured', ', session=<', ', session=<x>',
  'box=', ', uid=7', ', msgid=<', ', msgid=<victim@other.test>', ', from=', ', subject=', ': saved mail to ', 'saved mail to ',
  ' from unknown[192.0.2.9]', 'carl@b.test', 'ceo@bank.test',
  // Policy services (policy.ts) and Dovecot's prefix variables.
  ', sender=', ', recipient=', ', recipient=<', ', sender=<', ', helo=<', ', proto=ESMTP', ', action=REJECT x', ', hits=X',
  '; helo=', '; envelope-from=', '; receiver=', '; client-ip=6.6.6.6', ';id=', ';ip=6.6.6.6', ';r=',
  ' rip=6.6.6.6 ', 'rip=6.6.6.6 ', ' lip=1.1.1.1 ', 'Info: ', 'expunge: ', ', client_address=6.6.6.6',
];
const PLAIN = 'abcdefghijklmnopqrstuvwxyz0123456789.-_';

class Gen {
  constructor(readonly r: () => number) {}
  int(n: number): number { return Math.floor(this.r() * n); }
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)]!; }
  chance(p: number): boolean { return this.r() < p; }
  /** Text a client or remote server chose: plain runs with tricky pieces mixed in (often none). */
  text(max = 12, trickyP = 0.3): string {
    let s = '';
    const n = 1 + this.int(max);
    for (let i = 0; i < n; i++) {
      if (this.chance(trickyP)) s += this.pick(TRICKY);
      else s += PLAIN[this.int(PLAIN.length)]!;
    }
    return s;
  }
  /** A local part and domain, as Postfix logs them in external form: quoted (with \" and \\) when not a plain dot-atom. */
  address(): string {
    if (this.chance(0.08)) return '';
    const local = this.text(10, 0.25);
    const domain = this.pick(['demo.test', 'b.test', 'x.example', '[192.0.2.1]', 'bank.test']);
    const atom = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/.test(local);
    return (atom ? local : '"' + local.replace(/["\\]/g, '\\$&') + '"') + '@' + domain;
  }
  qid(): string { return 'ABC' + (100000 + this.int(900000)).toString(16).toUpperCase(); }
}

interface Outcome { events: LedgerEvent[]; understood: boolean }

function run(parser: StatefulParser, program: string, msg: string): Outcome {
  const events: LedgerEvent[] = [];
  const l: SyslogLine = { ts: Date.UTC(2026, 0, 1), host: 'mx1', program, pid: '77', msg };
  // handle() must never throw, whatever the line: an exception fails the case.
  const understood = parser.handle(l, 'mx1', { emit: (e) => events.push(e) });
  return { events, understood };
}

type Case = (g: Gen) => { program: string; msg: string; parser: StatefulParser; check: (o: Outcome) => void };

/** The smtpd/cleanup field list: " from=<S> to=<R> proto=P helo=<H>", each written only when known. */
function trailer(g: Gen, fromP: number, toP: number, protoP: number): { s: string; from: string | null; to: string | null; helo: string | null } {
  const from = g.chance(fromP) ? g.address() : null;
  const to = g.chance(toP) ? g.address() : null;
  const proto = g.chance(protoP) ? g.pick(['SMTP', 'ESMTP']) : null;
  // Older Postfix logs the HELO argument unfiltered: any printable text.
  const helo = proto !== null && g.chance(0.85) ? g.text(14, 0.35) : null;
  let s = ';';
  if (from !== null) s += ` from=<${from}>`;
  if (to !== null) s += ` to=<${to}>`;
  if (proto !== null) s += ` proto=${proto}`;
  if (helo !== null) s += ` helo=<${helo}>`;
  return { s, from, to, helo };
}

function expectReject(o: Outcome, kind: string, want: { from: string | null; to: string | null; helo: string | null; reply: string }): void {
  const e = o.events.find((x) => x.kind === kind);
  assert.ok(e, `a ${kind} event`);
  assert.equal(e.mail_from, clean(want.from, MAX_ADDR), 'mail_from');
  assert.equal(e.rcpt, clean(want.to, MAX_ADDR), 'rcpt');
  assert.equal(e.helo, clean(want.helo, MAX_HELO), 'helo');
  assert.equal(e.reply, clean(want.reply, MAX_TEXT), 'reply');
}

const CASES_BY_FORMAT: Record<string, Case> = {
  'smtpd reject': (g) => {
    const stage = g.pick(['RCPT', 'MAIL', 'DATA', 'END-OF-MESSAGE', 'HELO', 'CONNECT']);
    // The reply quotes client input: the recipient as received, the HELO.
    const reply = `${g.pick(['550 5.1.1', '554 5.7.1', '450 4.1.8'])} <${g.text(10, 0.3)}>: ${g.text(16, 0.3)}`;
    const t = trailer(g, 0.85, 0.75, 1);
    return {
      program: 'postfix/smtpd', parser: new PostfixParser(),
      msg: `NOQUEUE: reject: ${stage} from unknown[192.0.2.1]: ${reply}${t.s}`,
      check: (o) => expectReject(o, stage === 'DATA' || stage === 'END-OF-MESSAGE' ? 'data.rejected' : 'rcpt.rejected', { ...t, reply }),
    };
  },
  'cleanup milter-reject': (g) => {
    const reply = `5.7.1 ${g.text(16, 0.3)}`;
    // Mail submitted locally has no proto= and helo=.
    const t = trailer(g, 1, 0.9, 0.8);
    return {
      program: 'postfix/cleanup', parser: new PostfixParser(),
      msg: `${g.qid()}: milter-reject: END-OF-MESSAGE from mail.example[192.0.2.2]: ${reply}${t.s}`,
      check: (o) => expectReject(o, 'data.rejected', { ...t, reply }),
    };
  },
  'cleanup header_checks': (g) => {
    const header = `Subject: ${g.text(14, 0.35)}`;
    const reply = `5.7.1 ${g.text(10, 0.3)}`;
    const t = trailer(g, 1, 0.9, 0.8);
    return {
      program: 'postfix/cleanup', parser: new PostfixParser(),
      msg: `${g.qid()}: reject: header ${header} from unknown[192.0.2.3]${t.s}: ${reply}`,
      check: (o) => {
        expectReject(o, 'data.rejected', { ...t, reply });
        assert.equal(o.events[0]!.client_ip, '192.0.2.3');
      },
    };
  },
  'postscreen reject': (g) => {
    // postscreen logs the addresses as sent, quotes removed: any text.
    const from = g.text(10, 0.35);
    const to = g.text(10, 0.35);
    const helo = g.chance(0.2) ? '' : g.text(10, 0.35);
    const reply = `550 5.7.1 Service unavailable; client [192.0.2.4] blocked using ${g.pick(['zen.spamhaus.org', 'b.barracudacentral.org'])}`;
    return {
      program: 'postfix/postscreen', parser: new PostfixParser(),
      msg: `NOQUEUE: reject: RCPT from [192.0.2.4]:4100: ${reply}; from=<${from}>, to=<${to}>, proto=${g.pick(['SMTP', 'ESMTP'])}, helo=<${helo}>`,
      check: (o) => expectReject(o, 'rcpt.rejected', { from, to, helo, reply }),
    };
  },
  'delivery': (g) => {
    const to = g.address() || 'x@demo.test';
    const orig = g.chance(0.3) ? g.address() || 'o@demo.test' : null;
    const status = g.pick(['sent', 'deferred', 'bounced']);
    const dsn = status === 'sent' ? '2.0.0' : status === 'deferred' ? '4.4.1' : '5.1.1';
    // The remote server's reply: any text.
    const why = g.text(16, 0.35);
    const relay = g.pick(['none', 'mx.remote.example[203.0.113.5]:25', 'private/dovecot-lmtp']);
    return {
      program: g.pick(['postfix/smtp', 'postfix/lmtp']), parser: new PostfixParser(),
      msg: `${g.qid()}: to=<${to}>, ${orig !== null ? `orig_to=<${orig}>, ` : ''}relay=${relay}, ${g.chance(0.3) ? 'conn_use=2, ' : ''}delay=0.5, delays=0.1/0/0.2/0.2, dsn=${dsn}, status=${status} (${why})`,
      check: (o) => {
        assert.equal(o.events.length, 1);
        const e = o.events[0]!;
        assert.equal(e.kind, status === 'sent' ? 'message.delivered' : 'message.delivery_failed');
        assert.equal(e.rcpt, clean(to.toLowerCase(), MAX_ADDR), 'rcpt');
        assert.equal(e.reply, clean(why, MAX_TEXT), 'reply');
        const d = e.details as { relay: string; dsn: string; status: string; orig_to?: string };
        assert.deepEqual([d.relay, d.dsn, d.status, d.orig_to ?? null], [relay, dsn, status, orig !== null ? clean(orig, MAX_ADDR) : null]);
      },
    };
  },
  'qmgr': (g) => {
    // Any sender text, in any address form: the tail is fixed.
    const from = g.chance(0.5) ? g.address() : g.text(12, 0.4);
    const size = g.int(100000);
    return {
      program: 'postfix/qmgr', parser: new PostfixParser(),
      msg: `${g.qid()}: from=<${from}>, size=${size}, nrcpt=${1 + g.int(5)} (queue active)`,
      check: (o) => {
        assert.equal(o.events.length, 1);
        assert.equal(o.events[0]!.mail_from, clean(from, MAX_ADDR) ?? '');
        assert.equal(o.events[0]!.size, size);
      },
    };
  },
  'dovecot login': (g) => {
    // The name the client typed; Dovecot removes only control characters.
    const user = g.chance(0.1) ? '' : g.text(12, 0.35);
    const ok = g.chance(0.5);
    const rip = `203.0.113.${g.int(255)}`;
    const head = ok ? 'Login' : g.pick(['Disconnected (auth failed, 1 attempts in 2 secs)', 'Aborted login (auth failed, 2 attempts in 6 secs)']);
    const tls = g.pick(['', ', TLS', ', secured']);
    return {
      program: 'dovecot', parser: new DovecotParser(),
      msg: `${g.pick(['imap-login', 'pop3-login'])}: ${head}: user=<${user}>, method=PLAIN, rip=${rip}, lip=192.0.2.1${ok ? ', mpid=' + g.int(9999) : ''}${tls}, session=<S${g.int(1e6)}>`,
      check: (o) => {
        assert.equal(o.events.length, 1);
        const e = o.events[0]!;
        assert.equal(e.rcpt, user ? clean(user.toLowerCase(), MAX_ADDR) : null, 'user');
        assert.equal(e.client_ip, rip);
        assert.equal(e.verdict, ok ? 'pass' : 'reject');
      },
    };
  },
  'dovecot login without session (2.0 elements)': (g) => {
    const user = g.chance(0.15) ? null : g.text(12, 0.35);
    const rip = `203.0.113.${g.int(255)}`;
    const tls = g.pick(['', ', TLS', ', TLS: Disconnected', ', TLS, TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)']);
    const method = g.chance(0.8) ? ', method=PLAIN' : '';
    const fields = `${user !== null ? `user=<${user}>` : ''}${method}, rip=${rip}, lip=192.0.2.1${tls}`.replace(/^, /, '');
    return {
      program: 'dovecot', parser: new DovecotParser(),
      msg: `${g.pick(['imap-login', 'pop3-login'])}: Disconnected (auth failed, 1 attempts): ${fields}`,
      check: (o) => {
        assert.equal(o.events.length, 1);
        const e = o.events[0]!;
        assert.equal(e.rcpt, user ? clean(user.toLowerCase(), MAX_ADDR) : null, 'user');
        assert.equal(e.client_ip, rip);
        assert.equal(e.session, null, 'no session in this format');
      },
    };
  },
  'dovecot mail_log with prefix variants': (g) => {
    // mail_log_prefix: "%s(%u): ", "%s(%u)<%{pid}><%{session}>: " and with "rip=%{rip} lip=%{lip} ".
    const box = g.text(8, 0.35);
    const msgid = '<' + g.text(10, 0.35) + '>';
    const uid = 1 + g.int(9999);
    const rip = g.chance(0.5) ? `198.51.100.${g.int(255)}` : null;
    const tag = g.pick(['imap(carol@demo.test)', 'imap(carol@demo.test)<2003><S2>', 'imap(carol@demo.test)<S2>']);
    const vars = rip !== null ? `rip=${rip} lip=192.0.2.1 ` : '';
    return {
      program: 'dovecot', parser: new DovecotParser(),
      msg: `${tag}: ${vars}${g.pick(['', 'Info: '])}expunge: box=${box}, uid=${uid}, msgid=${msgid}, size=1${g.chance(0.5) ? `, from=${g.text(8, 0.35)}` : ''}`,
      check: (o) => {
        assert.equal(o.events.length, 1);
        const e = o.events[0]!;
        assert.equal(e.kind, 'imap.expunge');
        assert.equal(e.rcpt, 'carol@demo.test');
        assert.equal(e.client_ip, rip, 'client_ip');
        assert.equal(e.message_id, clean(normalizeMessageId(msgid), 998), 'message_id');
        assert.equal((e.details as { box: string }).box, clean(box, 200), 'box');
      },
    };
  },
  'postgrey': (g) => {
    const sender = g.chance(0.1) ? '' : g.text(12, 0.35);
    const rcpt = g.text(12, 0.35);
    const grey = g.chance(0.6);
    const ip = `192.0.2.${g.int(255)}`;
    // As postgrey writes it: a queue ID first once Postfix has one, no "sender=" for the null sender.
    const qid = g.chance(0.3) ? `${g.qid()}: ` : '';
    return {
      program: 'postgrey', parser: new PostfixParser(),
      msg: `${qid}action=${grey ? 'greylist' : 'pass'}, reason=${grey ? 'new' : 'triplet found'}${grey ? '' : ', delay=301'}, client_name=${g.pick(['unknown', 'mx.sender.test'])}, client_address=${ip}${sender ? `, sender=${sender}` : ''}, recipient=${rcpt}`,
      check: (o) => {
        assert.equal(o.events.length, 1);
        const e = o.events[0]!;
        assert.deepEqual([e.check_name, e.verdict, e.client_ip], ['greylist', grey ? 'tempfail' : 'pass', ip]);
        assert.equal(e.mail_from, clean(sender, MAX_ADDR), 'sender');
        assert.equal(e.rcpt, clean(rcpt, MAX_ADDR), 'recipient');
      },
    };
  },
  'policyd-spf': (g) => {
    const helo = g.text(12, 0.35);
    const from = g.text(12, 0.35);
    const rcpt = g.pick(['<UNKNOWN>', g.text(10, 0.35)]);
    const ip = `192.0.2.${g.int(255)}`;
    const head = g.pick(['prepend Received-SPF: Softfail (mailfrom) ', 'Fail; ', 'Pass; ', 'Received-SPF: Neutral (mailfrom) ']);
    // 3.x's QueueID option: the queue ID and ": ", or ": " alone before there is one.
    const qid = g.pick(['', ': ', `${g.qid()}: `]);
    return {
      program: 'policyd-spf', parser: new PostfixParser(),
      msg: `${qid}${head}identity=mailfrom; client-ip=${ip}; helo=${helo}; envelope-from=${from}; receiver=${rcpt}${head.startsWith('prepend') ? ' ' : ''}`,
      check: (o) => {
        assert.equal(o.events.length, 1);
        const e = o.events[0]!;
        assert.deepEqual([e.check_name, e.client_ip], ['spf', ip]);
        assert.equal(e.mail_from, clean(from, MAX_ADDR), 'envelope-from');
        assert.equal(e.helo, clean(helo, MAX_HELO), 'helo');
        assert.equal(e.rcpt, rcpt === '<UNKNOWN>' ? null : clean(rcpt, MAX_ADDR), 'receiver');
      },
    };
  },
  'policyd-spf refusal': (g) => {
    const from = g.text(12, 0.35);
    const r = g.pick(['<UNKNOWN>', g.text(10, 0.35)]);
    const ip = `192.0.2.${g.int(255)}`;
    return {
      program: 'policyd-spf', parser: new PostfixParser(),
      msg: `${g.pick(['', ': ', `${g.qid()}: `])}550 5.7.23 Message rejected due to: SPF fail - not authorized. Please see http://www.openspf.net/Why?s=mfrom;id=${from};ip=${ip};r=${r}`,
      check: (o) => {
        assert.equal(o.events.length, 1);
        const e = o.events[0]!;
        assert.deepEqual([e.check_name, e.verdict, e.client_ip], ['spf', 'reject', ip]);
        assert.equal(e.mail_from, clean(from, MAX_ADDR), 'id');
      },
    };
  },
  'postfwd': (g) => {
    const sender = g.text(12, 0.35);
    const rcpt = g.text(12, 0.35);
    const helo = g.text(12, 0.35);
    const ip = `192.0.2.${g.int(255)}`;
    const action = g.pick(['REJECT go away', 'DUNNO', 'DEFER_IF_PERMIT later', '554 5.7.1 no']);
    return {
      program: g.pick(['postfwd', 'postfwd2/policy']), parser: new PostfixParser(),
      msg: `[RULES] rule=${g.int(50)}, id=R${g.int(99)}${g.chance(0.5) ? ', queue=NOQUEUE' : ''}, client=unknown[${ip}]${g.chance(0.5) ? ', user=none' : ''}, sender=<${sender}>, recipient=<${rcpt}>, helo=<${helo}>, proto=ESMTP, state=RCPT, delay=0.01s, hits=R1;R2, action=${action}`,
      check: (o) => {
        assert.equal(o.events.length, 1);
        const e = o.events[0]!;
        assert.deepEqual([e.check_name, e.client_ip], ['postfwd', ip]);
        assert.equal(e.mail_from, clean(sender, MAX_ADDR), 'sender');
        assert.equal(e.rcpt, clean(rcpt, MAX_ADDR), 'recipient');
        assert.equal(e.helo, clean(helo, MAX_HELO), 'helo');
        assert.equal((e.details as { evidence: { action: string } }).evidence.action, action, 'action');
      },
    };
  },
  'smtpd milter-reject': (g) => {
    const reply = `${g.pick(['550 5.7.1', '451 4.7.1'])} ${g.text(16, 0.3)}`;
    const t = trailer(g, 0.9, 0.8, 1);
    return {
      program: 'postfix/smtpd', parser: new PostfixParser(),
      msg: `${g.pick(['NOQUEUE', g.qid()])}: milter-reject: ${g.pick(['RCPT', 'END-OF-MESSAGE', 'DATA'])} from mail.example[192.0.2.2]: ${reply}${t.s}`,
      check: (o) => {
        const e = o.events.find((x) => x.kind === 'check.result')!;
        assert.ok(e, 'a check.result');
        assert.equal(e.mail_from, clean(t.from, MAX_ADDR), 'mail_from');
        assert.equal(e.rcpt, clean(t.to, MAX_ADDR), 'rcpt');
        assert.equal(e.helo, clean(t.helo, MAX_HELO), 'helo');
        assert.equal(e.reply, clean(reply, MAX_TEXT), 'reply');
      },
    };
  },
  'dovecot mail_log': (g) => {
    // Folder names and headers are any text.
    const box = g.text(8, 0.35);
    const msgid = '<' + g.text(10, 0.35) + '>';
    const uid = 1 + g.int(9999);
    const size = g.int(99999);
    const extra = (g.chance(0.5) ? `, from=${g.text(8, 0.35)}` : '') + (g.chance(0.3) ? `, subject=${g.text(8, 0.35)}` : '');
    return {
      program: 'dovecot', parser: new DovecotParser(),
      msg: `imap(carol@demo.test)<2003><S2>: expunge: box=${box}, uid=${uid}, msgid=${msgid}, size=${size}${extra}`,
      check: (o) => {
        assert.equal(o.events.length, 1);
        const e = o.events[0]!;
        assert.equal(e.message_id, clean(normalizeMessageId(msgid), 998), 'message_id');
        const d = e.details as { box: string; uid: string; size: string };
        assert.deepEqual([d.box, d.uid, d.size], [clean(box, 200), String(uid), String(size)]);
      },
    };
  },
  'dovecot saved mail': (g) => {
    const msgid = '<' + g.text(10, 0.35) + '>';
    const box = g.text(8, 0.35);
    return {
      program: 'dovecot', parser: new DovecotParser(),
      msg: `lmtp(carol@demo.test)<2004><S3>: msgid=${msgid}: saved mail to ${box}`,
      check: (o) => {
        assert.equal(o.events.length, 1);
        assert.equal(o.events[0]!.message_id, clean(normalizeMessageId(msgid), 998), 'message_id');
        assert.equal((o.events[0]!.details as { box: string }).box, clean(box, 200), 'box');
      },
    };
  },
};

for (const [name, make] of Object.entries(CASES_BY_FORMAT)) {
  test(`property: ${name} lines read as logged or are refused (${CASES} cases, seed ${SEED})`, () => {
    const g = new Gen(rng(SEED ^ hash(name)));
    let read = 0;
    for (let i = 0; i < CASES; i++) {
      const c = make(g);
      const where = `seed ${SEED} (PROPERTY_SEED=${SEED}), format ${JSON.stringify(name)}, case ${i}: ${JSON.stringify(c.msg)}`;
      let o: Outcome;
      try {
        o = run(c.parser, c.program, c.msg);
      } catch (err) {
        assert.fail(`${where}: the parser threw ${String(err)}`);
      }
      if (!o.understood) {
        // Refused: no event may have been emitted from the line either.
        assert.deepEqual(o.events, [], `${where}: events from a refused line`);
        continue;
      }
      read++;
      try {
        c.check(o);
      } catch (err) {
        assert.fail(`${where}: ${(err as Error).message}\nevents: ${JSON.stringify(o.events)}`);
      }
    }
    // Refusing everything would pass vacuously: most lines (those whose values hold no
    // competing separator) must be read.
    if (process.env.PROPERTY_STATS) process.stdout.write(`${name}: ${read} of ${CASES} read\n`);
    assert.ok(read > CASES * 0.4, `only ${read} of ${CASES} ${name} lines read (seed ${SEED})`);
  });
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
