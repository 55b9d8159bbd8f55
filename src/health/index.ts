// Health of the outside components the checks depend on (DNS, clamd, the spam
// scanner ...). The check runner reports every run's outcome here; the
// gateway process writes the state to <data_dir>/health/ whenever it changes,
// and `mailproof status` reads those files. An operator (or a monitoring
// system) sees "clamd down since 10:42: connect ECONNREFUSED" without
// searching the ledger.
import fs from 'node:fs';
import path from 'node:path';

export interface ComponentState {
  state: 'up' | 'down';
  /** When the current state began (ms since the epoch). */
  since: number;
  /** Last successful use. */
  last_ok: number | null;
  /** Last failure and why. */
  last_error: { at: number; reason: string } | null;
  /** Failures since the component was last up. */
  failures: number;
}

export interface HealthSnapshot {
  node: string;
  pid: number;
  written: number;
  components: Record<string, ComponentState>;
  /**
   * Standing warnings about components that work but must not be trusted
   * (clamd with test signatures only), by component. Absent in files of
   * older versions.
   */
  warnings?: Record<string, string>;
}

export class Health {
  private readonly components = new Map<string, ComponentState>();
  private readonly warnings = new Map<string, string>();
  private listeners: (() => void)[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  /** Called on every change of state (not on every call). */
  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  ok(component: string): void {
    const t = this.now();
    const c = this.components.get(component);
    if (!c) {
      this.components.set(component, { state: 'up', since: t, last_ok: t, last_error: null, failures: 0 });
      this.changed();
      return;
    }
    c.last_ok = t;
    if (c.state === 'down') {
      c.state = 'up';
      c.since = t;
      c.failures = 0;
      this.changed();
    }
  }

  fail(component: string, reason: string): void {
    const t = this.now();
    const c = this.components.get(component);
    const err = { at: t, reason: reason.slice(0, 300) };
    if (!c) {
      this.components.set(component, { state: 'down', since: t, last_ok: null, last_error: err, failures: 1 });
      this.changed();
      return;
    }
    c.last_error = err;
    c.failures++;
    if (c.state === 'up') {
      c.state = 'down';
      c.since = t;
      this.changed();
    }
  }

  /**
   * Sets (text) or clears (null) the standing warning about a component.
   * Independent of up and down: a clamd without real signatures is up.
   */
  warn(component: string, text: string | null): void {
    if ((this.warnings.get(component) ?? null) === text) return;
    if (text === null) this.warnings.delete(component);
    else this.warnings.set(component, text.slice(0, 500));
    this.changed();
  }

  warning(component: string): string | undefined {
    return this.warnings.get(component);
  }

  get(component: string): ComponentState | undefined {
    const c = this.components.get(component);
    return c ? { ...c } : undefined;
  }

  snapshot(node: string): HealthSnapshot {
    const components: Record<string, ComponentState> = {};
    for (const [k, v] of [...this.components].sort(([a], [b]) => a.localeCompare(b))) components[k] = { ...v };
    const warnings = Object.fromEntries([...this.warnings].sort(([a], [b]) => a.localeCompare(b)));
    return { node, pid: process.pid, written: this.now(), components, warnings };
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }
}

export function healthDir(dataDir: string): string {
  return path.join(dataDir, 'health');
}

/**
 * Keeps <data_dir>/health/<pid>.json equal to the process's Health (written
 * atomically on change, at most every 200 ms); removed on stop.
 */
export function persistHealth(health: Health, dataDir: string, node: string): { stop(): void } {
  const dir = healthDir(dataDir);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${process.pid}.json`);
  let timer: NodeJS.Timeout | null = null;
  const write = (): void => {
    timer = null;
    const tmp = `${file}.tmp`;
    try {
      fs.writeFileSync(tmp, JSON.stringify(health.snapshot(node)));
      fs.renameSync(tmp, file);
    } catch {
      // Status reporting must never take the gateway down.
    }
  };
  write();
  health.onChange(() => {
    timer ??= setTimeout(write, 200);
  });
  return {
    stop(): void {
      if (timer) clearTimeout(timer);
      fs.rmSync(file, { force: true });
    },
  };
}

/** Snapshots of the running processes (files of dead processes are skipped). */
export function readHealth(dataDir: string): HealthSnapshot[] {
  const dir = healthDir(dataDir);
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => /^\d+\.json$/.test(n));
  } catch {
    return [];
  }
  const out: HealthSnapshot[] = [];
  for (const n of names) {
    const pid = Number(n.slice(0, -5));
    try {
      process.kill(pid, 0);
    } catch {
      continue; // the process is gone: its file is stale
    }
    try {
      out.push(JSON.parse(fs.readFileSync(path.join(dir, n), 'utf8')) as HealthSnapshot);
    } catch {
      // being replaced right now, or damaged: skip
    }
  }
  return out;
}
