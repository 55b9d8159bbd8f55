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
// Scanning a message.
//
// Two ways, by cost (measured with bench/scanners.ts, see bench/RESULTS.md
// "Scanner calls"):
//
// - 'whole' (the default): the raw message goes to clamd once, one stream.
//   clamd's own mail parser (clamd.conf ScanMail, on by default) decodes
//   every MIME part (base64, quoted-printable, uuencode, attached messages,
//   broken structure, text around the parts) and unpacks archives in them,
//   so one stream sees what the part-by-part scan sees, and more. Most mail
//   is clean, and for clean mail that is the whole cost: no MIME walk on our
//   side, one clamd stream (and one clamd temporary file) instead of one per
//   part plus the whole message. Only when clamd finds something are the
//   decoded parts scanned one by one, to name the attachment in the reply
//   (the rare path: one stream per part up to the infected one). A finding
//   no single part carries (a signature over the raw MIME, a preamble, a
//   uuencoded block, a part clamd's parser sees and ours does not) is
//   reported for "the message", as the part-by-part scan's fallback did.
//   What clamd alone then decides: a message nested deeper than its
//   MaxRecursion (17 by default; our MIME walk decodes up to
//   checks.attachments.max_depth, 20 by default, and only the attachment
//   policy enforces that), and a clamd with ScanMail off, which sees only
//   the encoded text: use 'parts' with such a clamd.
// - 'parts': each decoded MIME leaf on its own, then the whole raw message
//   (1 + parts streams): needs no mail parser in clamd.

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
  /** MIME leaf parts walked; null when the message was not walked (a clean whole-message scan). */
  parts: number | null;
  ms: number;
};

export type ScanMode = 'whole' | 'parts';

export interface ScanMessageOptions {
  limits?: Partial<MimeLimits>;
  /** 'whole' (default) or 'parts': see above. */
  mode?: ScanMode;
  /**
   * 'whole' mode: walk the MIME structure of a message clamd found clean
   * too, to report a walk over the limits as limits_exceeded (default
   * true). Off when the caller leaves the limits to someone else (the
   * attachment policy walks the message anyway): then a clean message costs
   * no MIME walk at all.
   */
  checkLimits?: boolean;
  /** 'parts' mode: also scan the whole raw message (default true). */
  scanWhole?: boolean;
  signal?: AbortSignal;
}

const MAX_RECORDS = 100;

/** "attachment invoice.zip", "the message body (text/plain)", ... */
export function describePart(p: PartRef): string {
  const where = p.filename ? `attachment ${p.filename}` : `part ${p.path} (${p.contentType})`;
  return p.within.length ? `${where} in attached message ${p.within.join(' / ')}` : where;
}

const refOf = (p: MimePart): PartRef => ({ path: p.path, filename: p.filename, contentType: p.contentType, within: p.within });

/** The scans of one message, bounded: findings and errors are always kept. */
class ScanLog {
  readonly scans: ScanRecord[] = [];
  omitted = 0;

  add(r: ScanRecord): void {
    if (this.scans.length < MAX_RECORDS || r.kind !== 'clean') this.scans.push(r);
    else this.omitted++;
  }

  part(part: MimePart, r: ScanResult): PartRef {
    const ref = refOf(part);
    this.add({ target: 'part', part: ref, bytes: part.size, kind: r.kind, ...(r.kind === 'infected' ? { signature: r.signature } : {}), raw: r.raw, ms: r.ms });
    return ref;
  }

  message(r: ScanResult): void {
    this.add({ target: 'message', bytes: r.bytes, kind: r.kind, ...(r.kind === 'infected' ? { signature: r.signature } : {}), raw: r.raw, ms: r.ms });
  }
}

type LimitVerdict = Extract<MessageVerdict, { kind: 'limits_exceeded' }>;

/**
 * Walks the parts; with `scan`, scans each non-empty one until the first
 * finding or error. Returns the part verdict (if any), the limit the walk
 * stopped at (if any) and the parts seen.
 */
async function walkAndScan(
  client: ClamdClient, src: ScanSource, log: ScanLog, opts: ScanMessageOptions, scan: boolean,
): Promise<{ verdict: MessageVerdict | null; limit: LimitVerdict | null; parts: number }> {
  let parts = 0;
  try {
    for await (const item of walkParts(src, opts.limits)) {
      if (item.kind === 'limits_exceeded') return { verdict: null, limit: { kind: 'limits_exceeded', limit: item.limit, max: item.max, at: item.at }, parts };
      parts++;
      const part = item.part;
      if (!scan || part.size === 0) continue;
      // A large part is a temporary file by now: streamed to clamd from there.
      const r = await client.scan(part.body, opts.signal);
      const ref = log.part(part, r);
      if (r.kind === 'infected') return { verdict: { kind: 'infected', signature: r.signature, part: ref }, limit: null, parts };
      if (r.kind === 'error') return { verdict: { kind: 'error', code: r.code, reason: `${r.reason} (scanning ${describePart(ref)})` }, limit: null, parts };
    }
  } catch (e) {
    // Reading the spooled file failed: no verdict possible.
    return { verdict: { kind: 'error', code: 'io', reason: `reading the message failed: ${(e as Error).message}` }, limit: null, parts };
  }
  return { verdict: null, limit: null, parts };
}

/** Today's order of strength: infected > limits_exceeded > error > clean. */
async function scanParts(client: ClamdClient, src: ScanSource, log: ScanLog, opts: ScanMessageOptions): Promise<{ verdict: MessageVerdict; parts: number }> {
  const walked = await walkAndScan(client, src, log, opts, true);
  let verdict = walked.verdict;
  if (!verdict && opts.scanWhole !== false) {
    const r = await client.scan(src, opts.signal);
    log.message(r);
    if (r.kind === 'infected') verdict = { kind: 'infected', signature: r.signature, part: null };
    else if (r.kind === 'error' && !walked.limit) verdict = { kind: 'error', code: r.code, reason: `${r.reason} (scanning the whole message)` };
  }
  return { verdict: verdict ?? walked.limit ?? { kind: 'clean' }, parts: walked.parts };
}

async function scanWholeFirst(client: ClamdClient, src: ScanSource, log: ScanLog, opts: ScanMessageOptions): Promise<{ verdict: MessageVerdict; parts: number | null }> {
  // The limit walk (when asked for) runs beside clamd: it is our CPU, the scan is clamd's.
  const [r, walked] = await Promise.all([
    client.scan(src, opts.signal),
    opts.checkLimits === false ? null : walkAndScan(client, src, log, opts, false),
  ]);
  log.message(r);
  if (r.kind === 'infected') {
    // The rare path: which part is it in? Best effort: a part scan that
    // fails, or a walk that stops at a limit, leaves the finding on the
    // message, never turns it into an error.
    const named = await walkAndScan(client, src, log, opts, true);
    const v = named.verdict;
    if (v?.kind === 'infected') return { verdict: v, parts: named.parts };
    return { verdict: { kind: 'infected', signature: r.signature, part: null }, parts: named.parts };
  }
  if (walked?.verdict?.kind === 'error') return { verdict: walked.verdict, parts: walked.parts };
  if (walked?.limit) return { verdict: walked.limit, parts: walked.parts };
  if (r.kind === 'error') return { verdict: { kind: 'error', code: r.code, reason: `${r.reason} (scanning the whole message)` }, parts: walked?.parts ?? null };
  return { verdict: { kind: 'clean' }, parts: walked?.parts ?? null };
}

/**
 * Scans a message: once as a whole ('whole', the default; its parts only to
 * name an attachment clamd found something in) or part by part and as a
 * whole ('parts').
 *
 * Outcome, strongest first: infected (a part or the whole message) >
 * limits_exceeded (the MIME walk stopped at a limit; the whole message is
 * still scanned so a virus in a MIME bomb is named) > error (clamd could
 * not give a verdict: never clean) > clean. Part scanning stops at the
 * first finding or error.
 */
export async function scanMessage(client: ClamdClient, src: ScanSource, opts: ScanMessageOptions = {}): Promise<MessageScanResult> {
  const started = Date.now();
  const log = new ScanLog();
  const { verdict, parts } = opts.mode === 'parts'
    ? await scanParts(client, src, log, opts)
    : await scanWholeFirst(client, src, log, opts);

  let summary: string;
  switch (verdict.kind) {
    case 'clean': summary = 'no virus found'; break;
    case 'infected': summary = `${verdict.signature} in ${verdict.part ? describePart(verdict.part) : 'the message'}`; break;
    case 'limits_exceeded': summary = `MIME structure over the ${verdict.limit} limit of ${verdict.max} at part ${verdict.at}`; break;
    case 'error': summary = `virus scan failed: ${verdict.reason}`; break;
  }
  return { ...verdict, summary: asciiSafe(summary, 300), scans: log.scans, scansOmitted: log.omitted, parts, ms: Date.now() - started };
}
