import { progress } from '../util/progress.js';
import { ingest, type IngestSummary, type LogKind } from '../ingest/run.js';
import { storeSpecOf } from '../ledger/open.js';
import { configFrom, parse, UsageError } from './common.js';

export const INGEST_HELP = `mailproof ingest postfix|dovecot FILE... [--follow] [--node NAME] [--year YYYY]
                 [--from-start] [--batch-lines N] [--poll-ms MS] [--json]
  Turns Postfix or Dovecot log lines (classic syslog, RFC 3339 or RFC 5424 stamps) into ledger
  events. Each file's position is kept in the ledger: running it again, or after a restart,
  reads only new lines. --follow keeps reading as the files grow, across rotation (rename or
  copytruncate), until SIGINT/SIGTERM. --node sets the node of every event (default: the
  line's host field). --year sets the year of the first classic syslog line (default: inferred
  from the file's modification time). --from-start ignores the saved positions.`;

function printSummary(s: IngestSummary, json: boolean): void {
  if (json) {
    process.stdout.write(JSON.stringify(s, null, 2) + '\n');
    return;
  }
  process.stdout.write(`ingested ${s.lines} lines from ${s.files} file(s): ${s.events} events\n`);
  for (const [k, n] of Object.entries(s.by_kind).sort()) process.stdout.write(`  ${k.padEnd(24)} ${n}\n`);
  if (s.unknown_total > 0) {
    process.stdout.write(`lines not understood: ${s.unknown_total}\n`);
    for (const [k, n] of Object.entries(s.unknown).sort((a, b) => b[1] - a[1])) process.stdout.write(`  ${JSON.stringify(k)} ${n}\n`);
    const refused = Object.entries(s.refused).sort((a, b) => b[1] - a[1]);
    if (refused.length > 0) process.stdout.write(`of which refused (read more than one way, or not as Postfix/Dovecot write them): ${refused.map(([k, n]) => `${k} ${n}`).join(', ')}\n`);
  }
}

export async function ingestCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    follow: { type: 'boolean' }, node: { type: 'string' }, year: { type: 'string' }, json: { type: 'boolean' },
    'from-start': { type: 'boolean' }, 'batch-lines': { type: 'string' }, 'poll-ms': { type: 'string' },
  }, true);
  if (values.help) { process.stdout.write(INGEST_HELP + '\n'); return 0; }
  const [kind, ...files] = positionals;
  if (kind !== 'postfix' && kind !== 'dovecot') throw new UsageError('ingest needs the log type first: mailproof ingest postfix|dovecot FILE...');
  if (files.length === 0) throw new UsageError('ingest needs at least one log file');
  const int = (v: string | undefined, flag: string, min: number, max: number): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} ${v}: expected a whole number from ${min} to ${max}`);
    return n;
  };
  const year = int(values.year, '--year', 1970, 9999);
  if (values.node !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(values.node)) throw new UsageError('--node: letters, digits, ".", "_" and "-" only, at most 64');
  const cfg = configFrom(values);
  const ac = new AbortController();
  const stop = (): void => ac.abort();
  if (values.follow) { process.once('SIGINT', stop); process.once('SIGTERM', stop); }
  let summary: IngestSummary;
  const shown = progress(`ingesting ${files.length === 1 ? files[0] : `${files.length} files`}`, 'lines', { quiet: values.json === true || values.follow === true });
  try {
    summary = await ingest({
      kind: kind as LogKind, files, ledgerPath: storeSpecOf(cfg), node: values.node, fallbackNode: cfg.node,
      year, follow: values.follow, fromStart: values['from-start'],
      batchLines: int(values['batch-lines'], '--batch-lines', 1, 10_000_000), pollMs: int(values['poll-ms'], '--poll-ms', 10, 60000),
      signal: ac.signal, progress: shown, onNote: (s) => process.stderr.write(`mailproof ingest: ${s}\n`),
    });
  } catch (err) {
    const msg = (err as Error).message;
    if (/^cannot read |is not a regular file/.test(msg)) throw new UsageError(msg);
    throw err;
  } finally {
    shown.done();
    process.removeListener('SIGINT', stop); process.removeListener('SIGTERM', stop);
  }
  printSummary(summary, !!values.json);
  return 0;
}
