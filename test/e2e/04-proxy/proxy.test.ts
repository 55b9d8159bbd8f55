// PROXY protocol and XCLIENT: only from trusted networks, and then the
// ledger records the real client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, NO_DNS_CHECKS } from '../../helpers/server.js';
import { RawSmtp } from '../../helpers/smtp-client.js';

// The proxied clients are documentation addresses: the DNS checks (tested in
// 41-dns-checks) stay off, so no lookup leaves the machine.

test('XCLIENT is offered to and obeyed from trusted peers only', async () => {
  const mp = await startServer({ config: { smtp: { xclient: true, trusted_networks: ['127.0.0.50/31'] }, checks: NO_DNS_CHECKS } });
  try {
    const untrusted = await RawSmtp.connect(mp.port, { localAddress: '127.0.0.52' });
    await untrusted.reply();
    assert.ok(!(await untrusted.cmd('EHLO x.example.org'))!.includes('XCLIENT'));
    assert.match((await untrusted.cmd('XCLIENT ADDR=192.0.2.66'))!, /^5\d\d /);
    await untrusted.close();

    const proxy = await RawSmtp.connect(mp.port, { localAddress: '127.0.0.51' });
    await proxy.reply();
    assert.ok((await proxy.cmd('EHLO proxy.example.org'))!.includes('XCLIENT'));
    assert.match((await proxy.cmd('XCLIENT ADDR=192.0.2.77 NAME=client.example.net'))!, /^220 /);
    await proxy.cmd('EHLO real-client.example.net');
    await proxy.cmd('MAIL FROM:<x@example.net>');
    const rep = (await proxy.cmd('RCPT TO:<nobody@demo.test>'))!;
    assert.match(rep, /^550 5\.1\.1 /);
    await proxy.close();
    const ref = /\(ref (\w{12})\)/.exec(rep)![1]!;
    const { journeys } = await mp.trace(['--ref', ref]);
    assert.equal(journeys[0]!.client_ip, '192.0.2.77');
    const ev = journeys[0]!.events.find((e) => e.kind === 'rcpt.rejected')!;
    assert.equal(ev.client_ip, '192.0.2.77');
    assert.equal(ev.client_ptr, 'client.example.net');
  } finally {
    await mp.stop();
  }
});

test('PROXY protocol header is read from trusted peers only', async () => {
  const mp = await startServer({ config: { smtp: { proxy_protocol: true, trusted_networks: ['127.0.0.60'] }, checks: NO_DNS_CHECKS } });
  try {
    const lb = await RawSmtp.connect(mp.port, { localAddress: '127.0.0.60' });
    lb.write('PROXY TCP4 198.51.100.9 127.0.0.1 40000 25\r\n');
    assert.match((await lb.reply())!, /^220 /);
    await lb.cmd('EHLO behind-lb.example.net');
    await lb.cmd('MAIL FROM:<x@example.net>');
    const rep = (await lb.cmd('RCPT TO:<nobody@demo.test>'))!;
    await lb.close();
    const ref = /\(ref (\w{12})\)/.exec(rep)![1]!;
    const { journeys } = await mp.trace(['--ref', ref]);
    assert.equal(journeys[0]!.client_ip, '198.51.100.9');

    // From anywhere else a PROXY line is just an unknown command.
    const other = await RawSmtp.connect(mp.port, { localAddress: '127.0.0.61' });
    assert.match((await other.reply())!, /^220 /);
    assert.match((await other.cmd('PROXY TCP4 198.51.100.10 127.0.0.1 40000 25'))!, /^500 /);
    await other.close();
  } finally {
    await mp.stop();
  }
});
