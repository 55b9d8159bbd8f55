// Delivered on one node, fetched on another: mx1 takes a message over SMTP
// and stores it in the Maildir; mx2 serves POP3 on the same Maildir (a
// shared mailbox store: both nodes' delivery.maildir_root is one
// directory), and a real POP3 client (Python's poplib) fetches and deletes
// it there. The delivery is in mx1's journal, the fetch in mx2's; research
// on either node joins them through PostgreSQL into one journey:
// fetched_and_deleted, the mailbox events carrying node mx2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireTool } from '../../helpers/env.js';
import { listStreams } from '../../../src/ledger/journal/index.js';
import { MX1, MX2, startNode, waitCaughtUp, type Node } from '../../helpers/cluster.js';
import { startPostgres } from '../../helpers/postgres.js';
import { BIN, freePort, listNew } from '../../helpers/server.js';
import { sendMail } from '../../helpers/smtp-client.js';

const BOX = 'alice@demo.test';
const PW = 'shared mailbox, other node';
const REF = /\(ref ([0-9A-HJKMNP-TV-Z]{12})\)$/;

type Journey = { ref: string; node: string; outcome: string; diagnosis: string[]; message_id: string | null; access: { kind: string; client_ip: string | null }[]; events: { kind: string; node: string; source: string }[] };

// One poplib session from a given client address; each step's reply (or
// the -ERR poplib raised) as JSON.
const POPLIB = String.raw`
import json, poplib, socket, sys
a = json.loads(sys.argv[1])
class POP3From(poplib.POP3):
    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, (a['src'], 0))
c = POP3From(a['host'], a['port'], timeout=20)
out = []
for step in a['steps']:
    op, args = step[0], step[1:]
    try:
        r = getattr(c, 'pass_' if op == 'pass' else op)(*args)
        if isinstance(r, tuple) and len(r) == 3: r = [x.decode('latin-1') if isinstance(x, bytes) else x for x in r[1]]
        elif isinstance(r, tuple): r = list(r)
        elif isinstance(r, bytes): r = r.decode('latin-1')
        out.append({'op': op, 'ok': r})
    except poplib.error_proto as e:
        out.append({'op': op, 'err': e.args[0].decode('latin-1')})
print(json.dumps(out))
`;

type PopStep = { op: string; ok?: unknown; err?: string };

function poplib(host: string, port: number, src: string, steps: (string | number)[][]): Promise<PopStep[]> {
  return new Promise((resolve, reject) => {
    const p = spawn('python3', ['-c', POPLIB, JSON.stringify({ host, port, src, steps })]);
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as PopStep[]) : reject(new Error(`python3 exited ${code}: ${err}`))));
  });
}

function setPassword(n: Node, addr: string, pw: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, 'mailbox', 'set-password', addr, '--config', n.cfgFile]);
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('close', (code) => resolve({ code, out }));
    p.stdin.end(`${pw}\n`);
  });
}

test('a message delivered on mx1 is fetched and deleted over POP3 on mx2: one journey, fetched_and_deleted, on either node', { timeout: 120_000 }, async (t) => {
  if (!requireTool(t, 'python3')) return;
  const pg = await startPostgres(t);
  if (!pg) return;
  const maildir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-shared-maildir-'));
  t.after(() => fs.rmSync(maildir, { recursive: true, force: true }));
  const delivery = { maildir_root: maildir };
  const popPort = await freePort(MX2);
  const mx1 = await startNode(t, pg, { name: 'mx1', host: MX1, config: { delivery } });
  const mx2 = await startNode(t, pg, { name: 'mx2', host: MX2, config: { delivery, pop3: { listen: [`${MX2}:${popPort}`], allow_plaintext_auth: true } } });
  assert.match(mx2.output(), new RegExp(`POP3 on ${MX2.replace(/\./g, '\\.')}:${popPort}`));
  const set = await setPassword(mx2, BOX, PW);
  assert.equal(set.code, 0, set.out);

  const sent = await sendMail(mx1.port, {
    host: MX1, from: 'billing@vendor.test', to: [BOX],
    body: 'From: billing@vendor.test\r\nTo: alice@demo.test\r\nSubject: invoice 2211\r\nMessage-ID: <invoice-2211@vendor.test>\r\n\r\nYour invoice.\r\n',
  });
  assert.match(sent.final ?? '', /^250 /, JSON.stringify(sent.replies));
  const ref = REF.exec(sent.final!)![1]!;
  const newDir = path.join(maildir, 'demo.test', 'alice', 'new');
  assert.equal(listNew(newDir).length, 1, 'in the shared Maildir');

  // The mailbox's user, from a PC of their own (127.0.0.77), on mx2.
  const r = await poplib(MX2, popPort, '127.0.0.77', [['user', BOX], ['pass', PW], ['stat'], ['retr', 1], ['dele', 1], ['quit']]);
  assert.ok(r.every((x) => x.ok !== undefined), JSON.stringify(r));
  assert.deepEqual((r[2]!.ok as number[])[0], 1, 'mx2 sees the message mx1 stored');
  assert.ok((r[3]!.ok as string[]).includes('Subject: invoice 2211'), JSON.stringify(r[3]));
  assert.deepEqual(listNew(newDir), [], 'deleted at QUIT');
  assert.deepEqual(fs.readdirSync(path.join(maildir, 'demo.test', 'alice', 'cur')), []);

  // mx2's shipper takes its POP3 events in within its poll; the question on mx1 comes after.
  await waitCaughtUp(pg, [mx1.dataDir, mx2.dataDir], 20_000);
  for (const n of [mx1, mx2]) {
    const out = (await n.trace(['--rcpt', BOX, '--message-id', 'invoice-2211@vendor.test'])) as unknown as { journeys: Journey[]; store_behind?: unknown };
    const { journeys } = out;
    assert.equal(out.store_behind, undefined, `on ${n.name}: the store has every node's events`);
    const shown = JSON.stringify(journeys.map((j) => [j.ref, j.node, j.outcome, j.diagnosis, j.events.map((e) => [e.node, e.kind])]));
    assert.equal(journeys.length, 1, `on ${n.name}: one journey: ${shown}`);
    const j = journeys[0]!;
    assert.equal(j.ref, ref);
    assert.equal(j.node, 'mx1', 'the transaction was mx1\'s');
    assert.equal(j.outcome, 'delivered');
    assert.deepEqual(j.diagnosis, ['fetched_and_deleted', 'delivered'], shown);
    assert.deepEqual(j.access.map((a) => [a.kind, a.client_ip]), [['pop3.retr', '127.0.0.77'], ['pop3.dele', '127.0.0.77']], shown);
    const pop3 = j.events.filter((e) => e.kind.startsWith('pop3.'));
    assert.deepEqual(pop3.map((e) => e.kind), ['pop3.login', 'pop3.retr', 'pop3.dele', 'pop3.logout'], shown);
    assert.ok(pop3.every((e) => e.node === 'mx2' && e.source === 'pop3'), shown);
    assert.ok(j.events.filter((e) => e.source === 'gateway').every((e) => e.node === 'mx1'), shown);
    assert.ok(j.events.some((e) => e.kind === 'message.delivered' && e.node === 'mx1'), shown);
  }
  // Each fact came from the journal of the node where it happened.
  const streams = (n: Node): string[] => listStreams(path.join(n.dataDir, 'journal')).map((s) => `${s.node}/${s.stream}`).sort();
  assert.ok(!streams(mx1).some((s) => s.endsWith('/pop3')), streams(mx1).join(' '));
  assert.ok(streams(mx2).includes('mx2/pop3'), streams(mx2).join(' '));

  // A second message, delivered after that POP3 session and not fetched:
  // our POP3 reads this Maildir (on mx2), so "not fetched" is known,
  // whichever node is asked: mx1 has no POP3 listener of its own, and
  // research learns from the store that a node of the cluster has one.
  await t.test('a message not fetched: both nodes say delivered_not_fetched', async () => {
    const sent2 = await sendMail(mx1.port, {
      host: MX1, from: 'billing@vendor.test', to: [BOX],
      body: 'From: billing@vendor.test\r\nTo: alice@demo.test\r\nSubject: invoice 2212\r\nMessage-ID: <invoice-2212@vendor.test>\r\n\r\nYour next invoice.\r\n',
    });
    assert.match(sent2.final ?? '', /^250 /, JSON.stringify(sent2.replies));
    await waitCaughtUp(pg, [mx1.dataDir, mx2.dataDir], 20_000);
    const said: Record<string, unknown> = {};
    for (const n of [mx2, mx1]) {
      const { journeys } = (await n.trace(['--rcpt', BOX, '--message-id', 'invoice-2212@vendor.test'])) as unknown as { journeys: Journey[] };
      said[n.name] = journeys.map((j) => [j.outcome, j.diagnosis]);
    }
    assert.deepEqual(said, { mx2: [['delivered', ['delivered_not_fetched', 'delivered']]], mx1: [['delivered', ['delivered_not_fetched', 'delivered']]] });
  });
});
