import { z } from 'zod';
import { checkSettings } from '../settings.js';

const score = z.number().finite();

export const settings = checkSettings({
  reject_score: score.nullable().default(null)
    .describe("refuse (550 5.7.1) at or above this score; null = the backend's own judgement (rspamd action reject, spamd \"Spam: True\") at its own threshold"),
  tempfail_score: score.nullable().default(null)
    .describe('defer (451 4.7.1, the sender retries) at or above this score and below the reject score; null = never defer for the score'),
  header_score: score.nullable().default(null)
    .describe('accepted mail at or above this score gets X-Spam-Flag: YES and X-Spam-Status: Yes (X-Spam-Score and X-Spam-Status are added to all scanned mail); null = when the backend says so (rspamd action add header or rewrite subject)'),
  scan_allowlisted: z.boolean().default(false)
    .describe('also scan mail from clients in checks.allowlist.networks, which skips this check otherwise: a backup MX or an internal relay passes on what it took from outside, and scripts/quickstart.sh turns it on so GTUBE sent from the machine itself is refused'),
}).describe('content score from the spam scanner (scanners.spam); the reply gives the score and the limit, never the rules');
