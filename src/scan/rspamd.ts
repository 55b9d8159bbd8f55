// An rspamd client: POST /checkv2 to the normal worker (rspamd's HTTP protocol,
// https://rspamd.com/doc/developers/protocol.html).
//
// Hand-written rather than an npm package: the npm clients are either Haraka
// plugins (haraka-plugin-rspamd, bound to Haraka's connection objects) or
// unmaintained wrappers; none reports "could not connect" apart from "rspamd
// said no", keeps the raw reply as evidence, or bounds the reply size. The
// protocol itself is one HTTP request.
//
//   POST /checkv2 HTTP/1.1
//   IP: 192.0.2.1           client address
//   Helo: mail.example.org  HELO/EHLO name
//   Hostname: ...           reverse DNS of the client ("unknown": none)
//   From: <a@example.org>   envelope sender ("<>" for the null sender)
//   Rcpt: b@example.com     one header per envelope recipient
//   Queue-Id: REF           appears in rspamd's log
//   Settings: {"groups_disabled":[...],"symbols_disabled":[...]}
//                           rules not to run for this message (below)
//   Content-Length: N
//
//   <the message>
//
// Reply (200): {"is_skipped":false,"score":2.7,"required_score":15.0,
//   "action":"no action","symbols":{"NAME":{"name":"NAME","score":0.3,...}},...}
// An error is a non-200 status with {"error":"..."}.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { pipeline } from 'node:stream/promises';
import {
  evidenceText, headerSafe, reasonText, sourceInfo,
  type ScanOptions, type SpamEnvelope, type SpamErrorCode, type SpamResult, type SpamScanner,
  type SpamSource, type SpamSymbol, type SpamVerdict,
} from './spam-types.js';
import { rspamdSettings } from './rspamd-settings.js';

export interface RspamdClientOptions {
  /** Base URL of the normal worker (or the proxy), e.g. http://127.0.0.1:11333. */
  url: string;
  /** Longest one scan may take, connect to the end of the reply. Default 20 s (rspamd's task_timeout is 8 s). */
  timeoutMs?: number;
  /** Replies larger than this are an error ('protocol'). Default 1 MiB. */
  maxResponseBytes?: number;
  /** Messages larger than this are not sent: an error 'too_large'. Default 50 MiB (rspamd's max_message). */
  maxMessageBytes?: number;
  /** Controller/proxy password, if the worker wants one. */
  password?: string;
  /** More request headers (e.g. Settings-ID, MTA-Name). */
  extraHeaders?: Record<string, string>;
  /** Keep-alive agent for many scans; default a new connection per scan. */
  agent?: http.Agent;
  /** Symbols that stop rspamd's client-address block lists (ScanOptions.skip.rbl); default RSPAMD_RBL_SYMBOLS. */
  rblSymbols?: readonly string[];
}

const DEFAULTS = {
  timeoutMs: 20000,
  maxResponseBytes: 1024 * 1024,
  maxMessageBytes: 50 * 1024 * 1024,
};

/** Evidence is bounded: the ledger row stays small whatever rspamd says. */
const RAW_MAX = 64 * 1024;

/** A header value as Node sends it: the UTF-8 bytes of the value as a latin1 string. */
function wire(value: string): string {
  return Buffer.from(headerSafe(value), 'utf8').toString('latin1');
}

/** Request headers for the envelope; values from the client are cleaned. */
export function rspamdHeaders(env: SpamEnvelope = {}): Record<string, string | string[]> {
  const h: Record<string, string | string[]> = {};
  if (env.clientIp) h.IP = wire(env.clientIp);
  if (env.helo) h.Helo = wire(env.helo);
  if (env.ptr) h.Hostname = wire(env.ptr);
  if (env.mailFrom !== undefined) h.From = env.mailFrom === '' ? '<>' : wire(env.mailFrom);
  if (env.rcpts && env.rcpts.length > 0) h.Rcpt = env.rcpts.map(wire);
  if (env.queueId) h['Queue-Id'] = wire(env.queueId);
  if (env.user) h.User = wire(env.user);
  return h;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * rspamd's reply to /checkv2 as a verdict. Pure: status and body in, verdict
 * out; a body that is not the documented JSON is a 'protocol' error.
 */
export function parseRspamdReply(status: number, body: string): SpamVerdict {
  const err = (code: SpamErrorCode, reason: string): SpamVerdict => ({ kind: 'error', backend: 'rspamd', code, reason });
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    if (status !== 200) return err('scanner', `rspamd answered HTTP ${status}: ${reasonText(body.trim())}`);
    return err('protocol', `rspamd's reply is not JSON: ${reasonText(body.trim())}`);
  }
  if (status !== 200) {
    const msg = isRecord(json) && typeof json.error === 'string' ? json.error : body.trim();
    return err('scanner', `rspamd answered HTTP ${status}: ${reasonText(msg)}`);
  }
  if (!isRecord(json)) return err('protocol', 'rspamd\'s reply is not a JSON object');
  if (typeof json.error === 'string') return err('scanner', `rspamd: ${reasonText(json.error)}`);
  const { score, required_score: threshold, action } = json;
  if (typeof score !== 'number' || !Number.isFinite(score)) return err('protocol', 'rspamd\'s reply has no numeric score');
  if (typeof threshold !== 'number' || !Number.isFinite(threshold)) return err('protocol', 'rspamd\'s reply has no numeric required_score');
  if (typeof action !== 'string') return err('protocol', 'rspamd\'s reply has no action');
  const symbols: SpamSymbol[] = [];
  if (isRecord(json.symbols)) {
    for (const [key, s] of Object.entries(json.symbols)) {
      const name = isRecord(s) && typeof s.name === 'string' ? s.name : key;
      const sc = isRecord(s) && typeof s.score === 'number' && Number.isFinite(s.score) ? s.score : null;
      symbols.push({ name, score: sc });
    }
  }
  // Highest contribution first: the ledger shows what mattered at the top.
  symbols.sort((a, b) => (b.score ?? 0) - (a.score ?? 0) || a.name.localeCompare(b.name));
  return { kind: 'scored', backend: 'rspamd', score, threshold, spam: action === 'reject', action, symbols };
}

export class RspamdClient implements SpamScanner {
  readonly backend = 'rspamd' as const;
  private readonly o: Required<Omit<RspamdClientOptions, 'password' | 'agent' | 'extraHeaders' | 'rblSymbols'>> & RspamdClientOptions;
  private readonly endpoint: URL;

  constructor(opts: RspamdClientOptions) {
    this.o = { ...DEFAULTS, ...opts };
    this.endpoint = new URL('checkv2', opts.url.endsWith('/') ? opts.url : `${opts.url}/`);
    if (this.endpoint.protocol !== 'http:' && this.endpoint.protocol !== 'https:') {
      throw new Error(`rspamd url must be http: or https:, not ${this.endpoint.protocol}`);
    }
    // Configuration errors show here, at start, not as a failed scan per message.
    for (const [name, value] of Object.entries({ ...opts.extraHeaders, ...(opts.password ? { Password: opts.password } : {}) })) {
      http.validateHeaderName(name);
      http.validateHeaderValue(name, value);
    }
    for (const sym of opts.rblSymbols ?? []) {
      if (!/^[A-Za-z0-9_]{1,100}$/.test(sym)) throw new Error(`rspamd symbol name "${sym}" is not a symbol name (letters, digits, _)`);
    }
  }

  /** GET /ping: true when the worker answers "pong". Never rejects. */
  async ping(timeoutMs = 2000): Promise<boolean> {
    const url = new URL('ping', this.endpoint);
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve) => {
      const req = mod.get(url, { agent: this.o.agent ?? false, timeout: timeoutMs }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => { if (body.length < 64) body += d; });
        res.on('end', () => resolve(res.statusCode === 200 && body.startsWith('pong')));
        res.on('error', () => resolve(false));
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
    });
  }

  async scan(source: SpamSource, envelope: SpamEnvelope = {}, opts: ScanOptions = {}): Promise<SpamResult> {
    const t0 = Date.now();
    const done = (v: SpamVerdict, raw: string | null, bytes: number): SpamResult => ({ ...v, raw, ms: Date.now() - t0, bytes });
    const fail = (code: SpamErrorCode, reason: string, raw: string | null = null, bytes = 0): SpamResult =>
      done({ kind: 'error', backend: 'rspamd', code, reason }, raw, bytes);

    let info: Awaited<ReturnType<typeof sourceInfo>>;
    try {
      info = await sourceInfo(source);
    } catch (e) {
      return fail('io', `cannot read the message: ${(e as Error).message}`);
    }
    if (info.size > this.o.maxMessageBytes) {
      return fail('too_large', `message of ${info.size} bytes is over the limit of ${this.o.maxMessageBytes} bytes for rspamd`);
    }
    if (opts.signal?.aborted) return fail('aborted', 'aborted before the scan started');

    // Our settings, unless the operator's own headers name a settings block.
    const settings = rspamdSettings(opts.skip, this.o.rblSymbols);
    const own = Object.keys(this.o.extraHeaders ?? {}).some((h) => /^settings(-id)?$/i.test(h));
    const headers: Record<string, string | string[] | number> = {
      ...rspamdHeaders(envelope),
      ...(settings && !own ? { Settings: settings } : {}),
      ...this.o.extraHeaders,
      'Content-Length': info.size,
    };
    if (this.o.password) headers.Password = this.o.password;
    const mod = this.endpoint.protocol === 'https:' ? https : http;

    return new Promise<SpamResult>((resolve) => {
      let settled = false;
      let connected = false;
      let sent = 0;
      let readError: NodeJS.ErrnoException | null = null;
      const finish = (r: SpamResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        resolve(r);
      };
      const req = mod.request(this.endpoint, { method: 'POST', headers, agent: this.o.agent ?? false });
      const timer = setTimeout(() => {
        finish(fail('timeout', connected
          ? `rspamd did not answer within ${this.o.timeoutMs} ms`
          : `could not connect to rspamd at ${this.endpoint.host} within ${this.o.timeoutMs} ms`, null, sent));
        req.destroy();
      }, this.o.timeoutMs);
      const onAbort = (): void => {
        finish(fail('aborted', 'scan aborted', null, sent));
        req.destroy();
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });

      req.on('socket', (s) => {
        if (!s.connecting) connected = true;
        else s.once('connect', () => { connected = true; });
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (readError) {
          finish(fail('io', `cannot read the message: ${readError.code ?? readError.message}`, null, sent));
        } else if (!connected) {
          finish(fail('connect', `cannot connect to rspamd at ${this.endpoint.host}: ${e.code ?? e.message}`));
        } else {
          finish(fail('protocol', `connection to rspamd broke: ${e.code ?? e.message}`, null, sent));
        }
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (d: Buffer) => {
          size += d.length;
          if (size > this.o.maxResponseBytes) {
            finish(fail('protocol', `rspamd's reply is over ${this.o.maxResponseBytes} bytes`,
              evidenceText(Buffer.concat(chunks).toString('utf8'), RAW_MAX), sent));
            req.destroy();
            return;
          }
          chunks.push(d);
        });
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          finish(done(parseRspamdReply(res.statusCode ?? 0, body), evidenceText(body, RAW_MAX), sent));
        });
        res.on('error', (e: NodeJS.ErrnoException) => {
          finish(fail('protocol', `rspamd's reply broke off: ${e.code ?? e.message}`, null, sent));
        });
      });

      if (info.buffer) {
        sent = info.size;
        req.end(info.buffer);
      } else if (info.path) {
        const rs = fs.createReadStream(info.path);
        rs.on('data', (d) => { sent += d.length; });
        rs.on('error', (e: NodeJS.ErrnoException) => { readError = e; });
        // Errors surface on req's 'error' (pipeline destroys req with them).
        pipeline(rs, req).catch(() => {
          if (readError) finish(fail('io', `cannot read the message: ${readError.code ?? readError.message}`, null, sent));
        });
      }
    });
  }
}
