import { z } from 'zod';
import { checkSettings } from '../settings.js';

// clamd's address, timeout and stream limit are scanners.clamd.*; the MIME
// walk limits are checks.attachments.max_* (one set of limits for both).
export const settings = checkSettings({
  scan: z.enum(['whole', 'parts']).default('whole')
    .describe("whole: the message goes to clamd once, and clamd's mail parser (clamd.conf ScanMail yes, its default) decodes the parts and archives; only when it finds something are the parts scanned one by one to name the attachment. parts: each decoded MIME part on its own, then the whole message (one clamd stream per part and one more; for a clamd with ScanMail no)"),
}).describe('virus scan through clamd (scanners.clamd); a finding names the signature and the attachment');
