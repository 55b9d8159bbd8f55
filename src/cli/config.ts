import YAML from 'yaml';
import { configReference } from '../config/reference.js';
import { configFrom, parse } from './common.js';

/** `mailproof config [--check]`: prints the effective configuration (defaults filled in). */
export function configCommand(argv: string[]): number {
  const { values } = parse(argv, { check: { type: 'boolean' }, reference: { type: 'boolean' } });
  if (values.reference) { process.stdout.write(configReference()); return 0; }
  if (values.help) { process.stdout.write('mailproof config [--check | --reference] [--config FILE] [-o KEY=VALUE]\n  prints the effective configuration; --check only validates it; --reference lists every key\n'); return 0; }
  const cfg = configFrom(values);
  if (values.check) { process.stdout.write('configuration is valid\n'); return 0; }
  const { paths: _paths, ...plain } = cfg;
  process.stdout.write(YAML.stringify(plain));
  return 0;
}
