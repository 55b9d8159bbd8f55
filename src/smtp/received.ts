import { asciiSafe } from '../util/sanitize.js';

/** RFC 5322 section 3.3 date-time, e.g. "Fri, 27 Nov 2026 04:31:07 +0000". */
export function rfc5322Date(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]}, ${d.getUTCDate()} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

export interface ReceivedInfo {
  helo: string | null;
  ptr: string | null;
  clientIp: string;
  hostname: string;
  /** ESMTP, ESMTPS (RFC 3848) ... as smtp-server reports it. */
  protocol: string;
  ref: string;
  /** Named only for a single recipient: the header would otherwise disclose Bcc recipients to each other. */
  rcpt: string | null;
  date: Date;
}

/**
 * The trace header of RFC 5321 section 4.4: from (HELO name, reverse name and
 * address as we saw them), by, with, id, for; LF line ends as stored.
 * Client-supplied parts are cleaned: a HELO name cannot forge a header line.
 */
export function receivedHeader(r: ReceivedInfo): string {
  const helo = r.helo ? asciiSafe(r.helo, 100).replace(/[()\\]/g, '?') : 'unknown';
  const ptr = r.ptr ? asciiSafe(r.ptr, 100) : 'unknown';
  const ip = r.clientIp.includes(':') ? `IPv6:${r.clientIp}` : r.clientIp;
  let h = `Received: from ${helo} (${ptr} [${ip}])\n\tby ${r.hostname} (mailproof) with ${r.protocol} id ${r.ref}`;
  if (r.rcpt) h += `\n\tfor <${asciiSafe(r.rcpt, 200).replace(/[<>]/g, '?')}>`;
  h += `;\n\t${rfc5322Date(r.date)}\n`;
  return h;
}

/**
 * RFC 5321 section 4.4: the server that makes final delivery inserts
 * Return-Path with the envelope sender; "<>" for bounces, so mail clients and
 * filters can tell them apart. UTF-8 stays (RFC 6531/6532 with SMTPUTF8);
 * control bytes and angle brackets cannot get through.
 */
export function returnPathHeader(mailFrom: string): string {
  const clean = mailFrom.replace(/[\x00-\x1f\x7f<>]/g, '?').slice(0, 512);
  return `Return-Path: <${clean}>\n`;
}
