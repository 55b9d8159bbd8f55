// The POP3 view of one Maildir (<root>/<domain>/<local>/{new,cur}): a numbered
// list of messages with their sizes and unique ids, the transfer encoding
// RFC 1939 asks for, and the two header fields research needs.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import Headers from 'mailsplit/lib/headers.js';
import { normalizeMessageId } from '../util/message-id.js';

export interface Pop3Message {
  /** 1-based message number of this session (RFC 1939 section 5). */
  n: number;
  file: string;
  uidl: string;
  /** Octets as sent: every line end counted as CRLF, without dot-stuffing (RFC 1939 section 5, LIST). */
  size: number;
  deleted: boolean;
}

/**
 * RFC 1939 section 7 (UIDL): 1 to 70 characters in 0x21-0x7E, stable across
 * sessions. The Maildir base name (before ":2,flags") is unique and stable;
 * one that does not fit (a long host name, odd bytes) is replaced by its SHA-1.
 */
export function uidlOf(fileName: string): string {
  const colon = fileName.indexOf(':');
  const base = colon >= 0 ? fileName.slice(0, colon) : fileName;
  if (base.length >= 1 && base.length <= 70 && /^[\x21-\x7e]+$/.test(base)) return base;
  return createHash('sha1').update(base).digest('hex');
}

// Sizes do not change (Maildir files are written once); cache them by path,
// length and mtime so opening a big mailbox does not read every file each time.
const sizeCache = new Map<string, number>();
const SIZE_CACHE_MAX = 20000;

/** CRLF size of a file with LF (or mixed) line ends: each LF without a CR before it grows by one. */
export async function crlfSize(file: string, st?: fs.Stats): Promise<number> {
  const stat = st ?? await fsp.stat(file);
  const key = `${file}\0${stat.size}\0${stat.mtimeMs}`;
  const hit = sizeCache.get(key);
  if (hit !== undefined) return hit;
  const fh = await fsp.open(file, 'r');
  let size = 0;
  let prevCR = false;
  try {
    const buf = Buffer.allocUnsafe(64 * 1024);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length);
      if (bytesRead === 0) break;
      size += bytesRead;
      let i = buf.indexOf(0x0a, 0);
      while (i !== -1 && i < bytesRead) {
        const before = i === 0 ? prevCR : buf[i - 1] === 0x0d;
        if (!before) size++;
        i = buf.indexOf(0x0a, i + 1);
      }
      prevCR = buf[bytesRead - 1] === 0x0d;
    }
  } finally {
    await fh.close();
  }
  if (sizeCache.size >= SIZE_CACHE_MAX) sizeCache.clear();
  sizeCache.set(key, size);
  return size;
}

/** The messages in new/ and cur/, oldest first (Maildir names start with the delivery time). */
export async function listMaildir(dir: string): Promise<Pop3Message[]> {
  const entries: { name: string; file: string }[] = [];
  for (const sub of ['cur', 'new']) {
    let names: string[];
    try {
      names = await fsp.readdir(path.join(dir, sub));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    for (const name of names) if (!name.startsWith('.')) entries.push({ name, file: path.join(dir, sub, name) });
  }
  entries.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  const out: Pop3Message[] = [];
  const seen = new Set<string>();
  for (const e of entries) {
    let st: fs.Stats;
    try {
      st = await fsp.stat(e.file);
    } catch {
      continue; // removed meanwhile by another program
    }
    if (!st.isFile()) continue;
    const uidl = uidlOf(e.name);
    if (seen.has(uidl)) continue; // the same message in new/ and cur/ (a move in progress): list it once
    seen.add(uidl);
    out.push({ n: out.length + 1, file: e.file, uidl, size: await crlfSize(e.file, st), deleted: false });
  }
  return out;
}

/**
 * Turns stored bytes into the POP3 multi-line form (RFC 1939 section 3):
 * every line end CRLF, a line starting with "." gets another "." in front,
 * and end() adds the terminating ".". With bodyLines set it stops after the
 * header, the blank line and that many body lines (TOP, section 7).
 */
export class Pop3Encoder {
  private prevCR = false;
  private atLineStart = true;
  private lineLen = 0;
  private inHeader = true;
  private bodyLinesSent = 0;
  private done = false;

  constructor(private readonly bodyLines: number | null = null) {}

  get finished(): boolean {
    return this.done;
  }

  push(chunk: Buffer): Buffer {
    if (this.done) return Buffer.alloc(0);
    const out = Buffer.allocUnsafe(chunk.length * 2 + 2);
    let o = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (this.atLineStart) {
        if (!this.inHeader && this.bodyLines !== null && this.bodyLinesSent >= this.bodyLines) {
          this.done = true;
          break;
        }
        if (b === 0x2e) out[o++] = 0x2e;
        this.atLineStart = false;
      }
      if (b === 0x0a) {
        if (!this.prevCR) out[o++] = 0x0d;
        out[o++] = 0x0a;
        const empty = this.lineLen === 0 || (this.lineLen === 1 && this.prevCR);
        if (this.inHeader) {
          if (empty) this.inHeader = false;
        } else {
          this.bodyLinesSent++;
        }
        this.atLineStart = true;
        this.lineLen = 0;
        this.prevCR = false;
        continue;
      }
      out[o++] = b;
      this.lineLen++;
      this.prevCR = b === 0x0d;
    }
    return out.subarray(0, o);
  }

  /** The last line end if the file had none, and the terminating ".". */
  end(): Buffer {
    const tail = this.atLineStart || this.done ? '' : '\r\n';
    this.done = true;
    return Buffer.from(`${tail}.\r\n`, 'latin1');
  }
}

export interface HeaderFacts {
  /** The REF of the delivery, from the Received: field the gateway put on top. */
  ref: string | null;
  messageId: string | null;
}

const HEAD_LIMIT = 64 * 1024;
const OUR_RECEIVED = /\(mailproof\) with [A-Za-z0-9]{1,20} id ([0-9A-HJKMNP-TV-Z]{12})(?![0-9A-Za-z])/;

/**
 * Reads at most the first 64 KiB and parses them defensively: a message's
 * header is written by the sender, and only the gateway's own Received:
 * field (smtp/received.ts) is trusted, which is the topmost one (RFC 5321
 * section 4.4: trace fields are prepended). A REF in a lower, sender-written
 * Received: field is ignored.
 */
export async function readHeaderFacts(file: string): Promise<HeaderFacts> {
  const fh = await fsp.open(file, 'r');
  let head: Buffer;
  try {
    const buf = Buffer.alloc(HEAD_LIMIT);
    const { bytesRead } = await fh.read(buf, 0, HEAD_LIMIT, 0);
    head = buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  return parseHeaderFacts(head);
}

export function parseHeaderFacts(head: Buffer): HeaderFacts {
  const text = head.toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  const header = end >= 0 ? head.subarray(0, end + 1) : head;
  try {
    const h = new Headers(header);
    // Parsed as the gateway parses it (smtp/collect.ts), so the value equals
    // the message_id of the delivery events and `trace --message-id` finds both.
    const messageId = normalizeMessageId(h.getFirst('message-id'));
    const ref = OUR_RECEIVED.exec(h.getFirst('received'))?.[1] ?? null;
    return { ref, messageId };
  } catch {
    return { ref: null, messageId: null };
  }
}
