// The targets of the whole-filter benchmark (bench/filter/run.sh): mailproof
// with every check on, and the classic stack it would replace, Postfix with
// rspamd as its milter and rspamd's antivirus module calling clamd. Both use
// the same Knot, the same clamd and rspamd instances configured alike
// (bench/lib/filter-services.ts).
//
// Each target measures per run, besides its own CPU: the CPU of every
// component it uses (its rspamd, clamd, Knot), rspamd's "scanned" counter and
// clamd's scans per message (proof that the scanners really saw the load),
// and rspamd's own time per message from its log.
import { CLIENT, mailproofCheckSettings, postfixCheckParams } from './check-services.js';
import {
  clamdScans, fileSize, logSince, rspamdLogFile, rspamdScanned, rspamdTaskTimes, serviceCpu, type FilterServices,
} from './filter-services.js';
import { cpuSeconds } from './proc.js';
import { startMailproof, startPostfix, type Env, type Target } from './targets.js';
import type { RspamdInstance } from '../../test/helpers/rspamd.js';

const pct = (xs: number[], p: number): number | null => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! * 100) / 100;
};

/** Per-run accounting for a target that uses `rspamd` (and the shared clamd and Knot). */
function perRun(t: Target, svc: FilterServices, rspamd: RspamdInstance, self: string): Target['perRun'] {
  const rspamdKey = rspamd === svc.stack ? 'rspamd (stack\'s)' : 'rspamd (mailproof\'s)';
  const cpu = (): Record<string, number> => {
    const s = serviceCpu(svc);
    return { [self]: cpuSeconds(t.pid), rspamd: s[rspamdKey]!, clamd: s.clamd!, knot: s.knot!, 'the other rspamd (idle)': s[rspamd === svc.stack ? 'rspamd (mailproof\'s)' : 'rspamd (stack\'s)']! };
  };
  return async () => {
    const cpu0 = cpu();
    const scanned0 = await rspamdScanned(rspamd);
    const rlog = rspamdLogFile(rspamd);
    const rlog0 = fileSize(rlog);
    const clog0 = fileSize(svc.clamd.logFile);
    return async (n: number) => {
      const cpu1 = cpu();
      const scanned1 = await rspamdScanned(rspamd);
      const times = rspamdTaskTimes(logSince(rlog, rlog0));
      const scans = clamdScans(logSince(svc.clamd.logFile, clog0));
      const cpuMsPerMsg: Record<string, number> = {};
      for (const k of Object.keys(cpu0)) cpuMsPerMsg[k] = Math.round(((cpu1[k]! - cpu0[k]!) * 1000 / n) * 1000) / 1000;
      return {
        cpuMsPerMsg,
        rspamdScannedPerMsg: (scanned1 - scanned0) / n,
        clamdScansPerMsg: scans / n,
        rspamdTimeMs: { n: times.length, p50: pct(times, 50), p99: pct(times, 99) },
      };
    };
  };
}

/** Postfix's restrictions in the stack: what mailproof's own checks do besides the scanners, SPF and the DNSBL (rspamd does those). */
function stackParams(milterPort: number): Record<string, string> {
  const p = postfixCheckParams();
  return {
    ...p,
    smtpd_client_restrictions: 'reject_unknown_client_hostname',
    smtpd_recipient_restrictions: 'reject_unauth_destination',
    smtpd_milters: `inet:127.0.0.1:${milterPort}`,
    // A milter that does not answer must not let mail through unscanned (mailproof answers 451 then too).
    milter_default_action: 'tempfail',
    milter_protocol: '6',
    // The macros rspamd's documentation asks for.
    milter_mail_macros: 'i {mail_addr} {client_addr} {client_name} {auth_authen}',
  };
}

export function filterStarters(env: Env, services: () => Promise<FilterServices>): Record<string, () => Promise<Target>> {
  const mp = async (workers: number | 'auto', name: string, nodeArgs: string[] = []): Promise<Target> => {
    const svc = await services();
    const t = await startMailproof(env, workers, name, {
      client: CLIENT, settings: mailproofCheckSettings(svc, 'all'), nodeArgs,
      note: `every check on: DNSBL, PTR+FCrDNS, HELO, sender domain, SPF, DKIM/DMARC, rate, attachment policy, clamd, rspamd; Maildir (fsync) before 250${nodeArgs.length ? `; node ${nodeArgs.join(' ')}` : ''}`,
    });
    return { ...t, perRun: perRun(t, svc, svc.rspamd, 'mailproof') };
  };
  return {
    'mp-filter': () => mp('auto', 'mp-filter'),
    'mp-filter-w1': () => mp(1, 'mp-filter-w1'),
    // A V8 CPU profile of every thread, written when it stops (bench/filter/run.sh, BENCH_FILTER_PROFILE_DIR).
    'mp-filter-prof': () => mp(1, 'mp-filter-prof', ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_FILTER_PROFILE_DIR ?? `${env.work}/cpuprofile`}`]),
    'postfix-stack': async () => {
      const svc = await services();
      const t = await startPostfix(env, {
        name: 'postfix-stack',
        label: `Postfix + rspamd milter (proxy, ${svc.rspamdWorkers} process(es)) + antivirus module -> clamd; restrictions PTR+FCrDNS, HELO, sender domain; queue fsync before 250, then discard`,
        main: stackParams(svc.stack.milterPort!), resolvConf: svc.resolvConf, client: CLIENT,
      });
      return { ...t, perRun: perRun(t, svc, svc.stack, 'postfix') };
    },
  };
}
