// Limits a patient attacker would probe: many IPv6 addresses of one /64 (all
// of them one end site's), a client that trickles bytes so the idle timeout
// never fires, and one that chats without ever sending a message. The IPv6
// clients are presented through the PROXY protocol from a trusted peer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NO_DNS_CHECKS, startServer, type Instance } from '../../helpers/server.js';
import { RawSmtp } from '../../helpers/smtp-client.js';
import { eventsOf, eventually, type EventRow } from '../../helpers/ledger.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function limitEvents(inst: Instance, kind: string): Promise<EventRow[]> {
  return eventsOf(inst, 'kind = ?', kind);
}

async function viaProxy(port: number, client: string): Promise<{ c: RawSmtp; greeting: string | null }> {
  const c = await RawSmtp.connect(port);
  c.write(`PROXY TCP6 ${client} ::1 40000 25\r\n`);
  return { c, greeting: await c.reply() };
}

const proxyConfig = (prefix?: number): Record<string, unknown> => ({
  smtp: { proxy_protocol: true, trusted_networks: ['127.0.0.1'], max_connections_per_ip: 2, ...(prefix ? { ipv6_prefix: prefix } : {}) },
  checks: { allowlist: { networks: [] }, ...NO_DNS_CHECKS },
});

test('IPv6 clients share the per-IP connection limit per /64', async (t) => {
  const mp = await startServer({ config: proxyConfig() });
  const open: RawSmtp[] = [];
  t.after(async () => { for (const c of open) await c.close(); await mp.stop(); });

  for (const a of ['2001:db8:1:1::1', '2001:db8:1:1::2']) {
    const { c, greeting } = await viaProxy(mp.port, a);
    open.push(c);
    assert.match(greeting ?? '', /^220 /, a);
  }
  // A third address of the same /64: one end site, over its limit.
  const third = await viaProxy(mp.port, '2001:db8:1:1:ffff:1234:5678:9abc');
  open.push(third.c);
  assert.match(third.greeting ?? '', /^421 4\.7\.0 Too many connections from your address/);
  // Another /64 is another client.
  const other = await viaProxy(mp.port, '2001:db8:1:2::1');
  open.push(other.c);
  assert.match(other.greeting ?? '', /^220 /);
  const refused = await eventually(() => limitEvents(mp, 'session.refused'));
  assert.equal(refused.length, 1);
  assert.equal(refused[0]!.client_ip, '2001:db8:1:1:ffff:1234:5678:9abc');

  // Closing one of the /64's connections frees a slot for any address in it.
  await open[0]!.close();
  let again: string | null = null;
  for (let i = 0; i < 30 && !again?.startsWith('220'); i++) {
    const x = await viaProxy(mp.port, '2001:db8:1:1::77');
    open.push(x.c);
    again = x.greeting;
    if (!again?.startsWith('220')) await sleep(100);
  }
  assert.match(again ?? '', /^220 /);
});

test('smtp.ipv6_prefix=128 counts each IPv6 address apart', async (t) => {
  const mp = await startServer({ config: proxyConfig(128) });
  const open: RawSmtp[] = [];
  t.after(async () => { for (const c of open) await c.close(); await mp.stop(); });
  for (const a of ['2001:db8:1:1::1', '2001:db8:1:1::2', '2001:db8:1:1::3']) {
    const { c, greeting } = await viaProxy(mp.port, a);
    open.push(c);
    assert.match(greeting ?? '', /^220 /, a);
  }
});

test('a client that trickles a command line is cut at command_timeout_s, although bytes keep coming', { timeout: 60_000 }, async (t) => {
  const mp = await startServer({ config: { smtp: { command_timeout_s: 2, idle_timeout_s: 300 } } });
  t.after(async () => { await mp.stop(); });
  const c = await RawSmtp.connect(mp.port);
  t.after(() => c.close());
  assert.match((await c.reply())!, /^220 /);
  // One byte every 250 ms: "EHLO slow.example" would take 4.25 s.
  let stop = false;
  void (async () => {
    for (const ch of 'EHLO slow.example\r\n') {
      if (stop || c.closed) return;
      c.write(ch);
      await sleep(250);
    }
  })();
  const r = await c.reply(15000);
  stop = true;
  assert.match(r ?? '', /^421 4\.4\.2 Command line took too long to arrive; closing \(ref [A-Z0-9]+\)/);
  const ev = await eventually(() => limitEvents(mp, 'session.limit'));
  assert.equal(JSON.parse(ev[0]!.details).limit, 'command_time');
});

test('a client that chats without sending a message is cut at time_to_data_s; a message restarts the clock', { timeout: 60_000 }, async (t) => {
  const mp = await startServer({ config: { smtp: { time_to_data_s: 4, idle_timeout_s: 300 } } });
  t.after(async () => { await mp.stop(); });

  // NOOP every half second: never idle, never a message.
  const chatty = await RawSmtp.connect(mp.port);
  t.after(() => chatty.close());
  assert.match((await chatty.reply())!, /^220 /);
  let last: string | null = null;
  for (let i = 0; i < 30; i++) {
    last = await chatty.cmd('NOOP');
    if (!last?.startsWith('250')) break;
    await sleep(500);
  }
  assert.match(last ?? '', /^421 4\.4\.2 Too long without sending a message/);

  // A message after 2.5 s (before the deadline), then another 3 s later:
  // 5.5 s after the connection, but only 3 s after the first message ended.
  const c = await RawSmtp.connect(mp.port);
  t.after(() => c.close());
  assert.match((await c.reply())!, /^220 /);
  await c.cmd('EHLO patient.example');
  await sleep(2500);
  const send = async (): Promise<string | null> => {
    assert.match((await c.cmd('MAIL FROM:<a@patient.example>'))!, /^250/);
    assert.match((await c.cmd('RCPT TO:<demo@demo.test>'))!, /^250/);
    assert.match((await c.cmd('DATA'))!, /^354/);
    return c.cmd('Subject: x\r\n\r\nbody\r\n.');
  };
  assert.match((await send())!, /^250 /);
  await sleep(3000);
  assert.match((await send())!, /^250 /, 'the clock restarted with the first message');
  const ev = await eventually(() => limitEvents(mp, 'session.limit'));
  assert.deepEqual(ev.map((e) => JSON.parse(e.details).limit), ['time_to_data']);
});
