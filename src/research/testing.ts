import type { LedgerEvent } from '../ledger/types.js';

// The classic stories (src/demo/stories.ts) as ledger events the way the
// gateway and the POP3 server write them, for research's unit tests: one
// REF per story, recipients in kunde.test. Times are fixed (T0), so texts
// with times can be compared whole.

export const T0 = Date.parse('2026-11-20T10:00:00Z');
export const DOMAIN = 'kunde.test';

/** REFs of the stories (the keys of their journeys). */
export const REFS = {
  pbl: 'PB1000000001',
  fetched: 'FD1000000001',
  waiting: 'WA1000000001',
  pdf: 'PD1000000001',
  macro: 'MA1000000001',
  disguised: 'DG1000000001',
  typo: 'TY1000000001',
  grey: 'GR1000000001',
  kept: 'KP1000000001',
  bare: 'BA1000000001',
  relay: 'RL1000000001',
} as const;

function tx(session: string, ip: string | null, ptr: string | null) {
  let n = 0;
  return (kind: LedgerEvent['kind'], o: Partial<LedgerEvent>): LedgerEvent => ({
    ts: T0 + Number(session.replace(/\D/g, '')) * 60_000 + n++ * 10, node: 'mx1', source: 'gateway', kind, session, client_ip: ip, client_ptr: ptr, ...o,
  });
}

const AT = (min: number, sec = 0): number => T0 + min * 60_000 + sec * 1000;

/** Every story's events. `now` for research: T0 + 30 minutes (the greylisted message is still within its retry window). */
export function storyEvents(): LedgerEvent[] {
  const out: LedgerEvent[] = [];
  // 1. The in-house server on a DSL line, listed on the PBL part of Spamhaus ZEN.
  {
    const e = tx('s1', '192.0.2.7', null);
    const ref = REFS.pbl;
    out.push(
      e('session.connect', { ref: 'SE1000000001', details: { local: '10.0.0.2:25', port: 50123 } }),
      e('check.result', {
        ref: 'SE1000000001', check_name: 'dnsbl', verdict: 'reject', smtp_code: 554, enhanced_code: '5.7.1',
        details: {
          stage: 'connect',
          evidence: {
            client_ip: '192.0.2.7',
            zones: [{
              zone: 'zen.spamhaus.org', name: 'Spamhaus ZEN', type: 'block', query: '7.2.0.192.zen.spamhaus.org',
              answer: { name: '7.2.0.192.zen.spamhaus.org', type: 'A', rcode: 'NOERROR', records: ['127.0.0.10'], ttl: 60, server: '10.0.0.53:53', at: '2026-11-20T10:01:00.000Z', from_cache: false },
              listings: [{ code: '127.0.0.10', meaning: 'listed as dynamic/end-user address space (PBL)', advice: "send through your provider's mail server" }],
            }, {
              zone: 'list.dnswl.org', name: 'DNSWL', type: 'allow', query: '7.2.0.192.list.dnswl.org', listings: [],
            }],
          },
        },
      }),
      e('mail.from', { ref, mail_from: 'meier@handwerk.test' }),
      e('rcpt.rejected', { ref, mail_from: 'meier@handwerk.test', rcpt: `chef@${DOMAIN}`, check_name: 'dnsbl', verdict: 'reject', smtp_code: 554, enhanced_code: '5.7.1', reply: `554 5.7.1 Your server's address 192.0.2.7 is listed on Spamhaus ZEN (ref ${ref})` }),
    );
  }
  // 2. Delivered, then another PC fetched and deleted it by POP3 at 10:02:30.
  {
    const e = tx('s2', '198.51.100.20', 'mail.partner.test');
    const ref = REFS.fetched;
    out.push(
      e('mail.from', { ref, mail_from: 'rechnung@partner.test' }),
      e('rcpt.accepted', { ref, mail_from: 'rechnung@partner.test', rcpt: `buchhaltung@${DOMAIN}` }),
      e('check.result', { ref, check_name: 'spf', verdict: 'pass', details: { stage: 'mail', evidence: { result: 'pass', domain: 'partner.test', server: '10.0.0.53:53' } } }),
      e('check.result', { ref, check_name: 'virus', verdict: 'pass', details: { stage: 'data', evidence: { result: 'clean', clamd: '/run/clamav/clamd.ctl' } } }),
      e('check.result', { ref, check_name: 'spam', verdict: 'skip', details: { stage: 'data' } }),
      e('data.received', { ref, mail_from: 'rechnung@partner.test', message_id: 'r1@partner.test', size: 2000, details: { subject: 'Rechnung', rcpts: 2 } }),
      e('message.delivered', {
        ref, mail_from: 'rechnung@partner.test', rcpt: `buchhaltung@${DOMAIN}`, message_id: 'r1@partner.test', smtp_code: 250, reply: `250 2.0.0 Ok (ref ${ref})`,
        details: { mailboxes: [`buchhaltung@${DOMAIN}`, 'other@elsewhere.test'], files: [`/var/lib/mailproof/maildir/${DOMAIN}/buchhaltung/new/1763632860.M1P2.mx1`], target: 'maildir', ms: 3 },
      }),
      { ts: AT(2, 30), node: 'mx1', source: 'pop3', kind: 'pop3.login', session: 'p2', client_ip: '192.0.2.50', rcpt: `buchhaltung@${DOMAIN}`, verdict: 'pass', details: { method: 'USER' } },
      { ts: AT(2, 31), node: 'mx1', source: 'pop3', kind: 'pop3.retr', session: 'p2', client_ip: '192.0.2.50', rcpt: `buchhaltung@${DOMAIN}`, ref, message_id: 'r1@partner.test', details: { uidl: 'u1' } },
      { ts: AT(2, 32), node: 'mx1', source: 'pop3', kind: 'pop3.dele', session: 'p2', client_ip: '192.0.2.50', rcpt: `buchhaltung@${DOMAIN}`, ref, message_id: 'r1@partner.test', details: { uidl: 'u1' } },
    );
  }
  // 3. Delivered into our Maildir; nobody fetched it.
  {
    const e = tx('s3', '198.51.100.20', 'mail.partner.test');
    const ref = REFS.waiting;
    out.push(
      e('mail.from', { ref, mail_from: 'termin@partner.test' }),
      e('message.delivered', { ref, mail_from: 'termin@partner.test', rcpt: `info@${DOMAIN}`, smtp_code: 250, details: { mailboxes: [`info@${DOMAIN}`], target: 'maildir' } }),
    );
  }
  // 4. An infected PDF.
  {
    const e = tx('s4', '198.51.100.20', 'mail.partner.test');
    const ref = REFS.pdf;
    out.push(
      e('mail.from', { ref, mail_from: 'buchhaltung@partner.test' }),
      e('check.result', {
        ref, check_name: 'virus', verdict: 'reject', smtp_code: 554, enhanced_code: '5.7.1',
        details: { stage: 'data', reason: 'virus Pdf.Exploit.CVE_2018_4990-1 in Rechnung-2026-12.pdf', evidence: { result: 'infected', signature: 'Pdf.Exploit.CVE_2018_4990-1', filename: 'Rechnung-2026-12.pdf', content_type: 'application/pdf', part: '2', clamd: '127.0.0.1:3310', raw: 'stream: Pdf.Exploit.CVE_2018_4990-1 FOUND' } },
      }),
      e('data.rejected', { ref, mail_from: 'buchhaltung@partner.test', rcpt: `info@${DOMAIN}`, check_name: 'virus', verdict: 'reject', smtp_code: 554, enhanced_code: '5.7.1', reply: `554 5.7.1 Virus found: Pdf.Exploit.CVE_2018_4990-1 in Rechnung-2026-12.pdf (ref ${ref})` }),
    );
  }
  // 5. "I only sent a Word file": a .docx with macros.
  {
    const e = tx('s5', '198.51.100.20', 'mail.partner.test');
    const ref = REFS.macro;
    out.push(
      e('mail.from', { ref, mail_from: 'auftrag@partner.test' }),
      e('check.result', { ref, check_name: 'attachments', verdict: 'reject', smtp_code: 554, details: { stage: 'data', evidence: { rule: 'macro', filename: 'Auftrag-2026-117.docx', content_type: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', detected: 'ooxml-vba', ext: null, decoy: null } } }),
      e('data.rejected', { ref, mail_from: 'auftrag@partner.test', rcpt: `info@${DOMAIN}`, check_name: 'attachments', verdict: 'reject', smtp_code: 554, reply: `554 5.7.1 Auftrag-2026-117.docx contains Office macros (ref ${ref})` }),
    );
  }
  // 6. A program disguised as a PDF.
  {
    const e = tx('s6', '203.0.113.66', null);
    const ref = REFS.disguised;
    out.push(
      e('mail.from', { ref, mail_from: 'invoice@phish.test' }),
      e('check.result', { ref, check_name: 'attachments', verdict: 'reject', smtp_code: 554, details: { stage: 'data', evidence: { rule: 'double_extension', filename: 'Rechnung.pdf.exe', ext: 'exe', decoy: 'pdf', detected: null } } }),
      e('data.rejected', { ref, mail_from: 'invoice@phish.test', rcpt: `info@${DOMAIN}`, check_name: 'attachments', verdict: 'reject', smtp_code: 554, reply: `554 5.7.1 Rechnung.pdf.exe is a program (ref ${ref})` }),
    );
  }
  // 7. A typo: muller@ instead of mueller@ (who got mail before).
  {
    const e = tx('s7', '198.51.100.20', 'mail.partner.test');
    out.push(
      e('message.delivered', { ts: T0 - 86400e3, ref: 'OLD000000001', mail_from: 'x@partner.test', rcpt: `mueller@${DOMAIN}`, smtp_code: 250, details: { mailboxes: [`mueller@${DOMAIN}`], target: 'maildir' } }),
      e('mail.from', { ref: REFS.typo, mail_from: 'anfrage@partner.test' }),
      e('check.result', { ref: REFS.typo, rcpt: `muller@${DOMAIN}`, check_name: 'recipient', verdict: 'reject', smtp_code: 550, enhanced_code: '5.1.1', details: { stage: 'rcpt', evidence: { finding: 'unknown' } } }),
      e('rcpt.rejected', { ref: REFS.typo, mail_from: 'anfrage@partner.test', rcpt: `muller@${DOMAIN}`, check_name: 'recipient', verdict: 'reject', smtp_code: 550, enhanced_code: '5.1.1', reply: `550 5.1.1 <muller@${DOMAIN}>: no such mailbox here (ref ${REFS.typo})` }),
    );
  }
  // 8. Greylisted ten minutes before "now"; the retry is not due yet.
  {
    const e = tx('s8', '198.51.100.30', 'mail.neu.test');
    const ref = REFS.grey;
    out.push(
      e('mail.from', { ref, mail_from: 'neu@neu.test' }),
      e('check.result', { ref, rcpt: `info@${DOMAIN}`, check_name: 'greylist', verdict: 'tempfail', smtp_code: 451, details: { stage: 'rcpt', evidence: { finding: 'greylisted', state: 'new' } } }),
      e('rcpt.rejected', { ref, mail_from: 'neu@neu.test', rcpt: `info@${DOMAIN}`, check_name: 'greylist', verdict: 'tempfail', smtp_code: 451, enhanced_code: '4.7.1', reply: `451 4.7.1 Greylisted, try again in 300 seconds (ref ${ref})` }),
    );
  }
  // 9. Delivered and fetched by the boss's PC, left on the server.
  {
    const e = tx('s9', '198.51.100.20', 'mail.partner.test');
    const ref = REFS.kept;
    out.push(
      e('mail.from', { ref, mail_from: 'angebot@partner.test' }),
      e('message.delivered', { ref, mail_from: 'angebot@partner.test', rcpt: `chef@${DOMAIN}`, message_id: 'k1@partner.test', smtp_code: 250, details: { mailboxes: [`chef@${DOMAIN}`], target: 'maildir' } }),
      { ts: AT(12, 0), node: 'mx1', source: 'pop3', kind: 'pop3.retr', session: 'p9', client_ip: '192.0.2.60', rcpt: `chef@${DOMAIN}`, ref, message_id: 'k1@partner.test', details: { uidl: 'u9' } },
    );
  }
  // 10. A block list refusal that recorded next to nothing: no client address, no zone.
  {
    const e = tx('s10', null, null);
    const ref = REFS.bare;
    out.push(
      e('mail.from', { ref, mail_from: 'x@bare.test' }),
      e('check.result', { ref, check_name: 'dnsbl', verdict: 'reject', smtp_code: 554, details: { stage: 'rcpt' } }),
      e('rcpt.rejected', { ref, mail_from: 'x@bare.test', rcpt: `info@${DOMAIN}`, check_name: 'dnsbl', verdict: 'reject', smtp_code: 554 }),
    );
  }
  // 11. Handed on to the mail server behind the gateway (SMTP target).
  {
    const e = tx('s11', '198.51.100.20', 'mail.partner.test');
    const ref = REFS.relay;
    out.push(
      e('mail.from', { ref, mail_from: 'news@partner.test' }),
      e('message.delivered', { ref, mail_from: 'news@partner.test', rcpt: `team@${DOMAIN}`, smtp_code: 250, details: { mailboxes: [`team@${DOMAIN}`], target: 'smtp', address: 'mailstore.internal:25', reply: '250 2.0.0 Ok: queued as 4ABC on mailstore.internal' } }),
    );
  }
  return out;
}

/** "now" for the stories: 30 minutes after T0 (the greylisted message's retry is still due). */
export const NOW = T0 + 30 * 60_000;
