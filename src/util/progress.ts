// Progress of long work on a terminal: what is done, the rate and the time
// left, on one line redrawn in place (at most five times a second). Quiet when
// stderr is not a terminal (logs, pipes, CI) or when the caller asks (--json).
export interface Progress {
  /** Adds done units (lines, events). */
  add(n: number): void;
  /** Clears the line and prints the summary, when there is a terminal. */
  done(summary?: string): void;
}

const QUIET: Progress = { add: () => undefined, done: () => undefined };

function human(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e4 ? `${Math.round(n / 1e3)}k` : String(Math.round(n));
}

function duration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${Math.ceil(s)} s`;
  return s < 3600 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

/** label: what is counted ("converting the ledger"); unit: "events", "lines"; total when known. */
export function progress(label: string, unit: string, opts: { total?: number; quiet?: boolean; stream?: NodeJS.WriteStream } = {}): Progress {
  const out = opts.stream ?? process.stderr;
  if (opts.quiet || !out.isTTY) return QUIET;
  const start = Date.now();
  let count = 0;
  let shown = 0;
  const draw = (): void => {
    const secs = (Date.now() - start) / 1000;
    const rate = secs > 0 ? count / secs : 0;
    const total = opts.total;
    const part = total ? ` of ${human(total)} (${Math.min(100, Math.floor((count / total) * 100))}%)` : '';
    const left = total && rate > 0 ? `, ${duration((total - count) / rate)} left` : '';
    out.write(`\r\x1b[2K${label}: ${human(count)}${part} ${unit}, ${human(rate)}/s${left}`);
  };
  return {
    add(n) {
      count += n;
      const now = Date.now();
      if (now - shown >= 200) { shown = now; draw(); }
    },
    done(summary) {
      out.write('\r\x1b[2K');
      if (summary) out.write(`${label}: ${summary}\n`);
    },
  };
}
