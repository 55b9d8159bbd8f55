import { z } from 'zod';
import { checkSettings } from '../settings.js';

const action = z.enum(['reject', 'tempfail', 'flag']);

const regex = z.string().min(1).refine((s) => {
  try {
    new RegExp(s, 'i');
    return true;
  } catch {
    return false;
  }
}, 'expected a valid regular expression');

export const settings = checkSettings({
  no_ptr: action.default('tempfail')
    .describe('the client address has no PTR record: tempfail (450 4.7.25, as Postfix reject_unknown_reverse_client_hostname) so a fixed PTR lets the mail in on retry, reject (550 5.7.25) or flag'),
  no_fcrdns: action.default('flag')
    .describe('no PTR name resolves back to the client address (forward-confirmed reverse DNS, RFC 8601 section 3 "iprev"): flag, tempfail (450 4.7.25) or reject (550 5.7.25)'),
  dynamic: z.enum(['reject', 'flag']).default('reject')
    .describe('the PTR name is a generic/dynamic one (address written into it, words like dyn, dsl, pool, dhcp): reject (550 5.7.1, send through your provider\'s mail server) or flag'),
  dynamic_patterns: z.array(regex).default([])
    .describe('more regular expressions (case-insensitive) that mark a PTR name as generic/dynamic, on top of the built-in ones'),
}).describe('reverse DNS of the client: PTR, forward confirmation, generic/dynamic host names');
