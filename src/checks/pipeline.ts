import type { CheckSettings } from '../config/schema.js';
import { ComponentError, type Check, type CheckContext, type CheckRecord, type Decision, type Stage, type Verdict } from './types.js';

// RFC 3463: 4.3.0 "other or undefined mail system status" - our side had a problem.
const TEMPFAIL_CHECK_FAILED = {
  code: 451,
  enhanced: '4.3.0',
  text: 'Temporary problem while checking your message; please try again later',
} as const;

export interface StageOutcome {
  decision: Decision | null;
  records: CheckRecord[];
  flags: string[];
  /** An allow-list check said yes: bypassable checks of later stages are skipped too. */
  allowed: boolean;
}

export interface ConfiguredCheck {
  check: Check;
  settings: CheckSettings;
}

class CheckTimeout extends Error {}

async function runOne(c: Check, ctx: CheckContext): Promise<Verdict> {
  const timeout = c.timeoutMs ?? 10_000;
  const first = c.run(ctx);
  // A synchronous check needs no timer (most local checks): saves a timer
  // per check per command under load.
  if (!(first instanceof Promise)) return first;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      first,
      new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new CheckTimeout(`timed out after ${timeout} ms`)), timeout); }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/**
 * Runs the checks of one stage. All of them start at once (slow lookups run
 * side by side), then their verdicts are taken in configured order: the first
 * reject or tempfail decides, an allow stops the bypassable rest. The runner,
 * not the check, turns a verdict into a decision, applies dry-run and the
 * failure mode, and keeps the record the ledger gets.
 */
export class Pipeline {
  constructor(private readonly checks: ConfiguredCheck[]) {}

  forStage(stage: Stage): ConfiguredCheck[] {
    return this.checks.filter((c) => c.check.stage === stage && c.settings.mode !== 'off');
  }

  async run(stage: Stage, ctx: CheckContext, alreadyAllowed: boolean): Promise<StageOutcome> {
    const started: Array<{ c: ConfiguredCheck; p: Promise<{ v: Verdict; ms: number } | { e: Error; ms: number }> }> = [];
    // A synchronous allow (the allow-list of client networks) is known at
    // once: the bypassable checks after it are not even started, so an
    // allow-listed client causes no DNS lookups.
    let allowedNow = alreadyAllowed;
    for (const c of this.forStage(stage)) {
      if (allowedNow && c.check.bypassable) continue;
      const t0 = performance.now();
      let p: Promise<{ v: Verdict; ms: number } | { e: Error; ms: number }>;
      try {
        const first = c.check.run(ctx);
        if (first instanceof Promise) {
          p = runOne({ ...c.check, run: () => first } as Check, ctx).then(
            (v) => ({ v, ms: performance.now() - t0 }),
            (e: unknown) => ({ e: e as Error, ms: performance.now() - t0 }),
          );
        } else {
          if (first.kind === 'allow' && c.settings.mode !== 'dry-run') allowedNow = true;
          p = Promise.resolve({ v: first, ms: performance.now() - t0 });
        }
      } catch (e) {
        p = Promise.resolve({ e: e as Error, ms: performance.now() - t0 });
      }
      started.push({ c, p });
    }
    const out: StageOutcome = { decision: null, records: [], flags: [], allowed: alreadyAllowed };
    for (const { c, p } of started) {
      if (out.allowed && c.check.bypassable) {
        // Started before an allow-list answered (a DNSWL): its verdict no longer counts, and is not waited for.
        p.catch(() => undefined);
        continue;
      }
      const r = await p;
      const dryRun = c.settings.mode === 'dry-run';
      const name = c.check.name;
      const component = 'e' in r && r.e instanceof ComponentError ? r.e.component : c.check.component;
      if ('e' in r) {
        const reason = r.e instanceof CheckTimeout ? r.e.message : `failed: ${r.e.message}`;
        if (component) ctx.deps.health.fail(component, `${name}: ${reason}`);
        out.records.push({ check: name, stage, verdict: { kind: 'error', reason, ...(component ? { component } : {}) }, dryRun, ms: r.ms });
        if (!dryRun && c.settings.on_error === 'tempfail' && !out.decision) {
          out.decision = { check: name, stage, kind: 'tempfail', reply: TEMPFAIL_CHECK_FAILED, reason };
        }
        continue;
      }
      const v = r.v;
      if (component && v.kind !== 'skip') ctx.deps.health.ok(component);
      out.records.push({ check: name, stage, verdict: v, dryRun, ms: r.ms });
      if (out.decision || dryRun) continue;
      switch (v.kind) {
        case 'pass':
        case 'skip':
          break;
        case 'flag':
          out.flags.push(v.tag);
          break;
        case 'allow':
          out.allowed = true;
          break;
        case 'reject':
        case 'tempfail':
          out.decision = { check: name, stage, kind: v.kind, reply: v.reply, reason: v.reason };
          break;
        default: {
          const never: never = v;
          throw new Error(`unknown verdict ${JSON.stringify(never)}`);
        }
      }
    }
    return out;
  }
}
