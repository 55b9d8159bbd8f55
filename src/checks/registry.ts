import type { ResolvedConfig } from '../config/load.js';
import { Pipeline, type ConfiguredCheck } from './pipeline.js';
import { heloSyntaxCheck } from './helo-syntax/index.js';
import { recipientCheck } from './recipient/index.js';
import { relayCheck } from './relay/index.js';
import { sizeCheck } from './size/index.js';
import type { Check } from './types.js';

// Order matters within a stage: the first reject decides. Relay refusal comes
// before recipient existence so a relay attempt never learns which users exist.
const ALL: { check: Check; key: keyof ResolvedConfig['checks'] }[] = [
  { check: heloSyntaxCheck, key: 'helo_syntax' },
  { check: sizeCheck, key: 'size' },
  { check: relayCheck, key: 'relay' },
  { check: recipientCheck, key: 'recipient' },
];

export function buildPipeline(cfg: ResolvedConfig): Pipeline {
  const list: ConfiguredCheck[] = ALL.map(({ check, key }) => ({ check, settings: cfg.checks[key] }));
  return new Pipeline(list);
}
