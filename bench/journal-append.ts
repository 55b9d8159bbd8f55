// What the ledger journal costs per message without the gateway around it:
// N concurrent appenders (sessions), each appending a message as the gateway
// does, 10 notes (one per SMTP command or check) then one durable append
// before the reply, for M seconds. Prints messages/s, fdatasyncs/s and CPU
// per message (all of this process: encoding, CRC, the libuv calls).
//   node dist/bench/journal-append.js [N=50] [SECONDS=5] [DIR=tmp] [SYNC=1]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JournalWriter } from '../src/ledger/journal/writer.js';
import type { LedgerEvent } from '../src/ledger/types.js';

const [nArg, sArg, dirArg, syncArg] = process.argv.slice(2);
const N = Number(nArg ?? 50), SECONDS = Number(sArg ?? 5), SYNC = (syncArg ?? '1') !== '0';
const dir = dirArg || fs.mkdtempSync(path.join(os.tmpdir(), 'mp-journal-bench-'));

function event(session: string, k: number): LedgerEvent {
  return {
    ts: Date.now(), node: 'mx1', source: 'gateway', kind: k === 10 ? 'message.delivered' : 'check.result', session, ref: session.slice(0, 12),
    client_ip: '192.0.2.7', helo: 'client.example.org', mail_from: 'sender@example.org', rcpt: 'demo@demo.test',
    check_name: k === 10 ? null : `check${k}`, verdict: 'pass', details: { stage: 'rcpt', ms: 0.01 },
  };
}

const w = await JournalWriter.open(dir, 'mx1', 'gateway', { sync: SYNC });
const deadline = Date.now() + SECONDS * 1000;
let messages = 0;
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
await Promise.all(Array.from({ length: N }, async (_, a) => {
  for (let m = 0; Date.now() < deadline; m++) {
    const session = `s${a}-${m}-xxxxxxxxxxxx`;
    const notes: Promise<void>[] = [];
    for (let k = 0; k < 10; k++) notes.push(w.append([event(session, k)], { durable: false }));
    await w.append([event(session, 10)]);
    await Promise.all(notes);
    messages++;
  }
}));
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(cpu0);
await w.close();
const bytes = fs.readdirSync(path.join(dir, 'mx1', 'gateway')).filter((f) => f.endsWith('.seg'))
  .reduce((s, f) => s + fs.statSync(path.join(dir, 'mx1', 'gateway', f)).size, 0);
console.log(JSON.stringify({
  appenders: N, seconds: +secs.toFixed(2), sync: SYNC,
  messagesPerSec: Math.round(messages / secs),
  fdatasyncsPerSec: Math.round(w.stats.syncs / secs),
  writesPerSec: Math.round(w.stats.writes / secs),
  cpuMsPerMessage: +((cpu.user + cpu.system) / 1000 / messages).toFixed(4),
  bytesPerMessage: Math.round(bytes / messages),
}));
if (!dirArg) fs.rmSync(dir, { recursive: true, force: true });
