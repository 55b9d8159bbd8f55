// The crash window between the rename into new/ and the ledger commit. The
// test holds the ledger's write lock, so the delivery waits for its commit
// after the message is already in new/; then the server is killed with
// SIGKILL. After a restart the file has its record (message.recovered, no
// "incomplete" journey), and the sender's retry of the same message is
// answered 250 without a second copy; another message is stored as usual.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
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

test('kill -9 between the rename into new/ and the ledger commit: recorded at restart, the retry is not stored twice', { timeout: 180_000 }, async (t) => {
  const first = await startServer();
  const dataDir = first.dataDir;
  const newDir = first.newDir(RCPT);
  t.after(async () => { await first.kill9(); });

  // Hold the ledger's write lock: the delivery's commit has to wait.
  const lock = new Database(path.join(dataDir, 'ledger.sqlite'));
  lock.pragma('busy_timeout = 5000');
  lock.exec('BEGIN IMMEDIATE');
  const body = message('order-4711', 'Your order 4711 has shipped.');
  const { c, final } = await dialog(first.port, body);
  let files: string[] = [];
  for (let i = 0; i < 400 && files.length === 0; i++) {
    files = listNew(newDir);
    if (!files.length) await sleep(10);
  }
  assert.equal(files.length, 1, 'the message reached new/ while its commit waited');
  await first.kill9();
  assert.equal(await final, null, 'the client never got a reply');
  await c.close();
  lock.exec('ROLLBACK');
  lock.close();
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
