import { z } from 'zod';
import { checkSettings } from '../settings.js';

const action = z.enum(['reject', 'flag', 'pass']);

export const settings = checkSettings({
  fail: action.default('reject')
    .describe('SPF fail (the domain says the client may not send its mail): reject answers 550 5.7.23 (RFC 7372), flag only notes it'),
  softfail: action.default('flag')
    .describe('SPF softfail (~all: "probably not allowed"): flag notes it for DMARC and the headers; reject answers 550 5.7.23'),
  permerror: action.default('flag')
    .describe('SPF permerror (the sender\'s SPF record is broken): flag notes it (the record\'s owner, not the sender, made the mistake; DMARC still decides); reject answers 550 5.7.24'),
  temperror: z.enum(['tempfail', 'flag', 'pass']).default('tempfail')
    .describe('SPF temperror (a DNS lookup failed or timed out): tempfail answers 451 4.7.24 so the sender retries; never a 5xx'),
}).describe('SPF (RFC 7208) at MAIL: the MAIL FROM domain, or the HELO name for the null sender, for the client IP. Its result is kept for DMARC at DATA');
