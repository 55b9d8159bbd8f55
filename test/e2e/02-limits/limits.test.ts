// Every limit, when hit, gives the right SMTP code and a ledger event.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type Instance } from '../../helpers/server.js';
import { RawSmtp } from '../../helpers/smtp-client.js';
import { eventsOf, eventually, type EventRow } from '../../helpers/ledger.js';

let mp: Instance;
/** A second instance whose only tight limit is the idle timeout. */
let idle: Instance;

before(async () => {
  mp = await startServer({
    config: { smtp: { max_commands: 12, idle_timeout_s: 60, session_timeout_s: 3, max_connections_per_ip: 3, max_connections: 6 } },
  });
  idle = await startServer({ config: { smtp: { idle_timeout_s: 1 } } });
});
after(async () => { await mp.stop(); await idle.stop(); });

function events(where: string, ...args: unknown[]): Promise<EventRow[]> {
  return eventsOf(mp, where, ...args);
}

async function greeted(localAddress: string, inst: Instance = mp): Promise<RawSmtp> {
  const c = await RawSmtp.connect(inst.port, { localAddress });
  const g = await c.reply();
  assert.match(g ?? '', /^220 /);
  return c;
}

test('too many commands in one session: 421 4.7.0 and a session.limit event', async () => {
  const c = await greeted('127.0.0.21');
  try {
    for (let i = 0; i < 12; i++) assert.match((await c.cmd('NOOP'))!, /^250/);
    assert.match((await c.cmd('NOOP'))!, /^421 4\.7\.0 Too many commands in one session; closing \(ref [0-9A-Z]{12}\)$/);
    assert.equal(await c.reply(2000), null, 'connection closed');
  } finally { await c.close(); }
  const ev = await eventually(() => events("kind = 'session.limit' AND client_ip = ?", '127.0.0.21'));
  assert.equal(ev.length, 1);
  assert.equal(JSON.parse(ev[0]!.details).limit, 'commands');
  assert.equal(ev[0]!.smtp_code, 421);
});

test('an idle client is cut with 421 4.4.2 after idle_timeout_s', async () => {
  const c = await greeted('127.0.0.22', idle);
  try {
    assert.match((await c.reply(10000)) ?? '', /^421 4\.4\.2 Idle timeout; closing \(ref /);
  } finally { await c.close(); }
  assert.equal(JSON.parse((await eventually(() => eventsOf(idle, "kind = 'session.limit' AND client_ip = ?", '127.0.0.22')))[0]!.details).limit, 'idle');
});

test('a session that keeps talking is still cut at session_timeout_s', async () => {
  const c = await greeted('127.0.0.23');
  let last: string | null = null;
  try {
    // Talking keeps the idle timer quiet; the session timer is not reset by it.
    for (let i = 0; i < 100 && !c.closed; i++) {
      last = await c.cmd('RSET');
      if (!last?.startsWith('250')) break;
      await new Promise((r) => setTimeout(r, 600)); // stays under max_commands (12) within 3 s
    }
    // The 421 may have come in while we slept: it is then waiting, unread.
    if (last?.startsWith('250')) last = (await c.reply(2000)) ?? last;
  } finally { await c.close(); }
  assert.match(last ?? '', /^421 4\.4\.2 Session time limit reached; closing/);
  assert.equal(JSON.parse((await eventually(() => events("kind = 'session.limit' AND client_ip = ?", '127.0.0.23')))[0]!.details).limit, 'session_time');
});

/**
 * Until the server has handled every client's close (it counts a slot free a
 * moment after the client hung up; longer on a loaded machine): every
 * session.connect has its session.close.
 */
async function allClosed(): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const open = (await events("kind = 'session.connect'")).length - (await events("kind = 'session.close'")).length;
    if (open <= 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('connections per client IP and in all are limited, with 421 4.7.0 and a session.refused event', async () => {
  // Earlier tests' sessions must be gone from the server's counts.
  await allClosed();
  const open: RawSmtp[] = [];
  try {
    for (let i = 0; i < 3; i++) open.push(await greeted('127.0.0.24'));
    const fourth = await RawSmtp.connect(mp.port, { localAddress: '127.0.0.24' });
    assert.match((await fourth.reply()) ?? '', /^421 4\.7\.0 Too many connections from your address; please try again later \(ref /);
    await fourth.close();
    // Another address still gets in, until the total is reached.
    for (let i = 0; i < 3; i++) open.push(await greeted(`127.0.0.${30 + i}`));
    const seventh = await RawSmtp.connect(mp.port, { localAddress: '127.0.0.40' });
    assert.match((await seventh.reply()) ?? '', /^421 4\.7\.0 Too many connections; please try again later/);
    await seventh.close();
  } finally {
    await Promise.all(open.map((c) => c.cmd('QUIT').then(() => c.close())));
  }
  const refused = await events("kind = 'session.refused' AND client_ip IN ('127.0.0.24', '127.0.0.40')");
  assert.deepEqual(refused.map((e) => JSON.parse(e.details).reason), ['connection limit per IP', 'connection limit']);
  // Slots are given back: the same address gets in again.
  await allClosed();
  const again = await greeted('127.0.0.24');
  await again.close();
});
