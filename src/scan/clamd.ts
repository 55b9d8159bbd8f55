// A clamd client: INSTREAM, PING and VERSION over TCP or a unix socket.
//
// Hand-written rather than an npm package: the protocol is four lines of
// framing (clamd(8), "INSTREAM"), and the packages we looked at (`clamscan`
// 2.x, `clamav.js`) report only "infected or not" plus names, drop the raw
// reply we keep as ledger evidence, conflate "clamd said ERROR" with "could
// not connect", and have no size check against StreamMaxLength. A gateway
// must tell those apart: an unreachable scanner is a tempfail, never a pass.
//
// Protocol (z-variant: commands and replies end in NUL):
//   client: "zINSTREAM\0", then chunks <uint32 big-endian length><bytes>,
//           then a zero-length chunk <00 00 00 00>
//   clamd:  "stream: OK\0" | "stream: <Signature> FOUND\0" | "<text> ERROR\0"
//           and closes the connection.
// When the stream exceeds clamd's StreamMaxLength, clamd answers
// "INSTREAM size limit exceeded. ERROR" and closes, possibly while we still
// write (EPIPE/ECONNRESET after its reply).
import fs from 'node:fs';
import net from 'node:net';
import { asciiSafe } from '../util/sanitize.js';
import { walkParts, type MimeLimits, type MimePart, type MimeLimit } from './parts.js';

export type ClamdAddress = { host: string; port: number } | { socket: string };

export interface ClamdClientOptions {
  address: ClamdAddress;
  /** Longest one command may take, connect to reply. Default 30 s. */
  timeoutMs?: number;
  /** Longest the connect may take (within timeoutMs). Default 5 s. */
  connectTimeoutMs?: number;
  /**
   * clamd's StreamMaxLength in bytes. Input over this is not sent (clamd
   * would refuse it after reading it): the result is an error with code
   * 'too_large'. Default 25 MiB (Debian's clamd.conf). Keep it equal to
   * clamd's setting, and both at least smtp.max_message_size.
   */
  maxStreamBytes?: number;
  /** Bytes per INSTREAM chunk. Default 256 KiB. */
  chunkBytes?: number;
}

/** What went wrong when no verdict came back. */
export type ClamdErrorCode =
  /** Could not connect (refused, no such socket, connect timeout). */
  | 'connect'
  /** No complete reply within timeoutMs. */
  | 'timeout'
  /** The input is larger than StreamMaxLength (ours or clamd's). */
  | 'too_large'
  /** clamd answered "... ERROR". */
  | 'clamd'
  /** The connection broke or the reply could not be understood. */
  | 'protocol'
  /** The spooled file could not be read. */
  | 'io'
  /** The caller aborted (its signal). */
  | 'aborted';

export type ScanVerdict =
  | { kind: 'clean' }
  | { kind: 'infected'; signature: string; /** Every FOUND name (more than one with AllMatchScans). */ signatures: string[] }
  | { kind: 'error'; code: ClamdErrorCode; reason: string };

export type ScanResult = ScanVerdict & {
  /** clamd's reply without the NUL (ledger evidence); null when none came. */
  raw: string | null;
  /** Wall time from connect to reply. */
  ms: number;
  /** Bytes sent in the stream. */
  bytes: number;
};

/** What scan() accepts: a Buffer, or a message body as MessageFacts has it. */
export type ScanSource = Buffer | { buffer: Buffer } | { path: string };

const DEFAULTS = {
  timeoutMs: 30000,
  connectTimeoutMs: 5000,
  maxStreamBytes: 25 * 1024 * 1024,
  chunkBytes: 256 * 1024,
};

/** Parses one INSTREAM reply (without NULs; several joined by NUL with AllMatchScans). */
export function parseInstreamReply(raw: string): ScanVerdict {
  const replies = raw.split('\0').map((r) => r.trim()).filter((r) => r !== '');
  if (replies.length === 0) return { kind: 'error', code: 'protocol', reason: 'empty reply from clamd' };
  const found: string[] = [];
  for (const r of replies) {
    if (/size limit exceeded/i.test(r)) return { kind: 'error', code: 'too_large', reason: r };
    if (/ ERROR$/.test(r)) return { kind: 'error', code: 'clamd', reason: r };
    // "stream: Name FOUND"; with ExtendedDetectionInfo "stream: Name(md5:size) FOUND".
    const m = /^stream: (.+) FOUND$/.exec(r);
    if (m) {
      found.push(m[1]!.replace(/\([0-9a-f]{32,64}:\d+\)$/, ''));
      continue;
    }
    if (r !== 'stream: OK') return { kind: 'error', code: 'protocol', reason: `unexpected reply from clamd: ${asciiSafe(r, 200)}` };
  }
  if (found.length > 0) return { kind: 'infected', signature: found[0]!, signatures: found };
  return { kind: 'clean' };
}

function sourceSize(src: ScanSource): number | Error {
  if (Buffer.isBuffer(src)) return src.length;
  if ('buffer' in src) return src.buffer.length;
  try {
    return fs.statSync(src.path).size;
  } catch (e) {
    return e as Error;
  }
}

async function* chunksOf(src: ScanSource, chunkBytes: number): AsyncGenerator<Buffer> {
  if (Buffer.isBuffer(src) || 'buffer' in src) {
    const buf = Buffer.isBuffer(src) ? src : src.buffer;
    for (let off = 0; off < buf.length; off += chunkBytes) yield buf.subarray(off, off + chunkBytes);
    return;
  }
  const stream = fs.createReadStream(src.path, { highWaterMark: chunkBytes });
  try {
    for await (const chunk of stream) yield chunk as Buffer;
  } finally {
    stream.destroy();
  }
}

export class ClamdClient {
  readonly address: ClamdAddress;
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxStreamBytes: number;
  readonly chunkBytes: number;

  constructor(opts: ClamdClientOptions) {
    this.address = opts.address;
    this.timeoutMs = opts.timeoutMs ?? DEFAULTS.timeoutMs;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs;
    this.maxStreamBytes = opts.maxStreamBytes ?? DEFAULTS.maxStreamBytes;
    this.chunkBytes = opts.chunkBytes ?? DEFAULTS.chunkBytes;
  }

  /** "127.0.0.1:3310" or "unix:/run/clamav/clamd.ctl", for evidence and logs. */
  describe(): string {
    return 'socket' in this.address ? `unix:${this.address.socket}` : `${this.address.host}:${this.address.port}`;
  }

  /** PING; ok when clamd answers PONG. */
  async ping(signal?: AbortSignal): Promise<{ ok: boolean; raw: string | null; ms: number; reason?: string }> {
    const r = await this.command('zPING\0', null, signal);
    if (r.kind === 'error') return { ok: false, raw: r.raw, ms: r.ms, reason: r.reason };
    const ok = r.raw === 'PONG';
    return ok ? { ok, raw: r.raw, ms: r.ms } : { ok, raw: r.raw, ms: r.ms, reason: `unexpected reply: ${asciiSafe(r.raw, 200)}` };
  }

  /** VERSION: "ClamAV 1.4.6/27500/Tue ..." (engine/database version/date), null on failure. */
  async version(signal?: AbortSignal): Promise<string | null> {
    const r = await this.command('zVERSION\0', null, signal);
    return r.kind === 'ok' ? r.raw : null;
  }

  /** Scans a Buffer or a spooled file with INSTREAM. Never throws. */
  async scan(src: ScanSource, signal?: AbortSignal): Promise<ScanResult> {
    const started = Date.now();
    const size = sourceSize(src);
    if (size instanceof Error) {
      return { kind: 'error', code: 'io', reason: `cannot read ${'path' in src ? src.path : 'input'}: ${size.message}`, raw: null, ms: Date.now() - started, bytes: 0 };
    }
    if (size > this.maxStreamBytes) {
      return {
        kind: 'error', code: 'too_large', raw: null, ms: Date.now() - started, bytes: 0,
        reason: `${size} bytes exceed the stream limit of ${this.maxStreamBytes} bytes (clamd StreamMaxLength)`,
      };
    }
    const r = await this.command('zINSTREAM\0', chunksOf(src, this.chunkBytes), signal);
    if (r.kind === 'error') return { kind: 'error', code: r.code, reason: r.reason, raw: r.raw, ms: r.ms, bytes: r.bytes };
    return { ...parseInstreamReply(r.raw), raw: r.raw, ms: r.ms, bytes: r.bytes };
  }

  /**
   * Sends one command (and an INSTREAM body), reads the reply until clamd
   * closes the connection. Resolves, never rejects.
   */
  private command(
    cmd: string,
    body: AsyncIterable<Buffer> | null,
    signal?: AbortSignal,
  ): Promise<{ kind: 'ok'; raw: string; ms: number; bytes: number } | { kind: 'error'; code: ClamdErrorCode; reason: string; raw: string | null; ms: number; bytes: number }> {
    const started = Date.now();
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let received = 0;
      let bytes = 0;
      let connected = false;
      let settled = false;
      const sock = net.connect('socket' in this.address ? { path: this.address.socket } : { host: this.address.host, port: this.address.port });
      sock.setNoDelay(true);

      const replyText = (): string | null => {
        if (received === 0) return null;
        const s = Buffer.concat(chunks).toString('latin1');
        return s.replace(/\0+$/, '').replace(/\r?\n$/, '');
      };
      /** A complete reply ends in NUL (z-commands). */
      const complete = (): boolean => received > 0 && chunks[chunks.length - 1]![chunks[chunks.length - 1]!.length - 1] === 0;

      const finish = (
        r: { kind: 'ok' } | { kind: 'error'; code: ClamdErrorCode; reason: string },
      ): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(connectTimer);
        signal?.removeEventListener('abort', onAbort);
        sock.destroy();
        const raw = replyText();
        const ms = Date.now() - started;
        if (r.kind === 'ok' && raw !== null) resolve({ kind: 'ok', raw, ms, bytes });
        else if (r.kind === 'ok') resolve({ kind: 'error', code: 'protocol', reason: 'clamd closed the connection without a reply', raw, ms, bytes });
        else resolve({ ...r, raw, ms, bytes });
      };

      const timer = setTimeout(() => {
        // A complete reply without the close still counts.
        if (complete()) finish({ kind: 'ok' });
        else finish({ kind: 'error', code: 'timeout', reason: `no reply from clamd at ${this.describe()} within ${this.timeoutMs} ms` });
      }, this.timeoutMs);
      const connectTimer = setTimeout(() => {
        if (!connected) finish({ kind: 'error', code: 'connect', reason: `connect to clamd at ${this.describe()} timed out after ${this.connectTimeoutMs} ms` });
      }, Math.min(this.connectTimeoutMs, this.timeoutMs));
      const onAbort = (): void => finish({ kind: 'error', code: 'aborted', reason: 'scan aborted' });
      if (signal?.aborted) {
        onAbort();
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });

      sock.on('data', (d: Buffer) => {
        chunks.push(d);
        received += d.length;
        if (received > 64 * 1024) finish({ kind: 'error', code: 'protocol', reason: 'reply from clamd too long' });
      });
      sock.on('end', () => finish({ kind: 'ok' }));
      sock.on('close', () => finish({ kind: 'ok' }));
      sock.on('error', (e: NodeJS.ErrnoException) => {
        if (!connected) {
          finish({ kind: 'error', code: 'connect', reason: `cannot connect to clamd at ${this.describe()}: ${e.code ?? e.message}` });
        } else if (complete()) {
          // clamd replied (e.g. size limit) and closed while we still wrote.
          finish({ kind: 'ok' });
        } else {
          finish({ kind: 'error', code: 'protocol', reason: `connection to clamd at ${this.describe()} broke: ${e.code ?? e.message}` });
        }
      });
      sock.on('connect', () => {
        connected = true;
        clearTimeout(connectTimer);
        void send();
      });

      const write = (b: Buffer): Promise<void> => {
        if (sock.write(b)) return Promise.resolve();
        return new Promise((res) => {
          const go = (): void => {
            sock.off('drain', go);
            sock.off('close', go);
            res();
          };
          sock.on('drain', go);
          sock.on('close', go);
        });
      };

      const send = async (): Promise<void> => {
        try {
          await write(Buffer.from(cmd, 'latin1'));
          if (body) {
            for await (const chunk of body) {
              if (settled || sock.destroyed || complete()) return;
              if (chunk.length === 0) continue;
              const head = Buffer.allocUnsafe(4);
              head.writeUInt32BE(chunk.length, 0);
              bytes += chunk.length;
              // Length and data in one writev: no lone 4-byte packet per
              // chunk (the socket has Nagle off).
              sock.cork();
              const a = write(head);
              const b = write(chunk);
              sock.uncork();
              await a;
              await b;
            }
            if (settled || sock.destroyed) return;
            await write(Buffer.alloc(4));
          }
        } catch (e) {
          finish({ kind: 'error', code: 'io', reason: `reading the input failed: ${(e as Error).message}` });
        }
      };
    });
  }
}

// ---------------------------------------------------------------------------
// Scanning a message: each MIME leaf part on its own (so a finding names the
// attachment), then the whole raw message as a fallback (clamd's own mail
// parser sees what a MIME walk may miss: broken structure, uuencode, text
// around parts).

export interface PartRef {
  /** IMAP-style part number ("2", "1.3", "2.1" inside an attached message). */
  path: string;
  filename: string | null;
  contentType: string;
  /** File names (or content types) of the message/rfc822 parts this part sits in, outermost first. */
  within: string[];
}

export interface ScanRecord {
  target: 'part' | 'message';
  part?: PartRef;
  bytes: number;
  kind: ScanVerdict['kind'];
  signature?: string;
  raw: string | null;
  ms: number;
}

export type MessageVerdict =
  | { kind: 'clean' }
  /** part is null when only the whole-message scan found it. */
  | { kind: 'infected'; signature: string; part: PartRef | null }
  | { kind: 'limits_exceeded'; limit: MimeLimit; max: number; at: string }
  | { kind: 'error'; code: ClamdErrorCode; reason: string };

export type MessageScanResult = MessageVerdict & {
  /** One line for a reply or a log: "Mailproof.Test.EICAR in attachment invoice.zip". ASCII only. */
  summary: string;
  /** Every scan made, in order (evidence). At most 100; the rest are counted in scansOmitted. */
  scans: ScanRecord[];
  scansOmitted: number;
  parts: number;
  ms: number;
};

export interface ScanMessageOptions {
  limits?: Partial<MimeLimits>;
  /** Also scan the whole raw message (default true). */
  scanWhole?: boolean;
  signal?: AbortSignal;
}

const MAX_RECORDS = 100;

/** "attachment invoice.zip", "the message body (text/plain)", ... */
export function describePart(p: PartRef): string {
  const where = p.filename ? `attachment ${p.filename}` : `part ${p.path} (${p.contentType})`;
  return p.within.length ? `${where} in attached message ${p.within.join(' / ')}` : where;
}

/**
 * Scans a message part by part and as a whole.
 *
 * Outcome, strongest first: infected (a part or the whole message) >
 * limits_exceeded (the MIME walk stopped at a limit; the whole message is
 * still scanned so a virus in a MIME bomb is named) > error (clamd could
 * not give a verdict: never clean) > clean. Part scanning stops at the
 * first finding or error.
 */
export async function scanMessage(client: ClamdClient, src: ScanSource, opts: ScanMessageOptions = {}): Promise<MessageScanResult> {
  const started = Date.now();
  const scans: ScanRecord[] = [];
  let omitted = 0;
  const record = (r: ScanRecord): void => {
    if (scans.length < MAX_RECORDS || r.kind !== 'clean') scans.push(r);
    else omitted++;
  };
  let parts = 0;
  let verdict: MessageVerdict | null = null;
  let limit: Extract<MessageVerdict, { kind: 'limits_exceeded' }> | null = null;

  const refOf = (p: MimePart): PartRef => ({ path: p.path, filename: p.filename, contentType: p.contentType, within: p.within });

  try {
    for await (const item of walkParts(src, opts.limits)) {
      if (item.kind === 'limits_exceeded') {
        limit = { kind: 'limits_exceeded', limit: item.limit, max: item.max, at: item.at };
        break;
      }
      parts++;
      const part = item.part;
      if (part.size === 0) continue;
      // A large part is a temporary file by now: streamed to clamd from there.
      const r = await client.scan(part.body, opts.signal);
      const ref = refOf(part);
      record({ target: 'part', part: ref, bytes: part.size, kind: r.kind, ...(r.kind === 'infected' ? { signature: r.signature } : {}), raw: r.raw, ms: r.ms });
      if (r.kind === 'infected') {
        verdict = { kind: 'infected', signature: r.signature, part: ref };
        break;
      }
      if (r.kind === 'error') {
        verdict = { kind: 'error', code: r.code, reason: `${r.reason} (scanning ${describePart(ref)})` };
        break;
      }
    }
  } catch (e) {
    // Reading the spooled file failed: no verdict possible.
    verdict = { kind: 'error', code: 'io', reason: `reading the message failed: ${(e as Error).message}` };
  }

  if (!verdict && opts.scanWhole !== false) {
    const r = await client.scan(src, opts.signal);
    record({ target: 'message', bytes: r.bytes, kind: r.kind, ...(r.kind === 'infected' ? { signature: r.signature } : {}), raw: r.raw, ms: r.ms });
    if (r.kind === 'infected') verdict = { kind: 'infected', signature: r.signature, part: null };
    else if (r.kind === 'error' && !limit) verdict = { kind: 'error', code: r.code, reason: `${r.reason} (scanning the whole message)` };
  }
  verdict ??= limit ?? { kind: 'clean' };

  let summary: string;
  switch (verdict.kind) {
    case 'clean': summary = 'no virus found'; break;
    case 'infected': summary = `${verdict.signature} in ${verdict.part ? describePart(verdict.part) : 'the message'}`; break;
    case 'limits_exceeded': summary = `MIME structure over the ${verdict.limit} limit of ${verdict.max} at part ${verdict.at}`; break;
    case 'error': summary = `virus scan failed: ${verdict.reason}`; break;
  }
  return { ...verdict, summary: asciiSafe(summary, 300), scans, scansOmitted: omitted, parts, ms: Date.now() - started };
}
