// `mailproof ingest ... --follow` against files that rotate under it, and a
// follower killed and restarted mid-file: every line becomes exactly one
// event (counted in the ledger), none lost, none repeated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { storeEvents } from '../../helpers/event-table.js';
import { BIN, run } from '../../helpers/server.js';
import { pollUntil } from '../../helpers/postfix.js';

// One "connect" line per message number: each gives exactly one session.connect event.
const line = (n: number): string => `Nov 27 10:${String(Math.floor(n / 60) % 60).padStart(2, '0')}:${String(n % 60).padStart(2, '0')} mx1 postfix/smtpd[${1000 + n}]: connect from host${n}.example[192.0.2.${n % 250}]\n`;

async function connects(dataDir: string): Promise<number[]> {
  // Ingest writes straight into the store (no journal): read it as it is.
  const file = path.join(dataDir, 'store.sqlite');
  if (!fs.existsSync(file)) return [];
  return (await storeEvents(file)).filter((e) => e.kind === 'session.connect').map((e) => Number(/^host(\d+)\./.exec(e.client_ptr!)![1]));
}

function startFollow(dataDir: string, log: string): { proc: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, [BIN, 'ingest', 'postfix', log, '--follow', '--poll-ms', '50', '--batch-lines', '500', '--data-dir', dataDir, '--year', '2026'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { proc, out: () => out, exited };
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);

test('follow: rename rotation, copytruncate, kill -9 and restart mid-file: no line lost or repeated', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-ingest-follow-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const dataDir = path.join(dir, 'data');
  const log = path.join(dir, 'mail.log');
  fs.writeFileSync(log, range(0, 100).map(line).join(''));

  let f = startFollow(dataDir, log);
  t.after(() => { if (f.proc.exitCode === null) f.proc.kill('SIGKILL'); });
  const until = (n: number, what: string): Promise<unknown> =>
    pollUntil(async () => (await connects(dataDir)).length >= n, { timeoutMs: 30000, intervalMs: 50, what, describe: () => f.out() });
  await until(100, 'the first 100 lines');

  // Growth, then rename rotation: lines written to the old file after the rename (the writer
  // still has it open) and to the new file must all arrive.
  fs.appendFileSync(log, range(100, 150).map(line).join(''));
  const oldFd = fs.openSync(log, 'a');
  fs.renameSync(log, `${log}.1`);
  fs.writeSync(oldFd, range(150, 160).map(line).join(''));
  fs.closeSync(oldFd);
  fs.writeFileSync(log, range(160, 200).map(line).join(''));
  await until(200, 'the lines around the rename rotation');

  // copytruncate: the content is copied away and the file emptied in place, then written again.
  fs.copyFileSync(log, `${log}.2`);
  fs.truncateSync(log, 0);
  fs.appendFileSync(log, range(200, 230).map(line).join(''));
  await until(230, 'the lines after copytruncate');

  // kill -9 mid-file: a big append, killed while it is being read; the restart resumes from the last commit.
  fs.appendFileSync(log, range(230, 30000).map(line).join(''));
  await pollUntil(async () => (await connects(dataDir)).length > 230, { timeoutMs: 30000, intervalMs: 5, what: 'the big append to start' });
  f.proc.kill('SIGKILL');
  await f.exited;
  // While it is down: more lines, and another rename rotation.
  fs.appendFileSync(log, range(30000, 30100).map(line).join(''));
  fs.renameSync(log, `${log}.1`);
  fs.writeFileSync(log, range(30100, 30200).map(line).join(''));

  f = startFollow(dataDir, log);
  await until(30200, 'all lines after the restart');
  f.proc.kill('SIGTERM');
  assert.equal(await f.exited, 0, f.out());
  assert.match(f.out(), /rotated since the last run/);
  assert.deepEqual(await connects(dataDir), range(0, 30200));

  // A batch run over the same file now finds nothing new.
  const again = await run(['ingest', 'postfix', log, '--data-dir', dataDir, '--json']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((JSON.parse(again.stdout) as { lines: number }).lines, 0);
  assert.equal((await connects(dataDir)).length, 30200);
});

test('batch: garbage, binary and an 8 MB line are counted, the rest ingested; bad files are a clear error', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-ingest-batch-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const dataDir = path.join(dir, 'data');
  const log = path.join(dir, 'mail.log');
  const parts: Array<string | Buffer> = [
    line(1),
    'garbage without a stamp\n',
    Buffer.from([0x4e, 0x6f, 0x76, 0x20, 0x32, 0x37, 0x00, 0xff, 0xfe, 0x0a]),
    `Nov 27 10:00:02 mx1 postfix/smtpd[5]: ${'x'.repeat(8 * 1024 * 1024)}\n`,
    line(2),
    'Nov 27 10:00:03 mx1 sshd[7]: Accepted publickey for root\n',
    line(3),
  ];
  fs.writeFileSync(log, Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p))));
  const r = await run(['ingest', 'postfix', log, '--data-dir', dataDir, '--json', '--year', '2026']);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as { lines: number; events: number; unknown: Record<string, number>; oversized: number };
  assert.equal(s.events, 3);
  assert.equal(s.oversized, 1);
  assert.deepEqual(s.unknown, { '(no syslog header)': 2, '(line over 64 KiB)': 1, sshd: 1 });
  assert.deepEqual(await connects(dataDir), [1, 2, 3]);

  const text = await run(['ingest', 'postfix', log, '--data-dir', dataDir, '--from-start']);
  assert.equal(text.code, 0);
  assert.match(text.stdout, /^ingested 6 lines from 1 file\(s\): 3 events/m);
  assert.match(text.stdout, /lines not understood: 4/);

  const missing = await run(['ingest', 'postfix', path.join(dir, 'nope.log'), '--data-dir', dataDir]);
  assert.equal(missing.code, 64);
  assert.match(missing.stderr, /cannot read .*nope\.log: ENOENT/);
  const noKind = await run(['ingest', 'exim', log, '--data-dir', dataDir]);
  assert.equal(noKind.code, 64);
  assert.match(noKind.stderr, /postfix\|dovecot/);
  const dirAsFile = await run(['ingest', 'postfix', dir, '--data-dir', dataDir]);
  assert.equal(dirAsFile.code, 64);
  assert.match(dirAsFile.stderr, /not a regular file|EISDIR/);
});
