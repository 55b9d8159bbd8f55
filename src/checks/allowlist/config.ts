import { z } from 'zod';
import { checkSettings } from '../settings.js';

const cidr = z.string().regex(/^[0-9a-fA-F:.]+(\/\d{1,3})?$/, 'expected an IP address or network such as 10.0.0.0/8 or ::1');

export const settings = checkSettings({
  networks: z.array(cidr).default(['127.0.0.0/8', '::1'])
    .describe('client networks whose mail skips the spam checks (as Postfix mynetworks); set [] to check loopback clients too'),
}).describe('clients whose mail skips the spam and sender checks (never relay, recipient, size, virus and attachment checks)');
