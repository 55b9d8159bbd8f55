import type { Check, Verdict } from '../types.js';
import type { Reply } from '../../mail/reply.js';

/** RFC 1870 section 6 / RFC 3463 5.3.4: message too big for system. */
export function tooBig(limit: number): Reply {
  return { code: 552, enhanced: '5.3.4', text: `Message too big: this server accepts at most ${limit} bytes` };
}

/** The SIZE= a client declares at MAIL FROM (RFC 1870 section 6.2). */
export const sizeCheck: Check = {
  name: 'size',
  stage: 'mail',
  bypassable: false,
  run(ctx): Verdict {
    const declared = ctx.tx?.declaredSize ?? null;
    const limit = ctx.deps.maxMessageSize;
    if (declared === null) return { kind: 'skip', why: 'no SIZE declared' };
    if (declared > limit) return { kind: 'reject', reply: tooBig(limit), reason: 'declared size over limit', evidence: { declared, limit } };
    return { kind: 'pass', evidence: { declared, limit } };
  },
};
