import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pop3Settings } from './config.js';
import { PasswordStore } from './passwords.js';
import { Pop3Server } from './server.js';

/**
 * Connects over loopback and makes the server see `client` as the peer
 * address (loopback has only ::1 for IPv6): the real accept path, limits and
 * greeting included.
 */
async function greetingAs(port: number, client: string, peers: string[], open: net.Socket[]): Promise<string> {
  // One connection at a time: the server takes the next address in line.
  peers.push(client);
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    open.push(s);
    s.once('data', (d: Buffer) => resolve(d.toString('latin1')));
    s.once('error', reject);
  });
}

async function run(ipv6Prefix: number | undefined, clients: string[]): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-pop3-'));
  const peers: string[] = [];
  const server = new Pop3Server({
    settings: pop3Settings.parse({ max_connections_per_ip: 2, ...(ipv6Prefix ? { ipv6_prefix: ipv6Prefix } : {}) }),
    tls: null,
    deps: {
      node: 't', maildirOf: () => null, passwords: new PasswordStore(path.join(dir, 'passwords')),
      ledger: { append: () => Promise.resolve(), close: () => Promise.resolve() } as never,
    },
  });
  const inner = server as unknown as { accept(s: net.Socket): void };
  const accept = inner.accept.bind(server);
  inner.accept = (sock: net.Socket): void => {
    Object.defineProperty(sock, 'remoteAddress', { value: peers.shift() });
    accept(sock);
  };
  const [addr] = await server.listen(['127.0.0.1:0']);
  const open: net.Socket[] = [];
  try {
    const out: string[] = [];
    for (const c of clients) out.push(await greetingAs(addr!.port, c, peers, open));
    return out;
  } finally {
    for (const s of open) s.destroy();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('POP3: IPv6 clients share max_connections_per_ip per /64; another /64 is another client', async () => {
  const g = await run(undefined, ['2001:db8:5:5::1', '2001:db8:5:5::2', '2001:db8:5:5:abcd::3', '2001:db8:5:6::1']);
  assert.match(g[0]!, /^\+OK/);
  assert.match(g[1]!, /^\+OK/);
  assert.match(g[2]!, /^-ERR \[SYS\/TEMP\] too many connections from your address/);
  assert.match(g[3]!, /^\+OK/);
});

test('POP3: pop3.ipv6_prefix=128 counts each address apart', async () => {
  const g = await run(128, ['2001:db8:5:5::1', '2001:db8:5:5::2', '2001:db8:5:5::3']);
  assert.ok(g.every((x) => x.startsWith('+OK')), g.join(' | '));
});
