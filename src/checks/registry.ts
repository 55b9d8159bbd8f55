import type { ResolvedConfig } from '../config/load.js';
import type { Logger } from '../log/logger.js';
import { Pipeline, type ConfiguredCheck } from './pipeline.js';
import { allowlistChecks } from './allowlist/index.js';
import { attachmentsChecks } from './attachments/index.js';
import { clientIdentityChecks } from './client-identity/index.js';
import { dnsblChecks } from './dnsbl/index.js';
import { greylistChecks } from './greylist/index.js';
import { heloChecks } from './helo/index.js';
import { senderDomainChecks } from './sender-domain/index.js';
import { heloSyntaxCheck } from './helo-syntax/index.js';
import { recipientCheck } from './recipient/index.js';
import { rateChecks } from './rate/index.js';
import { relayCheck } from './relay/index.js';
import { sizeCheck } from './size/index.js';
import { spfChecks } from './spf/index.js';
import { dmarcChecks } from './dmarc/index.js';
import { spamChecks } from './spam/index.js';
import type { Check } from './types.js';
import { virusChecks } from './virus/index.js';

type Checks = ResolvedConfig['checks'];
type Key = keyof Checks;

/**
 * A check module: given its settings (checks.<key>) and the whole
 * configuration, the checks it runs (none when it has nothing to do, e.g. no
 * scanner configured; it says why through `log`). One module may run at
 * several stages (rate: connect and mail).
 */
export type CheckFactory<K extends Key = Key> = (settings: Checks[K], cfg: ResolvedConfig, log: Logger) => Check[];

/**
 * `reads`: what the factory takes from the configuration besides its own
 * settings, among the keys a reload can change (config/diff.ts); a reload
 * makes the module's checks anew only when one of them changed.
 */
interface Entry { key: Key; make: CheckFactory; reads: (cfg: ResolvedConfig) => unknown }
/** Keeps the settings type of each key (TypeScript cannot see it through the array). */
const entry = <K extends Key>(key: K, make: CheckFactory<K>, reads: (cfg: ResolvedConfig) => unknown = () => null): Entry =>
  ({ key, make: make as unknown as CheckFactory, reads });
const dns = (cfg: ResolvedConfig): unknown => cfg.dns;
const fixed = (c: Check) => (): Check[] => [c];

// Order matters within a stage: the first reject decides, an allow skips the
// bypassable rest. Allow-lists come first. Relay refusal comes before
// recipient existence so a relay attempt never learns which users exist.
// Cheap local checks come before expensive scans at DATA, except that the
// virus check comes before the attachment policy: a stage's checks run side
// by side anyway, and when both refuse (a macro dropper is both) the virus
// signature is the better answer.
const ALL: Entry[] = [
  entry('allowlist', (s) => allowlistChecks(s)),
  entry('dnsbl', (s, cfg) => dnsblChecks(s, cfg), dns),
  entry('rate', (s, _cfg, log) => rateChecks(s, log)),
  entry('client_identity', (s, cfg) => clientIdentityChecks(s, cfg), dns),
  entry('helo_syntax', fixed(heloSyntaxCheck)),
  entry('helo', (s) => heloChecks(s)),
  entry('sender_domain', (s, cfg) => senderDomainChecks(s, cfg), dns),
  entry('spf', (s, cfg) => spfChecks(s, cfg), dns),
  entry('size', fixed(sizeCheck)),
  entry('relay', fixed(relayCheck)),
  entry('recipient', fixed(recipientCheck)),
  entry('greylist', (s, _cfg, log) => greylistChecks(s, log)),
  entry('virus', (s, cfg, log) => virusChecks(s, cfg, log), (cfg) => [cfg.scanners.clamd, cfg.checks.attachments]),
  entry('attachments', (s) => attachmentsChecks(s)),
  entry('dmarc', (s, cfg) => dmarcChecks(s, cfg), dns),
  // What rspamd is told to skip follows the modes of our own checks (spam/known.ts).
  entry('spam', (s, cfg, log) => spamChecks(s, cfg, log), (cfg) => [
    cfg.scanners.spam, cfg.checks.spf.mode, cfg.checks.dmarc.mode, cfg.checks.dnsbl.mode, cfg.checks.dnsbl.zones.map((z) => z.type),
  ]),
];

export function buildPipeline(cfg: ResolvedConfig, log: Logger): Pipeline {
  return buildChecks(cfg, log).pipeline;
}

/** A pipeline with the checks of each module and what they were made from. */
export interface BuiltChecks {
  pipeline: Pipeline;
  modules: Map<Key, { inputs: string; checks: Check[] }>;
}

/**
 * Builds the checks; with `previous` (a reload), a module whose inputs did
 * not change keeps its check objects, and with them their state (the rate
 * counts in memory, the greylist's open file).
 */
export function buildChecks(cfg: ResolvedConfig, log: Logger, previous?: BuiltChecks): BuiltChecks {
  const list: ConfiguredCheck[] = [];
  const modules = new Map<Key, { inputs: string; checks: Check[] }>();
  for (const { key, make, reads } of ALL) {
    const settings = cfg.checks[key];
    if (settings.mode === 'off') continue;
    const inputs = JSON.stringify([settings, reads(cfg)]);
    const before = previous?.modules.get(key);
    const checks = before && before.inputs === inputs ? before.checks : make(settings, cfg, log);
    modules.set(key, { inputs, checks });
    for (const check of checks) list.push({ check, settings });
  }
  return { pipeline: new Pipeline(list), modules };
}

/**
 * The checks of one module with its configured settings, whatever its mode:
 * research runs them again on a sender (`mailproof check`), so that a
 * diagnosis uses the very code the gateway decided with.
 */
export function checksOf<K extends Key>(key: K, cfg: ResolvedConfig, log: Logger): Check[] {
  const e = ALL.find((x) => x.key === key);
  return e ? e.make(cfg.checks[key], cfg, log) : [];
}
