import { z } from 'zod';
import { checkSettings } from '../settings.js';

export const settings = checkSettings({
  reject: z.enum(['reject', 'flag']).default('reject')
    .describe('a message that fails DMARC whose domain publishes p=reject: reject answers 550 5.7.1; flag only notes it'),
  quarantine: z.enum(['reject', 'flag']).default('flag')
    .describe('a message that fails DMARC whose domain publishes p=quarantine: flag accepts it with the result in Authentication-Results and an X-Mailproof-DMARC header (for the mailbox\'s spam folder rules); reject answers 550 5.7.1'),
  temperror: z.enum(['tempfail', 'flag', 'pass']).default('tempfail')
    .describe('DNS failed while looking up the DMARC record or a DKIM key of a message that would otherwise fail: tempfail answers 451 4.7.0 so the sender retries'),
  arc_trusted_sealers: z.array(z.string().regex(/^[a-z0-9.-]+$/i, 'expected a domain name')).default([])
    .describe('domains whose valid ARC seal (RFC 8617, the newest seal in a passing chain) overrides a DMARC fail, e.g. mailing lists or forwarders you trust that break DKIM and SPF on the way; [] trusts none'),
  min_key_bits: z.number().int().min(512).max(8192).default(1024)
    .describe('smallest RSA key a DKIM or ARC signature may use; a shorter key counts as no valid signature'),
}).describe('DKIM (RFC 6376), ARC (RFC 8617) and DMARC (RFC 7489) at DATA, with the SPF result from MAIL; adds Authentication-Results (RFC 8601) to accepted mail');
