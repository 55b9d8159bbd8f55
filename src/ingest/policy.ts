// The policy services a stock Debian Postfix commonly asks (smtpd's
// check_policy_service, the Postfix SMTP access policy delegation protocol):
// postgrey (greylisting), policyd-spf (postfix-policyd-spf-python, SPF as in
// RFC 7208) and postfwd (rule-based). Each logs its own line per request under
// its own program name; the line becomes the check result our gateway's own
// check would record (greylist, spf), and smtpd's refusal that follows it
// gets the policy service's finding (postfix.ts).
//
// What they write (the values a client chose, sender, recipient and HELO, are
// read with fields.ts so none can pass for another field):
// - postgrey: "action=greylist, reason=new, client_name=N, client_address=IP,
//   sender=S, recipient=R"; a pass adds "delay=SECONDS" after the reason.
//   Since 1.37 the address may carry "/PREFIX" (--ipv4cidr) and "client_name="
//   may be followed by "client_address=" only. It writes a field only when
//   its value is not empty: the null sender has no "sender=" (seen from the
//   real 1.37), and once Postfix has a queue ID for the transaction (a second
//   recipient) the line starts with "QUEUEID: ". S and R are as the client
//   sent them (any text): the pair reads two ways when S holds
//   ", recipient=", and such a line is refused.
// - policyd-spf: "prepend Received-SPF: Pass (mailfrom) identity=mailfrom;
//   client-ip=IP; helo=H; envelope-from=S; receiver=R " (RFC 7208 section 9.1
//   header fields), "RESULT; identity=...; ..." for results it only logs, and
//   "550 5.7.23 Message rejected due to: SPF fail - not authorized. Please see
//   http://www.openspf.net/Why?s=mfrom;id=S;ip=IP;r=R" when it refuses,
//   "defer_if_permit 4.7.24 SPF ..." when 3.x defers; each may start with
//   "QUEUEID: ", or ": " before Postfix has a queue ID (its QueueID option).
// - postfwd (postfwd2/postfwd3 as "postfwd2/policy"): "[RULES] rule=N, id=ID,
//   queue=Q, client=NAME[IP], user=U, sender=<S>, recipient=<R>, helo=<H>,
//   proto=P, state=STATE, delay=Ns, hits=IDS, action=ACTION", some fields
//   only in some versions. ACTION is the operator's rule text.
import type { GreylistFinding, SpfFinding } from '../checks/findings.js';
import type { Verdict } from '../ledger/types.js';
import { readFields, type FieldSpec } from './fields.js';

export type PolicyService = 'postgrey' | 'policyd-spf' | 'postfwd';

/**
 * The gateway's check of the same kind and its finding (checks/findings.ts;
 * research maps them to a diagnosis); postfwd's rules are the site's own.
 */
export type PolicyFinding =
  | { check: 'greylist'; finding: GreylistFinding }
  | { check: 'spf'; finding: SpfFinding }
  | { check: 'postfwd'; finding: string };

export type PolicyResult = PolicyFinding & {
  service: PolicyService;
  verdict: Verdict;
  ip: string | null;
  ptr: string | null;
  from: string | null;
  to: string | null;
  helo: string | null;
  /** The reply the service gave Postfix, when it logs one. */
  reply: string | null;
  evidence: Record<string, unknown>;
};

/** A result, a line of the service's own chatter (understood, no event), a refusal, or null (not known). */
export type PolicyReading = { ok: true; result: PolicyResult } | { ok: false; reason: string } | 'chatter' | null;

const IP = /^[0-9A-Fa-f.:]{2,64}(?:\/\d{1,3})?$/;
// A client's host name as Postfix passes it on (verified PTR names only, else "unknown").
const HOSTNAME = /^[A-Za-z0-9._-]{1,255}$/;

/** Which service wrote a line, by its syslog program name. */
export function policyService(program: string): PolicyService | null {
  // Called for every line of a Postfix log: Postfix's own daemons leave first.
  if (program.startsWith('postfix')) return program.endsWith('/policy-spf') ? 'policyd-spf' : null;
  if (program === 'postgrey') return 'postgrey';
  if (program === 'policyd-spf' || program === 'policyd-spf-perl' || program.endsWith('/policy-spf')) return 'policyd-spf';
  if (/^postfwd[23]?(?:\/|$)/.test(program)) return 'postfwd';
  return null;
}

export function readPolicy(service: PolicyService, msg: string): PolicyReading {
  switch (service) {
    case 'postgrey': return postgrey(msg);
    case 'policyd-spf': return policydSpf(msg);
    case 'postfwd': return postfwd(msg);
    default: { const never: never = service; return never; }
  }
}

const POSTGREY: readonly FieldSpec[] = [
  { key: 'action', open: 'action=', close: '', value: /^[a-z]{1,20}$/, required: true, stop: ',' },
  // Postgrey's own words: "new", "early-retry (53s missing)", "triplet found", "client whitelist", "client AWL" ...
  { key: 'reason', open: ', reason=', close: '', value: /^[A-Za-z0-9 ()_-]{1,80}$/, stop: ',' },
  { key: 'delay', open: ', delay=', close: '', value: /^\d{1,10}$/, stop: ',' },
  { key: 'client_name', open: ', client_name=', close: '', value: HOSTNAME, stop: ',' },
  { key: 'client_address', open: ', client_address=', close: '', value: IP, required: true, stop: ',' },
  // Absent for the null sender. The recipient is always written (smtpd asks
  // per RCPT), so a sender cannot run on into an absent recipient unnoticed.
  { key: 'sender', open: ', sender=', close: '' },
  { key: 'recipient', open: ', recipient=', close: '', required: true },
];

const POSTGREY_CHATTER = /^(?:cleaning |Process Backgrounded|\d{4}\/\d\d\/\d\d-|Setting [gu]id|Binding to |Server |Resolved |whitelisted: |cleaning up|Delaying |Couldn't unlink)/;

// Postfix's queue ID (short or long form), as postgrey puts it before the fields.
const POSTGREY_QID = /^[0-9A-Za-z]{6,20}: (?=action=)/;

function postgrey(msg: string): PolicyReading {
  const qid = POSTGREY_QID.exec(msg);
  const from = qid ? qid[0].length : 0;
  if (!msg.startsWith('action=', from)) return POSTGREY_CHATTER.test(msg) ? 'chatter' : null;
  const r = readFields(msg, from, msg.length, POSTGREY);
  if (!r.ok) return { ok: false, reason: r.reason === 'ambiguous' ? 'ambiguous postgrey line' : 'no postgrey fields' };
  const f = r.fields;
  const greylisted = f.action === 'greylist';
  const reason = f.reason ?? null;
  return {
    ok: true,
    result: {
      service: 'postgrey', check: 'greylist',
      // RFC 6647 section 2.1: a greylisted attempt is deferred (4xx), to be retried.
      verdict: greylisted ? 'tempfail' : f.action === 'pass' ? 'pass' : 'flag',
      finding: greylisted ? (reason?.startsWith('early-retry') ? 'early_retry' : 'greylisted') : 'passed',
      ip: (f.client_address ?? '').replace(/\/\d+$/, '') || null,
      ptr: f.client_name && f.client_name !== 'unknown' ? f.client_name : null,
      // No "sender=" is the null sender, as smtpd logs it (from=<>).
      from: f.sender ?? '', to: f.recipient ?? null, helo: null, reply: null,
      evidence: { reason, ...(f.delay ? { delay_s: Number(f.delay) } : {}), ...(qid ? { queue_id: qid[0].slice(0, -2) } : {}) },
    },
  };
}

// RFC 7208 section 9.1: the results, as policyd-spf capitalizes them.
const SPF_RESULT = /^(Pass|Fail|Softfail|Neutral|None|Temperror|Permerror|TempError|PermError)\b/;
const SPF_FIELDS: readonly FieldSpec[] = [
  { key: 'identity', open: 'identity=', close: '', value: /^[a-z]{1,20}$/, required: true, stop: ';' },
  { key: 'client_ip', open: '; client-ip=', close: '', value: IP, required: true, stop: ';' },
  { key: 'helo', open: '; helo=', close: '', required: true },
  { key: 'envelope_from', open: '; envelope-from=', close: '', required: true },
  { key: 'receiver', open: '; receiver=', close: '', required: true },
];
const SPF_WHY: readonly FieldSpec[] = [
  { key: 's', open: 's=', close: '', value: /^[a-z]{1,10}$/, required: true, stop: ';' },
  { key: 'id', open: ';id=', close: '', required: true },
  { key: 'ip', open: ';ip=', close: '', value: IP, required: true, stop: ';' },
  { key: 'r', open: ';r=', close: '', required: true },
];
const SPF_CHATTER = /^(?:Starting|Config:|spfcheck:|Found the end of entry|Read line|Instance|Received-SPF header prepended|action=|Exiting|Whitelist|skip|IP address|SPF not|Hostname|Message size|Mail From|Helo)/;

// policyd-spf 2.x/3.x with its QueueID option: Postfix's queue ID and ": "
// before the line, and ": " alone while there is none yet (at RCPT, before
// the first accepted recipient; seen from the real 3.0.4).
const SPF_QID = /^(?:[0-9A-Za-z]{6,20})?: /;

function policydSpf(line: string): PolicyReading {
  const q = SPF_QID.exec(line);
  const msg = q ? line.slice(q[0].length) : line;
  // A refusal or a deferral, in the words policyd-spf answers Postfix with.
  // ("550 5.7.23 Message rejected due to: SPF fail ...", "451 4.4.3 SPF Temporary Error: DNS Timeout",
  // "defer_if_permit 4.7.24 SPF Temporary Error: ...": the deferral as 3.x writes it).
  const refusal = /^(?:([45])\d\d|(defer_if_permit)) [45]\.\d{1,3}\.\d{1,3} (?=.*\bSPF\b)/.exec(msg);
  if (refusal) {
    const why = msg.indexOf('Why?s=');
    const f = why >= 0 ? readFields(msg, why + 4, msg.length, SPF_WHY) : null;
    if (f && !f.ok && f.reason === 'ambiguous') return { ok: false, reason: 'ambiguous policyd-spf line' };
    const w = f?.ok ? f.fields : null;
    const fail = /SPF fail/i.test(msg);
    return {
      ok: true,
      result: {
        service: 'policyd-spf', check: 'spf', verdict: refusal[1] === '5' ? 'reject' : 'tempfail',
        finding: fail ? 'fail' : /temp(?:orary)? ?error/i.test(msg) ? 'temperror' : /perm(?:anent)? ?error/i.test(msg) ? 'permerror' : 'fail',
        ip: w?.ip ?? null, ptr: null, from: w && w.s === 'mfrom' ? w.id ?? null : null, to: null,
        helo: w && w.s === 'helo' ? w.id ?? null : null, reply: msg,
        evidence: { identity: w?.s === 'helo' ? 'helo' : 'mailfrom' },
      },
    };
  }
  // The header policyd-spf asks Postfix to prepend ends in one space of its own;
  // 3.x logs a result it only reports as "result_only ..." and, with headers
  // off, "Header field not prepended: ...".
  const lead = /^(?:prepend |result_only |Header field not prepended: )/.exec(msg)?.[0] ?? '';
  let rest = (lead ? msg.slice(lead.length, msg.endsWith(' ') ? -1 : undefined) : msg).replace(/^Received-SPF: /, '');
  const m = SPF_RESULT.exec(rest);
  if (!m) return SPF_CHATTER.test(msg) || SPF_CHATTER.test(line) ? 'chatter' : null;
  rest = rest.slice(m[0].length);
  // "Pass (mailfrom) identity=..." (the header's comment) or "Pass; identity=...".
  const cm = /^(?: \((?:mailfrom|helo|[^()]{0,200})\) |; )/.exec(rest);
  if (!cm) return null;
  rest = rest.slice(cm[0].length);
  const r = readFields(rest, 0, rest.length, SPF_FIELDS);
  if (!r.ok) return { ok: false, reason: r.reason === 'ambiguous' ? 'ambiguous policyd-spf line' : 'no policyd-spf fields' };
  const f = r.fields;
  // SPF_RESULT admits the seven results of RFC 7208 section 2.6 only.
  const result = m[1]!.toLowerCase() as SpfFinding;
  return {
    ok: true,
    result: {
      service: 'policyd-spf', check: 'spf',
      // Logged, not refused (the refusal has its own line above): a fail or
      // softfail here is a finding that let the mail through.
      verdict: result === 'pass' ? 'pass' : result === 'none' || result === 'neutral' ? 'skip' : 'flag',
      finding: result, ip: f.client_ip ?? null, ptr: null,
      from: f.envelope_from ?? null, to: f.receiver && f.receiver !== '<UNKNOWN>' ? f.receiver : null,
      helo: f.helo ?? null, reply: null, evidence: { identity: f.identity },
    },
  };
}

const POSTFWD: readonly FieldSpec[] = [
  { key: 'rule', open: 'rule=', close: '', value: /^\d{1,10}$/, required: true, stop: ',' },
  { key: 'id', open: ', id=', close: '', value: /^[^\s,<>]{1,100}$/, stop: ',' },
  { key: 'queue', open: ', queue=', close: '', value: /^[0-9A-Za-z]{1,32}$/, stop: ',' },
  { key: 'client', open: ', client=', close: '', value: /^[A-Za-z0-9._-]{1,255}\[[0-9A-Fa-f.:]{2,64}\]$/, stop: ',' },
  // The SASL login name ("none" or empty without one).
  { key: 'user', open: ', user=', close: '', value: /^[^\s,<>]{0,320}$/, stop: ',' },
  // Any text, each: required, so that none can run on into an absent next one.
  { key: 'sender', open: ', sender=<', close: '>', required: true },
  { key: 'recipient', open: ', recipient=<', close: '>', required: true },
  { key: 'helo', open: ', helo=<', close: '>', required: true },
  { key: 'proto', open: ', proto=', close: '', value: /^[A-Za-z0-9]{1,32}$/, stop: ',' },
  { key: 'state', open: ', state=', close: '', value: /^[A-Z-]{1,32}$/, stop: ',' },
  { key: 'delay', open: ', delay=', close: '', value: /^[0-9.]{1,20}s$/, stop: ',' },
  { key: 'hits', open: ', hits=', close: '', value: /^[^\s,<>]{0,1000}$/, stop: ',' },
  { key: 'action', open: ', action=', close: '', required: true },
];

/** A postfwd action (its postfix access(5) action) as a verdict. */
function postfwdVerdict(action: string): Verdict {
  const a = action.toUpperCase();
  if (/^(?:REJECT|5\d\d|NEEDS?_|REJECT_)/.test(a)) return 'reject';
  if (/^(?:DEFER|4\d\d)/.test(a)) return 'tempfail';
  if (/^(?:WARN|HOLD|DISCARD|REDIRECT|FILTER|PREPEND)/.test(a)) return 'flag';
  return 'pass'; // DUNNO, OK, PERMIT, rate limits that did not hit
}

function postfwd(msg: string): PolicyReading {
  if (!msg.startsWith('[RULES] ')) return /^\[(?:STATS|CACHE|DNSBL|LOGS|SETRATE|RATE|PLUGIN|SERVER|CONF|MASTER|POLICY)\]|^postfwd|^terminated|^Process Backgrounded|^\d{4}\/|^Binding|^Setting/.test(msg) ? 'chatter' : null;
  const r = readFields(msg, 8, msg.length, POSTFWD);
  if (!r.ok) return { ok: false, reason: r.reason === 'ambiguous' ? 'ambiguous postfwd line' : 'no postfwd fields' };
  const f = r.fields;
  const action = f.action!;
  const client = f.client ? /^(.*)\[(.*)\]$/.exec(f.client) : null;
  const verdict = postfwdVerdict(action);
  return {
    ok: true,
    result: {
      service: 'postfwd', check: 'postfwd', verdict, finding: f.id ?? `rule ${f.rule}`,
      ip: client?.[2] ?? null, ptr: client && client[1] !== 'unknown' ? client[1]! : null,
      from: f.sender ?? null, to: f.recipient ?? null, helo: f.helo ?? null,
      reply: verdict === 'reject' || verdict === 'tempfail' ? action : null,
      evidence: { rule: f.rule, id: f.id ?? null, hits: f.hits ?? null, action, state: f.state ?? null },
    },
  };
}
