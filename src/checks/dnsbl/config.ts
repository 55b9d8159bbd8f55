import { z } from 'zod';
import { checkSettings } from '../settings.js';

const IPV4 = '(?:\\d{1,3}\\.){3}\\d{1,3}';
const code = z.string().regex(new RegExp(`^${IPV4}(?:-${IPV4})?$`), 'expected a return code such as 127.0.0.2 or a range such as 127.0.0.2-127.0.0.3');
const text = z.string().min(1).max(120).regex(/^[\x20-\x7e]+$/, 'printable ASCII only: it goes into SMTP replies');

const meaning = z.union([
  text,
  z.strictObject({
    meaning: text.describe('what the code says about the address, as the reply shows it'),
    advice: text.optional().describe('what the sender should do; default depends on the meaning'),
  }),
]);

export const zone = z.strictObject({
  zone: z.string().regex(/^[a-z0-9_-]+(\.[a-z0-9_-]+)+\.?$/i, 'expected a DNS zone such as zen.spamhaus.org')
    .describe('the list\'s DNS zone, queried as <reversed address>.<zone> (RFC 5782)'),
  name: text.optional().describe('name shown in the reply; default the zone'),
  lookup_url: z.string().max(300).regex(/^https?:\/\/[^\s"'<>]+$/, 'expected an http(s) URL such as https://check.spamhaus.org/').optional()
    .describe('the list\'s own lookup and delisting page, linked on the public REF page for a sender it lists; well-known lists (Spamhaus, SpamCop, Barracuda, PSBL, Mailspike, UCEPROTECT) have theirs built in'),
  type: z.enum(['block', 'allow']).default('block')
    .describe('block: a listing counts towards reject_score; allow (a DNSWL): a listing skips the spam checks'),
  weight: z.number().min(0).default(1).describe('what a listing on this block list adds to the score'),
  codes: z.record(code, meaning).default({})
    .describe('return code or range -> meaning ("127.0.0.10-127.0.0.11": "listed as dynamic/end-user address space (PBL)"); '
      + 'empty: any 127.0.0.0/8 answer is a listing. A code not in a non-empty map, and 127.255.255.0/24 (list errors such as '
      + '"query refused"), never count'),
});

export const settings = checkSettings({
  zones: z.array(zone).default([]).describe('the DNS block- and allow-lists to ask, all at once; none by default'),
  reject_score: z.number().min(0).default(1).describe('sum of the weights of the block lists that list the client at which it is rejected (554 5.7.1); below it the listing is only flagged'),
}).describe('DNS block- and allow-lists for the client address');
