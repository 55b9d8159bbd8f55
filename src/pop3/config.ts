// The `pop3` block of the configuration (imported by config/schema.ts).
import { z } from 'zod';
import { listenList } from '../config/listen.js';

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:]+):\d{1,5}$/, 'expected HOST:PORT, e.g. 127.0.0.1:1110 or [::1]:1110');

export const pop3Settings = z.strictObject({
  listen: listenList(hostPort, 1110).default(['127.0.0.1:1110'])
    .describe('addresses the POP3 server (RFC 1939) listens on, serving the embedded Maildirs: HOST:PORT, or a list of them; [] = no POP3 server'),
  allow_plaintext_auth: z.boolean().default(false)
    .describe('accept USER/PASS and AUTH PLAIN before STLS; false = only after STLS, on every address including loopback (set true only behind a TLS proxy or for tests)'),
  idle_timeout_s: z.number().int().min(600).default(600)
    .describe('seconds a client may stay silent before autologout; RFC 1939 section 3 asks for at least 10 minutes'),
  max_connections: z.number().int().min(1).default(1000).describe('concurrent POP3 connections in all'),
  max_connections_per_ip: z.number().int().min(1).default(20)
    .describe('concurrent POP3 connections per client IP; IPv6 clients count per network of ipv6_prefix bits'),
  ipv6_prefix: z.number().int().min(32).max(128).default(64)
    .describe('IPv6 clients share max_connections_per_ip per network of this many bits (one end site usually owns a /64 or more); 128 = per address'),
  max_line_length: z.number().int().min(255).max(65536).default(2048)
    .describe('octets per command line; RFC 2449 section 4 allows 255, an AUTH PLAIN response (RFC 5034) needs more'),
  max_auth_failures: z.number().int().min(1).max(100).default(3)
    .describe('failed logins in one session before the server closes it'),
  login_failures_per_ip_per_minute: z.number().int().min(0).default(10)
    .describe('failed logins per client IP (IPv6: per /64) in the last 60 seconds before further logins from it are refused unchecked; in memory; 0 = no limit'),
  passwords_file: z.string().nullable().default(null)
    .describe('mailbox password hashes (scrypt), written by `mailproof mailbox set-password`, mode 0600; null = <data_dir>/passwords'),
}).prefault({}).describe('the POP3 server over the embedded Maildirs');

export type Pop3Settings = z.infer<typeof pop3Settings>;
