import { alive } from '../../util/process.js';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { Mailbox } from '../../mail/address.js';
import { DeliveryError, type DeliveryTarget, type OutgoingMessage, type StoredCopy } from '../types.js';
import type { StoreJob, StorePlace, StoreReply } from './store-protocol.js';

let counter = 0;

/**
 * A name unique on this host (the Maildir convention: time, then a part
 * unique to this process and delivery, then the host), with ",S=<size>" as
 * Dovecot and Courier read it to skip a stat.
 */
export function uniqueName(host: string, size: number, now = Date.now()): string {
  const sec = Math.floor(now / 1000);
  // Six digits, so that a plain sort (ls, a test, a script) orders the
  // deliveries of one second as a numeric sort (our POP3, Dovecot) does.
  const usec = String((now % 1000) * 1000).padStart(6, '0');
  counter = (counter + 1) % 1e9;
  const safeHost = host.replace(/[/:]/g, '_');
  return `${sec}.M${usec}P${process.pid}Q${counter}R${randomBytes(4).toString('hex')}.${safeHost},S=${size}`;
}

/**
 * Names made by uniqueName() on this host: groups are the seconds, the
 * microseconds and the PID; a name in cur/ may carry its ":2,<flags>" info.
 */
export function uniqueNamePattern(host: string): RegExp {
  const h = host.replace(/[/:]/g, '_').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^(\\d+)\\.M(\\d+)P(\\d+)Q\\d+R[0-9a-f]{8}\\.${h},S=\\d+(?::2,.*)?$`);
}

/**
 * The embedded mailbox store. Delivery follows the Maildir protocol: write
 * into tmp/, fsync the file, rename into new/, fsync new/. A reader never sees
 * a half message, and after the rename's directory fsync the message survives
 * a power cut. Only then may the 250 go out. The writing itself happens in
 * one thread of its own (store-worker.ts), a whole delivery at a time.
 */
export class MaildirTarget implements DeliveryTarget {
  private known = new Set<string>();

  constructor(private readonly root: string, private readonly host: string, private readonly fsync = true) {}

  dirOf(m: Mailbox): string {
    // Local parts are validated dot-atoms (config/schema.ts), and domains are
    // host names, so neither can climb out of the root.
    return path.join(this.root, m.domain, m.local);
  }

  /**
   * Removes what a crashed delivery left in tmp/: files named by this host's
   * uniqueName() whose process is gone (kill -9, power loss), and any of ours
   * older than 36 hours (the Maildir convention for tmp/). Files of other
   * programs (Dovecot saves through tmp/ too) are never touched. Nothing in
   * tmp/ ever got a 250: the rename into new/ comes first.
   */
  async sweepTmp(m: Mailbox, now = Date.now()): Promise<number> {
    const tmp = path.join(this.dirOf(m), 'tmp');
    const ours = uniqueNamePattern(this.host);
    let names: string[];
    try {
      names = await fsp.readdir(tmp);
    } catch {
      return 0;
    }
    let removed = 0;
    for (const name of names) {
      const mm = ours.exec(name);
      if (!mm) continue;
      const pid = Number(mm[3]);
      const old = now / 1000 - Number(mm[1]) > 36 * 3600;
      if (!old && pid !== process.pid && alive(pid)) continue;
      if (!old && pid === process.pid) continue;
      await fsp.unlink(path.join(tmp, name)).then(() => { removed++; }, () => undefined);
    }
    return removed;
  }

  async ensure(m: Mailbox): Promise<string> {
    const dir = this.dirOf(m);
    if (this.known.has(dir)) return dir;
    for (const sub of ['tmp', 'new', 'cur']) await fsp.mkdir(path.join(dir, sub), { recursive: true, mode: 0o700 });
    this.known.add(dir);
    return dir;
  }

  async deliver(msg: OutgoingMessage, mailboxes: Mailbox[]): Promise<StoredCopy[]> {
    const unique = new Map<string, Mailbox>();
    for (const m of mailboxes) unique.set(`${m.local}@${m.domain}`, m);
    const targets = [...unique.values()];
    const size = (msg.finalPrefix?.length ?? 0) + msg.prefix.length + ('buffer' in msg.body ? msg.body.buffer.length : msg.size);
    const places: (StorePlace & { mailbox: Mailbox })[] = [];
    try {
      for (const m of targets) {
        const dir = await this.ensure(m);
        const name = uniqueName(this.host, size);
        places.push({ mailbox: m, tmp: path.join(dir, 'tmp', name), final: path.join(dir, 'new', name), newDir: path.join(dir, 'new') });
      }
      const parts: Uint8Array[] = [];
      if (msg.finalPrefix) parts.push(msg.finalPrefix);
      parts.push(msg.prefix);
      if ('buffer' in msg.body) parts.push(msg.body.buffer);
      await storeThread.run({
        parts,
        spool: 'path' in msg.body ? msg.body.path : null,
        fsync: this.fsync,
        places: places.map(({ tmp, final, newDir }) => ({ tmp, final, newDir })),
      });
      return places.map((p) => ({ mailbox: p.mailbox, location: p.final }));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new DeliveryError(`maildir delivery failed: ${code}: ${(err as Error).message}`, true, err);
    }
  }
}

/**
 * The write thread (store-worker.ts), one per process, started at the first
 * delivery. It keeps the process alive only while a delivery is under way.
 */
class StoreThread {
  private worker: Worker | null = null;
  private pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private nextId = 1;

  private start(): Worker {
    const w = new Worker(new URL('./store-worker.js', import.meta.url));
    w.on('message', (r: StoreReply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (this.pending.size === 0) w.unref();
      if (r.error) p.reject(Object.assign(new Error(r.error.message), { code: r.error.code }));
      else p.resolve();
    });
    const fail = (err: Error): void => {
      if (this.worker === w) this.worker = null;
      const all = [...this.pending.values()];
      this.pending.clear();
      for (const p of all) p.reject(err);
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`maildir write thread exited (${code})`)));
    return w;
  }

  run(job: Omit<StoreJob, 'id'>): Promise<void> {
    this.worker ??= this.start();
    const w = this.worker;
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.ref();
      w.postMessage({ id, ...job } satisfies StoreJob);
    });
  }
}

const storeThread = new StoreThread();
