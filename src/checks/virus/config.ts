import { checkSettings } from '../settings.js';

// clamd's address, timeout and stream limit are scanners.clamd.*; the MIME
// walk limits are checks.attachments.max_* (one set of limits for both).
export const settings = checkSettings({}).describe('virus scan through clamd (scanners.clamd), each MIME part on its own and the whole message; a finding names the signature and the attachment');
