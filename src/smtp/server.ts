import type { ResolvedConfig } from '../config/load.js';
import { blockListOf, GatewaySmtpServer } from './connection.js';
import type { Gateway } from './gateway.js';
import type { TlsMaterial } from '../net/tls.js';

/** One smtp-server per listen address, all wired to the same gateway. */
export function createSmtpServers(cfg: ResolvedConfig, gateway: Gateway, tls: TlsMaterial): GatewaySmtpServer[] {
  const s = cfg.smtp;
  const trusted = blockListOf(s.trusted_networks);
  return s.listen.map(() => new GatewaySmtpServer({
    name: cfg.hostname,
    key: tls.key,
    cert: tls.cert,
    size: s.max_message_size,
    // No AUTH: this is an MX, not a submission server.
    disabledCommands: ['AUTH'],
    authOptional: true,
    // We are the final destination and send no DSNs; announcing DSN (RFC 3461)
    // or REQUIRETLS (RFC 8689) would promise what we do not do.
    // RFC 2034: enhanced status codes in every reply (smtp-server hides them by default).
    hideENHANCEDSTATUSCODES: false,
    hideDSN: true,
    hideREQUIRETLS: true,
    disableReverseLookup: true,
    useProxy: s.proxy_protocol,
    useXClient: s.xclient,
    socketTimeout: s.idle_timeout_s * 1000,
    closeTimeout: Math.max(1000, s.shutdown_grace_s * 1000),
    maxCommandLength: s.max_command_length,
    maxRecipients: 0, // counted in the gateway, with a REF and a ledger event
    logger: false,
    onConnect: gateway.onConnect,
    onSecure: gateway.onSecure,
    onMailFrom: gateway.onMailFrom,
    onRcptTo: gateway.onRcptTo,
    onData: gateway.onData,
    onClose: gateway.onClose,
  }, {
    greetingDelayMs: s.greeting_delay_ms,
    maxCommands: s.max_commands,
    sessionTimeoutMs: s.session_timeout_s * 1000,
    commandTimeoutMs: s.command_timeout_s * 1000,
    timeToDataMs: s.time_to_data_s * 1000,
    trusted,
    hooks: { onHelo: gateway.onHelo, onLimit: gateway.onLimit, onXclient: gateway.onXclient, onProtocolReply: gateway.onProtocolReply },
  }));
}
