// The questions of the research benchmark: which recipients, domains, REFs
// and client addresses are searched. bench/research (the SQLite store) and
// bench/research-pg (a cluster's PostgreSQL store holding the same traffic)
// ask the same ones, so that their figures compare.
import Database from 'better-sqlite3';
import { decodeChunk } from '../../src/ledger/store/codec.js';
import type { StoredEvent } from '../../src/ledger/types.js';
import { rng } from '../../test/helpers/rng.js';
import type { GenMeta, GenParams } from './generate.js';

export const WEEK = 7 * 86400e3;

export interface Questions {
  /** The window's start: a week before the generated period's end. */
  since: number;
  end: number;
  randomRcpts: string[];
  heavyRcpts: string[];
  /** Share of the busiest mailboxes among all (the chance a random pick is one of them). */
  heavyShare: number;
  refs: string[];
  ips: string[];
  domains: string[];
}

/**
 * The events of a session picked at random among those that began in
 * [since, end): `x` in [0, 1) says where (the store's order), undefined
 * when there is none there.
 */
export type SessionSampler = (x: number) => Promise<StoredEvent[] | undefined>;

/** Sessions of the research benchmark's SQLite store by their id (store ids follow time order there). */
export function sqliteSampler(file: string, since: number): { sample: SessionSampler; close: () => void } {
  const raw = new Database(file, { readonly: true, fileMustExist: true });
  const range = raw.prepare('SELECT min(id) AS lo, max(id) AS hi FROM sessions WHERE first_ts >= ?').get(since) as { lo: number; hi: number };
  const sessionAt = raw.prepare('SELECT id FROM sessions WHERE id >= ? AND first_ts >= ? ORDER BY id LIMIT 1').pluck();
  const chunksOf = raw.prepare('SELECT codec, body FROM chunks WHERE sid = ?').raw(true);
  return {
    sample: (x) => {
      const sid = sessionAt.get(range.lo + Math.floor(x * (range.hi - range.lo)), since) as number | undefined;
      if (sid === undefined) return Promise.resolve(undefined);
      return Promise.resolve((chunksOf.all(sid) as Array<[number, Buffer]>).flatMap(([codec, body]) => decodeChunk(body, codec)));
    },
    close: () => raw.close(),
  };
}

/**
 * n random recipients and heavyN of the busiest; REFs, client addresses and
 * recipient domains from sessions picked by `sample`. Seeded: the same store
 * gives the same questions.
 */
export async function questions(sample: SessionSampler, meta: Pick<GenMeta, 'end' | 'heavy' | 'light_sample'>, params: GenParams, n: number, heavyN: number): Promise<Questions> {
  const rand = rng(4242);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;
  const end = meta.end;
  const since = end - WEEK;

  // The recipients a support desk looks up. Headline: a mailbox picked at
  // random (uniform over all mailboxes, so one of the 200 busiest turns up with
  // its share, 0.4%), and 10% addresses nobody wrote to. Apart from it, the 200
  // busiest mailboxes (an info@ with up to ~900 messages a day), where the
  // first page of 100 journeys bounds the work (pages of 1000 are timed apart).
  const heavyShare = meta.heavy.length / params.mailboxes;
  const randomRcpts: string[] = [];
  for (let i = 0; i < n; i++) {
    const x = rand();
    if (x < 0.1) randomRcpts.push(`nobody${Math.floor(rand() * 1e6)}@${pick(meta.light_sample).split('@')[1]}`);
    else randomRcpts.push(rand() < heavyShare ? pick(meta.heavy) : pick(meta.light_sample));
  }
  const heavyRcpts = Array.from({ length: heavyN }, (_, i) => meta.heavy[Math.floor((i * meta.heavy.length) / heavyN)]!);

  // Refs and client addresses as a user would have them: from gateway
  // rcpt.accepted events of the last 7 days, in sessions picked at random
  // (so an address is picked about as often as it sends: busy senders included).
  const sampleRows = async (k: number): Promise<Array<{ ref: string; client_ip: string; rcpt_domain: string }>> => {
    const out: Array<{ ref: string; client_ip: string; rcpt_domain: string }> = [];
    for (let tries = 0; out.length < k && tries < 100 * k; tries++) {
      const evs = await sample(rand());
      if (evs === undefined) continue;
      const e = evs.find((x) => x.kind === 'rcpt.accepted' && x.source === 'gateway' && x.ref && x.client_ip && x.rcpt);
      if (e) out.push({ ref: e.ref!, client_ip: e.client_ip!, rcpt_domain: e.rcpt!.slice(e.rcpt!.lastIndexOf('@') + 1) });
    }
    return out;
  };
  const refs = (await sampleRows(100)).map((r) => r.ref);
  const ips = (await sampleRows(20)).map((r) => r.client_ip);
  const domains = (await sampleRows(20)).map((r) => r.rcpt_domain);
  return { since, end, randomRcpts, heavyRcpts, heavyShare, refs, ips, domains };
}
