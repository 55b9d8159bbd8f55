// The generated part of bench/RESULTS.md's section "The whole filter"
// (between its own BEGIN/END markers; the hand-written text around it stays)
// from bench/out/filter.json and bench/out/filter-profile.txt.
//
//   node report.js --dir bench/out --results bench/RESULTS.md --machine bench/out/machine-filter.json
import fs from 'node:fs';
import path from 'node:path';
import { args, median } from '../lib/proc.js';
import { writeGenerated } from '../lib/results-file.js';

interface Extra {
  cpuMsPerMsg: Record<string, number>;
  rspamdScannedPerMsg: number;
  clamdScansPerMsg: number;
  rspamdTimeMs: { n: number; p50: number | null; p99: number | null };
}
interface Run {
  target: string; message: string; c: number; round: number; messages: number; seconds: number; rate: number;
  cpuMsPerMsg: number | null; ok: boolean; problem?: string; calibration?: boolean; loadBefore: number; cpuPressure: number | null;
  extra?: Extra;
}
interface Lat { transactions?: number; checks_ms_p50?: number | null; checks_ms_p99?: number | null; with_scanners_ms_p50?: number | null; with_scanners_ms_p99?: number | null; scanners_ms?: Record<string, { p50: number | null; p99: number | null; n: number }> }
interface Filter {
  date: string; runs: number; conc: number[]; seconds: number;
  messages: { name: string; label: string; bytes: number }[];
  targets: { name: string; label: string; checks: string }[];
  startProblems: Record<string, string>;
  results: Run[];
  reports?: Record<string, Lat & { groups?: Record<string, Lat>; error?: string }>;
  sanity?: Record<string, Record<string, { final: string; code: number; ok: boolean }>>;
  services?: { rspamd?: Record<string, string>; rspamdWorkers?: number };
}

const a = args(process.argv.slice(2));
const dir = a.dir ?? 'bench/out';
const resultsFile = a.results ?? 'bench/RESULTS.md';
const readJson = <T>(f: string): T | null => {
  try { return JSON.parse(fs.readFileSync(f, 'utf8')) as T; } catch { return null; }
};
const f = readJson<Filter>(path.join(dir, 'filter.json'));
const machine = readJson<Record<string, string>>(a.machine ?? path.join(dir, 'machine-filter.json')) ?? {};
let profile = '';
try { profile = fs.readFileSync(path.join(dir, 'filter-profile.txt'), 'utf8'); } catch { /* not run */ }

const f1 = (x: number): string => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x.toFixed(1)) : 'n/a');
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const lines: string[] = [];
const push = (s = ''): void => { lines.push(s); };
const summary: string[] = [];
const STACK = 'postfix-stack';

if (!f) {
  push('No figures yet: `bash bench/filter/run.sh` writes them.');
} else {
  const runs = (t: string, m: string, c: number): Run[] => f.results.filter((r) => r.target === t && r.message === m && r.c === c && !r.calibration);
  const okRuns = (t: string, m: string, c: number): Run[] => runs(t, m, c).filter((r) => r.ok);
  const med = (xs: (number | null | undefined)[]): number => median(xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x)));
  const rate = (t: string, m: string, c: number): number => med(okRuns(t, m, c).map((r) => r.rate));
  const names = f.targets.map((t) => t.name);
  const mps = names.filter((n) => n !== STACK);

  push(`Run of ${machine.date ?? f.date.slice(0, 16).replace('T', ' ')}; ${f.runs} runs of about ${f.seconds} s per target, message and concurrency, interleaved (round r runs every target once, order rotated). **The machine was shared** with other engineers' builds and tests: read the ratios and the CPU per message, not the absolute rates.`);
  push();
  push('| machine | |');
  push('|---|---|');
  for (const [k, v] of Object.entries(machine)) if (k !== 'date') push(`| ${k} | ${String(v).replace(/\|/g, '/')} |`);
  const loads = f.results.map((r) => r.loadBefore);
  const press = f.results.map((r) => r.cpuPressure).filter((x): x is number => x !== null);
  push(`| load during the runs | 1-minute load average ${f1(Math.min(...loads))}-${f1(Math.max(...loads))} (median ${f1(median(loads))})${press.length ? `; CPU pressure (PSI some avg10) ${f1(Math.min(...press))}-${f1(Math.max(...press))}%` : ''} |`);
  push();
  push('Targets:');
  push();
  for (const t of f.targets) push(`- **${t.name}**: ${t.label}. Check per run: ${t.checks}.`);
  for (const [k, v] of Object.entries(f.startProblems)) push(`- could not start **${k}**: \`${v.split('\n')[0]}\``);
  push();
  push('Messages (`smtp-source -F FILE`, one new connection per message, one recipient):');
  push();
  for (const m of f.messages) push(`- **${m.name}**: ${m.label}, ${m.bytes} bytes`);
  push();
  if (f.services?.rspamd) {
    push('rspamd, both instances alike unless said:');
    push();
    for (const [k, v] of Object.entries(f.services.rspamd)) push(`- ${k}: \`${v}\``);
    push();
  }
  if (f.sanity) {
    push('Sanity sends before measuring (one each; both must be refused):');
    push();
    push('| target | GTUBE | EICAR attachment |');
    push('|---|---|---|');
    for (const [t, s] of Object.entries(f.sanity)) {
      const cell = (k: string): string => { const x = s[k]; return x ? `${x.ok ? '✅' : '❌'} \`${x.final.replace(/\s+/g, ' ').replace(/\(ref [^)]*\)/, '(ref ...)').slice(0, 110)}\`` : '-'; };
      push(`| ${t} | ${cell('gtube')} | ${cell('eicar')} |`);
    }
    push();
  }

  push(`### Rate and ratio (messages/s, median of ${f.runs} runs)`);
  push();
  push(`| message | c | ${names.map((n) => `${n} msg/s (min-max)`).join(' | ')} | ${mps.map((n) => `${n} : stack`).join(' | ')} |`);
  push(`|---|---:|${names.map(() => '---:').join('|')}|${mps.map(() => '---:').join('|')}|`);
  for (const m of f.messages) {
    for (const c of f.conc) {
      const cells = names.map((n) => {
        const rs = okRuns(n, m.name, c).map((r) => r.rate);
        const bad = runs(n, m.name, c).length - rs.length;
        return `${f1(median(rs))} (${f1(Math.min(...rs))}-${f1(Math.max(...rs))})${bad ? ` (${bad} failed)` : ''}`;
      });
      const ratios = mps.map((n) => {
        const r = rate(n, m.name, c) / rate(STACK, m.name, c);
        return `**${f2(r)}**${Number.isFinite(r) ? (r >= 1.5 ? ' ✅' : ' ❌') : ''}`;
      });
      push(`| ${m.name} | ${c} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`);
      summary.push(`  ${m.name.padEnd(12)} c=${String(c).padEnd(4)}${names.map((n) => `${n} ${f1(rate(n, m.name, c))}`).join('  ')}  ${mps.map((n) => `${n}:stack ${f2(rate(n, m.name, c) / rate(STACK, m.name, c))}`).join('  ')}`);
    }
  }
  push();
  push('mailproof : stack = median rate of the mailproof target / median rate of postfix-stack in the same run; ✅ at the team\'s goal of 1.5 or more.');
  push();

  push('### CPU per message, by component (ms, median over the runs)');
  push();
  push('CPU time (from /proc/PID/task/*/schedstat, all threads, plus what exited children left in cutime/cstime) of each component during the run, divided by the messages of the run: the gateway itself (mailproof: its primary and workers; Postfix: master, smtpd, cleanup, qmgr, trivial-rewrite, discard and the rest of its tree), the rspamd instance the target uses, clamd, Knot. For mailproof the figure includes the store catching up with the journal after the client finished. "other rspamd" is the instance the target does not use, idling: a yardstick of background noise. The load generator (smtp-source) is not counted anywhere.');
  push();
  const comps = ['own', 'rspamd', 'clamd', 'knot'];
  push(`| message | c | target | gateway | rspamd | clamd | Knot | **total** | other rspamd | rspamd scans/msg | clamd scans/msg |`);
  push('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const m of f.messages) {
    for (const c of f.conc) {
      for (const n of names) {
        const rs = okRuns(n, m.name, c).filter((r) => r.extra);
        if (!rs.length) continue;
        const own = n === STACK ? 'postfix' : 'mailproof';
        const comp = (k: string): number => med(rs.map((r) => r.extra!.cpuMsPerMsg[k === 'own' ? own : k]));
        const total = med(rs.map((r) => comps.reduce((s, k) => s + (r.extra!.cpuMsPerMsg[k === 'own' ? own : k] ?? 0), 0)));
        push(`| ${m.name} | ${c} | ${n} | ${f2(comp('own'))} | ${f2(comp('rspamd'))} | ${f2(comp('clamd'))} | ${f2(comp('knot'))} | **${f2(total)}** | ${f2(comp('the other rspamd (idle)'))} | ${f2(med(rs.map((r) => r.extra!.rspamdScannedPerMsg)))} | ${f2(med(rs.map((r) => r.extra!.clamdScansPerMsg)))} |`);
      }
    }
  }
  push();
  push('rspamd scans/msg: growth of the instance\'s `/stat` "scanned" counter per message sent (1.00: the milter, or mailproof\'s spam check, really had rspamd scan every message). clamd scans/msg: clamd\'s log lines of finished scans (LogClean on) per message: what each side sends to clamd.');
  push();

  push('### Added time per message (ms)');
  push();
  push('What the checks add to a message\'s time in the session, p50 / p99 over every message of the measured runs (per message and concurrency):');
  push();
  push('- mailproof, from its ledger (each check records its own time): **checks** = per transaction the slowest check of each stage (a stage\'s checks run side by side) summed over connect, HELO, MAIL, RCPT and DATA, the scanners left out; **+ scanners** = the same sum with the virus and spam checks in their stage (everything the checks add); clamd and rspamd = the virus and spam checks alone (mailproof\'s clients: connect, send, reply).');
  push('- Both sides, from rspamd\'s log (its task line: `time: N ms`): how long rspamd took per message, request in to reply out. For the stack this is the scan at end of DATA that holds the 250: the DNS modules (SPF, DMARC, RBL) and, for attachments, the antivirus module\'s calls to clamd; Postfix\'s own restrictions (PTR, sender domain: a few DNS lookups each) and the milter\'s round trips at the other stages come on top. For mailproof it is the spam check\'s share, seen from rspamd.');
  push();
  push('| message | c | target | checks p50 / p99 | + scanners p50 / p99 | clamd (virus check) p50 / p99 | rspamd (spam check) p50 / p99 | rspamd\'s own time, its log: p50 / p99 |');
  push('|---|---:|---|---:|---:|---:|---:|---:|');
  const pp = (a2: number | null | undefined, b: number | null | undefined): string => `${a2 ?? '-'} / ${b ?? '-'}`;
  for (const m of f.messages) {
    for (const c of f.conc) {
      for (const n of names) {
        const rs = okRuns(n, m.name, c).filter((r) => r.extra);
        const rt = `${f1(med(rs.map((r) => r.extra!.rspamdTimeMs.p50)))} / ${f1(med(rs.map((r) => r.extra!.rspamdTimeMs.p99)))}`;
        const g = f.reports?.[n]?.groups?.[`${m.name} c=${c}`];
        if (n === STACK || !g) {
          push(`| ${m.name} | ${c} | ${n} | - | - | - | - | ${rt} |`);
          continue;
        }
        push(`| ${m.name} | ${c} | ${n} | ${pp(g.checks_ms_p50, g.checks_ms_p99)} | ${pp(g.with_scanners_ms_p50, g.with_scanners_ms_p99)} | ${pp(g.scanners_ms?.virus?.p50, g.scanners_ms?.virus?.p99)} | ${pp(g.scanners_ms?.spam?.p50, g.scanners_ms?.spam?.p99)} | ${rt} |`);
      }
    }
  }
  push();
  push('rspamd\'s own time: the median over the runs of each run\'s p50 and p99. The ledger\'s figures: pooled over the runs.');
  push();
  const failed = f.results.filter((r) => !r.ok);
  if (failed.length) {
    push('Failed runs (left out of the medians):');
    push();
    for (const r of failed) push(`- ${r.target} ${r.message} c=${r.c} ${r.calibration ? 'calibration' : `round ${r.round}`}: ${r.problem}`);
  } else push('Every run passed its check (smtp-source exit status 0; accepted == sent: Maildir files and store events for mailproof, qmgr "removed" lines for Postfix).');
  push();
}
if (profile) {
  push('### Where mailproof\'s time goes (V8 CPU profile, generated)');
  push();
  push('Wall-clock sampled: on a busy machine a thread waiting for a CPU has its samples charged to what it was running; read shares, not milliseconds. One file per thread (the main thread runs SMTP, the checks and delivery; the others are the ledger\'s threads).');
  push();
  push('```');
  push(profile.trim());
  push('```');
  push();
}

const BEGIN = '<!-- BEGIN GENERATED by bench/filter/report.ts: do not edit between these markers -->';
const END = '<!-- END GENERATED filter -->';
writeGenerated(resultsFile, BEGIN, END, lines, (doc, block) => `${doc.trimEnd()}\n\n## The whole filter: mailproof against Postfix + rspamd + ClamAV\n\nMade by \`bash bench/filter/run.sh\`.\n\n${block}\n`);
process.stdout.write(`\nthe whole filter (msg/s; ratio mailproof : stack):\n${summary.join('\n')}\n\nwritten: ${resultsFile}\n`);
