import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import Headers from 'mailsplit/lib/headers.js';
import libmime from 'libmime';
import { normalizeMessageId } from '../util/message-id.js';

/** Messages up to this size stay in memory; larger ones are spooled to disk. */
const MEMORY_LIMIT = 1024 * 1024;
/** Header block kept for parsing; RFC 5322 sets no limit, we do. */
const HEADER_LIMIT = 256 * 1024;

export interface Collected {
  /** LF line ends (the Maildir convention). */
  body: { buffer: Buffer } | { path: string };
  size: number;
  header: Buffer;
  messageId: string | null;
  subject: string | null;
  /** The client sent more than the size limit; the rest was read and dropped. */
  oversized: boolean;
  /** Offset in body where the message body begins (after the empty line that ends the header block). */
  bodyStart: number;
  /** Line ends that were not CRLF (see BareLineEnds). */
  bare: BareLineEnds;
}

/**
 * A CR or LF that is not part of a CRLF pair. RFC 5321 section 2.3.8: they
 * MUST NOT be sent except as CRLF line ends. A downstream server that ends
 * DATA on a bare-CR or bare-LF form ("\r.\r\n", "\n.\n") would read what
 * follows as a new, unchecked transaction (SMTP smuggling), so they never
 * leave here as they came: refused (the default) or turned into line ends.
 */
export interface BareLineEnds {
  cr: number;
  lf: number;
  /** Offset in the received data of the first one; null when none. */
  first: number | null;
}

export type BareLineEndPolicy = 'reject' | 'normalize';

/**
 * Reads the DATA stream (already dot-unstuffed by smtp-server), turns CRLF
 * into LF, keeps the header block for parsing, and spools large messages to
 * a file so a hundred 25 MB messages at once do not live in memory.
 */
export async function collect(stream: Readable & { sizeExceeded?: boolean }, spoolDir: string, policy: BareLineEndPolicy = 'reject'): Promise<Collected> {
  const chunks: Buffer[] = [];
  let inMemory = 0;
  let size = 0;
  let pendingCR = false;
  let spool: { fh: fsp.FileHandle; path: string } | null = null;
  let header: Buffer | null = null;
  let bodyStart = -1;
  let headSearch = Buffer.alloc(0);
  const bare: BareLineEnds = { cr: 0, lf: 0, first: null };
  let received = 0;

  const toLF = (chunk: Buffer): Buffer => {
    // Work on bytes: a chunk may end inside a CRLF or a UTF-8 sequence. A CR
    // at the end of a chunk waits for the next one, so src[i - 1] below is
    // always the byte that came before.
    let src = chunk;
    let at = received - (pendingCR ? 1 : 0);
    received += chunk.length;
    if (pendingCR) src = Buffer.concat([Buffer.from('\r'), src]);
    pendingCR = src.length > 0 && src[src.length - 1] === 0x0d;
    if (pendingCR) src = src.subarray(0, src.length - 1);
    const out = Buffer.allocUnsafe(src.length);
    let j = 0;
    for (let i = 0; i < src.length; i++, at++) {
      const b = src[i]!;
      if (b === 0x0d) {
        if (src[i + 1] === 0x0a) continue;
        bare.cr++;
        if (bare.first === null) bare.first = at;
        out[j++] = policy === 'normalize' ? 0x0a : 0x0d;
        continue;
      }
      if (b === 0x0a && (i === 0 || src[i - 1] !== 0x0d)) {
        bare.lf++;
        if (bare.first === null) bare.first = at;
      }
      out[j++] = b;
    }
    return out.subarray(0, j);
  };

  try {
    for await (const raw of stream as AsyncIterable<Buffer>) {
      const chunk = toLF(raw);
      size += chunk.length;
      if (header === null) {
        headSearch = Buffer.concat([headSearch, chunk]);
        const end = headSearch.indexOf('\n\n');
        if (end >= 0) { header = headSearch.subarray(0, end + 1); bodyStart = end + 2; }
        else if (headSearch[0] === 0x0a) { header = Buffer.alloc(0); bodyStart = 1; }
        else if (headSearch.length > HEADER_LIMIT) header = headSearch.subarray(0, HEADER_LIMIT);
      }
      if (stream.sizeExceeded) continue;
      if (!spool && inMemory + chunk.length > MEMORY_LIMIT) {
        await fsp.mkdir(spoolDir, { recursive: true, mode: 0o700 });
        const p = path.join(spoolDir, `${Date.now()}-${process.pid}-${randomBytes(6).toString('hex')}`);
        spool = { fh: await fsp.open(p, 'wx', 0o600), path: p };
        for (const c of chunks) await spool.fh.write(c);
        chunks.length = 0;
      }
      if (spool) await spool.fh.write(chunk);
      else { chunks.push(chunk); inMemory += chunk.length; }
    }
    if (pendingCR) {
      // The data ended in a CR without its LF: a bare CR too.
      bare.cr++;
      if (bare.first === null) bare.first = received - 1;
      const cr = Buffer.from(policy === 'normalize' ? '\n' : '\r');
      size += 1;
      if (!stream.sizeExceeded) { if (spool) await spool.fh.write(cr); else chunks.push(cr); }
    }
  } catch (err) {
    if (spool) { await spool.fh.close().catch(() => undefined); await fsp.unlink(spool.path).catch(() => undefined); }
    throw err;
  }
  if (spool) await spool.fh.close();
  if (header === null) header = headSearch.subarray(0, Math.min(headSearch.length, HEADER_LIMIT));

  let messageId: string | null = null;
  let subject: string | null = null;
  try {
    const h = new Headers(header);
    messageId = normalizeMessageId(h.getFirst('message-id'));
    // Decoded (RFC 2047), so research can search and show it as the user saw it.
    const raw = utf8Header(h.getFirst('subject'));
    let decoded = raw;
    try { decoded = libmime.decodeWords(raw); } catch { /* keep it encoded */ }
    subject = decoded.slice(0, 998) || null;
  } catch {
    // A header block that does not parse is the sender's problem; the message
    // is stored as it came.
  }
  return {
    body: spool ? { path: spool.path } : { buffer: Buffer.concat(chunks) },
    size,
    header,
    messageId,
    subject,
    oversized: !!stream.sizeExceeded,
    bodyStart: bodyStart >= 0 ? Math.min(bodyStart, size) : size,
    bare,
  };
}

export async function discard(c: Collected): Promise<void> {
  if ('path' in c.body) await fsp.unlink(c.body.path).catch(() => undefined);
}

/**
 * The header parser reads bytes as Latin-1. RFC 6532 section 3.2 lets a
 * header carry raw UTF-8 (and mail programs send it without SMTPUTF8 too):
 * when the bytes are valid UTF-8 they are read as such, else left as Latin-1.
 */
export function utf8Header(v: string): string {
  if (!/[\x80-\xff]/.test(v)) return v;
  const bytes = Buffer.from(v, 'latin1');
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? text : v;
}
