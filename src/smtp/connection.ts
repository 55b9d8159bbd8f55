// smtp-server does the SMTP protocol well (parsing, pipelining, STARTTLS,
// PROXY, XCLIENT, dot-unstuffing). What it lacks for an MX that must explain
// and record every refusal is written here as a subclass, hand-written because
// no library offers it:
//   - replies with our own RFC 3463 enhanced codes (it derives them from the
//     reply code alone, which turns "550 unknown user" and "550 relaying
//     denied" into the same 5.1.1);
//   - limits it does not have (commands per session, total session time,
//     time to reach DATA, time per command line) and a hook whenever any
//     limit is hit, so each gets a ledger event;
//   - a configurable greeting delay instead of its fixed 100 ms;
//   - trusted networks as CIDR blocks for PROXY and XCLIENT;
//   - a HELO hook, EXPN and VRFY that reveal nothing.
import type { BlockList } from 'node:net';
import { inList } from '../util/cidr.js';
import { asciiSafe } from '../util/sanitize.js';
import type net from 'node:net';
import type tls from 'node:tls';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

export type LimitKind = 'commands' | 'session_time' | 'idle' | 'line_length' | 'early_talker' | 'command_time' | 'time_to_data';

export interface ConnectionHooks {
  onHelo(session: SMTPServerSession, helo: string, command: 'HELO' | 'EHLO'): void;
  /**
   * A limit was hit: records it, then gives the text that goes out with 421
   * (the connection closes). `peer` is the connecting address: before the
   * greeting the session does not know it yet.
   */
  onLimit(session: SMTPServerSession, kind: LimitKind, detail: string, peer: { ip: string; port: number }): Promise<string>;
  /** XCLIENT from a trusted proxy replaced the client's identity (address, name). */
  onXclient(session: SMTPServerSession, original: string): void;
  /**
   * smtp-server itself refused a command (syntax error, bad sequence, unknown
   * command): returns the REF to append, after recording the refusal.
   */
  onProtocolReply(session: SMTPServerSession, code: number, text: string): string | null;
}

export interface ExtraOptions {
  greetingDelayMs: number;
  maxCommands: number;
  sessionTimeoutMs: number;
  /** Longest time from the first byte of a command line to its end. */
  commandTimeoutMs: number;
  /** Longest time from the connection, or the end of the previous message, to DATA. */
  timeToDataMs: number;
  trusted: BlockList;
  hooks: ConnectionHooks;
}

const ENHANCED_PREFIX = /^[245]\.\d{1,3}\.\d{1,3} /;

/** MAIL FROM parameters of the extensions we announce in EHLO. */
const MAIL_PARAMS = new Set(['SIZE', 'BODY', 'SMTPUTF8']);

function unknownParam(command: string, name: string): string {
  // The name is the client's: printable ASCII, short.
  return `${command} parameter ${asciiSafe(name, 20)} is not supported here; please send without it`;
}

export { blockListOf } from '../util/cidr.js';
export const isTrusted = inList;

class GatewayConnection extends SMTPConnection {
  private commands = 0;
  private sessionTimer: NodeJS.Timeout | null = null;
  private toDataTimer: NodeJS.Timeout | null = null;
  private commandTimer: NodeJS.Timeout | null = null;
  /** Between DATA and the end of that message: the time-to-DATA clock is stopped. */
  private inMessage = false;
  /** A limit was hit: its 421 is on the way (limit), the connection answers nothing else. */
  private limited = false;

  private get extra(): ExtraOptions {
    return (this._server as GatewaySmtpServer).extra;
  }

  override init(): void {
    // As the original, minus its maxClients check (our onConnect counts
    // connections in all and per IP) and with the configured delay.
    (this as unknown as { _setListeners(cb: () => void): void })._setListeners(() => {
      const delay = this.extra.greetingDelayMs;
      if (delay > 0) setTimeout(() => { if (!this.limited) this.connectionReady(); }, delay).unref();
      else this.connectionReady();
    });
    this.sessionTimer = setTimeout(() => this.limit('session_time', `${this.extra.sessionTimeoutMs} ms`), this.extra.sessionTimeoutMs);
    this.sessionTimer.unref();
    this.armToData();
  }

  // The idle timeout (socketTimeout) restarts with every byte, so a client
  // that trickles one byte a second never meets it and holds its connection
  // slot for the whole session time. Two clocks that bytes do not reset:
  // the time to reach DATA, and the time one command line may take (as
  // Postfix's smtpd_per_request_deadline does for its smtpd_timeout).

  private armToData(): void {
    if (this.toDataTimer) clearTimeout(this.toDataTimer);
    this.toDataTimer = setTimeout(() => this.limit('time_to_data', `${this.extra.timeToDataMs} ms`), this.extra.timeToDataMs);
    this.toDataTimer.unref();
  }

  /** Bytes arrived; a command line that starts here must end within the command timeout. */
  private onBytes(): void {
    if (this.commandTimer || !this._parser || this._parser._dataMode) return;
    this.commandTimer = setTimeout(() => {
      this.commandTimer = null;
      // Our own handler still working (a pipelined line waits for it): the
      // client is not the slow one; give the line another full period.
      if (this._handlerPending) this.onBytes();
      else this.limit('command_time', `${this.extra.commandTimeoutMs} ms`);
    }, this.extra.commandTimeoutMs);
    this.commandTimer.unref();
  }

  private clearCommandTimer(): void {
    if (this.commandTimer) clearTimeout(this.commandTimer);
    this.commandTimer = null;
  }

  override handler_DATA(command: Buffer, callback: () => void): void {
    const hadRcpts = this.session.envelope.rcptTo.length > 0;
    super.handler_DATA(command, callback);
    if (hadRcpts && this._dataStream) {
      this.inMessage = true;
      if (this.toDataTimer) clearTimeout(this.toDataTimer);
      this.toDataTimer = null;
    }
  }

  override _resetSession(): void {
    super._resetSession();
    // The end of a message (smtp-server resets after its reply): the next
    // transaction gets a fresh time to DATA. RSET alone does not restart it.
    if (this.inMessage) {
      this.inMessage = false;
      this.armToData();
    }
  }

  private limit(kind: LimitKind, detail: string): void {
    if (this._closing || this._closed || this.limited) return;
    // The 421 carries a REF: it goes out once its event is in the ledger.
    // Meanwhile nothing else is answered (_onCommand) and no greeting is sent.
    this.limited = true;
    void this.extra.hooks.onLimit(this.session, kind, detail, { ip: this.remoteAddress, port: this.remotePort })
      .then((text) => { if (!this._closed) this.send(421, text); });
  }

  override send(code: number, data: string | string[], context?: string | false): void {
    // Our replies carry their own enhanced code (see reply.ts); keep it and do
    // not let smtp-server add a second one.
    if (typeof data === 'string' && ENHANCED_PREFIX.test(data)) {
      super.send(code, data, false);
      return;
    }
    // A refusal smtp-server wrote itself (501 syntax, 503 sequence, 500
    // unknown command ...): every refusal gets a REF and a ledger event, so a
    // sender's admin can quote it and support can find it.
    if (typeof data === 'string' && code >= 400 && this.session?.id) {
      const ref = this.extra.hooks.onProtocolReply(this.session, code, data);
      if (ref) data = `${data} (ref ${ref})`;
    }
    super.send(code, data, context as string);
  }

  override _onCommand(command: Buffer, callback: () => void): void {
    if (this.limited) return;
    if (!this._ready && !this._upgrading) {
      // RFC 5321 section 4.3.1: the client waits for the greeting. One that
      // talks first is a bot that does not read replies (postscreen PREGREET).
      this.limit('early_talker', String(command ?? '').slice(0, 64));
      return;
    }
    this.clearCommandTimer();
    if (++this.commands > this.extra.maxCommands) {
      this.limit('commands', `${this.extra.maxCommands}`);
      return;
    }
    super._onCommand(command, callback);
  }

  override _createParser(): ReturnType<SMTPConnection['_createParser']> {
    const parser = super._createParser();
    if (parser) {
      // Every received byte passes here, before and after STARTTLS.
      const write = parser._write.bind(parser);
      parser._write = (chunk: Buffer, enc: BufferEncoding, done: (err?: Error | null) => void): void => {
        this.onBytes();
        write(chunk, enc, done);
      };
      parser.removeAllListeners('error');
      parser.on('error', (err: Error) => {
        // RFC 5321 section 4.5.3.1.4: the command line limit; 500 5.5.6 would
        // be the per-command answer, but a client that floods a line is not
        // talking SMTP any more, so the session ends.
        this.limit('line_length', err.message);
      });
    }
    return parser;
  }

  override _onTimeout(): void {
    if (!this._closing && !this._handlerPending && !(this._dataStream && this._parser && !this._parser._dataMode)) {
      this.limit('idle', 'idle timeout');
      return;
    }
    super._onTimeout();
  }

  override _onClose(): void {
    if (this.sessionTimer) clearTimeout(this.sessionTimer);
    if (this.toDataTimer) clearTimeout(this.toDataTimer);
    this.clearCommandTimer();
    super._onClose();
  }

  override _validateMailParams(parsed: Parameters<SMTPConnection['_validateMailParams']>[0]): ReturnType<SMTPConnection['_validateMailParams']> {
    // RFC 5321 section 4.1.1.11: a parameter the server does not recognise
    // gets 555, not silence. We announce SIZE (RFC 1870), 8BITMIME's BODY
    // (RFC 6152) and SMTPUTF8 (RFC 6531); DSN, REQUIRETLS and AUTH are not
    // offered, so RET, ENVID, REQUIRETLS and AUTH are unknown here too.
    const unknown = Object.keys(parsed.args || {}).find((k) => !MAIL_PARAMS.has(k.toUpperCase()));
    if (unknown !== undefined) return { code: 555, message: unknownParam('MAIL FROM', unknown), enhancedCode: null } as never;
    const err = super._validateMailParams(parsed);
    // A declared SIZE over the limit is our size check's business: it answers
    // at the first RCPT (delayed rejection), with a REF and a ledger event.
    if (err && err.code === 552) return null;
    return err;
  }

  override _proxyCommandAllowed(command: string, option: 'useXClient' | 'useXForward'): boolean {
    // The cheap tests first: smtp-server asks this twice per EHLO, and a
    // BlockList lookup builds a native address object each time.
    return !!this._server.options[option] && !this._xClient.has('ADDR') && this._isSupported(command) &&
      isTrusted(this.extra.trusted, this._originalRemoteAddress);
  }

  override handler_RCPT(command: Buffer, callback: () => void): void {
    // RFC 5321 section 4.1.1.11, as for MAIL: no RCPT parameter is offered
    // (NOTIFY and ORCPT belong to DSN, which we do not announce).
    const parsed = this._parseAddressCommand('rcpt to', command);
    const unknown = parsed && parsed.address ? Object.keys(parsed.args || {})[0] : undefined;
    if (unknown !== undefined) {
      this.send(555, unknownParam('RCPT TO', unknown));
      callback();
      return;
    }
    super.handler_RCPT(command, callback);
  }

  override handler_HELO(command: Buffer, callback: () => void): void {
    super.handler_HELO(command, callback);
    if (this.hostNameAppearsAs) this.extra.hooks.onHelo(this.session, this.hostNameAppearsAs, 'HELO');
  }

  override handler_EHLO(command: Buffer, callback: () => void): void {
    super.handler_EHLO(command, callback);
    if (this.hostNameAppearsAs) this.extra.hooks.onHelo(this.session, this.hostNameAppearsAs, 'EHLO');
  }

  override handler_XCLIENT(command: Buffer, callback: () => void): void {
    const before = this.remoteAddress;
    super.handler_XCLIENT(command, () => {
      if (this.remoteAddress !== before) this.extra.hooks.onXclient(this.session, before);
      callback();
    });
  }

  override handler_VRFY(_command: Buffer, callback: () => void): void {
    // RFC 5321 section 3.5.3: 252 when the server will not verify. Saying
    // nothing about existence keeps address harvesting blind.
    this.send(252, '2.5.2 Cannot VRFY user, but will accept message and attempt delivery');
    callback();
  }

  handler_EXPN(_command: Buffer, callback: () => void): void {
    // RFC 5321 section 3.5.2 allows refusing EXPN; 502 says "not implemented"
    // for every argument alike, so lists and users stay unknown.
    this.send(502, '5.5.1 EXPN is not available');
    callback();
  }
}

export class GatewaySmtpServer extends SMTPServer {
  constructor(options: SMTPServerOptions, readonly extra: ExtraOptions) {
    super(options);
  }

  override connect(socket: net.Socket | tls.TLSSocket, socketOptions?: ConstructorParameters<typeof SMTPConnection>[2]): void {
    const connection = new GatewayConnection(this, socket, socketOptions);
    this.connections.add(connection);
    connection.on('error', (err: Error) => (this as unknown as { _onError(e: Error): void })._onError(err));
    connection.on('connect', (data: unknown) => (this as unknown as { _onClientConnect(d: unknown): void })._onClientConnect(data));
    connection.init();
  }

  override _expectsProxyHeader(socket: net.Socket): boolean {
    return !!this.options.useProxy && isTrusted(this.extra.trusted, socket.remoteAddress);
  }
}
