// Memory under many large messages at once: 40 messages of 20 MB with
// large attachments (a zip and a PDF, base64), sent at the same time to a
// real mailproof (one process) with the attachment policy and the virus
// check on (a real clamd). The content checks must stream each part
// instead of decoding it into memory: the gateway's peak RSS, as the
// kernel counts it for the process (VmHWM), may grow by a bounded amount
// only, however large and many the messages.
//
// Figures on the 2-core test machine (bench/RESULTS.md, "Memory under large
// messages"): the walk that decoded each part into a Buffer grew by about
// 1.3 GiB here; streaming grows by about 130 MiB, and about 100 MiB with
// both checks off (receiving and spooling alone). The bound sits between,
// with room for noise either way. No timing is asserted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { requireTool } from '../../helpers/env.js';
import { startClamd } from '../../helpers/clamd.js';
import { bigMessage, burst } from '../../helpers/big-mail.js';
import { NO_DNS_CHECKS, startServer, type Instance } from '../../helpers/server.js';

const COUNT = 40;
const SIZE = 20_000_000;
const BOUND_MIB = 400;

test('RSS stays bounded under 40 concurrent 20 MB messages with attachments (attachment policy and virus check on)', async (t) => {
  if (!requireTool(t, 'clamd')) return;
  const clamd = await startClamd();
  let mp: Instance | null = null;
  t.after(async () => {
    await mp?.stop();
    await clamd.stop();
    if (mp) fs.rmSync(mp.dataDir, { recursive: true, force: true });
  });
  mp = await startServer({
    config: {
      log: { level: 'warn' },
      smtp: { max_connections_per_ip: 1000 },
      scanners: { clamd: { address: `127.0.0.1:${clamd.tcp.port}`, timeout_ms: 600_000 } },
      checks: { allowlist: { networks: [] }, rate: { mode: 'off' }, ...NO_DNS_CHECKS },
    },
  });
  const pid = mp.proc.pid!;
  const r = await burst(pid, mp.port, bigMessage(SIZE), COUNT);
  const growthMiB = (r.peakKiB - r.beforeKiB) / 1024;
  t.diagnostic(`RSS before ${Math.round(r.beforeKiB / 1024)} MiB, peak ${Math.round(r.peakKiB / 1024)} MiB (+${Math.round(growthMiB)}), after ${Math.round(r.afterKiB / 1024)} MiB`);
  assert.ok(growthMiB < BOUND_MIB, `peak RSS grew by ${Math.round(growthMiB)} MiB (bound ${BOUND_MIB} MiB): the content checks hold the messages in memory`);
  // Both checks really ran on every message and passed it (the files are clean).
  const notAccepted = r.replies.filter((x) => !x.startsWith('250 '));
  assert.deepEqual(notAccepted, [], `${notAccepted.length} of ${COUNT} not accepted`);
  // The parts' temporary files went with their walks, the messages with their transactions
  // (removed just after the reply: given a moment).
  const spool = path.join(mp.dataDir, 'spool', String(pid));
  const left = (): string[] => (fs.existsSync(spool) ? fs.readdirSync(spool) : []);
  for (let i = 0; i < 100 && left().length > 0; i++) await new Promise((res) => setTimeout(res, 100));
  assert.deepEqual(left(), []);
});
