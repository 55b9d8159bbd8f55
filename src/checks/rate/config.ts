import { z } from 'zod';
import { checkSettings } from '../settings.js';

export const settings = checkSettings({
  connections_per_minute: z.number().int().min(0).default(60)
    .describe('connections per client address (IPv6: per /64) in the last 60 seconds; more are deferred with 451 4.7.1 at the first RCPT; 0 = no limit'),
  messages_per_hour: z.number().int().min(0).default(1000)
    .describe('transactions (MAIL FROM) per client address (IPv6: per /64) in the last hour; more are deferred with 451 4.7.1; 0 = no limit'),
}).describe('connections and messages per client address per time window, counted for the node in memory (by the primary when there are several worker processes; counts restart with the server)');
