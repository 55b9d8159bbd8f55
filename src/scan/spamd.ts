// A client for SpamAssassin's spamd: the SPAMC/1.5 protocol over TCP or a
// unix socket (spamd(1p), "PROTOCOL" in the SpamAssassin source).
//
// Hand-written rather than an npm package: the npm `spamc` package (0.0.5) is
// unmaintained, has no timeout and no size bound, and turns a refused
// connection and a spamd error into the same callback error; the Haraka
// plugin is bound to Haraka. The protocol is a few lines of framing:
//
//   client: "REPORT SPAMC/1.5\r\n"
//           "Content-length: <bytes>\r\n"
//           ["User: <name>\r\n"]
//           "\r\n"
//           <the message>
//   spamd:  "SPAMD/1.1 0 EX_OK\r\n"
//           "Content-length: <bytes>\r\n"          (SYMBOLS, REPORT)
//           "Spam: True ; 1005.2 / 5.0\r\n"
//           "\r\n"
//           <body>                                 and closes the connection
//
// The body of SYMBOLS is "NAME,NAME,..."; the body of REPORT is the report
// text with its table of " pts rule name  description" lines, from which the
// rules and their scores are read. spamd learns the envelope only from the
// message: the gateway's Received: header (client address, HELO, PTR) is in
// the message it scans. An error reply is "SPAMD/1.0 <code> <EX_ name>" with
// a sysexits(3) code other than 0.
import fs from 'node:fs';
import net from 'node:net';
import {
  evidenceText, headerSafe, reasonText, sourceInfo,
  type ScanOptions, type SpamEnvelope, type SpamErrorCode, type SpamResult, type SpamScanner,
  type SpamSource, type SpamSymbol, type SpamVerdict,
} from './spam-types.js';

export type SpamdAddress = { host: string; port: number } | { socket: string };

/**
 * CHECK: score only. SYMBOLS: rule names without scores. REPORT (default):
 * rule names with scores, read from the report's table.
 */
export type SpamdCommand = 'CHECK' | 'SYMBOLS' | 'REPORT';

export interface SpamdClientOptions {
  address: SpamdAddress;
  command?: SpamdCommand;
  /** Longest one scan may take, connect to the end of the reply. Default 30 s. */
  timeoutMs?: number;
  /** Replies larger than this are an error ('protocol'). Default 256 KiB. */
  maxResponseBytes?: number;
  /** Messages larger than this are not sent: an error 'too_large'. Default 25 MiB. */
  maxMessageBytes?: number;
  /** User: header (whose preferences spamd applies); default none. */
  user?: string;
}

const DEFAULTS = {
  command: 'REPORT' as SpamdCommand,
  timeoutMs: 30000,
  maxResponseBytes: 256 * 1024,
  maxMessageBytes: 25 * 1024 * 1024,
};

/** The request's header block for a message of `size` bytes. */
export function spamdRequest(command: SpamdCommand, size: number, user?: string): Buffer {
  let h = `${command} SPAMC/1.5\r\nContent-length: ${size}\r\n`;
  if (user) h += `User: ${headerSafe(user, 128)}\r\n`;
  return Buffer.from(`${h}\r\n`, 'utf8');
}

const NUM = '(-?\\d+(?:\\.\\d+)?)';
const SPAM_HEADER = new RegExp(`^(True|False|Yes|No)\\s*;\\s*${NUM}\\s*/\\s*${NUM}\\s*$`, 'i');
/**
 * A row of the report table: the score right-aligned in 4 columns, then the
 * rule name. Continuation lines of a long description are indented further.
 */
const REPORT_ROW = new RegExp(`^ {0,3}${NUM} +([A-Za-z0-9_.]+)(?: |$)`);

/** The rules and scores from a REPORT body; [] if it has no table we recognise. */
export function parseReportTable(body: string): SpamSymbol[] {
  const lines = body.split(/\r?\n/);
  const sep = lines.findIndex((l) => /^-{3,} -{3,}/.test(l));
  if (sep < 0) return [];
  const out: SpamSymbol[] = [];
  for (const line of lines.slice(sep + 1)) {
    const m = REPORT_ROW.exec(line);
    if (m) out.push({ name: m[2]!, score: Number(m[1]) });
  }
  return out;
}

/** From a REPORT body, the part worth keeping as evidence: the table, not the content preview. */
function reportEvidence(body: string): string {
  const i = body.search(/^Content analysis details:/m);
  return i >= 0 ? body.slice(i) : '';
}

/**
 * spamd's whole reply as a verdict. Pure: the bytes spamd sent (up to its
 * closing the connection) in, verdict out.
 */
export function parseSpamdReply(command: SpamdCommand, reply: string): SpamVerdict {
  const err = (code: SpamErrorCode, reason: string): SpamVerdict => ({ kind: 'error', backend: 'spamd', code, reason });
  const headEnd = reply.indexOf('\r\n\r\n');
  const head = headEnd >= 0 ? reply.slice(0, headEnd) : reply.replace(/\r\n$/, '');
  const body = headEnd >= 0 ? reply.slice(headEnd + 4) : '';
  const lines = head.split('\r\n');
  const status = /^SPAMD\/(\d+\.\d+) +(\d+) +(.*)$/.exec(lines[0] ?? '');
  if (!status) return err('protocol', `not a spamd reply: ${reasonText(lines[0] ?? '')}`);
  if (status[2] !== '0') return err('scanner', `spamd answered ${status[2]} ${reasonText(status[3]!)}`);
  if (headEnd < 0) return err('protocol', 'spamd\'s reply has no end of headers');
  let spamHeader: RegExpExecArray | null = null;
  let contentLength: number | null = null;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'spam') spamHeader = SPAM_HEADER.exec(value);
    else if (name === 'content-length' && /^\d+$/.test(value)) contentLength = Number(value);
  }
  if (!spamHeader) return err('protocol', 'spamd\'s reply has no valid Spam: header');
  if (contentLength !== null && Buffer.byteLength(body, 'utf8') < contentLength) {
    return err('protocol', `spamd's reply broke off: ${Buffer.byteLength(body, 'utf8')} of ${contentLength} body bytes`);
  }
  const spam = /^(true|yes)$/i.test(spamHeader[1]!);
  const score = Number(spamHeader[2]);
  const threshold = Number(spamHeader[3]);
  let symbols: SpamSymbol[] = [];
  if (command === 'SYMBOLS') {
    symbols = body.trim().split(',').map((s) => s.trim()).filter((s) => s !== '').map((name) => ({ name, score: null }));
  } else if (command === 'REPORT') {
    symbols = parseReportTable(body);
  }
  symbols.sort((a, b) => (b.score ?? 0) - (a.score ?? 0) || a.name.localeCompare(b.name));
  return { kind: 'scored', backend: 'spamd', score, threshold, spam, action: null, symbols };
}

/** The reply as evidence: status and headers, plus the symbol list or report table (no content preview). */
function spamdEvidence(command: SpamdCommand, reply: string): string {
  const headEnd = reply.indexOf('\r\n\r\n');
  if (headEnd < 0) return evidenceText(reply.replace(/\r\n/g, '\n'), 4096);
  const head = reply.slice(0, headEnd).replace(/\r\n/g, '\n');
  const body = reply.slice(headEnd + 4);
  const kept = command === 'REPORT' ? reportEvidence(body) : body;
  return evidenceText(kept ? `${head}\n\n${kept.replace(/\r\n/g, '\n')}` : head, 16 * 1024);
}

export class SpamdClient implements SpamScanner {
  readonly backend = 'spamd' as const;
  private readonly o: typeof DEFAULTS & SpamdClientOptions;

  constructor(opts: SpamdClientOptions) {
    this.o = { ...DEFAULTS, ...opts };
  }

  private where(): string {
    const a = this.o.address;
    return 'socket' in a ? a.socket : `${a.host}:${a.port}`;
  }

  /** PING: true when spamd answers PONG. Never rejects. */
  async ping(timeoutMs = 2000): Promise<boolean> {
    return new Promise((resolve) => {
      const a = this.o.address;
      const sock = 'socket' in a ? net.connect(a.socket) : net.connect(a.port, a.host);
      let buf = '';
      const timer = setTimeout(() => sock.destroy(), timeoutMs);
      sock.on('connect', () => sock.write('PING SPAMC/1.5\r\n\r\n'));
      sock.on('data', (d: Buffer) => { if (buf.length < 256) buf += d.toString('latin1'); });
      sock.on('close', () => { clearTimeout(timer); resolve(/^SPAMD\/\d+\.\d+ 0 PONG/.test(buf)); });
      sock.on('error', () => { /* close follows */ });
    });
  }

  // The envelope is not sent: spamd reads it from the message's headers.
  async scan(source: SpamSource, _envelope: SpamEnvelope = {}, opts: ScanOptions = {}): Promise<SpamResult> {
    const t0 = Date.now();
    const command = this.o.command;
    const done = (v: SpamVerdict, raw: string | null, bytes: number): SpamResult => ({ ...v, raw, ms: Date.now() - t0, bytes });
    const fail = (code: SpamErrorCode, reason: string, raw: string | null = null, bytes = 0): SpamResult =>
      done({ kind: 'error', backend: 'spamd', code, reason }, raw, bytes);

    let info: Awaited<ReturnType<typeof sourceInfo>>;
    try {
      info = await sourceInfo(source);
    } catch (e) {
      return fail('io', `cannot read the message: ${(e as Error).message}`);
    }
    if (info.size > this.o.maxMessageBytes) {
      return fail('too_large', `message of ${info.size} bytes is over the limit of ${this.o.maxMessageBytes} bytes for spamd`);
    }
    if (opts.signal?.aborted) return fail('aborted', 'aborted before the scan started');

    return new Promise<SpamResult>((resolve) => {
      const a = this.o.address;
      const sock = 'socket' in a ? net.connect(a.socket) : net.connect(a.port, a.host);
      let settled = false;
      let connected = false;
      let sent = 0;
      let size = 0;
      const chunks: Buffer[] = [];
      let readError: NodeJS.ErrnoException | null = null;
      let rs: fs.ReadStream | null = null;
      const finish = (r: SpamResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        rs?.destroy();
        sock.destroy();
        resolve(r);
      };
      const timer = setTimeout(() => {
        finish(fail('timeout', connected
          ? `spamd did not answer within ${this.o.timeoutMs} ms`
          : `could not connect to spamd at ${this.where()} within ${this.o.timeoutMs} ms`, null, sent));
      }, this.o.timeoutMs);
      const onAbort = (): void => finish(fail('aborted', 'scan aborted', null, sent));
      opts.signal?.addEventListener('abort', onAbort, { once: true });

      sock.on('connect', () => {
        connected = true;
        sock.write(spamdRequest(command, info.size, this.o.user));
        if (info.buffer) {
          sent = info.size;
          sock.write(info.buffer);
        } else if (info.path) {
          const r = fs.createReadStream(info.path);
          rs = r;
          r.on('data', (d) => { sent += d.length; });
          r.on('error', (e: NodeJS.ErrnoException) => {
            readError = e;
            finish(fail('io', `cannot read the message: ${e.code ?? e.message}`, null, sent));
          });
          r.pipe(sock, { end: false });
        }
        // spamd reads exactly Content-length bytes and then answers; the
        // connection stays open for the reply, so no half-close is needed.
      });
      sock.on('data', (d: Buffer) => {
        size += d.length;
        if (size > this.o.maxResponseBytes) {
          finish(fail('protocol', `spamd's reply is over ${this.o.maxResponseBytes} bytes`,
            spamdEvidence(command, Buffer.concat(chunks).toString('utf8')), sent));
          return;
        }
        chunks.push(d);
      });
      sock.on('error', (e: NodeJS.ErrnoException) => {
        if (readError) return;
        if (!connected) {
          finish(fail('connect', `cannot connect to spamd at ${this.where()}: ${e.code ?? e.message}`));
        } else if (size === 0) {
          // EPIPE/ECONNRESET while we still wrote: a reply may still be in
          // the buffer (spamd refuses early); 'close' reads it if so.
          if (e.code !== 'EPIPE' && e.code !== 'ECONNRESET') {
            finish(fail('protocol', `connection to spamd broke: ${e.code ?? e.message}`, null, sent));
          }
        }
      });
      sock.on('close', () => {
        if (settled) return;
        if (!connected) {
          finish(fail('connect', `cannot connect to spamd at ${this.where()}`));
          return;
        }
        const reply = Buffer.concat(chunks).toString('utf8');
        if (reply === '') {
          finish(fail('protocol', 'spamd closed the connection without a reply', null, sent));
          return;
        }
        finish(done(parseSpamdReply(command, reply), spamdEvidence(command, reply), sent));
      });
    });
  }
}
