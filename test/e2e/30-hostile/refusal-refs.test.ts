// Every reply that carries a REF has its event in the ledger: a sender's
// administrator quotes the REF, and support must find it. Refusals at connect,
// session limits and the gateway's own refusals record their event before the
// reply goes out, so the ledger has it the moment the client reads the REF.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, type Instance } from '../../helpers/server.js';
import { RawSmtp } from '../../helpers/smtp-client.js';
import { journalEvents } from '../../helpers/ledger.js';

function refOf(reply: string | null): string {
  const m = /\(ref ([0-9A-Z]{12})\b/.exec(reply ?? '');
  assert.ok(m, `a REF in ${JSON.stringify(reply)}`);
  return m[1]!;
}

/** The events of this REF that carry a reply, read from the journal at once (no waiting: recorded before the reply). */
function withRef(dataDir: string, ref: string): { kind: string; reply: string }[] {
  return journalEvents(dataDir).filter((e) => e.ref === ref && e.reply != null).map((e) => ({ kind: e.kind, reply: e.reply! }));
}

test('each refusal with a REF is in the ledger when the client reads it', { timeout: 120_000 }, async (t) => {
  let srv: Instance | null = null;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-test-'));
  try {
    srv = await startServer({ dataDir, config: { smtp: { greeting_delay_ms: 300, max_connections_per_ip: 1, max_commands: 10 } } });
    const port = srv.port;

    await t.test('early talker: 421 4.7.0', async () => {
      const c = await RawSmtp.connect(port);
      c.write('EHLO early.example.org\r\n');
      const r = await c.reply(5000);
      assert.match(r ?? '', /^421 4\.7\.0 /);
      assert.deepEqual(withRef(dataDir, refOf(r)).map((e) => e.kind), ['session.limit']);
      await c.close();
    });

    await t.test('connection limit per address: 421 4.7.0', async () => {
      const first = await RawSmtp.connect(port);
      assert.match((await first.reply(5000)) ?? '', /^220 /);
      const second = await RawSmtp.connect(port);
      const r = await second.reply(5000);
      assert.match(r ?? '', /^421 4\.7\.0 Too many connections from your address/);
      assert.deepEqual(withRef(dataDir, refOf(r)).map((e) => e.kind), ['session.refused']);
      await second.close();
      await first.cmd('QUIT').catch(() => null);
      await first.close();
      // The slot is released when the server sees the close.
      await new Promise((res) => setTimeout(res, 300));
    });

    await t.test('commands per session: 421 4.7.0 after the limit', async () => {
      const c = await RawSmtp.connect(port);
      assert.match((await c.reply(5000)) ?? '', /^220 /);
      let r: string | null = null;
      for (let i = 0; i < 12 && !(r ?? '').startsWith('421'); i++) r = await c.cmd('NOOP');
      assert.match(r ?? '', /^421 4\.7\.0 Too many commands/);
      assert.deepEqual(withRef(dataDir, refOf(r)).map((e) => e.kind), ['session.limit']);
      await c.close();
      await new Promise((res) => setTimeout(res, 300));
    });

    await t.test('a refused recipient: 550 with the REF of the transaction', async () => {
      const c = await RawSmtp.connect(port);
      assert.match((await c.reply(5000)) ?? '', /^220 /);
      await c.cmd('EHLO client.example.org');
      assert.match((await c.cmd('MAIL FROM:<a@example.org>')) ?? '', /^250 /);
      const r = await c.cmd('RCPT TO:<nobody@demo.test>');
      assert.match(r ?? '', /^550 5\.1\.1 /);
      assert.ok(withRef(dataDir, refOf(r)).some((e) => e.kind === 'rcpt.rejected'));
      await c.cmd('QUIT').catch(() => null);
      await c.close();
      await new Promise((res) => setTimeout(res, 300));
    });

    await t.test('a command smtp-server refuses itself: its REF reaches the ledger with the next commit', async () => {
      const c = await RawSmtp.connect(port);
      assert.match((await c.reply(5000)) ?? '', /^220 /);
      const r = await c.cmd('RCPT TO:<x@demo.test>');
      assert.match(r ?? '', /^503 /);
      const ref = refOf(r);
      // Written synchronously by smtp-server (see gateway.ts onProtocolReply):
      // handed to the writer before the reply, durable in the same commit as
      // what follows; a QUIT's answer waits for nothing, so poll briefly.
      await c.cmd('QUIT').catch(() => null);
      await c.close();
      const deadline = Date.now() + 5000;
      while (withRef(dataDir, ref).length === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
      assert.deepEqual(withRef(dataDir, ref).map((e) => e.kind), ['session.protocol_error']);
    });
  } finally {
    await srv?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
