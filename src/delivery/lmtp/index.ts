// LMTP delivery (RFC 2033) to a mailbox server such as Dovecot's lmtp
// service. The protocol client is shared with the SMTP target
// (../smtp/index.ts, nodemailer's SMTPConnection with `lmtp: true`); what is
// particular to LMTP is that DATA gets one reply per accepted recipient
// (RFC 2033 section 4.2), so some recipients can be stored and others not.
// How that maps onto the single SMTP reply is decided in smtp/gateway.ts.
import type { Health } from '../../health/index.js';
import { DownstreamTarget } from '../smtp/index.js';

export function lmtpTarget(o: { address: string; timeoutMs: number; hostname: string; health: Health }): DownstreamTarget {
  return new DownstreamTarget({ protocol: 'lmtp', address: o.address, timeoutMs: o.timeoutMs, tls: 'none', hostname: o.hostname, health: o.health });
}
