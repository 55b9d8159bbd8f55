import Headers from 'mailsplit/lib/headers.js';
import libmime from 'libmime';
import { holdFor } from '../../scan/part-body.js';
import { walkParts, type MimeLimits, type MimePart } from '../../scan/parts.js';
import { logSafe } from '../../util/sanitize.js';
import type { Check, CheckContext, Evidence, Verdict } from '../types.js';
import { Inspector, type Settings } from './inspect.js';
import { archiveLimitReply, findingReply, mimeLimitReply, partForReply } from './reply.js';

/** The MIME walk limits of checks.attachments (the virus check walks with the same ones). */
export function mimeLimitsOf(s: Settings): Partial<MimeLimits> {
  return { maxDepth: s.max_depth, maxParts: s.max_parts, maxDecodedBytes: s.max_decoded_bytes };
}

/**
 * A message that is one text part without a file name and without base64
 * (most mail: a plain text or a quoted-printable body) holds no attachment:
 * no need to set up the MIME walk's streams, which cost about 1.5 ms of CPU
 * per message. Anything else (multipart, message/*, a name, base64, a
 * non-text type) is walked.
 */
export function plainTextOnly(body: { buffer: Buffer } | { path: string }): { type: string; encoding: string } | null {
  // The header block as it is in the message (LF line ends, collect.ts), not
  // a bounded copy: a Content-Type after a cut must not be missed.
  if (!('buffer' in body)) return null;
  const end = body.buffer.indexOf('\n\n');
  if (end < 0 || end > 256 * 1024) return null;
  let h: Headers;
  try {
    h = new Headers(body.buffer.subarray(0, end + 1));
  } catch {
    return null;
  }
  const ct = h.getFirst('content-type');
  const parsed = ct ? libmime.parseHeaderValue(ct) : { value: 'text/plain', params: {} as Record<string, string> };
  const type = parsed.value.trim().toLowerCase();
  if (!/^text\/[a-z0-9.+-]+$/.test(type)) return null;
  if (Object.keys(parsed.params).some((k) => k.toLowerCase().startsWith('name'))) return null;
  const disposition = h.getFirst('content-disposition');
  if (disposition && /filename|attachment/i.test(disposition)) return null;
  const encoding = (h.getFirst('content-transfer-encoding') || '7bit').trim().toLowerCase();
  if (!['7bit', '8bit', 'binary', 'quoted-printable'].includes(encoding)) return null;
  return { type, encoding };
}

/** Parts listed in a pass verdict's evidence; the rest are counted. */
const MAX_LISTED = 20;

function partEvidence(p: MimePart): Evidence {
  return {
    part: p.path,
    filename: p.filename === null ? null : logSafe(p.filename, 200),
    content_type: logSafe(p.contentType, 100),
    ...(p.within.length ? { within: p.within.map((w) => logSafe(w, 200)) } : {}),
    bytes: p.size,
  };
}

/**
 * DATA stage: the attachment policy. Walks the MIME parts (stopping at the
 * first limit: a MIME bomb is refused without being parsed whole) and
 * refuses the message at the first part that is a program, a script, an
 * Office file with macros, or an archive holding one of those.
 *
 * Not bypassable by the allow-list: the list is about the connecting
 * address, and a trusted relay (a backup MX) forwards strangers' mail.
 */
export function attachmentsChecks(s: Settings): Check[] {
  const limits = mimeLimitsOf(s);
  return [{
    name: 'attachments',
    stage: 'data',
    bypassable: false,
    timeoutMs: 60_000,
    async run(ctx: CheckContext): Promise<Verdict> {
      if (!ctx.message) return { kind: 'skip', why: 'no message' };
      const plain = plainTextOnly(ctx.message.body);
      if (plain) return { kind: 'pass', evidence: { parts: 1, attachments: 0, single_text_part: plain } };
      const inspector = new Inspector(s, holdFor(ctx.message.body));
      const listed: Evidence[] = [];
      let parts = 0;
      let omitted = 0;
      for await (const item of walkParts(ctx.message.body, limits, holdFor(ctx.message.body))) {
        if (item.kind === 'limits_exceeded') {
          return {
            kind: 'reject',
            reply: mimeLimitReply(item.limit, item.max),
            reason: `MIME ${item.limit} limit of ${item.max} exceeded at part ${item.at}`,
            evidence: { rule: 'mime_limit', limit: item.limit, max: item.max, at: item.at, parts_seen: parts },
          };
        }
        parts++;
        const p = item.part;
        const out = await inspector.file([p.filename], p.body);
        const subject = partForReply(p);
        if (out.kind === 'finding') {
          const f = out.finding;
          return {
            kind: 'reject',
            reply: findingReply(subject, f),
            reason: `${f.rule}: ${logSafe(subject, 300)}${f.entry.length ? ` contains ${logSafe(f.entry.join(' / '), 300)},` : ''} ${f.what}`,
            evidence: {
              rule: f.rule, ...partEvidence(p), detected: f.detected, ext: f.ext, decoy: f.decoy,
              ...(f.entry.length ? { entry: f.entry.map((e) => logSafe(e, 300)) } : {}),
            },
          };
        }
        if (out.kind === 'limit') {
          const l = out.limit;
          return {
            kind: 'reject',
            reply: archiveLimitReply(subject, l),
            reason: `archive ${l.limit} limit of ${l.max} exceeded in ${logSafe(subject, 300)}`,
            evidence: { rule: 'archive_limit', limit: l.limit, max: l.max, ...partEvidence(p), entry: l.entry.map((e) => logSafe(e, 300)) },
          };
        }
        // What was looked at: attachments and anything not text, bounded.
        if (p.filename !== null || !p.contentType.startsWith('text/')) {
          if (listed.length < MAX_LISTED) listed.push({ ...partEvidence(p), detected: out.detected });
          else omitted++;
        }
      }
      return {
        kind: 'pass',
        evidence: { parts, attachments: listed, ...(omitted ? { attachments_omitted: omitted } : {}), archive_entries: inspector.entries, unpacked_bytes: inspector.unpacked },
      };
    },
  }];
}
