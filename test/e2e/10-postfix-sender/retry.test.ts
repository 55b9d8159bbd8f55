// A retry is the same message. A real Postfix is deferred by our
// greylisting: one instance gives up at once (maximal_queue_lifetime 0:
// "status=expired") and later sends a different message from the same sender
// to the same recipient, which is delivered; another instance retries the
// same message until it gets in. `trace --json` must tell the two apart: the
// first 451 stays tempfail_not_retried (pending while the window is open),
// the second is tempfail_retried. research.retry_window_s makes the window
// seconds instead of hours.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { requireTool } from '../../helpers/env.js';
import { pollUntil, startPostfix } from '../../helpers/postfix.js';
import { NO_DNS_CHECKS, startServer } from '../../helpers/server.js';

type Journey = { ref: string; outcome: string; diagnosis: string[]; mail_from: string | null; started_at: string; retry_by?: string; explanations: { code: string; what: string }[] };

const GREYLIST_S = 3;
const WINDOW_S = 12;

function message(id: string, from: string, body: string): string {
  return `From: ${from}\r\nTo: alice@demo.test\r\nSubject: order ${id}\r\nMessage-ID: <${id}>\r\n\r\n${body}\r\n`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('Postfix gave up (status=expired) and sent another message later: not a retry; the same message retried is one', { timeout: 180000 }, async (t) => {
  if (!requireTool(t, 'postfix')) return;
  const mp = await startServer({ config: { checks: { ...NO_DNS_CHECKS, allowlist: { networks: [] }, greylist: { mode: 'enforce', delay_s: GREYLIST_S } } } });
  t.after(async () => { await mp.stop(); fs.rmSync(mp.dataDir, { recursive: true, force: true }); });
  const trace = async (window: number): Promise<Journey[]> =>
    (await mp.trace(['--rcpt', 'alice@demo.test', '-o', `research.retry_window_s=${window}`])).journeys as unknown as Journey[];

  // 1. The shop's Postfix: tries once (maximal_queue_lifetime 0), gets our 451, gives up.
  const shop = await startPostfix({
    relayTo: { host: mp.host, port: mp.port }, tls: 'none', hostname: 'mx.shop.test',
    main: { queue_run_delay: '1s', minimal_backoff_time: '1s', maximal_backoff_time: '2s', maximal_queue_lifetime: '0', bounce_queue_lifetime: '0' },
  });
  t.after(() => shop.stop());
  await shop.submit('orders@shop.test', ['alice@demo.test'], message('order-1@shop.test', 'orders@shop.test', 'Order 1: one chair.'));
  await pollUntil(() => /status=deferred .*451 4\.7\.1/.test(shop.log()), { what: 'the deferral', describe: () => shop.log() });
  await pollUntil(() => /status=expired/.test(shop.log()), { what: 'Postfix giving up (status=expired)', describe: () => shop.log() });
  // Past the greylisting delay, another order (another Message-ID, another size): delivered.
  await sleep((GREYLIST_S + 1) * 1000);
  await shop.submit('orders@shop.test', ['alice@demo.test'], message('order-2@shop.test', 'orders@shop.test', `Order 2: ${'twelve tables, '.repeat(80)}`));
  await pollUntil(() => /status=sent/.test(shop.log()), { what: 'the second order sent', describe: () => shop.log() });

  // While the window is open the first 451 is pending, with its cause, not "retried".
  const open = await trace(3600);
  const shopJourneys = open.filter((j) => j.mail_from === 'orders@shop.test');
  assert.deepEqual(shopJourneys.map((j) => [j.outcome, j.diagnosis[0]]), [['tempfailed', 'tempfail_pending'], ['delivered', 'delivered']], JSON.stringify(shopJourneys.map((j) => [j.outcome, j.diagnosis])));
  assert.match(shopJourneys[0]!.explanations[0]!.what, /The reason: greylisting/);
  assert.ok(shopJourneys[0]!.retry_by, 'a pending 4xx says until when');

  // 2. A partner's Postfix retries the same message until the greylisting lets it in.
  const partner = await startPostfix({
    relayTo: { host: mp.host, port: mp.port }, tls: 'none', hostname: 'mx.partner.test',
    main: { queue_run_delay: '1s', minimal_backoff_time: '1s', maximal_backoff_time: '2s' },
  });
  t.after(() => partner.stop());
  await partner.submit('info@partner.test', ['alice@demo.test'], message('offer-1@partner.test', 'info@partner.test', 'Our offer.'));
  await pollUntil(() => /status=deferred .*451 4\.7\.1/.test(partner.log()), { what: "the partner's deferral", describe: () => partner.log() });
  await partner.waitForQueueEmpty();

  // Once the window has passed for the shop's 451: never retried, the other order notwithstanding.
  const first = Date.parse(shopJourneys[0]!.started_at);
  await sleep(Math.max(0, first + (WINDOW_S + 1) * 1000 - Date.now()));
  const closed = await trace(WINDOW_S);
  const shopClosed = closed.filter((j) => j.mail_from === 'orders@shop.test');
  assert.deepEqual(shopClosed.map((j) => [j.outcome, j.diagnosis]), [['tempfailed', ['tempfail_not_retried']], ['delivered', ['delivered', 'access_not_recorded']]], shop.log());
  const partnerJ = closed.filter((j) => j.mail_from === 'info@partner.test').map((j) => [j.outcome, j.diagnosis]);
  assert.ok(partnerJ.length >= 2, JSON.stringify(partnerJ));
  assert.deepEqual(partnerJ.at(-1), ['delivered', ['delivered', 'access_not_recorded']], JSON.stringify(partnerJ));
  for (const p of partnerJ.slice(0, -1)) assert.deepEqual(p, ['tempfailed', ['tempfail_retried']], JSON.stringify(partnerJ));
});
