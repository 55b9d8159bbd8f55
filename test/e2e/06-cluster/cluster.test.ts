// Several worker processes share the listening socket; the per-IP limit holds
// for the node, and every worker writes the one ledger.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listNew, startServer } from '../../helpers/server.js';
import { RawSmtp, sendMail } from '../../helpers/smtp-client.js';

test('two workers: mail from many clients is stored and recorded; limits are node-wide', async () => {
  const mp = await startServer({ config: { smtp: { workers: 2, max_connections_per_ip: 2 } } });
  try {
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) =>
      sendMail(mp.port, { from: `s${i}@example.org`, to: ['alice@demo.test'], body: `Subject: n${i}\n\nbody ${i}\n`, localAddress: `127.0.1.${i + 1}` })));
    for (const r of results) assert.match(r.final ?? '', /^250 2\.0\.0 /);
    assert.equal(listNew(mp.newDir('alice@demo.test')).length, 40);
    const { journeys } = await mp.trace(['--rcpt', 'alice@demo.test']);
    assert.equal(journeys.filter((j) => j.outcome === 'delivered').length, 40);
    // The sessions were spread over both workers (their pids differ in the log).
    const pids = new Set(mp.output().split('\n').filter((l) => l.includes('"msg":"session"')).map((l) => (JSON.parse(l) as { pid: number }).pid));
    assert.equal(pids.size, 2, 'both workers served sessions');

    // Two connections from one address, whichever worker holds them: the third is refused.
    const a = await RawSmtp.connect(mp.port, { localAddress: '127.0.2.1' });
    const b = await RawSmtp.connect(mp.port, { localAddress: '127.0.2.1' });
    assert.match((await a.reply())!, /^220 /);
    assert.match((await b.reply())!, /^220 /);
    const c = await RawSmtp.connect(mp.port, { localAddress: '127.0.2.1' });
    assert.match((await c.reply()) ?? '', /^421 4\.7\.0 Too many connections from your address/);
    await Promise.all([a.close(), b.close(), c.close()]);
  } finally {
    assert.equal(await mp.stop(), 0);
  }
});
