import { z } from 'zod';
import { checkSettings } from '../settings.js';

export const settings = checkSettings({
  address_mismatch: z.enum(['reject', 'flag']).default('reject')
    .describe('HELO is an address ([192.0.2.1] or a bare 192.0.2.1) that is not the client\'s: reject (550 5.7.1) or flag'),
  claims_us: z.enum(['reject', 'flag']).default('reject')
    .describe('HELO is our own host name, one of our local domains or the address the client connected to: reject (550 5.7.1) or flag'),
}).describe('HELO/EHLO claims: an address literal that is not the client, our own name or address');
