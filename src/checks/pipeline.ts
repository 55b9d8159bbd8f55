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

/**
 * Starts a check. `sync` is its verdict when it answered at once (most local
 * checks): those need no timer, which saves one per check per command.
 */
function startOne(c: Check, ctx: CheckContext): { sync: Verdict | null; p: Promise<Verdict> } {
  let first: Promise<Verdict> | Verdict;
  try {
    first = c.run(ctx);
  } catch (e) {
    return { sync: null, p: Promise.reject(e as Error) };
  }
  if (!(first instanceof Promise)) return { sync: first, p: Promise.resolve(first) };
  const timeout = c.timeoutMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  const p = Promise.race([
    first,
    new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new CheckTimeout(`timed out after ${timeout} ms`)), timeout); }),
  ]).finally(() => clearTimeout(timer));
  return { sync: null, p };
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
    const active = this.forStage(stage).filter((c) => !(alreadyAllowed && c.check.bypassable));
    // Started in order. An allow-list that answers at once (a network list)
    // keeps the bypassable checks after it from starting at all: no DNS
    // query, no counter row for a client that is allowed anyway.
    let allowedAtOnce = false;
    const started: { c: ConfiguredCheck; p: Promise<{ v: Verdict; ms: number } | { e: Error; ms: number }> }[] = [];
    for (const c of active) {
      if (allowedAtOnce && c.check.bypassable) continue;
      const t0 = performance.now();
      const { sync, p: first } = startOne(c.check, ctx);
      const p = first.then(
        (v) => ({ v, ms: performance.now() - t0 }),
        (e: unknown) => ({ e: e as Error, ms: performance.now() - t0 }),
      );
      started.push({ c, p });
      if (sync?.kind === 'allow' && c.settings.mode === 'enforce') allowedAtOnce = true;
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
      // A check may answer a component's failure with its own tempfail
      // (SPF temperror: 451 4.7.24 says more than our generic 4.3.0); the
      // component it names in its evidence is down all the same.
      const failed = v.kind === 'tempfail' && typeof v.evidence?.component === 'string' ? v.evidence.component : null;
      if (failed && v.kind === 'tempfail') ctx.deps.health.fail(failed, `${name}: ${v.reason}`);
      else if (component && v.kind !== 'skip') ctx.deps.health.ok(component);
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
