// Asks clamd now and then which signatures it scans with, and keeps a
// standing warning in the process's Health while it has no real database
// (scan/signatures.ts): `mailproof status` shows it, the log and the
// terminal say it when it begins and when it ends. A clamd with only test
// signatures answers PING and scans, so the up/down state alone would look
// protected.
//
// Its own VERSION query rather than the virus check's: that one asks only
// when a message is scanned, and the warning must be there at start, before
// the first message.
import type { Health } from '../health/index.js';
import type { Logger } from '../log/logger.js';
import type { ClamdClient } from '../scan/clamd.js';
import { judgeClamdVersion, signatureWarning } from '../scan/signatures.js';
import { asciiSafe } from '../util/sanitize.js';

export interface SignatureWatchOptions {
  /** How often to ask again once clamd answered (freshclam may fill the database later). Default 10 min. */
  everyMs?: number;
  /** How soon to ask again when clamd did not answer. Default 30 s. */
  retryMs?: number;
  /** Where the warning goes for people (the terminal); default stderr. */
  announce?: (line: string) => void;
}

export interface SignatureWatch {
  /** Resolves after the next answer (or non-answer) was judged; for tests. */
  settled(): Promise<void>;
  stop(): void;
}

/** The component name in Health, as the virus check reports clamd. */
const COMPONENT = 'clamd';

export function watchSignatures(
  clamd: Pick<ClamdClient, 'version' | 'describe'>,
  health: Health,
  log: Logger,
  opts: SignatureWatchOptions = {},
): SignatureWatch {
  const everyMs = opts.everyMs ?? 10 * 60 * 1000;
  const retryMs = opts.retryMs ?? 30 * 1000;
  const announce = opts.announce ?? ((line: string) => { process.stderr.write(`${line}\n`); });
  const where = asciiSafe(clamd.describe(), 200);
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  let current: Promise<void> = Promise.resolve();

  const check = async (): Promise<void> => {
    const raw = await clamd.version().catch(() => null);
    if (stopped) return;
    const state = judgeClamdVersion(raw);
    if (state.kind !== 'unknown') {
      const text = signatureWarning(state, where);
      const before = health.warning(COMPONENT) ?? null;
      if (text !== null && before === null) {
        log.warn({ clamd: where, clamd_version: asciiSafe(raw ?? '', 200) }, text);
        announce(`mailproof: WARNING: ${text}`);
      } else if (text === null && before !== null) {
        log.info({ clamd: where, clamd_version: asciiSafe(raw ?? '', 200) }, 'clamd now has a ClamAV signature database loaded');
      }
      health.warn(COMPONENT, text);
    }
    // Unknown (clamd down, or starting): the last judgement stands; the virus check reports "down".
    timer = setTimeout(run, state.kind === 'unknown' ? retryMs : everyMs);
    // Never the reason the process stays alive.
    timer.unref();
  };
  const run = (): void => { current = check(); };
  run();
  return {
    settled: () => current,
    stop(): void {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}
