import type { ResolvedConfig } from '../config/load.js';
import type { Logger } from '../log/logger.js';
import { Pipeline, type ConfiguredCheck } from './pipeline.js';
import { allowlistChecks } from './allowlist/index.js';
import { clientIdentityChecks } from './client-identity/index.js';
import { dnsblChecks } from './dnsbl/index.js';
import { heloChecks } from './helo/index.js';
import { senderDomainChecks } from './sender-domain/index.js';
import { heloSyntaxCheck } from './helo-syntax/index.js';
import { recipientCheck } from './recipient/index.js';
import { relayCheck } from './relay/index.js';
import { sizeCheck } from './size/index.js';
import type { Check } from './types.js';

type Checks = ResolvedConfig['checks'];
type Key = keyof Checks;

/**
 * A check module: given its settings (checks.<key>) and the whole
 * configuration, the checks it runs (none when it has nothing to do, e.g. no
 * scanner configured; it says why through `log`). One module may run at
 * several stages (rate: connect and mail).
 */
export type CheckFactory<K extends Key = Key> = (settings: Checks[K], cfg: ResolvedConfig, log: Logger) => Check[];

interface Entry { key: Key; make: CheckFactory }
/** Keeps the settings type of each key (TypeScript cannot see it through the array). */
const entry = <K extends Key>(key: K, make: CheckFactory<K>): Entry => ({ key, make: make as unknown as CheckFactory });
const fixed = (c: Check) => (): Check[] => [c];
/** Placeholder for a module that is not built yet. */
const notYet = (): Check[] => [];

// Order matters within a stage: the first reject decides, an allow skips the
// bypassable rest. Allow-lists come first. Relay refusal comes before
// recipient existence so a relay attempt never learns which users exist.
// Cheap local checks come before expensive scans at DATA.
const ALL: Entry[] = [
  entry('allowlist', (s) => allowlistChecks(s)),
  entry('dnsbl', (s, cfg) => dnsblChecks(s, cfg)),
  entry('rate', notYet),
  entry('client_identity', (s, cfg) => clientIdentityChecks(s, cfg)),
  entry('helo_syntax', fixed(heloSyntaxCheck)),
  entry('helo', (s) => heloChecks(s)),
  entry('sender_domain', (s, cfg) => senderDomainChecks(s, cfg)),
  entry('spf', notYet),
  entry('size', fixed(sizeCheck)),
  entry('relay', fixed(relayCheck)),
  entry('recipient', fixed(recipientCheck)),
  entry('greylist', notYet),
  entry('attachments', notYet),
  entry('virus', notYet),
  entry('dmarc', notYet),
  entry('spam', notYet),
];

export function buildPipeline(cfg: ResolvedConfig, log: Logger): Pipeline {
  const list: ConfiguredCheck[] = [];
  for (const { key, make } of ALL) {
    const settings = cfg.checks[key];
    if (settings.mode === 'off') continue;
    for (const check of make(settings, cfg, log)) list.push({ check, settings });
  }
  return new Pipeline(list);
}
