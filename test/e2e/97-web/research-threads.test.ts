// A slow search in the web UI must not hold up mail. `mailproof serve` with
// one process (smtp.workers=1, the default) carries the SMTP sessions and the
// web server on one event loop; research runs in threads of its own
// (src/web/research-pool.ts). Against a real server: while an API search over
// a big ledger runs, a whole SMTP session completes, and a second search,
// with no thread and no queue place free, gets 503 at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { JournalWriter } from '../../../src/ledger/journal/index.js';
import type { LedgerEvent } from '../../../src/ledger/types.js';
import { caughtUp } from '../../helpers/event-table.js';
import { freePort, NO_DNS_CHECKS, run, startServer, type Instance } from '../../helpers/server.js';
import { sendMail } from '../../helpers/smtp-client.js';

const BIG = 40000;

function get(port: number, p: string, token: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: p, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    }).on('error', reject);
  });
}

test('a slow web search runs beside the SMTP sessions of the same process, and a busy pool says 503', async (t) => {
  const webPort = await freePort();
  let mp: Instance | null = null;
  t.after(async () => {
    await mp?.stop();
    if (mp) fs.rmSync(mp.dataDir, { recursive: true, force: true });
  });
  mp = await startServer({
    config: {
      domains: { 'demo.test': { mailboxes: ['demo'] }, 'big.test': { mailboxes: ['user0'] } },
      smtp: { workers: 1 },
      web: { listen: [`127.0.0.1:${webPort}`], research_threads: 1, research_queue: 0 },
      checks: { allowlist: { networks: [] }, ...NO_DNS_CHECKS, helo: { mode: 'off' } },
    },
  });
  // A busy domain's history, written beside the running gateway: a journal
  // stream of another node in the instance's journal directory, as a second
  // gateway sharing the ledger would write it.
  const journal = await JournalWriter.open(path.join(mp.dataDir, 'journal'), 'old-node', 'smtp', { sync: false });
  const since = Date.now() - 3 * 86400e3;
  const events: LedgerEvent[] = [];
  for (let i = 0; i < BIG; i++) {
    const ref = `B${String(i).padStart(11, '0')}`;
    const rcpt = `user${i % 300}@big.test`;
    const ts = since + i * 1000;
    const common = { node: 'old-node', source: 'gateway', session: `S${i}`, ref, client_ip: '192.0.2.1', mail_from: 'a@x.test' } as const;
    events.push({ ...common, ts, kind: 'mail.from' });
    events.push({ ...common, ts: ts + 1, kind: 'rcpt.accepted', rcpt });
    events.push({ ...common, ts: ts + 2, kind: 'message.delivered', rcpt, smtp_code: 250, reply: `250 2.0.0 accepted (ref ${ref})` });
  }
  await journal.append(events);
  await journal.close();
  // Indexed before the searches: what is measured is the search, not its catch-up.
  await caughtUp(path.join(mp.dataDir, 'store.sqlite'), path.join(mp.dataDir, 'journal'));

  const cfgFile = path.join(mp.dataDir, 'test-config.yaml');
  const pw = path.join(mp.dataDir, 'pw');
  fs.writeFileSync(pw, 'staff-password-1\n');
  assert.equal((await run(['user', 'add', 'staff1', '--role', 'staff', '--password-file', pw, '--config', cfgFile])).code, 0);
  const tok = await run(['user', 'token', 'staff1', '--config', cfgFile]);
  assert.equal(tok.code, 0, tok.stderr);
  const token = tok.stdout.trim();

  // An outcome filter makes research build every journey of the window: ~40,000 here.
  const order: string[] = [];
  const slow = get(webPort, `/api/trace?domain=big.test&outcome=delivered&since=${new Date(since).toISOString()}`, token)
    .then((r) => { order.push('slow search'); return r; });
  await new Promise((r) => setTimeout(r, 100)); // the request has reached the server and its search runs
  const busy = get(webPort, '/api/trace?rcpt=demo@demo.test', token).then((r) => { order.push('503'); return r; });
  const mail = sendMail(mp.port, { from: 'sender@x.test', to: ['demo@demo.test'], body: 'Subject: during a search\r\n\r\nhello\r\n' })
    .then((r) => { order.push('mail'); return r; });
  const [s, b, m] = await Promise.all([slow, busy, mail]);

  assert.match(m.final ?? '', /^250 /, JSON.stringify(m.replies));
  assert.equal(b.status, 503, b.body);
  assert.equal(b.headers['retry-after'], '60');
  assert.match(JSON.parse(b.body).error, /busy/i);
  assert.equal(s.status, 200, s.body.slice(0, 300));
  const found = JSON.parse(s.body) as { journeys: { outcome: string }[]; truncated: boolean };
  assert.equal(found.journeys.length, 1000);
  assert.equal(found.truncated, true);
  // The mail and the refusal did not wait for the search.
  assert.equal(order.at(-1), 'slow search', `order of answers: ${order.join(', ')}`);
  // With the thread free again, the next search is answered.
  const after = await get(webPort, '/api/trace?rcpt=demo@demo.test', token);
  assert.equal(after.status, 200, after.body);
  assert.equal((JSON.parse(after.body) as { journeys: unknown[] }).journeys.length, 1);
});
