// What the DATA-stage checks that need no server cost per message: the
// attachment policy (MIME walk, archive and document inspection) and DMARC
// (DKIM verification, alignment), run directly one message at a time on the
// whole-filter benchmark's messages (bench/lib/messages.ts). Wall time and
// this process's CPU per message. The scanner checks are measured by
// bench/scanners.ts (they need clamd and rspamd).
//
//   node dist/bench/data-checks.js [--n 200] [--checks attachments,dmarc]
//
// Run with --cpu-prof to see where a check's time goes (bench/cpuprofile-top.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/load.js';
import { checksOf } from '../src/checks/registry.js';
import { testContext } from '../src/checks/testing.js';
import type { Logger } from '../src/log/logger.js';
import { writeMessages } from './lib/messages.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '200' }, checks: { type: 'string', default: 'attachments,dmarc' } } });
const N = Number(values.n);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-data-checks-'));
try {
  const msgs = writeMessages(tmp);
  const quiet = { info() {}, warn() {}, error() {}, debug() {}, child() { return quiet; } } as unknown as Logger;
  // The allow-list would pass loopback by; the checks must judge the message.
  const cfg = loadConfig({ dataDir: tmp, overrides: ['checks.allowlist.networks=[]'] });
  for (const key of values.checks!.split(',') as Parameters<typeof checksOf>[0][]) {
    for (const check of checksOf(key, cfg, quiet).filter((c) => c.stage === 'data')) {
      for (const m of Object.values(msgs)) {
        const body = fs.readFileSync(m.file);
        const ctx = (): ReturnType<typeof testContext> => testContext('data', { message: { size: body.length, header: Buffer.alloc(0), messageId: null, subject: null, body: { buffer: body } } });
        const once = (): Promise<string> => Promise.resolve().then(() => check.run(ctx())).then((v) => v.kind, (e: Error) => `error ${e.message.slice(0, 60)}`);
        for (let i = 0; i < 20; i++) await once();
        const t0 = process.hrtime.bigint();
        const c0 = process.cpuUsage();
        let verdict = '';
        for (let i = 0; i < N; i++) verdict = await once();
        const wall = Number(process.hrtime.bigint() - t0) / 1e6 / N;
        const cpu = process.cpuUsage(c0);
        process.stdout.write(`${check.name.padEnd(12)} ${m.name.padEnd(12)} ${wall.toFixed(2)} ms wall/msg  ${((cpu.user + cpu.system) / 1000 / N).toFixed(2)} ms CPU/msg  (${verdict})\n`);
      }
    }
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
