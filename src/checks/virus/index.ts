import type { ResolvedConfig } from '../../config/load.js';
import type { Logger } from '../../log/logger.js';
import { scanMessage, type ClamdClient, type MessageScanResult, type ScanRecord } from '../../scan/clamd.js';
import { asciiSafe, logSafe } from '../../util/sanitize.js';
import { mimeLimitsOf } from '../attachments/index.js';
import { mimeLimitReply, partForReply } from '../attachments/reply.js';
import { ComponentError, type Check, type CheckContext, type Evidence, type Verdict } from '../types.js';

type Settings = ResolvedConfig['checks']['virus'];

/** Scans listed in the evidence; the rest are counted (a message may have hundreds of parts). */
const MAX_SCANS = 20;
/** How long a clamd VERSION answer (engine and signature database version) is reused. */
const VERSION_TTL_MS = 10 * 60 * 1000;

function scanEvidence(s: ScanRecord): Evidence {
  return {
    target: s.target,
    ...(s.part ? { part: s.part.path, filename: s.part.filename === null ? null : logSafe(s.part.filename, 200) } : {}),
    bytes: s.bytes,
    result: s.kind,
    raw: s.raw === null ? null : logSafe(s.raw, 300),
    ms: s.ms,
  };
}

function scansEvidence(r: MessageScanResult): Evidence {
  const scans = r.scans.slice(0, MAX_SCANS).map(scanEvidence);
  const omitted = r.scansOmitted + Math.max(0, r.scans.length - MAX_SCANS);
  // parts is null when the message was not walked (clamd found it clean as a whole).
  return { ...(r.parts !== null ? { parts: r.parts } : {}), scans, ...(omitted ? { scans_omitted: omitted } : {}), ms: r.ms };
}

/** clamd's VERSION (engine/database/date), fetched beside a scan and kept a while: evidence of the signatures used. */
class VersionCache {
  private value: string | null = null;
  private at = -Infinity;
  private pending: Promise<string | null> | null = null;

  get(clamd: ClamdClient, now: number): Promise<string | null> {
    if (now - this.at < VERSION_TTL_MS) return Promise.resolve(this.value);
    this.pending ??= clamd.version().then((v) => {
      if (v !== null) {
        this.value = logSafe(v, 200);
        this.at = now;
      }
      return this.value;
    }, () => this.value).finally(() => { this.pending = null; });
    return this.pending;
  }
}

/**
 * DATA stage: the message through clamd (scanners.clamd). With
 * checks.virus.scan = whole (the default) it goes to clamd once, as one
 * stream, and only a message clamd finds something in is scanned part by
 * part to name the attachment; with parts, part by part and then as a whole
 * (scan/clamd.ts scanMessage says why and what each costs).
 *
 * - infected: 554 5.7.1 naming the signature and the attachment;
 * - clamd unreachable, failing or too slow: ComponentError('clamd'), which
 *   the runner turns into 451 4.3.0 (on_error tempfail) and marks clamd down;
 * - MIME walk over a limit: checks.attachments refuses such a message
 *   (552 5.3.4) with the same limits. So while that policy is enforced this
 *   check does not walk a message clamd found clean (the walk would only
 *   repeat the policy's); in 'parts' mode it meets the limit itself, passes
 *   and says so in the evidence (a finding is still refused). Only when the
 *   attachment policy is not enforced does this check walk every message
 *   and refuse one over a limit itself.
 *
 * Not bypassable: the allow-list is about the connecting address, and a
 * virus from a trusted network (or relayed by a backup MX) is still one.
 *
 * Ordered before checks.attachments (registry.ts): both run side by side,
 * and when both refuse (the macro dropper "Word file" is a virus and a
 * macro document) the virus verdict, with its signature, is the more useful
 * answer for the sender and for research.
 */
export function virusChecks(s: Settings, cfg: ResolvedConfig, log: Logger): Check[] {
  const c = cfg.scanners.clamd;
  if (c.address === null) {
    log.warn({ check: 'virus' }, 'no virus scanning: scanners.clamd.address is not set (checks.virus does nothing)');
    return [];
  }
  if (c.max_stream_bytes < cfg.smtp.max_message_size) {
    log.warn({ check: 'virus', max_stream_bytes: c.max_stream_bytes, max_message_size: cfg.smtp.max_message_size },
      'scanners.clamd.max_stream_bytes is below smtp.max_message_size: larger messages cannot be scanned and get 451');
  }
  const limits = mimeLimitsOf(cfg.checks.attachments);
  const limitsElsewhere = cfg.checks.attachments.mode === 'enforce';
  // One budget for the whole message (all part scans and the whole-message
  // scan); the runner's timeout is a backstop a little later.
  const budget = c.timeout_ms;
  const versions = new VersionCache();
  return [{
    name: 'virus',
    stage: 'data',
    bypassable: false,
    component: 'clamd',
    timeoutMs: budget + 2000,
    async run(ctx: CheckContext): Promise<Verdict> {
      const clamd = ctx.deps.clamd;
      if (!clamd) throw new ComponentError('clamd', 'no clamd client (scanners.clamd.address)');
      if (!ctx.message) return { kind: 'skip', why: 'no message' };
      // A timer of our own rather than AbortSignal.timeout(): that one is
      // unref'd, and the scan's end must not depend on what else keeps the
      // process alive.
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), budget);
      let r: MessageScanResult;
      let version: string | null;
      try {
        [r, version] = await Promise.all([
          scanMessage(clamd, ctx.message.body, { limits, mode: s.scan, checkLimits: !limitsElsewhere, signal: ac.signal }),
          versions.get(clamd, ctx.deps.now()),
        ]);
      } finally {
        clearTimeout(timer);
      }
      const base: Evidence = { clamd: clamd.describe(), clamd_version: version };
      switch (r.kind) {
        case 'clean':
          return { kind: 'pass', evidence: { ...base, result: 'clean', ...scansEvidence(r) } };
        case 'infected': {
          const where = r.part ? partForReply(r.part, false) : 'the message';
          // The scan that named it: the part's, else the whole message's
          // (in 'whole' mode the message scan comes first and found it too).
          const hit = r.scans.find((x) => x.kind === 'infected' && (r.part ? x.part?.path === r.part.path : x.target === 'message'));
          return {
            kind: 'reject',
            reply: {
              code: 554, enhanced: '5.7.1',
              text: `Virus found: ${asciiSafe(r.signature, 100)} in ${where}; the message was not accepted. Clean the sending computer and send again`,
            },
            reason: `virus ${logSafe(r.signature, 100)} in ${logSafe(where, 300)}`,
            evidence: {
              ...base, result: 'infected', signature: logSafe(r.signature, 200),
              part: r.part?.path ?? null,
              filename: r.part?.filename ? logSafe(r.part.filename, 200) : null,
              content_type: r.part ? logSafe(r.part.contentType, 100) : null,
              ...(r.part?.within.length ? { within: r.part.within.map((w) => logSafe(w, 200)) } : {}),
              raw: hit?.raw ? logSafe(hit.raw, 300) : null,
              ...scansEvidence(r),
            },
          };
        }
        case 'limits_exceeded': {
          const evidence = { ...base, result: 'limits_exceeded', limit: r.limit, max: r.max, at: r.at, ...scansEvidence(r) };
          if (limitsElsewhere) {
            // checks.attachments refuses it (same limits); clamd scanned the whole message.
            return { kind: 'pass', evidence: { ...evidence, note: 'MIME limit left to checks.attachments; the whole message was scanned clean' } };
          }
          return { kind: 'reject', reply: mimeLimitReply(r.limit, r.max), reason: `MIME ${r.limit} limit of ${r.max} exceeded at part ${r.at}`, evidence };
        }
        case 'error': {
          if (r.code === 'too_large' || r.code === 'io') {
            // Our own setup (stream limit below the message size limit, spool
            // unreadable), not clamd being down: a tempfail, clamd stays "up".
            return {
              kind: 'tempfail',
              reply: { code: 451, enhanced: '4.3.0', text: 'Temporary problem while scanning your message for viruses; please try again later' },
              reason: `virus scan not possible: ${logSafe(r.reason, 300)}`,
              evidence: { ...base, result: 'error', code: r.code, component: 'clamd', ...scansEvidence(r) },
            };
          }
          const why = r.code === 'aborted' ? `clamd did not finish the scan within ${budget} ms` : r.reason;
          throw new ComponentError('clamd', `${r.code}: ${logSafe(why, 300)}`);
        }
      }
    },
  }];
}
