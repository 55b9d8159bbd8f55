import { LocalDomains } from '../domains/index.js';
import { createLogger } from '../log/logger.js';
import { checkDomain, checkIp, type DomainDiagnosis, type IpDiagnosis, type Problem } from '../dnscheck/diagnostics.js';
import { buildCheckDeps } from '../runtime/services.js';
import { configFrom, parse, UsageError } from './common.js';

export const CHECK_HELP = `mailproof check domain NAME | ip ADDR [--json]
  Runs the gateway's own DNS checks on a sender now: for a domain its MX
  (IP address as MX, null MX, MX hosts without address), SPF syntax and
  lookup count, DMARC record; for an address its PTR and forward
  confirmation, dynamic-looking names and the configured DNSBLs.
  Exit status: 0 no errors found, 1 errors found.`;

export async function checkCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { json: { type: 'boolean' } }, true);
  if (values.help) { process.stdout.write(CHECK_HELP + '\n'); return 0; }
  const [what, target, ...extra] = positionals;
  if ((what !== 'domain' && what !== 'ip') || !target || extra.length) throw new UsageError('usage: mailproof check domain NAME | ip ADDR [--json]');
  const cfg = configFrom(values);
  const deps = buildCheckDeps(cfg, new LocalDomains(cfg.domains));
  const log = createLogger('silent');
  let result: DomainDiagnosis | IpDiagnosis;
  try {
    result = what === 'domain' ? await checkDomain(cfg, deps, log, target) : await checkIp(cfg, deps, log, target);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const errors = result.problems.filter((p) => p.severity === 'error').length;
  if (values.json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return errors ? 1 : 0;
  }
  const out: string[] = [];
  if ('domain' in result) {
    out.push(`domain ${result.domain} (checked ${result.checked_at})`);
    out.push(result.mx.length ? 'MX:' : 'MX: none');
    for (const m of result.mx) out.push(`  ${m.preference} ${m.exchange}${m.is_ip ? '  <- an IP address, not a host name' : `  ${m.addresses.join(', ') || '(no address)'}`}`);
    out.push(`SPF: ${result.spf.record === null ? 'none' : JSON.stringify(result.spf.record)}${result.spf.record ? ` (${result.spf.lookups} DNS lookups of 10)` : ''}`);
    out.push(`DMARC: ${result.dmarc.record === null ? 'none' : `${JSON.stringify(result.dmarc.record)} at ${result.dmarc.name}`}`);
  } else {
    out.push(`address ${result.ip} (checked ${result.checked_at})`);
    out.push(`PTR (forward-confirmed): ${result.ptr ?? 'none'}`);
  }
  for (const c of result.checks) out.push(`check ${c.check}: ${c.verdict}${c.reason ? ` (${c.reason})` : ''}${c.reply ? `\n  the gateway would answer: ${c.reply}` : ''}`);
  out.push(result.problems.length ? 'problems:' : 'problems: none found');
  for (const p of result.problems as Problem[]) out.push(`  ${p.severity.toUpperCase()} ${p.code}: ${p.text}`);
  // Every value above came from DNS, which is attacker-controlled too: keep
  // the output to printable ASCII so a record cannot forge lines or escapes.
  process.stdout.write(out.join('\n').replace(/[^\x20-\x7e\n]/g, '?') + '\n');
  return errors ? 1 : 0;
}
