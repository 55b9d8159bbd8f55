import type { ResolvedConfig } from '../../config/load.js';
import type { Logger } from '../../log/logger.js';
import type { Reply } from '../../mail/reply.js';
import type { SkipChecks, SpamResult, SpamScanner } from '../../scan/spam-types.js';
import { ComponentError, type Check, type CheckContext, type Evidence, type Verdict } from '../types.js';
import { alreadyChecked } from './known.js';

type Settings = ResolvedConfig['checks']['spam'];
type Scored = Extract<SpamResult, { kind: 'scored' }>;

/** At most this many rules go into the ledger (highest contribution first). */
const MAX_SYMBOLS = 50;
/** The scanner's raw reply in the ledger is cut here. */
const MAX_RAW = 8192;

/** A score for a reply or header: one decimal, two where one would hide the difference (14.95). */
export function fmtScore(n: number): string {
  return Number.isInteger(Math.round(n * 100) / 10) ? n.toFixed(1) : n.toFixed(2);
}

/** The rspamd actions that mean "mark it, but deliver". */
const HEADER_ACTIONS = new Set(['add header', 'rewrite subject']);

export interface SpamDecision {
  outcome: 'reject' | 'tempfail' | 'flag' | 'pass';
  /** The reject limit in effect (configured, else the backend's). */
  rejectAt: number;
  /** The limit the outcome was measured against (reject, tempfail or header). */
  limit: number | null;
}

/**
 * Thresholds applied to a scanner's verdict. Pure: unit-tested without a
 * scanner. A configured score wins over the backend's own judgement.
 */
export function decide(s: Pick<Settings, 'reject_score' | 'tempfail_score' | 'header_score'>, r: Scored): SpamDecision {
  const rejectAt = s.reject_score ?? r.threshold;
  const reject = s.reject_score === null ? r.spam : r.score >= s.reject_score;
  if (reject) return { outcome: 'reject', rejectAt, limit: rejectAt };
  if (s.tempfail_score !== null && r.score >= s.tempfail_score) return { outcome: 'tempfail', rejectAt, limit: s.tempfail_score };
  const flagged = s.header_score === null ? HEADER_ACTIONS.has(r.action ?? '') : r.score >= s.header_score;
  if (flagged) return { outcome: 'flag', rejectAt, limit: s.header_score };
  return { outcome: 'pass', rejectAt, limit: null };
}

/** Header fields for accepted mail (SpamAssassin's names, which mail clients and sieve scripts know). */
export function spamHeaders(r: Scored, d: SpamDecision): string[] {
  const yes = d.outcome !== 'pass';
  const h = [
    `X-Spam-Score: ${fmtScore(r.score)}`,
    `X-Spam-Status: ${yes ? 'Yes' : 'No'}, score=${fmtScore(r.score)} required=${fmtScore(d.rejectAt)} scanner=${r.backend}`,
  ];
  if (yes) h.push('X-Spam-Flag: YES');
  return h;
}

export function rejectReply(r: Scored, d: SpamDecision): Reply {
  // RFC 3463 5.7.1: delivery not authorized, message refused. Score and
  // limit only: the rule names would let an abuser tune the message.
  const limit = d.limit ?? d.rejectAt;
  const text = r.score >= limit
    ? `Message refused as spam: score ${fmtScore(r.score)} is at or over the limit ${fmtScore(limit)}`
    : `Message refused as spam by the content filter (score ${fmtScore(r.score)}, limit ${fmtScore(limit)})`;
  return { code: 550, enhanced: '5.7.1', text };
}

export function tempfailReply(r: Scored, d: SpamDecision): Reply {
  return {
    code: 451, enhanced: '4.7.1',
    text: `Message deferred as possible spam: score ${fmtScore(r.score)} is at or over the limit ${fmtScore(d.limit ?? 0)} for deferral; please try again later`,
  };
}

function evidenceOf(r: SpamResult, s: Settings, skip: SkipChecks | undefined): Evidence {
  const skipped = skip ? Object.entries(skip).filter(([, on]) => on).map(([k]) => k) : [];
  const base: Evidence = {
    backend: r.backend,
    ms: r.ms,
    bytes: r.bytes,
    raw: r.raw === null ? null : r.raw.length > MAX_RAW ? `${r.raw.slice(0, MAX_RAW)}...` : r.raw,
    // Why the scanner's reply has no SPF/DKIM/DMARC/RBL rules: mailproof's own checks judged those.
    ...(skipped.length ? { scanner_skipped: skipped } : {}),
  };
  if (r.kind === 'error') return { ...base, error: r.code, reason: r.reason };
  return {
    ...base,
    score: r.score,
    threshold: r.threshold,
    action: r.action,
    spam: r.spam,
    reject_score: s.reject_score,
    tempfail_score: s.tempfail_score,
    header_score: s.header_score,
    symbols: r.symbols.slice(0, MAX_SYMBOLS).map((x) => (x.score === null ? x.name : `${x.name}(${x.score})`)),
    symbols_total: r.symbols.length,
  };
}

export function spamCheckFor(
  settings: Settings, backend: 'rspamd' | 'spamd', timeoutMs: number,
  skipFor?: (ctx: CheckContext) => SkipChecks,
): Check {
  return {
    name: 'spam',
    stage: 'data',
    // An allow-listed client skips it unless the operator wants its mail scanned too.
    bypassable: !settings.scan_allowlisted,
    component: backend,
    // The client's own timeout ends the scan; the runner's is a backstop.
    timeoutMs: timeoutMs + 2000,
    async run(ctx: CheckContext): Promise<Verdict> {
      const scanner: SpamScanner | null = ctx.deps.spam;
      if (!scanner) return { kind: 'skip', why: 'no spam scanner configured (scanners.spam.backend)' };
      if (!ctx.message) return { kind: 'skip', why: 'no message' };
      const tx = ctx.tx;
      const skip = skipFor?.(ctx);
      const r = await scanner.scan(ctx.message.body, {
        clientIp: ctx.session.clientIp,
        helo: ctx.session.helo,
        ptr: ctx.session.ptr,
        ...(tx ? { mailFrom: tx.mailFrom, rcpts: tx.rcpts, queueId: tx.ref } : {}),
      }, skip ? { skip } : {});
      const evidence = evidenceOf(r, settings, skip);
      if (r.kind === 'error') {
        // Our side cannot judge the message: never a silent accept, never a
        // 5xx for our fault. on_error decides (default 451).
        throw new ComponentError(r.backend, `${r.backend} ${r.code}: ${r.reason}`);
      }
      const d = decide(settings, r);
      const why = `score ${fmtScore(r.score)}, limit ${fmtScore(d.limit ?? d.rejectAt)}`;
      switch (d.outcome) {
        case 'reject':
          return { kind: 'reject', reply: rejectReply(r, d), reason: `spam: ${why}`, evidence };
        case 'tempfail':
          return { kind: 'tempfail', reply: tempfailReply(r, d), reason: `possible spam, deferred: ${why}`, evidence };
        case 'flag':
          return { kind: 'flag', tag: 'spam', reason: `marked as spam: ${why}`, evidence, headers: spamHeaders(r, d) };
        default:
          return { kind: 'pass', evidence, headers: spamHeaders(r, d) };
      }
    },
  };
}

/** checks.spam: none when no scanner is configured (with a warning: the key asks for scanning). */
export function spamChecks(settings: Settings, cfg: ResolvedConfig, log: Logger): Check[] {
  const backend = cfg.scanners.spam.backend;
  if (backend === null) {
    log.warn({ check: 'spam' }, 'checks.spam is on but scanners.spam.backend is not set: no spam scanning');
    return [];
  }
  return [spamCheckFor(settings, backend, cfg.scanners.spam.timeout_ms, alreadyChecked(cfg))];
}
