import { SqliteLedgerReader } from '../ledger/sqlite/reader.js';
import { trace, type Journey } from '../research/journeys.js';
import { configFrom, parse, parseTime, UsageError } from './common.js';

export const TRACE_HELP = `mailproof trace --rcpt ADDR | --domain D [--from ADDR|DOMAIN] [--ip IP]
                [--ref REF] [--message-id ID] [--since T] [--until T] [--json]
  Lists what happened to mail: one journey per transaction and recipient.
  T is a date (2026-11-27, 2026-11-27T10:00Z) or an age (90m, 24h, 7d); --since defaults to 7d.`;

export function traceCommand(argv: string[]): number {
  const { values } = parse(argv, {
    rcpt: { type: 'string' }, domain: { type: 'string' }, from: { type: 'string' }, ip: { type: 'string' },
    ref: { type: 'string' }, 'message-id': { type: 'string' }, since: { type: 'string' }, until: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) { process.stdout.write(TRACE_HELP + '\n'); return 0; }
  if (!values.rcpt && !values.domain && !values.ref && !values['message-id'] && !values.ip && !values.from) {
    throw new UsageError('trace needs at least one of --rcpt, --domain, --from, --ip, --ref, --message-id');
  }
  const cfg = configFrom(values);
  const reader = new SqliteLedgerReader(cfg.paths.ledger, { readonly: true });
  let journeys: Journey[];
  try {
    journeys = trace(reader, {
      rcpt: values.rcpt, domain: values.domain, from: values.from, ip: values.ip, ref: values.ref,
      messageId: values['message-id'],
      since: values.since ? parseTime(values.since, '--since') : values.ref ? undefined : Date.now() - 7 * 86400e3,
      until: values.until ? parseTime(values.until, '--until') : undefined,
    });
  } finally {
    reader.close();
  }
  if (values.json) {
    process.stdout.write(JSON.stringify({ journeys }, null, 2) + '\n');
    return 0;
  }
  if (journeys.length === 0) {
    process.stdout.write('no journeys found\n');
    return 0;
  }
  for (const j of journeys) {
    // JSON.stringify quotes client-sent values, so a hostile address cannot
    // forge a line of this output.
    process.stdout.write(`${j.started_at}  ${j.ref}  ${j.outcome.toUpperCase()}  from=${JSON.stringify(j.mail_from)} to=${JSON.stringify(j.rcpt)} ip=${j.client_ip ?? '-'}\n`);
    if (j.reply) process.stdout.write(`    reply: ${j.reply}\n`);
    if (j.diagnosis.length) process.stdout.write(`    diagnosis: ${j.diagnosis.join(', ')}\n`);
    for (const a of j.access) process.stdout.write(`    mailbox: ${a.kind} at ${a.at} from ${a.client_ip ?? 'unknown address'} (${a.source})\n`);
  }
  return 0;
}
