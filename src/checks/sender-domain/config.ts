import { z } from 'zod';
import { checkSettings } from '../settings.js';

export const settings = checkSettings({
  mx_is_ip: z.enum(['reject', 'tempfail', 'flag']).default('reject')
    .describe('every MX of the sender domain is an IP address instead of a host name (RFC 5321 section 5.1), so replies cannot reach it: '
      + 'reject (550 5.1.8), tempfail (450 4.1.8: the sender retries while its provider fixes the record) or flag'),
}).describe('the MAIL FROM domain must be able to receive replies: MX or address, no null MX, no IP address as MX');
