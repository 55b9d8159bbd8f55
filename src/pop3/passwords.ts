// Mailbox passwords for the POP3 server: scrypt hashes (node:crypto, RFC 7914)
// in a small text file, one mailbox a line:
//
//   local@domain scrypt$<N>$<r>$<p>$<salt base64>$<hash base64>
//
// The parameters are stored in each record, so they can be raised later
// without invalidating old hashes. Writes go to a temp file that is renamed
// over the old one (atomic on POSIX), with mode 0600.
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import fs from 'node:fs';
import { writeFileAtomic } from '../util/atomic-file.js';

const KEYLEN = 32;
/** N = 2^15, r = 8, p = 1: about 32 MiB and some tens of ms per check (RFC 7914 section 2; OWASP's scrypt minimum is N=2^17 with r=8 at p=1 only for interactive logins that can afford 128 MiB). */
export const DEFAULT_PARAMS: { N: number; r: number; p: number } = { N: 1 << 15, r: 8, p: 1 };

function scrypt(password: string | Buffer, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(password, salt, keylen, { ...opts, maxmem: 256 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export interface HashRecord { N: number; r: number; p: number; salt: Buffer; hash: Buffer }

export async function hashPassword(password: string, params: { N: number; r: number; p: number } = DEFAULT_PARAMS): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, KEYLEN, params);
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export function parseHash(s: string): HashRecord | null {
  const m = /^scrypt\$(\d{1,8})\$(\d{1,3})\$(\d{1,3})\$([A-Za-z0-9+/=]{4,88})\$([A-Za-z0-9+/=]{4,256})$/.exec(s);
  if (!m) return null;
  const N = Number(m[1]);
  const r = Number(m[2]);
  const p = Number(m[3]);
  // N must be a power of two > 1; bounded so a tampered file cannot make a login allocate gigabytes.
  if (N < 2 || N > (1 << 20) || (N & (N - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16) return null;
  const hash = Buffer.from(m[5]!, 'base64');
  if (hash.length < 16) return null;
  return { N, r, p, salt: Buffer.from(m[4]!, 'base64'), hash };
}

// A fixed record to hash against when the mailbox has no password: a login
// for an unknown user then costs as long as one for a known user, so timing
// does not tell which addresses exist.
const DUMMY: HashRecord = { ...DEFAULT_PARAMS, salt: Buffer.alloc(16, 7), hash: Buffer.alloc(KEYLEN) };

/** Constant-time comparison of the derived key (timingSafeEqual). */
export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  const rec = (stored && parseHash(stored)) || null;
  const r = rec ?? DUMMY;
  const key = await scrypt(password, r.salt, r.hash.length, { N: r.N, r: r.r, p: r.p });
  const same = timingSafeEqual(key, r.hash);
  return rec !== null && same;
}

export class PasswordStore {
  constructor(readonly file: string) {}

  /** address -> hash string. A missing file is an empty store. */
  read(): Map<string, string> {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw err;
    }
    const out = new Map<string, string>();
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (!line || line.startsWith('#')) continue;
      const sp = line.indexOf(' ');
      if (sp <= 0) continue;
      out.set(line.slice(0, sp).toLowerCase(), line.slice(sp + 1).trim());
    }
    return out;
  }

  /** The stored hash of a mailbox, or null. Read on every login so `mailproof mailbox set-password` needs no restart. */
  get(address: string): string | null {
    return this.read().get(address.toLowerCase()) ?? null;
  }

  private write(entries: Map<string, string>): void {
    writeFileAtomic(this.file, [...entries].sort(([a], [b]) => a.localeCompare(b)).map(([a, h]) => `${a} ${h}\n`).join(''));
  }

  async set(address: string, password: string, params = DEFAULT_PARAMS): Promise<void> {
    const hash = await hashPassword(password, params);
    const entries = this.read();
    entries.set(address.toLowerCase(), hash);
    this.write(entries);
  }

  /** True if there was a password to remove. */
  remove(address: string): boolean {
    const entries = this.read();
    if (!entries.delete(address.toLowerCase())) return false;
    this.write(entries);
    return true;
  }

  async verify(address: string, password: string): Promise<boolean> {
    return verifyPassword(password, this.get(address));
  }
}

