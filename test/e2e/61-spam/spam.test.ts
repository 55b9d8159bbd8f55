// checks.spam against a real mailproof with real scanners: Debian's rspamd
// and SpamAssassin's spamd as throwaway instances on loopback. GTUBE is
// refused at DATA with the score and the limit (never the rule names); a
// clean message is delivered with X-Spam headers; rspamd down gives 451 and
// a ledger entry naming the component, and mail flows again when it is back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { requireTool } from '../../helpers/env.js';
import { startRspamd, type RspamdInstance } from '../../helpers/rspamd.js';
import { startSpamd, type SpamdInstance } from '../../helpers/spamd.js';
import { listNew, startServer, type Instance, NO_DNS_CHECKS } from '../../helpers/server.js';
import { sendMail } from '../../helpers/smtp-client.js';

const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

function message(subject: string, body: string[]): string {
  return [
    'From: Anna Schmidt <anna@sender.example>',
    'To: Bob <bob@demo.test>',
    `Subject: ${subject}`,
    `Message-ID: <${Date.now()}.${Math.random().toString(36).slice(2)}@sender.example>`,
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    ...body,
    '',
  ].join('\r\n');
}

const SPAM = message('Test', ['This is the GTUBE test string:', '', GTUBE, '']);
const CLEAN = message('Agenda for Thursday', [
  'Hi Bob,',
  '',
  'thank you for the notes from last week. For Thursday I would suggest we go',
  'through the open points of the migration plan first and then look at the',
  'budget for the second quarter. If you need the room for longer, tell me.',
  '',
  'Best regards,',
  'Anna',
]);

type Event = Awaited<ReturnType<Instance['trace']>>['journeys'][number]['events'][number];

function details(e: Event): Record<string, unknown> {
  const d = e.details;
  return (typeof d === 'string' ? JSON.parse(d) : d) as Record<string, unknown>;
}

function refOf(reply: string | null): string {
  const m = /\(ref ([A-Za-z0-9]+)/.exec(reply ?? '');
  assert.ok(m, `no ref in ${reply}`);
  return m[1]!;
}

async function checkResults(mp: Instance, ref: string): Promise<Event[]> {
  const { journeys } = await mp.trace(['--ref', ref]);
  return journeys.flatMap((j) => j.events).filter((e) => e.kind === 'check.result' && e.check_name === 'spam');
}

function serve(backend: 'rspamd' | 'spamd', address: string): Promise<Instance> {
  return startServer({ config: { checks: { allowlist: { networks: [] }, ...NO_DNS_CHECKS, rate: { mode: 'off' } }, scanners: { spam: { backend, address, timeout_ms: 15000 } } } });
}

const send = (mp: Instance, body: string, to = 'bob@demo.test') =>
  sendMail(mp.port, { from: 'anna@sender.example', to: [to], body, localAddress: '127.0.0.61', helo: 'mail.sender.example' });

test('checks.spam with real rspamd', { timeout: 20 * 60 * 1000 }, async (t) => {
  if (!requireTool(t, 'rspamd')) return;
  let rs: RspamdInstance | null = null;
  let mp: Instance | null = null;
  t.after(async () => { await mp?.stop(); await rs?.stop(); });
  rs = await startRspamd();
  t.diagnostic(`rspamd started in ${rs.startupMs} ms`);
  mp = await serve('rspamd', rs.url);
  const m = mp;

  await t.test('GTUBE: 550 5.7.1 with score and limit, no rule names', async () => {
    const r = await send(m, SPAM);
    assert.match(r.final ?? '', /^550 5\.7\.1 Message refused as spam: score \d+\.\d+ is at or over the limit 15\.0 \(ref [A-Za-z0-9]+\)/);
    assert.doesNotMatch(r.final ?? '', /GTUBE/);
    assert.deepEqual(listNew(m.newDir('bob@demo.test')), []);
    const [ev] = await checkResults(m, refOf(r.final));
    assert.ok(ev, 'check.result for spam');
    assert.equal(ev.verdict, 'reject');
    const evd = details(ev).evidence as Record<string, unknown>;
    assert.equal(evd.backend, 'rspamd');
    assert.equal(evd.action, 'reject');
    assert.equal(evd.threshold, 15);
    assert.ok((evd.score as number) >= 15);
    assert.ok((evd.symbols as string[]).some((s) => s.startsWith('GTUBE')), JSON.stringify(evd.symbols));
    assert.equal(typeof evd.raw, 'string');
  });

  await t.test('a clean message is delivered with X-Spam headers', async () => {
    const r = await send(m, CLEAN);
    assert.match(r.final ?? '', /^250 /, JSON.stringify(r.replies));
    const files = listNew(m.newDir('bob@demo.test'));
    assert.equal(files.length, 1);
    const text = fs.readFileSync(path.join(m.newDir('bob@demo.test'), files[0]!), 'utf8');
    const head = text.slice(0, text.indexOf('\r\n\r\n') >= 0 ? text.indexOf('\r\n\r\n') : text.indexOf('\n\n'));
    assert.match(head, /^X-Spam-Score: -?\d+\.\d+\r?$/m);
    assert.match(head, /^X-Spam-Status: No, score=-?\d+\.\d+ required=15\.0 scanner=rspamd\r?$/m);
    assert.doesNotMatch(head, /^X-Spam-Flag:/m);
  });

  await t.test('rspamd killed: 451, the ledger names rspamd; back: accepted', async () => {
    await rs!.kill();
    const r = await send(m, CLEAN);
    assert.match(r.final ?? '', /^451 4\.3\.0 /, JSON.stringify(r.replies));
    const [ev] = await checkResults(m, refOf(r.final));
    assert.ok(ev);
    assert.equal(ev.verdict, 'error');
    assert.equal(details(ev).component, 'rspamd');
    assert.match(String(details(ev).reason), /connect/);
    await rs!.start();
    const again = await send(m, CLEAN);
    assert.match(again.final ?? '', /^250 /, JSON.stringify(again.replies));
  });
});

test('checks.spam with real spamd (SpamAssassin)', { timeout: 10 * 60 * 1000 }, async (t) => {
  if (!requireTool(t, 'spamd')) return;
  let sd: SpamdInstance | null = null;
  let mp: Instance | null = null;
  t.after(async () => { await mp?.stop(); await sd?.stop(); });
  sd = await startSpamd();
  mp = await serve('spamd', `${sd.host}:${sd.port}`);
  const r = await send(mp, SPAM);
  assert.match(r.final ?? '', /^550 5\.7\.1 Message refused as spam: score \d+\.\d+ is at or over the limit 5\.0 \(ref /);
  const [ev] = await checkResults(mp, refOf(r.final));
  assert.equal((details(ev!).evidence as Record<string, unknown>).backend, 'spamd');
  const ok = await send(mp, CLEAN);
  assert.match(ok.final ?? '', /^250 /, JSON.stringify(ok.replies));
  const files = listNew(mp.newDir('bob@demo.test'));
  const text = fs.readFileSync(path.join(mp.newDir('bob@demo.test'), files[0]!), 'utf8');
  assert.match(text, /^X-Spam-Status: No, score=-?\d+\.\d+ required=5\.0 scanner=spamd\r?$/m);
});
