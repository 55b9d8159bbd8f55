import { z } from 'zod';
import { checkSettings } from '../settings.js';

export const settings = checkSettings({
  connections_per_minute: z.number().int().min(0).default(60)
    .describe('connections per client address (IPv6: per /64) in the last 60 seconds; more are deferred with 451 4.7.1 at the first RCPT; 0 = no limit'),
  messages_per_hour: z.number().int().min(0).default(1000)
    .describe('transactions (MAIL FROM) per client address (IPv6: per /64) in the last hour; more are deferred with 451 4.7.1; 0 = no limit'),
  scope: z.enum(['node', 'cluster']).default('node')
    .describe('where the limits are counted. node: each node counts its own clients in memory; the limits protect this node\'s resources, counting costs nothing per connection and keeps working while PostgreSQL is down. cluster: the nodes count together in the cluster\'s PostgreSQL (needs ledger.store = postgres://...), so a client spreading its connections over the MX nodes meets the limit once for the cluster; the price is a round trip to PostgreSQL for every connection and every MAIL FROM. While PostgreSQL cannot be reached within 2 s, each node counts for itself'),
}).describe('connections and messages per client address per time window, counted for the node in memory (by the primary when there are several worker processes; counts restart with the server), or with scope cluster for the whole cluster in PostgreSQL');
