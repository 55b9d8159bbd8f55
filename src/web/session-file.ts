// The web login sessions on disk, so a restart of `serve` does not log
// everybody out: <data_dir>/web-sessions.json, mode 0600, replaced
// atomically (util/atomic-file.ts). A session id is a bearer secret, so the
// file holds its SHA-256 only (the ids are 256 random bits: a slow hash adds
// nothing, as for the API tokens in users.ts). A copy of the file, a backup
// or a look over someone's shoulder gives no login.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log/logger.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { USER_NAME, type Role } from './users.js';

export const SESSIONS_FILE = 'web-sessions.json';

/** A session as stored: no id, its hash. */
export interface StoredSession {
  /** SHA-256 of the session id, hex. */
  sha256: string;
  user: string;
  role: Role;
  domains: string[];
  /** Idle expiry, ms since the epoch. */
  expires: number;
}

/** Where the sessions of this data directory live. */
export function sessionsFile(dataDir: string): string {
  return path.join(dataDir, SESSIONS_FILE);
}

export function hashSessionId(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}

const HEX64 = /^[0-9a-f]{64}$/;

function valid(x: unknown): x is StoredSession {
  const s = x as Partial<StoredSession> | null;
  return !!s && typeof s === 'object'
    && typeof s.sha256 === 'string' && HEX64.test(s.sha256)
    && typeof s.user === 'string' && USER_NAME.test(s.user)
    && (s.role === 'staff' || s.role === 'customer')
    && Array.isArray(s.domains) && s.domains.length <= 1000 && s.domains.every((d) => typeof d === 'string' && d.length <= 253)
    && typeof s.expires === 'number' && Number.isFinite(s.expires);
}

/** What SessionStore needs of a place to keep sessions (a file here; a test may give another). */
export interface SessionPersistence {
  /** The stored sessions; never throws: an unreadable or damaged file is no sessions and a warning. */
  load(): StoredSession[];
  /** Replaces what is stored; throws when it cannot. */
  save(sessions: StoredSession[]): void;
}

export class SessionFile implements SessionPersistence {
  constructor(readonly file: string, private readonly log?: Logger) {}

  load(): StoredSession[] {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return [];
      this.warn(`cannot read it (${code ?? (err as Error).message})`);
      return [];
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.warn('it is not valid JSON (damaged)');
      return [];
    }
    const list = (parsed as { sessions?: unknown } | null)?.sessions;
    if (!Array.isArray(list)) {
      this.warn('it holds no list of sessions (damaged)');
      return [];
    }
    const ok = list.filter(valid);
    if (ok.length < list.length) {
      this.log?.warn({ file: this.file, skipped: list.length - ok.length }, 'web sessions: entries of the sessions file that are not sessions were dropped; those users log in again');
    }
    return ok.map((s) => ({ sha256: s.sha256, user: s.user, role: s.role, domains: [...s.domains], expires: s.expires }));
  }

  save(sessions: StoredSession[]): void {
    // makeDir false: the data directory is made (and owned) by serve; a missing one is an error to see.
    writeFileAtomic(this.file, JSON.stringify({ version: 1, sessions }) + '\n', { mode: 0o600, makeDir: false });
  }

  private warn(why: string): void {
    this.log?.warn({ file: this.file }, `web sessions: starting with no sessions, ${why}; everybody logs in again, and the file is replaced at the next login`);
  }
}
