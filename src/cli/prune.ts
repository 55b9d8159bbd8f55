import { openStoreWriter, storeSpecOf } from '../ledger/open.js';
import { configFrom, parse, UsageError } from './common.js';

export async function pruneCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { 'older-than': { type: 'string' } });
  if (values.help) { process.stdout.write('mailproof prune [--older-than DAYS]  (default: ledger.retention_days)\n'); return 0; }
  const cfg = configFrom(values);
  const days = values['older-than'] !== undefined ? Number(values['older-than']) : cfg.ledger.retention_days;
  if (!Number.isFinite(days) || days < 0) throw new UsageError(`--older-than ${values['older-than']}: expected a number of days`);
  const store = openStoreWriter(storeSpecOf(cfg));
  try {
    const n = await store.prune(Date.now() - days * 86400e3);
    process.stdout.write(`removed ${n} events older than ${days} days\n`);
  } finally {
    await store.close();
  }
  return 0;
}
