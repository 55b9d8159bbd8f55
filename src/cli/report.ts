import { REPORT_FORMATS, renderReport, reportRefusal, type ReportFormat } from '../report/index.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { configFrom, parse, UsageError } from './common.js';
import { langOf, searchLedger, traceFilter } from './trace.js';

export const REPORT_HELP = `mailproof report --ref REF | --rcpt ADDR | --domain D [--from ADDR|DOMAIN] [--ip IP]
                 [--message-id ID] [--since T] [--until T] [--outcome O]
                 [--lang en|de] [--format text|html|pdf] [-o FILE | --output FILE]
  The report for the customer: each message's journey as a timeline, the cause
  in plain words, the evidence from the log, and a text to forward to the
  sender. Filters as for trace. Without -o, text and HTML go to stdout; a PDF
  needs -o (or a pipe). -o VALUE with "=" in it is a config override as for
  every command; use --output for a file name that has one.`;

/** -o is shared with the config overrides (-o KEY=VALUE): a value that looks like KEY=VALUE is an override, anything else the output file. */
const OVERRIDE = /^[A-Za-z_][\w.-]*=/;

export async function reportCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    rcpt: { type: 'string' }, domain: { type: 'string' }, from: { type: 'string' }, ip: { type: 'string' },
    ref: { type: 'string' }, 'message-id': { type: 'string' }, since: { type: 'string' }, until: { type: 'string' },
    outcome: { type: 'string' }, lang: { type: 'string' }, format: { type: 'string' }, output: { type: 'string' },
  });
  if (values.help) { process.stdout.write(REPORT_HELP + '\n'); return 0; }
  const overrides = (values.o ?? []).filter((o) => OVERRIDE.test(o));
  const files = [...(values.o ?? []).filter((o) => !OVERRIDE.test(o)), ...(values.output ? [values.output] : [])];
  if (files.length > 1) throw new UsageError(`one output file only, got ${files.map((f) => JSON.stringify(f)).join(', ')}`);
  const out = files[0];
  const lang = langOf(values.lang);
  const format = (values.format ?? 'text') as ReportFormat;
  if (!REPORT_FORMATS.includes(format)) throw new UsageError(`--format must be one of ${REPORT_FORMATS.join(', ')}, not ${JSON.stringify(values.format)}`);
  const filter = traceFilter(values);
  // A PDF on a terminal is binary garbage and can send escape sequences to it.
  if (!out && format === 'pdf' && process.stdout.isTTY) throw new UsageError('refusing to write a PDF to the terminal; name a file with -o FILE');

  const cfg = configFrom({ ...values, o: overrides });
  const result = await searchLedger(cfg, filter, lang);
  const refusal = reportRefusal(result, lang);
  if (refusal) {
    process.stderr.write(`mailproof: ${refusal}\n`);
    return 75; // EX_TEMPFAIL: try again
  }
  const report = await renderReport(result, { lang, format, filter });
  if (out) {
    writeFileAtomic(out, report.body, { mode: 0o644, makeDir: false });
    process.stderr.write(`mailproof: report written to ${out} (${report.body.length} bytes, ${result.journeys.length} message(s))\n`);
  } else {
    await new Promise<void>((resolve, reject) => process.stdout.write(report.body, (err) => (err ? reject(err) : resolve())));
  }
  return 0;
}

