// The classic stories of docs/design.md ("The classic findings"), each played as
// the real thing: a sending server on its own loopback address talks SMTP to
// the gateway, a PC in the customer's office fetches by POP3. Nothing is
// written to the ledger by the demo itself: every event comes from the
// gateway and the POP3 server, so `mailproof trace` shows what it would show
// for real mail. One exception, labelled as such: "a 4xx and never a retry"
// needs two hours of silence, and the gateway's clock is not faked, so that
// story is a Postfix log excerpt of three hours ago, read by `mailproof
// ingest`'s own code as an operator would read an old MX's log.
import fs from 'node:fs';
import path from 'node:path';
import { ingest } from '../ingest/run.js';
import { compose, pop3Fetch, sendMail, type SendResult } from './clients.js';
import { macroDocx } from './docx.js';
import type { ZoneSet } from './dns-server.js';
import { addNewServerPtr, CUSTOMER_DOMAIN, HOSTS, IP_MX_DOMAIN, NX_DOMAIN, OFFICE } from './zones.js';

/** The GTUBE test string: every SpamAssassin and rspamd scores it as spam (https://spamassassin.apache.org/gtube/). */
const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

export const POP3_PASSWORD = 'demo';

export interface StoryContext {
  smtp: { host: string; port: number };
  pop3: { host: string; port: number } | null;
  zones: ZoneSet;
  /** A spam scanner is configured (scanners.spam.backend). */
  spamScanner: boolean;
  maxMessageSize: number;
  dataDir: string;
  ledgerPath: string;
}

export interface StoryResult {
  story: string;
  title: string;
  /** The diagnosis codes `mailproof trace` should show for this journey. */
  expect: string[];
  client_ip: string;
  mail_from: string;
  rcpt: string;
  reply: string;
  ref: string | null;
  /** What happened around the SMTP transaction (POP3, DNS change), for the summary. */
  note?: string;
  /** The story could not be played here, and why. */
  skipped?: string;
  /** Where the journey's events come from when not from the live gateway. */
  source?: 'ingested postfix log';
}

interface Host { ip: string; helo: string }

const rcpt = (local: string): string => `${local}@${CUSTOMER_DOMAIN}`;

async function send(ctx: StoryContext, host: Host, from: string, to: string, message: Buffer, size?: number): Promise<SendResult> {
  return sendMail({ ...ctx.smtp, localAddress: host.ip, helo: host.helo, from, to, message, size });
}

async function text(from: string, to: string, subject: string, body: string): Promise<Buffer> {
  return compose({ from, to, subject, text: body });
}

type Story = (ctx: StoryContext) => Promise<StoryResult[]>;

/** A story of one message: sent once, one journey. */
function simple(o: {
  story: string; title: string; expect: string[]; host: Host; from: string; to: string;
  message: (ctx: StoryContext) => Promise<Buffer>; size?: (ctx: StoryContext) => number;
  after?: (ctx: StoryContext) => Promise<string>;
}): Story {
  return async (ctx) => {
    const r = await send(ctx, o.host, o.from, o.to, await o.message(ctx), o.size?.(ctx));
    const note = r.ok && o.after ? await o.after(ctx) : undefined;
    return [{ story: o.story, title: o.title, expect: o.expect, client_ip: o.host.ip, mail_from: o.from, rcpt: o.to, reply: r.reply, ref: r.ref, ...(note ? { note } : {}) }];
  };
}

export const STORIES: Story[] = [
  simple({
    story: 'delivered', title: 'A normal message, fetched by the boss\'s mail program (left on the server)',
    expect: ['delivered'], host: HOSTS.partner, from: 'angebot@partner.demo', to: rcpt('chef'),
    message: () => text('angebot@partner.demo', rcpt('chef'), 'Angebot 4711', 'Guten Tag, anbei unser Angebot.\n'),
    after: async (ctx) => {
      if (!ctx.pop3) return 'no POP3 server';
      const r = await pop3Fetch({ ...ctx.pop3, localAddress: OFFICE.bossPc, user: rcpt('chef'), pass: POP3_PASSWORD, dele: false });
      return `POP3 from ${OFFICE.bossPc}: ${r.fetched} fetched, kept on the server`;
    },
  }),
  simple({
    story: 'fetched_and_deleted', title: 'Delivered, then another PC in the office fetched and deleted it',
    expect: ['fetched_and_deleted', 'delivered'], host: HOSTS.partner, from: 'rechnung@partner.demo', to: rcpt('buchhaltung'),
    message: () => text('rechnung@partner.demo', rcpt('buchhaltung'), 'Rechnung 2026-0815', 'Bitte begleichen Sie die Rechnung bis Monatsende.\n'),
    after: async (ctx) => {
      if (!ctx.pop3) return 'no POP3 server';
      const r = await pop3Fetch({ ...ctx.pop3, localAddress: OFFICE.oldPc, user: rcpt('buchhaltung'), pass: POP3_PASSWORD, dele: true });
      return `POP3 from ${OFFICE.oldPc} (the old PC in the warehouse): ${r.fetched} fetched, ${r.deleted} deleted`;
    },
  }),
  simple({
    story: 'delivered_not_fetched', title: 'Delivered; nobody has fetched it yet: it is waiting in the mailbox',
    expect: ['delivered_not_fetched', 'delivered'], host: HOSTS.partner, from: 'termin@partner.demo', to: rcpt('info'),
    message: () => text('termin@partner.demo', rcpt('info'), 'Terminbestaetigung', 'Wir bestaetigen den Termin am Dienstag.\n'),
  }),
  simple({
    story: 'virus', title: '"I only sent a Word file": a .docx with a VBA macro project, refused at DATA',
    expect: ['virus'], host: HOSTS.partner, from: 'auftrag@partner.demo', to: rcpt('info'),
    message: () => compose({
      from: 'auftrag@partner.demo', to: rcpt('info'), subject: 'Auftrag 2026-117', text: 'Anbei der Auftrag als Word-Datei.\n',
      attachments: [{ filename: 'Auftrag-2026-117.docx', content: macroDocx(), contentType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document' }],
    }),
  }),
  async (ctx) => {
    const base = { story: 'spam', title: 'Spam: the content scanner scores the message over the limit', expect: ['spam'], client_ip: HOSTS.partner.ip, mail_from: 'gewinn@partner.demo', rcpt: rcpt('info') };
    if (!ctx.spamScanner) {
      return [{
        ...base, reply: '', ref: null,
        skipped: 'needs a spam scanner: run rspamd or spamd and add -o scanners.spam.backend=spamd -o scanners.spam.address=127.0.0.1:783 (or backend=rspamd, address=http://127.0.0.1:11333)',
      }];
    }
    const r = await send(ctx, HOSTS.partner, base.mail_from, base.rcpt,
      await text(base.mail_from, base.rcpt, 'Sie haben gewonnen', `Herzlichen Glueckwunsch!\n\n${GTUBE}\n`));
    return [{ ...base, reply: r.reply, ref: r.ref, note: 'the body carries the GTUBE test string' }];
  },
  simple({
    story: 'sender_ip_blocklisted', title: 'The sending server is on a block list (DNSBL)',
    expect: ['sender_ip_blocklisted'], host: HOSTS.listed, from: 'news@spamschleuder.demo', to: rcpt('info'),
    message: () => text('news@spamschleuder.demo', rcpt('info'), 'Newsletter', 'Unser Newsletter.\n'),
  }),
  simple({
    story: 'sender_dynamic_ip', title: 'An in-house Exchange sends straight from a dynamic DSL address',
    expect: ['sender_dynamic_ip'], host: HOSTS.dsl, from: 'meier@handwerk-meier.demo', to: rcpt('chef'),
    message: () => text('meier@handwerk-meier.demo', rcpt('chef'), 'Kostenvoranschlag', 'Anbei der Kostenvoranschlag.\n'),
  }),
  simple({
    story: 'sender_mx_is_ip', title: 'The sender\'s provider set an IP address instead of a host name as MX',
    expect: ['sender_mx_is_ip'], host: HOSTS.hoster, from: `bestellung@${IP_MX_DOMAIN}`, to: rcpt('info'),
    message: () => text(`bestellung@${IP_MX_DOMAIN}`, rcpt('info'), 'Brotbestellung', 'Bitte 20 Broetchen.\n'),
  }),
  simple({
    story: 'sender_domain_unresolvable', title: 'A web form sends with a sender domain that does not exist',
    expect: ['sender_domain_unresolvable'], host: HOSTS.webform, from: `kontakt@${NX_DOMAIN}`, to: rcpt('info'),
    message: () => text(`kontakt@${NX_DOMAIN}`, rcpt('info'), 'Kontaktformular', 'Eine Anfrage ueber das Formular.\n'),
  }),
  simple({
    story: 'spf_fail', title: 'A server not named in the sender domain\'s SPF record sends in its name',
    expect: ['spf_fail'], host: HOSTS.forger, from: 'zahlung@bank.demo', to: rcpt('buchhaltung'),
    message: () => text('zahlung@bank.demo', rcpt('buchhaltung'), 'Ihre Zahlung', 'Bitte bestaetigen Sie Ihre Kontodaten.\n'),
  }),
  simple({
    story: 'unknown_recipient', title: 'A typo in the address: muller@ instead of mueller@',
    expect: ['unknown_recipient'], host: HOSTS.partner, from: 'anfrage@partner.demo', to: rcpt('muller'),
    message: () => text('anfrage@partner.demo', rcpt('muller'), 'Anfrage', 'Hallo Herr Mueller.\n'),
  }),
  simple({
    story: 'message_too_large', title: 'Holiday photos over the size limit',
    expect: ['message_too_large'], host: HOSTS.partner, from: 'fotos@partner.demo', to: rcpt('chef'),
    message: (ctx) => compose({
      from: 'fotos@partner.demo', to: rcpt('chef'), subject: 'Urlaubsfotos', text: 'Die Fotos vom Betriebsausflug.\n',
      // No SIZE= declared: nodemailer would refuse it itself, seeing our EHLO SIZE limit (RFC 1870),
      // so the gateway sees the whole message and refuses it after DATA (552 5.3.4).
      attachments: [{ filename: 'fotos.zip', content: Buffer.alloc(ctx.maxMessageSize + 1024, 0x41) }],
    }),
  }),
  // A temporary failure and the sender's retry: the new server has no PTR,
  // the gateway answers 450 (client_identity no_ptr: tempfail); its admin
  // adds the PTR; the sender's queue tries again and the message gets in.
  async (ctx) => {
    const h = HOSTS.newserver;
    const from = 'bestellung@neuer-kunde.demo';
    const to = rcpt('info');
    const msg = await text(from, to, 'Bestellung 42', 'Wir bestellen 3 Kisten.\n');
    const first = await send(ctx, h, from, to, msg);
    addNewServerPtr(ctx.zones);
    // Past the 1 s negative TTL of the demo zone (RFC 2308): the resolver must not answer from its cache.
    await new Promise((r) => setTimeout(r, 1500));
    const retry = await send(ctx, h, from, to, msg);
    return [
      { story: 'tempfail_retried', title: 'Temporary failure (no PTR for the new server yet), then the sender retried', expect: ['tempfail_retried'], client_ip: h.ip, mail_from: from, rcpt: to, reply: first.reply, ref: first.ref, note: `then the PTR ${h.ip} -> ${h.ptr} was added to the demo DNS` },
      { story: 'tempfail_retried (the retry)', title: 'The retry after the PTR was fixed: delivered', expect: ['delivered_not_fetched', 'delivered'], client_ip: h.ip, mail_from: from, rcpt: to, reply: retry.reply, ref: retry.ref },
    ];
  },
  // tempfail_not_retried, from the log of the customer's old MX (Postfix with
  // postgrey), three hours ago: a 450 and no retry since.
  async (ctx) => {
    const from = 'lieferung@langsam.demo';
    const to = rcpt('info');
    const ip = '127.0.0.55';
    const host = 'mail.langsam.demo';
    const dir = path.join(ctx.dataDir, 'ingested-log');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'altes-mx-mail.log');
    // RFC 3339 stamps (rsyslog's high-precision format): no year or zone to guess.
    const at = (ms: number): string => new Date(Date.now() - 3 * 3600e3 + ms).toISOString();
    const reply = `450 4.7.1 <${to}>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/${CUSTOMER_DOMAIN}.html`;
    fs.writeFileSync(file, [
      `${at(0)} altes-mx postfix/smtpd[2411]: connect from ${host}[${ip}]`,
      `${at(120)} altes-mx postfix/smtpd[2411]: NOQUEUE: reject: RCPT from ${host}[${ip}]: ${reply}; from=<${from}> to=<${to}> proto=ESMTP helo=<${host}>`,
      `${at(200)} altes-mx postfix/smtpd[2411]: disconnect from ${host}[${ip}] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4`,
      '',
    ].join('\n'));
    await ingest({ kind: 'postfix', files: [file], ledgerPath: ctx.ledgerPath, fallbackNode: 'altes-mx' });
    return [{
      story: 'tempfail_not_retried', title: 'A 4xx three hours ago and no retry since: the sender\'s queue is at fault',
      expect: ['tempfail_not_retried'], client_ip: ip, mail_from: from, rcpt: to, reply, ref: null,
      source: 'ingested postfix log', note: `not played live: ingested from ${file} (the old MX's log, timestamps 3 h ago)`,
    }];
  },
];
