import { z } from 'zod';
import { checkSettings } from '../settings.js';

export const settings = checkSettings({
  delay_s: z.number().int().min(0).default(300)
    .describe('seconds a new (client network, sender, recipient) triplet is deferred with 451 4.7.1 before a retry passes'),
  retry_window_h: z.number().min(0.01).default(24)
    .describe('hours after the first attempt within which a retry must come; later, the triplet starts over'),
  expiry_days: z.number().min(0.01).default(36)
    .describe('days a triplet that passed (and a client network allowed automatically) is remembered after its last message'),
  auto_allow_after: z.number().int().min(0).default(5)
    .describe('after this many messages that passed greylisting, the client network passes for every triplet (as postgrey --auto-whitelist-clients); 0 = never'),
  ipv4_prefix: z.number().int().min(8).max(32).default(24)
    .describe('client network of an IPv4 client (a sender pool retries from another address of the same network)'),
  ipv6_prefix: z.number().int().min(16).max(128).default(64)
    .describe('client network of an IPv6 client'),
}, { mode: 'off' }).describe('greylisting of (client network, sender, recipient) triplets; state in <data_dir>/greylist.sqlite, shared by the worker processes, or with a PostgreSQL store (ledger.store = postgres://...) in PostgreSQL, shared by the nodes of the cluster, so a retry that lands on another node passes; while PostgreSQL cannot be reached within 2 s, each node decides with its own greylist.sqlite');
