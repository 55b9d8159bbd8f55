// Small SQLite files in data_dir for checks that keep state across
// connections, worker processes and restarts (greylisting, rate counters).
// One file per check; every worker process of the node opens it itself. WAL
// lets readers and the one writer work side by side, the busy timeout makes
// a writer wait for another process's short transaction instead of failing.
// synchronous=NORMAL: a power cut may lose the last greylist entries or rate
// hits (the sender is deferred once more, a counter restarts), never corrupt
// the file; a per-connection fsync would cost more than the check is worth.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { canonicalIp, ipv6Nibbles, formatIpv6 } from '../dns/ip.js';

export function openStateDb(dataDir: string, file: string, schema: string): Database.Database {
  fs.mkdirSync(dataDir, { recursive: true });
  const db = new Database(path.join(dataDir, file));
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(schema);
  return db;
}

/**
 * The network a client address belongs to, as "192.0.2.0/24" or
 * "2001:db8:1:2::/64": senders with a pool of outgoing servers retry from
 * another address of the same network, and an IPv6 host usually owns a whole
 * /64. An address that is not one (cannot happen for a socket peer) stays as it is.
 */
export function clientNetwork(ip: string, v4Prefix = 24, v6Prefix = 64): string {
  const c = canonicalIp(ip);
  if (c === null) return ip;
  if (!c.includes(':')) {
    if (v4Prefix >= 32) return c;
    const n = c.split('.').reduce((a, o) => a * 256 + Number(o), 0);
    const size = 2 ** (32 - v4Prefix);
    const base = n - (n % size);
    return `${[24, 16, 8, 0].map((s) => Math.floor(base / 2 ** s) % 256).join('.')}/${v4Prefix}`;
  }
  if (v6Prefix >= 128) return c;
  const bits = BigInt(`0x${ipv6Nibbles(c)}`);
  const masked = (bits >> BigInt(128 - v6Prefix)) << BigInt(128 - v6Prefix);
  return `${formatIpv6(masked.toString(16).padStart(32, '0'))}/${v6Prefix}`;
}
