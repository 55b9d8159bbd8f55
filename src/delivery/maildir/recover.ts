// The crash window of the embedded Maildir. A delivery renames the message
// into new/ and then commits its ledger event; only then does the 250 go
// out. A process killed between the two leaves a message in the mailbox
// that the ledger never heard of (research would call its journey
// "incomplete"), and its sender, never told 250, sends it again.
//
// Each gateway process marks its run (<data_dir>/run/gateway-<pid>, holding
// its start time) and removes the mark on a clean stop. A mark whose process
// is gone means a crash: at the next start, every file that process renamed
// into new/ or cur/ (its PID is in the Maildir name) in its last minutes is
// checked against the ledger by the REF in our Received: header. A file
// without its delivery event gets a `message.recovered` event; it and the
// files delivered in the last minute before the crash (their 250 may not
// have gone out either) are remembered (delivery/memory.ts), so the
// sender's retry, the same Message-ID and body, is answered 250 without a
// second copy.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { LocalDomains } from '../../domains/index.js';
import type { Mailbox } from '../../mail/address.js';
import type { LedgerEvent, LedgerReader } from '../../ledger/types.js';
import { normalizeMessageId } from '../../util/message-id.js';
import type { DeliveredMemory } from '../memory.js';
import { alive } from '../../util/process.js';
import { uniqueNamePattern } from './index.js';

/** Files of the crashed process this much older than its newest are not looked at: its sessions had ended. */
const LOOK_BACK_MS = 15 * 60 * 1000;
/** Recorded files this close to the crash may not have had their 250: remembered too. */
const UNANSWERED_MS = 60 * 1000;
/** Our header block is short; the sender's Message-ID is near the top. */
const HEAD_BYTES = 64 * 1024;

export interface DeadRun { pid: number; started: number; mark: string }

/** Run marks of processes that are gone, oldest first. */
export function deadRuns(runDir: string): DeadRun[] {
  let names: string[];
  try {
    names = fs.readdirSync(runDir);
  } catch {
    return [];
  }
  const out: DeadRun[] = [];
  for (const n of names) {
    const m = /^gateway-(\d+)$/.exec(n);
    if (!m) continue;
    const pid = Number(m[1]);
    // Our own PID in a mark was left by an earlier life (containers reuse PIDs).
    if (pid !== process.pid && alive(pid)) continue;
    const mark = path.join(runDir, n);
    const started = Number(fs.readFileSync(mark, 'utf8').trim());
    out.push({ pid, started: Number.isFinite(started) ? started : 0, mark });
  }
  return out.sort((a, b) => a.started - b.started);
}

/** Marks this process's run; the returned function removes the mark (clean stop). */
export function markRun(runDir: string): () => void {
  fs.mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const mark = path.join(runDir, `gateway-${process.pid}`);
  fs.writeFileSync(mark, String(Date.now()));
  return () => fs.rmSync(mark, { force: true });
}

/** What our own header block says about a stored message (smtp/received.ts, smtp/gateway.ts). */
export interface StoredFacts {
  ref: string | null;
  mailFrom: string | null;
  rcpt: string | null;
  clientIp: string | null;
  helo: string | null;
  messageId: string | null;
}

export function storedFacts(head: string, hostname: string): StoredFacts {
  // Our header block comes first: Return-Path, check headers, then our Received:.
  const firstBlank = head.indexOf('\n\n');
  const block = firstBlank >= 0 ? head.slice(0, firstBlank + 1) : head;
  const rp = /^Return-Path: <([^>\n]*)>\n/.exec(block);
  const host = hostname.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const rec = new RegExp(`^Received: from (\\S+) \\([^\\n]*\\[(?:IPv6:)?([0-9a-fA-F:.]+)\\]\\)\\n\\tby ${host} \\(mailproof\\) with \\S+ id ([A-Z0-9]+)(?:\\n\\tfor <([^>\\n]*)>)?;`, 'm').exec(block);
  const mid = /^message-id:[ \t]*((?:[^\n]|\n[ \t])*)/im.exec(block);
  return {
    ref: rec?.[3] ?? null,
    mailFrom: rp ? rp[1]! : null,
    rcpt: rec?.[4] ?? null,
    clientIp: rec?.[2] ?? null,
    helo: rec && rec[1] !== 'unknown' ? rec[1]! : null,
    messageId: mid ? normalizeMessageId(mid[1]!.replace(/\n[ \t]/g, ' ')) : null,
  };
}

/**
 * sha256 of what follows the message's header block (after its first empty
 * line). Our own header fields differ on every attempt; the sender's body
 * does not, so a retry has the same hash. `start` is where the body begins.
 */
export async function bodyHashFrom(source: { buffer: Buffer } | { path: string }, start: number): Promise<string> {
  const h = createHash('sha256');
  if ('buffer' in source) return h.update(source.buffer.subarray(start)).digest('hex');
  for await (const chunk of fs.createReadStream(source.path, { start })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Where the body of a stored file begins: after its first empty line (or its end). */
function bodyStartOf(head: Buffer, fileSize: number): number {
  const i = head.indexOf('\n\n');
  return i >= 0 ? i + 2 : fileSize;
}

export interface RecoverOptions {
  node: string;
  hostname: string;
  runDir: string;
  mailboxes: Mailbox[];
  dirOf(m: Mailbox): string;
  domains: LocalDomains;
  reader: Pick<LedgerReader, 'byRefs'>;
  memory: DeliveredMemory;
  /** Durable append of the recovered events. */
  append(events: LedgerEvent[]): Promise<void>;
  now?: () => number;
}

export interface RecoverResult { runs: number; checked: number; recovered: number; remembered: number }

/** Reconciles the Maildirs with the ledger after crashed runs; removes their marks when done. */
export async function recoverCrashedRuns(o: RecoverOptions): Promise<RecoverResult> {
  const now = o.now ?? Date.now;
  const result: RecoverResult = { runs: 0, checked: 0, recovered: 0, remembered: 0 };
  const ours = uniqueNamePattern(o.hostname);
  for (const run of deadRuns(o.runDir)) {
    result.runs++;
    const files: { file: string; mailbox: Mailbox; t: number }[] = [];
    for (const m of o.mailboxes) {
      for (const sub of ['new', 'cur']) {
        const dir = path.join(o.dirOf(m), sub);
        let names: string[] = [];
        try { names = await fsp.readdir(dir); } catch { /* no such folder yet */ }
        for (const n of names) {
          const mm = ours.exec(n);
          if (!mm || Number(mm[3]) !== run.pid) continue;
          const t = Number(mm[1]) * 1000 + Math.floor(Number(mm[2]) / 1000);
          if (t >= run.started - 1000) files.push({ file: path.join(dir, n), mailbox: m, t });
        }
      }
    }
    const newest = files.reduce((a, f) => Math.max(a, f.t), 0);
    const events: LedgerEvent[] = [];
    for (const f of files.filter((x) => x.t >= newest - LOOK_BACK_MS)) {
      result.checked++;
      let head: Buffer;
      let size: number;
      try {
        const fh = await fsp.open(f.file, 'r');
        try {
          size = (await fh.stat()).size;
          const buf = Buffer.alloc(Math.min(HEAD_BYTES, size));
          const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
          head = buf.subarray(0, bytesRead);
        } finally {
          await fh.close();
        }
      } catch {
        continue; // fetched and deleted meanwhile
      }
      const facts = storedFacts(head.toString('latin1'), o.hostname);
      const box = `${f.mailbox.local}@${f.mailbox.domain}`;
      const base = path.basename(f.file).replace(/:2,.*$/, '');
      const txEvents = facts.ref ? await o.reader.byRefs([facts.ref]) : [];
      const recorded = txEvents.some((e) => e.kind === 'message.delivered' &&
        ((e.details?.files as string[] | undefined) ?? []).some((p) => path.basename(p) === base));
      if (recorded && f.t < newest - UNANSWERED_MS) continue;
      const hash = await bodyHashFrom({ path: f.file }, bodyStartOf(head, size));
      if (facts.messageId && facts.mailFrom !== null && facts.ref) {
        o.memory.rememberUnanswered({ messageId: facts.messageId, bodyHash: hash, sender: facts.mailFrom, rcpt: box, ref: facts.ref, file: f.file });
        result.remembered++;
      }
      if (recorded) continue;
      // The envelope recipient this mailbox was reached through: from the
      // transaction's events where they made it into the ledger, else from
      // the Received: header (single recipient), else the mailbox itself.
      const accepted = txEvents.filter((e) => e.kind === 'rcpt.accepted' && e.rcpt).map((e) => e.rcpt!);
      const via = accepted.find((r) => {
        const found = o.domains.lookup(r);
        return found.kind === 'mailbox' && found.mailboxes.some((b) => `${b.local}@${b.domain}` === box);
      });
      const session = txEvents.find((e) => e.session)?.session ?? null;
      events.push({
        ts: now(), node: o.node, source: 'gateway', kind: 'message.recovered',
        session, ref: facts.ref, client_ip: facts.clientIp, helo: facts.helo,
        mail_from: facts.mailFrom, rcpt: via ?? facts.rcpt ?? box, message_id: facts.messageId, size,
        details: {
          mailboxes: [box], files: [f.file], target: 'maildir', crashed_pid: run.pid,
          stored_at: new Date(f.t).toISOString(), body_sha256: hash,
          reason: 'stored in the mailbox, but the gateway process ended before it recorded the delivery and answered 250; the sender may send it again, and a retry with the same Message-ID and body is not stored twice',
        },
      });
      result.recovered++;
    }
    if (events.length) await o.append(events);
    fs.rmSync(run.mark, { force: true });
  }
  return result;
}
