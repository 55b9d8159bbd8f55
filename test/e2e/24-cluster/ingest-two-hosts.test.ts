// Postfix logs of several hosts ingested into the cluster's PostgreSQL: a
// queue ID names a message only on its host and only until Postfix logs
// "removed". Here one queue ID is used by two hosts at the same moment
// (same smtpd pid as well), by a third host whose log carries the same host
// name as the first (told apart by --node), and again later on the first
// host, twice: every message stays its own journey with its own sender,
// recipient and outcome, read on either node. One of them is deferred at
// the end of the first ingest and delivered in the second: the parser's
// state kept in PostgreSQL joins the two halves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MX1, MX2, cli, startNode, type Node } from '../../helpers/cluster.js';
import { startPostgres } from '../../helpers/postgres.js';

const QID = '3F2C41E0A1';
const RCPT = 'alice@demo.test';

type Journey = { ref: string; node: string; source: string; outcome: string; diagnosis: string[]; mail_from: string | null; message_id: string | null; rcpt: string; reply: string | null; client_ip: string | null; events: { node: string; kind: string; mail_from?: string | null; message_id?: string | null }[] };

/** A syslog line with an RFC 3339 stamp (rsyslog's default file format). */
function line(ts: number, host: string, prog: string, pid: number, msg: string): string {
  return `${new Date(ts).toISOString().replace('Z', '+00:00')} ${host} postfix/${prog}[${pid}]: ${msg}`;
}

/** One message's lines from connect to the end of its first delivery attempt (and "removed" unless deferred). */
function message(o: {
  t: number; host: string; qid: string; pid: number; client: string; ip: string; from: string; mid: string; size: number;
  to: string; result: 'sent' | 'bounced' | 'deferred'; reply: string; dsn: string; removed?: boolean;
}): string[] {
  const L = (dt: number, prog: string, pid: number, msg: string): string => line(o.t + dt, o.host, prog, pid, msg);
  const out = [
    L(0, 'smtpd', o.pid, `connect from ${o.client}[${o.ip}]`),
    L(100, 'smtpd', o.pid, `${o.qid}: client=${o.client}[${o.ip}]`),
    L(300, 'cleanup', o.pid + 1, `${o.qid}: message-id=<${o.mid}>`),
    L(310, 'qmgr', 900, `${o.qid}: from=<${o.from}>, size=${o.size}, nrcpt=1 (queue active)`),
    L(320, 'smtpd', o.pid, `disconnect from ${o.client}[${o.ip}] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5`),
    L(900, 'smtp', o.pid + 2, `${o.qid}: to=<${o.to}>, relay=store.demo.test[10.0.0.5]:25, delay=0.9, delays=0.3/0.01/0.3/0.3, dsn=${o.dsn}, status=${o.result} (${o.reply})`),
  ];
  if (o.result === 'bounced') out.push(L(910, 'bounce', o.pid + 3, `${o.qid}: sender non-delivery notification: ${o.qid.slice(0, 5)}B0B0E`));
  if (o.result !== 'deferred' && o.removed !== false) out.push(L(920, 'qmgr', 900, `${o.qid}: removed`));
  return out;
}

/** Lines of several sources merged in time order, as one syslog file has them. */
const merged = (...parts: string[][]): string => parts.flat().sort((a, b) => a.slice(0, 32).localeCompare(b.slice(0, 32))).join('\n') + '\n';

test('ingest of Postfix logs from several hosts: queue IDs reused across hosts and later on one host never merge messages', { timeout: 120_000 }, async (t) => {
  const pg = await startPostgres(t);
  if (!pg) return;
  const mx1 = await startNode(t, pg, { name: 'mx1', host: MX1 });
  const mx2 = await startNode(t, pg, { name: 'mx2', host: MX2 });
  const logs = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-ingest-hosts-'));
  t.after(() => fs.rmSync(logs, { recursive: true, force: true }));

  // Stamps from three hours ago on (within trace's default week), whole seconds.
  const T = Math.floor((Date.now() - 3 * 3600_000) / 1000) * 1000;
  const ok = '250 2.0.0 Ok: queued as 4XyZ';
  // mxa and mxb: the same queue ID, the same smtpd pid, the same second.
  const a = message({ t: T, host: 'mxa', qid: QID, pid: 1001, client: 'mail.anna.test', ip: '192.0.2.10', from: 'anna@anna.test', mid: 'a1@anna.test', size: 1200, to: RCPT, result: 'sent', dsn: '2.0.0', reply: ok });
  const b = message({
    t: T, host: 'mxb', qid: QID, pid: 1001, client: 'mail.bert.test', ip: '198.51.100.20', from: 'bert@bert.test', mid: 'b1@bert.test', size: 900, to: RCPT,
    result: 'bounced', dsn: '5.2.1', reply: `host store.demo.test[10.0.0.5] said: 550 5.2.1 <${RCPT}>: mailbox disabled (in reply to RCPT TO command)`,
  });
  // The bounce is a message of its own on mxb, to the sender.
  const bounceId = `${QID.slice(0, 5)}B0B0E`;
  const bounce = [
    line(T + 950, 'mxb', 'cleanup', 1005, `${bounceId}: message-id=<bounce-b1@mxb.test>`),
    line(T + 960, 'mxb', 'qmgr', 900, `${bounceId}: from=<>, size=2400, nrcpt=1 (queue active)`),
    line(T + 1500, 'mxb', 'smtp', 1006, `${bounceId}: to=<bert@bert.test>, relay=mail.bert.test[198.51.100.20]:25, delay=0.6, delays=0/0/0.3/0.3, dsn=2.0.0, status=sent (250 ok)`),
    line(T + 1510, 'mxb', 'qmgr', 900, `${bounceId}: removed`),
  ];
  // Ten minutes later mxa uses the queue ID again: deferred at the end of the first ingest...
  const c = message({
    t: T + 600_000, host: 'mxa', qid: QID, pid: 1101, client: 'mail.carl.test', ip: '203.0.113.30', from: 'carl@carl.test', mid: 'c1@carl.test', size: 700, to: RCPT,
    result: 'deferred', dsn: '4.2.0', reply: `host store.demo.test[10.0.0.5] said: 450 4.2.0 <${RCPT}>: try again later (in reply to RCPT TO command)`,
  });
  const hostsLog = path.join(logs, 'mxa-mxb.log');
  fs.writeFileSync(hostsLog, merged(a, b, bounce, c));

  // A third host that calls itself "mxa" in its log as well (a cloned image): --node tells it apart.
  const e = message({ t: T, host: 'mxa', qid: QID, pid: 1001, client: 'mail.emma.test', ip: '192.0.2.50', from: 'emma@emma.test', mid: 'e1@emma.test', size: 1500, to: RCPT, result: 'sent', dsn: '2.0.0', reply: ok });
  const thirdLog = path.join(logs, 'mxc.log');
  fs.writeFileSync(thirdLog, merged(e));

  const ingest = async (n: Node, args: string[]): Promise<{ events: number; unknown_total: number }> => {
    const r = await cli(n, ['ingest', 'postfix', ...args, '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { events: number; unknown_total: number };
  };
  assert.equal((await ingest(mx1, [hostsLog])).unknown_total, 0);
  assert.equal((await ingest(mx2, [thirdLog, '--node', 'mxc'])).unknown_total, 0);

  // ...then, in the lines that come later: c retried and delivered, the
  // queue ID free again, and used once more on mxa for d.
  const cLater = [
    line(T + 1_200_000, 'mxa', 'qmgr', 900, `${QID}: from=<carl@carl.test>, size=700, nrcpt=1 (queue active)`),
    line(T + 1_200_500, 'mxa', 'smtp', 1202, `${QID}: to=<${RCPT}>, relay=store.demo.test[10.0.0.5]:25, delay=600, delays=599/0.01/0.3/0.3, dsn=2.0.0, status=sent (${ok})`),
    line(T + 1_200_510, 'mxa', 'qmgr', 900, `${QID}: removed`),
  ];
  const d = message({
    t: T + 1_800_000, host: 'mxa', qid: QID, pid: 1301, client: 'mail.dora.test', ip: '203.0.113.40', from: 'dora@dora.test', mid: 'd1@dora.test', size: 800, to: RCPT,
    result: 'bounced', dsn: '5.1.1', reply: `host store.demo.test[10.0.0.5] said: 550 5.1.1 <${RCPT}>: User unknown (in reply to RCPT TO command)`,
  });
  fs.appendFileSync(hostsLog, merged(cLater, d));
  const second = await ingest(mx1, [hostsLog]);
  assert.equal(second.unknown_total, 0);
  assert.ok(second.events > 0 && second.events < 20, `only the new lines: ${second.events} events`);

  const want = [
    // node, sender, Message-ID, outcome, diagnosis, reply
    ['mxa', 'anna@anna.test', 'a1@anna.test', 'delivered', ['delivered'], ok],
    ['mxb', 'bert@bert.test', 'b1@bert.test', 'rejected', [], '550 5.2.1'],
    ['mxc', 'emma@emma.test', 'e1@emma.test', 'delivered', ['delivered'], ok],
    ['mxa', 'carl@carl.test', 'c1@carl.test', 'delivered', ['delivered', 'tempfail_retried'], ok],
    ['mxa', 'dora@dora.test', 'd1@dora.test', 'rejected', ['unknown_recipient'], '550 5.1.1'],
  ] as const;
  for (const n of [mx1, mx2]) {
    const { journeys } = (await n.trace(['--rcpt', RCPT])) as unknown as { journeys: Journey[] };
    const shown = JSON.stringify(journeys.map((j) => [j.ref, j.node, j.mail_from, j.message_id, j.outcome, j.diagnosis, j.events.map((x) => [x.node, x.kind])]), null, 1);
    assert.equal(journeys.length, want.length, `on ${n.name}: ${shown}`);
    assert.equal(new Set(journeys.map((j) => j.ref)).size, want.length, `a REF each: ${shown}`);
    for (const [node, from, mid, outcome, diagnosis, reply] of want) {
      const mine = journeys.filter((j) => j.mail_from === from);
      assert.equal(mine.length, 1, `${from} on ${n.name}: ${shown}`);
      const j = mine[0]!;
      assert.equal(j.source, 'postfix');
      assert.equal(j.node, node, shown);
      assert.equal(j.rcpt, RCPT);
      assert.equal(j.message_id, mid, shown);
      assert.equal(j.outcome, outcome, shown);
      assert.deepEqual(j.diagnosis, diagnosis, shown);
      assert.ok(j.reply?.includes(reply), `${from}: ${j.reply}`);
      assert.ok(j.ref.includes(QID), j.ref);
      // None of another message's events: every one is of this node and this message.
      for (const x of j.events) {
        assert.equal(x.node, node, `${from}: ${JSON.stringify(x)}`);
        if (x.mail_from) assert.equal(x.mail_from, from, `${from}: ${JSON.stringify(x)}`);
        if (x.message_id) assert.equal(x.message_id, mid, `${from}: ${JSON.stringify(x)}`);
      }
    }
    // c: the deferral (first ingest) and the delivery (second ingest) in one journey.
    const cj = journeys.find((j) => j.mail_from === 'carl@carl.test')!;
    assert.deepEqual(cj.events.filter((x) => x.kind.startsWith('message.')).map((x) => x.kind), ['message.queued', 'message.delivery_failed', 'message.delivered'], shown);
  }
  // The bounce notification is its own message, to its own recipient.
  const bj = (await mx2.trace(['--rcpt', 'bert@bert.test'])) as unknown as { journeys: Journey[] };
  assert.deepEqual(bj.journeys.map((j) => [j.node, j.mail_from, j.outcome]), [['mxb', '', 'delivered']]);
});
