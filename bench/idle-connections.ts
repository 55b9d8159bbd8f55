// Idle connections: how much memory does a server need per open SMTP
// session that has had its greeting and sits idle?
//
//   node idle-connections.js measure --target mailproof|bare --build DIR --work DIR --count 19000 --out FILE.json
//   node idle-connections.js client  --host 127.0.0.1 --port P --count N [--sources 10] [--parallel 200]
//
// "measure" starts the server (mailproof with smtp.workers=1, so one process
// is measured, or the bare smtp-server), reads its RSS, starts the client
// in a separate process, waits until every connection got its 220, lets the
// server settle, reads the RSS again and reports (after - before) / n.
//
// The client spreads its connections over 127.0.0.2, 127.0.0.3, ... as
// source addresses (localAddress), so the ephemeral port range of a single
// source address does not run out.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { args, freePort, processTree, register, rssKiB, sleep, startServer, treeRssKiB, type Started } from './lib/proc.js';

const a = args(process.argv.slice(2));
const mode = a._ ?? 'measure';

interface ClientReport {
  wanted: number;
  greeted: number;
  failed: number;
  refused: number;
  errors: Record<string, number>;
  seconds: number;
  sources: string[];
}

async function client(): Promise<void> {
  const host = a.host ?? '127.0.0.1';
  const port = Number(a.port);
  const count = Number(a.count ?? 1000);
  const nSources = Number(a.sources ?? 10);
  const parallel = Number(a.parallel ?? 200);
  const sources = Array.from({ length: nSources }, (_, i) => `127.0.0.${i + 2}`);
  const sockets: net.Socket[] = [];
  const report: ClientReport = { wanted: count, greeted: 0, failed: 0, refused: 0, errors: {}, seconds: 0, sources };
  const t0 = Date.now();
  let next = 0;
  let lastLog = 0;
  let closing = false;

  const one = (i: number): Promise<void> => new Promise((resolve) => {
    const s = net.connect({ host, port, localAddress: sources[i % sources.length] });
    let buf = '';
    let done = false;
    const finish = (kind: 'greeted' | 'refused' | 'failed', why?: string): void => {
      if (done) return;
      done = true;
      report[kind]++;
      if (why) report.errors[why] = (report.errors[why] ?? 0) + 1;
      if (kind !== 'greeted') s.destroy();
      resolve();
    };
    s.setTimeout(120_000, () => finish('failed', 'timeout before greeting'));
    s.on('data', (d: Buffer) => {
      if (done) return;
      buf += d.toString('latin1');
      const eol = buf.indexOf('\n');
      if (eol < 0) return;
      const line = buf.slice(0, eol);
      if (line.startsWith('220 ')) {
        s.setTimeout(0);
        finish('greeted');
      } else {
        finish('refused', line.slice(0, 60).trim());
      }
    });
    s.on('error', (err: NodeJS.ErrnoException) => finish('failed', err.code ?? err.message));
    let greeted = false;
    s.once('data', () => { greeted = true; });
    s.on('close', () => {
      if (!done) finish('failed', 'closed before greeting');
      // A greeted session the server closed while we hold it: tell the parent.
      else if (greeted && !closing) process.stdout.write('DROP\n');
    });
    sockets.push(s);
  });

  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      await one(i);
      if (Date.now() - lastLog > 2000) {
        lastLog = Date.now();
        process.stderr.write(`  client: ${report.greeted} greeted, ${report.failed + report.refused} failed of ${count}\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, () => worker()));
  report.seconds = (Date.now() - t0) / 1000;
  process.stdout.write(`READY ${JSON.stringify(report)}\n`);
  // Hold the connections until the parent closes our stdin.
  process.stdin.resume();
  await new Promise<void>((resolve) => process.stdin.once('end', resolve).once('close', resolve));
  closing = true;
  for (const s of sockets) s.destroy();
  process.exit(0);
}

interface MeasureReport {
  kind: 'idle';
  target: string;
  label: string;
  date: string;
  count: number;
  client: ClientReport | null;
  rssBeforeKiB: number;
  rssAfterKiB: number;
  /** Samples after all greetings, KiB. */
  samples: number[];
  perConnKiB: number | null;
  processes: number;
  /** Greeted sessions the server closed while they were held. */
  dropped: number;
  problem?: string;
  nofile: string;
}

async function measure(): Promise<void> {
  const target = a.target ?? 'mailproof';
  const build = a.build ?? 'dist';
  const work = a.work ?? fs.mkdtempSync('/tmp/mailproof-idle-');
  const count = Number(a.count ?? 19000);
  const outFile = a.out ?? `bench/out/idle-${target}.json`;
  const port = await freePort();
  let server: Started;
  let label: string;
  if (target === 'mailproof') {
    const dataDir = fs.mkdtempSync(path.join(work, 'idle-mailproof-'));
    label = 'mailproof, smtp.workers=1 (one process)';
    server = await startServer(process.execPath, [
      path.join(build, 'src/cli/main.js'), 'serve', '--data-dir', dataDir, '--smtp-listen', `127.0.0.1:${port}`,
      '-o', 'smtp.workers=1', '-o', 'log.level=warn', '-o', 'smtp.max_connections=30000', '-o', 'smtp.max_connections_per_ip=30000',
      '-o', 'pop3.listen=[]', '-o', 'web.listen=[]',
    ], /mailproof: SMTP on/, { timeoutMs: 60000 });
  } else if (target === 'bare') {
    const dir = fs.mkdtempSync(path.join(work, 'idle-bare-'));
    label = 'bare smtp-server, no greeting delay (one process)';
    server = await startServer(process.execPath, [
      path.join(build, 'bench/bare-smtp-server.js'), '--listen', `127.0.0.1:${port}`, '--dir', dir,
    ], /bare-smtp-server: SMTP on/);
  } else {
    throw new Error(`unknown target ${target}`);
  }
  const nofile = (() => {
    try {
      return /Max open files\s+(\S+)\s+(\S+)/.exec(fs.readFileSync(`/proc/${server.pid}/limits`, 'utf8'))?.slice(1).join('/') ?? '?';
    } catch { return '?'; }
  })();
  const rep: MeasureReport = {
    kind: 'idle', target, label, date: new Date().toISOString(), count, client: null,
    rssBeforeKiB: 0, rssAfterKiB: 0, samples: [], perConnKiB: null, processes: 0, dropped: 0, nofile,
  };
  /** Starts the client process; resolves once its connections are all greeted (or failed). */
  const openWith = async (n: number): Promise<{ proc: ReturnType<typeof spawn>; report: ClientReport; close(): Promise<void> }> => {
    const proc = spawn(process.execPath, [process.argv[1]!, 'client', '--host', '127.0.0.1', '--port', String(port), '--count', String(n)], {
      stdio: ['pipe', 'pipe', 'inherit'],
      detached: true,
    });
    register(`pgid ${proc.pid!}`);
    const rl = readline.createInterface({ input: proc.stdout! });
    const report = await new Promise<ClientReport>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('client did not finish opening connections in 300 s')), 300_000);
      rl.on('line', (line) => {
        if (line === 'DROP') rep.dropped++;
        if (line.startsWith('READY ')) { clearTimeout(timer); resolve(JSON.parse(line.slice(6)) as ClientReport); }
      });
      proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`client exited (${code}) early`)); });
    });
    return {
      proc, report,
      async close() {
        if (proc.exitCode === null && proc.signalCode === null) {
          proc.stdin!.end();
          const t = setTimeout(() => { try { process.kill(-proc.pid!, 'SIGKILL'); } catch { /* gone */ } }, 10000);
          await new Promise((r) => proc.once('exit', r));
          clearTimeout(t);
        }
        try { process.kill(-proc.pid!, 'SIGKILL'); } catch { /* gone */ }
        register(`done ${proc.pid!}`);
      },
    };
  };
  let closeHeld: (() => Promise<void>) | null = null;
  try {
    // Warm-up: a tenth of the connections (at most 1000) opened, greeted and
    // closed, so JIT, buffers and the ledger are past their start-up growth
    // and the baseline is the server's steady idle state.
    const warm = await openWith(Math.min(1000, Math.ceil(count / 10)));
    await warm.close();
    await sleep(3000);
    const base: number[] = [];
    for (let i = 0; i < 3; i++) { base.push(treeRssKiB(server.pid).total); await sleep(500); }
    rep.rssBeforeKiB = Math.min(...base);
    rep.processes = processTree(server.pid).length;

    rep.dropped = 0; // the warm-up's own closes do not count
    const held = await openWith(count);
    closeHeld = held.close;
    const ready = held.report;
    rep.client = ready;
    // Let the server finish what the connection burst left (ledger commits,
    // timers, GC), then sample.
    await sleep(3000);
    for (let i = 0; i < 5; i++) { rep.samples.push(treeRssKiB(server.pid).total); await sleep(1000); }
    rep.rssAfterKiB = rep.samples[rep.samples.length - 1]!;
    if (ready.greeted > 0) rep.perConnKiB = (rep.rssAfterKiB - rep.rssBeforeKiB) / ready.greeted;
    const problems: string[] = [];
    if (ready.greeted < count) problems.push(`only ${ready.greeted} of ${count} connections got a 220 (${JSON.stringify(ready.errors)})`);
    // Were the sessions held the whole time (none cut by a limit or timeout)?
    if (rep.dropped) problems.push(`the server closed ${rep.dropped} greeted sessions while they were held`);
    if (rssKiB(server.pid) === 0) problems.push('server died');
    if (problems.length) rep.problem = problems.join('; ');
  } catch (err) {
    rep.problem = (err as Error).message;
  } finally {
    if (closeHeld) await closeHeld();
    await server.stop(20000);
  }
  fs.writeFileSync(outFile, JSON.stringify(rep, null, 2));
  const mib = (k: number): string => (k / 1024).toFixed(1);
  process.stderr.write(`idle ${target}: ${rep.client?.greeted ?? 0}/${count} greeted in ${rep.client?.seconds ?? '?'} s; RSS ${mib(rep.rssBeforeKiB)} -> ${mib(rep.rssAfterKiB)} MiB; ` +
    `${rep.perConnKiB?.toFixed(2) ?? '?'} KiB per connection; fd limit ${nofile}; ${os.cpus().length} cpus${rep.problem ? `; PROBLEM: ${rep.problem}` : ''}\n`);
}

if (mode === 'client') await client();
else await measure();
