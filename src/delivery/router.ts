// Picks the delivery target per domain (config domains.<name>.delivery) and
// hands each target its share of the mailboxes, side by side. The embedded
// Maildir stays all-or-none (a failure there takes back its copies); LMTP and
// SMTP targets answer per recipient. Recipients that a retried message
// already reached (DeliveredMemory) are not sent again.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { Config } from '../config/schema.js';
import type { Mailbox } from '../mail/address.js';
import type { Health } from '../health/index.js';
import { STORE_FAILED } from '../mail/reply.js';
import { lmtpTarget } from './lmtp/index.js';
import { bodyHashFrom } from './maildir/recover.js';
import type { MaildirTarget } from './maildir/index.js';
import type { DeliveredMemory } from './memory.js';
import { DownstreamTarget } from './smtp/index.js';
import { RecipientVerifier, type VerifyResult } from './smtp/verify.js';
import type { DeliveredCopy, DeliveryReport, Envelope, OutgoingMessage } from './types.js';

export interface RoutedReport extends DeliveryReport {
  /** sha256 of the body as received; null when only Maildir was involved (not needed there). */
  bodyHash: string | null;
  /** Set when a copy left unanswered by a crash stands in for a Maildir delivery: the key it was found by. */
  unanswered?: { messageId: string; hash: string };
}

async function sha256(body: OutgoingMessage['body']): Promise<string> {
  const h = createHash('sha256');
  if ('buffer' in body) return h.update(body.buffer).digest('hex');
  for await (const chunk of fs.createReadStream(body.path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export class DeliveryRouter {
  private readonly downstream = new Map<string, DownstreamTarget>();
  private readonly verifiers = new Map<string, RecipientVerifier>();

  constructor(
    readonly maildir: MaildirTarget,
    domains: Config['domains'],
    hostname: string,
    health: Health,
    private readonly memory: DeliveredMemory | null,
  ) {
    for (const [name, d] of Object.entries(domains)) {
      const dl = d.delivery;
      if (dl.type === 'maildir' || dl.address === null) continue;
      const t = dl.type === 'lmtp'
        ? lmtpTarget({ address: dl.address, timeoutMs: dl.timeout_ms, hostname, health })
        : new DownstreamTarget({ protocol: 'smtp', address: dl.address, timeoutMs: dl.timeout_ms, tls: dl.tls, hostname, health });
      this.downstream.set(name, t);
      this.verifiers.set(name, new RecipientVerifier({
        protocol: dl.type, endpoint: t.endpoint, address: dl.address, hostname,
        timeoutMs: dl.timeout_ms, cacheMs: dl.verify_cache_s * 1000, health,
      }));
    }
  }

  /** Whether any domain delivers elsewhere than to the embedded Maildir. */
  get hasDownstream(): boolean {
    return this.downstream.size > 0;
  }

  /** The recipient check's hook (CheckDeps.verify): asks the domain's target. */
  verify = async (m: Mailbox): Promise<VerifyResult> => {
    const v = this.verifiers.get(m.domain);
    // A maildir domain is never asked: its mailboxes list is the truth.
    if (!v) return { kind: 'ok', downstream: 'local', cached: false };
    return v.verify(m);
  };

  async deliverEach(msg: OutgoingMessage, mailboxes: Mailbox[], env: Envelope): Promise<RoutedReport> {
    const unique = new Map<string, Mailbox>();
    for (const m of mailboxes) unique.set(`${m.local}@${m.domain}`, m);
    const local: Mailbox[] = [];
    const remote = new Map<DownstreamTarget, Mailbox[]>();
    for (const m of unique.values()) {
      const t = this.downstream.get(m.domain);
      if (!t) local.push(m);
      else remote.set(t, [...(remote.get(t) ?? []), m]);
    }
    const report: RoutedReport = { stored: [], failed: [], bodyHash: null };
    if (remote.size && this.memory) {
      report.bodyHash = await sha256(msg.body);
      for (const [t, boxes] of remote) {
        const left: Mailbox[] = [];
        for (const m of boxes) {
          const ref = this.memory.already(report.bodyHash, env.mailFrom, `${m.local}@${m.domain}`);
          if (ref) {
            report.stored.push({ mailbox: m, location: `${t.component}:${t.opts.address}`, target: t.component, details: { address: t.opts.address, already_delivered_in: ref, ms: 0 } });
          } else {
            left.push(m);
          }
        }
        if (left.length) remote.set(t, left);
        else remote.delete(t);
      }
    }
    if (local.length && this.memory?.hasUnanswered && msg.messageId) {
      // A crash left a copy of some message unanswered (maildir/recover.ts):
      // is this its retry? Then that copy is the delivery.
      const hash = await bodyHashFrom(msg.body, msg.bodyStart ?? 0);
      for (let i = local.length - 1; i >= 0; i--) {
        const m = local[i]!;
        const copy = this.memory.unanswered(msg.messageId, hash, env.mailFrom, `${m.local}@${m.domain}`);
        if (!copy) continue;
        report.stored.push({ mailbox: m, location: copy.file, target: 'maildir', details: { already_delivered_in: copy.ref, recovered_copy: true, ms: 0 } });
        report.unanswered = { messageId: msg.messageId, hash };
        local.splice(i, 1);
      }
    }
    const jobs: Promise<void>[] = [];
    if (local.length) {
      jobs.push((async () => {
        const t0 = performance.now();
        try {
          const copies = await this.maildir.deliver(msg, local);
          const ms = Math.round((performance.now() - t0) * 1000) / 1000;
          for (const c of copies) report.stored.push({ ...c, target: 'maildir', details: { ms } });
        } catch (err) {
          for (const m of local) {
            report.failed.push({
              mailbox: m, target: 'maildir', temporary: true,
              reply: STORE_FAILED,
              details: { reason: (err as Error).message },
            });
          }
        }
      })());
    }
    for (const [t, boxes] of remote) {
      jobs.push(t.deliverEach(msg, boxes, env).then((r) => {
        report.stored.push(...r.stored);
        report.failed.push(...r.failed);
      }));
    }
    await Promise.all(jobs);
    return report;
  }

  /**
   * After the reply is decided: a 250 ends the story (forget); anything else
   * means the sender will retry, so Maildir copies are taken back (they can
   * be) and downstream copies are remembered (they cannot).
   */
  async settle(report: RoutedReport, accepted: boolean, env: Envelope): Promise<DeliveredCopy[]> {
    if (accepted) {
      if (report.bodyHash && this.memory) this.memory.forget(report.bodyHash, env.mailFrom);
      if (report.unanswered && this.memory) {
        const boxes = report.stored.filter((s) => s.details.recovered_copy).map((s) => `${s.mailbox.local}@${s.mailbox.domain}`);
        this.memory.forgetUnanswered(report.unanswered.messageId, report.unanswered.hash, env.mailFrom, boxes);
      }
      return [];
    }
    // Copies from an earlier attempt are not ours to take back.
    const local = report.stored.filter((s) => s.target === 'maildir' && !s.details.already_delivered_in);
    await Promise.all(local.map((s) => fsp.unlink(s.location).catch(() => undefined)));
    const remote = report.stored.filter((s) => s.target !== 'maildir' && !s.details.already_delivered_in);
    if (remote.length && report.bodyHash && this.memory) {
      this.memory.remember(report.bodyHash, env.mailFrom, remote.map((s) => ({ rcpt: `${s.mailbox.local}@${s.mailbox.domain}`, ref: env.ref })));
    }
    return local;
  }
}
