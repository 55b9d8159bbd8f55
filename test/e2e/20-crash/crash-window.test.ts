// The crash window between the rename into new/ and the ledger commit. The
// test holds up every write into the gateway's journal segment (strace delays
// those system calls before they enter the kernel), so the delivery waits for
// its journal commit after the message is already in new/; then the server is
// killed with SIGKILL, and the held write never happens. After a restart the
// file has its record (message.recovered, no "incomplete" journey), and the
// sender's retry of the same message is answered 250 without a second copy;
// another message is stored as usual.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { requireTool } from '../../helpers/env.js';
import { listNew, startServer } from '../../helpers/server.js';
import { RawSmtp } from '../../helpers/smtp-client.js';

const RCPT = 'demo@demo.test';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function message(id: string, text: string): string {
  return [`From: <sender@example.org>`, `To: <${RCPT}>`, `Subject: order ${id}`, `Message-ID: <${id}@shop.example>`, '', text, ''].join('\r\n');
}

async function dialog(port: number, data: string): Promise<{ c: RawSmtp; final: Promise<string | null> }> {
  const c = await RawSmtp.connect(port);
  assert.match((await c.reply())!, /^220/);
  assert.match((await c.cmd('EHLO shop.example'))!, /^250/);
  assert.match((await c.cmd('MAIL FROM:<sender@example.org>'))!, /^250/);
  assert.match((await c.cmd(`RCPT TO:<${RCPT}>`))!, /^250/);
  assert.match((await c.cmd('DATA'))!, /^354/);
  c.write(data + '.\r\n');
  return { c, final: c.reply(30000).catch(() => null) };
}

/**
 * Attaches strace to every thread of `pid` and holds each write into `file`
 * for a minute before it enters the kernel (a SIGKILL in that time means the
 * write never happened). Resolves once strace is attached.
 */
async function holdWrites(pid: number, file: string): Promise<{ release: () => Promise<void> }> {
  const st = spawn('strace', ['-f', '-p', String(pid), '-P', file, '-e', 'trace=write,writev,pwrite64,pwritev,pwritev2',
    '-e', 'inject=write,writev,pwrite64,pwritev,pwritev2:delay_enter=60000000', '-o', '/dev/null'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const exited = new Promise<void>((r) => st.once('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    st.stderr.on('data', (d: Buffer) => { err += d.toString(); if (/attached/.test(err)) resolve(); });
    st.once('exit', (code) => reject(new Error(`strace exited with ${code}: ${err}`)));
  });
  // strace sits out a held call's delay even when its process is gone: end it ourselves.
  return { release: async () => { st.kill('SIGKILL'); await exited; } };
}

test('kill -9 between the rename into new/ and the ledger commit: recorded at restart, the retry is not stored twice', { timeout: 180_000 }, async (t) => {
  if (!requireTool(t, 'strace')) return;
  const first = await startServer();
  const dataDir = first.dataDir;
  const newDir = first.newDir(RCPT);
  t.after(async () => { await first.kill9(); });
  let held: { release: () => Promise<void> } | null = null;
  t.after(async () => { await held?.release(); });

  // Hold the journal's writes: the delivery's commit has to wait.
  const streamDir = path.join(dataDir, 'journal', 'test-node', 'smtp');
  const segments = fs.readdirSync(streamDir).filter((f) => f.endsWith('.seg')).sort();
  assert.ok(segments.length > 0, `a journal segment in ${streamDir}`);
  held = await holdWrites(first.proc.pid!, path.join(streamDir, segments.at(-1)!));
  const body = message('order-4711', 'Your order 4711 has shipped.');
  const { c, final } = await dialog(first.port, body);
  let files: string[] = [];
  for (let i = 0; i < 400 && files.length === 0; i++) {
    files = listNew(newDir);
    if (!files.length) await sleep(10);
  }
  assert.equal(files.length, 1, 'the message reached new/ while its commit waited');
  // SIGKILL first: the held write is skipped (a traced call with a fatal
  // signal pending never runs); then strace, which would otherwise hold the
  // exit until its delay is over.
  first.proc.kill('SIGKILL');
  await held.release();
  await first.kill9();
  assert.equal(await final, null, 'the client never got a reply');
  await c.close();
  const stored = path.join(newDir, files[0]!);
  const ref = /id ([A-Z0-9]{12})/.exec(fs.readFileSync(stored, 'utf8'))![1]!;

  const second = await startServer({ dataDir });
  t.after(async () => { await second.stop(); });
  assert.match(second.output(), /crashed run left messages in Maildirs without their delivery event/);
  let tr = await second.trace(['--rcpt', RCPT]);
  assert.deepEqual(tr.journeys.filter((j) => j.outcome === 'incomplete').map((j) => j.ref), [], 'no incomplete journey');
  const recovered = tr.journeys.find((j) => j.ref === ref)!;
  assert.ok(recovered, `a journey for ${ref}`);
  assert.equal(recovered.outcome, 'delivered');
  const ev = recovered.events.find((e) => e.kind === 'message.recovered')!;
  assert.equal(ev.message_id, 'order-4711@shop.example');
  assert.deepEqual((ev.details as { files: string[] }).files, [stored]);

  // The sender retries the same message: 250, and still one file.
  const retry = await dialog(second.port, body);
  const reply = await retry.final;
  await retry.c.cmd('QUIT');
  await retry.c.close();
  assert.match(reply ?? '', /^250 /);
  assert.deepEqual(listNew(newDir), files, 'the retry was not stored twice');
  tr = await second.trace(['--rcpt', RCPT]);
  const retried = tr.journeys.find((j) => j.ref !== ref && j.outcome === 'delivered')!;
  const delivered = retried.events.find((e) => e.kind === 'message.delivered')!;
  assert.equal((delivered.details as { already_delivered_in?: string }).already_delivered_in, ref);

  // A second retry after the 250 is a new message again (the memory was
  // cleared), and so is any other message.
  const other = await dialog(second.port, message('order-4712', 'Your order 4712 has shipped.'));
  assert.match((await other.final) ?? '', /^250 /);
  await other.c.cmd('QUIT');
  await other.c.close();
  assert.equal(listNew(newDir).length, 2);
  assert.deepEqual(fs.readdirSync(path.join(dataDir, 'run')).length, 1, 'only the running process is marked');
});
