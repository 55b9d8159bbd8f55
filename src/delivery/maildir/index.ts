import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Mailbox } from '../../domains/index.js';
import { DeliveryError, type DeliveryTarget, type OutgoingMessage, type StoredCopy } from '../types.js';

let counter = 0;

/**
 * A name unique on this host (the Maildir convention: time, then a part
 * unique to this process and delivery, then the host), with ",S=<size>" as
 * Dovecot and Courier read it to skip a stat.
 */
export function uniqueName(host: string, size: number): string {
  const now = Date.now();
  const sec = Math.floor(now / 1000);
  const usec = (now % 1000) * 1000;
  counter = (counter + 1) % 1e9;
  const safeHost = host.replace(/[/:]/g, '_');
  return `${sec}.M${usec}P${process.pid}Q${counter}R${randomBytes(4).toString('hex')}.${safeHost},S=${size}`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function fsyncDirNow(dir: string): Promise<void> {
  const fh = await fsp.open(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

// Group fsync per directory: many sessions delivering into one busy mailbox
// at once would each flush the same new/. A caller whose rename happened
// before a flush started may share it; one that renamed later waits for the
// next flush. So every caller's rename is covered, with one fsync per round.
const dirFlush = new Map<string, { running: Promise<void>; next: Promise<void> | null }>();

function fsyncDir(dir: string): Promise<void> {
  const state = dirFlush.get(dir);
  if (!state) {
    const running = fsyncDirNow(dir).finally(() => {
      const s = dirFlush.get(dir);
      if (s && s.running === running && !s.next) dirFlush.delete(dir);
    });
    dirFlush.set(dir, { running, next: null });
    return running;
  }
  if (!state.next) {
    // The running flush may have begun before our rename: queue one more.
    const next = state.running.catch(() => undefined).then(() => {
      const s = dirFlush.get(dir)!;
      const p = fsyncDirNow(dir);
      s.running = p;
      s.next = null;
      return p.finally(() => {
        const cur = dirFlush.get(dir);
        if (cur && cur.running === p && !cur.next) dirFlush.delete(dir);
      });
    });
    state.next = next;
  }
  return state.next;
}

/**
 * The embedded mailbox store. Delivery follows the Maildir protocol: write
 * into tmp/, fsync the file, rename into new/, fsync new/. A reader never sees
 * a half message, and after the rename's directory fsync the message survives
 * a power cut. Only then may the 250 go out.
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
    const host = this.host.replace(/[/:]/g, '_').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const ours = new RegExp(`^(\\d+)\\.M\\d+P(\\d+)Q\\d+R[0-9a-f]{8}\\.${host},S=\\d+$`);
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
      const pid = Number(mm[2]);
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

  private async writeFirst(file: string, msg: OutgoingMessage): Promise<void> {
    const fh = await fsp.open(file, 'wx', 0o600);
    try {
      if (msg.finalPrefix) await fh.write(msg.finalPrefix);
      await fh.write(msg.prefix);
      if ('buffer' in msg.body) {
        await fh.write(msg.body.buffer);
      } else {
        const src = await fsp.open(msg.body.path, 'r');
        try {
          const buf = Buffer.allocUnsafe(256 * 1024);
          for (;;) {
            const { bytesRead } = await src.read(buf, 0, buf.length);
            if (bytesRead === 0) break;
            await fh.write(buf, 0, bytesRead);
          }
        } finally {
          await src.close();
        }
      }
      if (this.fsync) await fh.sync();
    } finally {
      await fh.close();
    }
  }

  /** A further copy of the same content: a hard link where possible, else a copy. */
  private async linkOrCopy(from: string, to: string): Promise<void> {
    try {
      await fsp.link(from, to);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw err;
      await fsp.copyFile(from, to, fs.constants.COPYFILE_EXCL);
      if (this.fsync) {
        const fh = await fsp.open(to, 'r+');
        try { await fh.sync(); } finally { await fh.close(); }
      }
    }
  }

  async deliver(msg: OutgoingMessage, mailboxes: Mailbox[]): Promise<StoredCopy[]> {
    const unique = new Map<string, Mailbox>();
    for (const m of mailboxes) unique.set(`${m.local}@${m.domain}`, m);
    const targets = [...unique.values()];
    const size = (msg.finalPrefix?.length ?? 0) + msg.prefix.length + ('buffer' in msg.body ? msg.body.buffer.length : msg.size);
    const tmpFiles: string[] = [];
    const placed: { tmp: string; final: string; mailbox: Mailbox; dir: string }[] = [];
    const done: string[] = [];
    try {
      for (const m of targets) {
        const dir = await this.ensure(m);
        const name = uniqueName(this.host, size);
        const tmp = path.join(dir, 'tmp', name);
        // Listed before it exists: a write that fails half-way (ENOSPC) must
        // still be cleaned up below.
        tmpFiles.push(tmp);
        if (tmpFiles.length === 1) await this.writeFirst(tmp, msg);
        else await this.linkOrCopy(tmpFiles[0]!, tmp);
        placed.push({ tmp, final: path.join(dir, 'new', name), mailbox: m, dir });
      }
      for (const p of placed) {
        await fsp.rename(p.tmp, p.final);
        done.push(p.final);
      }
      if (this.fsync) {
        for (const dir of new Set(placed.map((p) => path.join(p.dir, 'new')))) await fsyncDir(dir);
      }
      return placed.map((p) => ({ mailbox: p.mailbox, location: p.final }));
    } catch (err) {
      // All or none: take back what was already put into new/, and the tmp files.
      await Promise.all([...done, ...tmpFiles].map((f) => fsp.unlink(f).catch(() => undefined)));
      if (this.fsync) {
        await Promise.all([...new Set(placed.map((p) => path.join(p.dir, 'new')))].map((d) => fsyncDir(d).catch(() => undefined)));
      }
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new DeliveryError(`maildir delivery failed: ${code}: ${(err as Error).message}`, true, err);
    }
  }
}
