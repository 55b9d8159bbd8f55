import { asciiSafe } from '../../util/sanitize.js';
import { destinationOf } from '../relay/index.js';
import type { Check, Verdict } from '../types.js';

export const recipientCheck: Check = {
  name: 'recipient',
  stage: 'rcpt',
  bypassable: false,
  // Verification asks the target, which has its own timeout (domains.*.delivery.timeout_ms).
  timeoutMs: 600_000,
  async run(ctx): Promise<Verdict> {
    const dest = destinationOf(ctx.rcpt ?? '');
    // The relay check runs first and refuses these; stay safe if it is off.
    if (!dest) return { kind: 'skip', why: 'no destination' };
    const found = ctx.deps.domains.lookup(`${dest.local}@${dest.domain}`);
    switch (found.kind) {
      case 'mailbox':
        return { kind: 'pass', evidence: { mailboxes: found.mailboxes.map((m) => `${m.local}@${m.domain}`) } };
      case 'verify': {
        if (!ctx.deps.verify) return { kind: 'skip', why: 'no verifier' };
        const v = await ctx.deps.verify(found.mailbox);
        const evidence = { verified_by: 'target', downstream: v.downstream, cached: v.cached };
        if (v.kind === 'ok') return { kind: 'pass', evidence };
        // The target's own verdict, in our words (never its text: map.ts).
        if (v.kind === 'reject') return { kind: 'reject', reply: v.reply, reason: 'unknown to the delivery target', evidence };
        return {
          kind: 'tempfail', reply: v.reply, reason: 'delivery target could not verify the recipient',
          evidence: v.component ? { ...evidence, component: v.component } : evidence,
        };
      }
      case 'not_local':
        return { kind: 'skip', why: 'not a local domain' };
      case 'unknown_user':
        // RFC 3463 5.1.1: bad destination mailbox address.
        return {
          kind: 'reject',
          reply: {
            code: 550,
            enhanced: '5.1.1',
            text: `No such mailbox <${asciiSafe(`${dest.local}@${dest.domain}`, 120)}> here; please check the address for typos`,
          },
          reason: 'unknown local user',
        };
      default: {
        const never: never = found;
        return never;
      }
    }
  },
};
