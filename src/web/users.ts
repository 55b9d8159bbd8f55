// Web accounts: staff (see everything) and customers (see their domains
// only). Stored as JSON in <data_dir>/web-users.json, mode 0600, replaced
// atomically; passwords as scrypt hashes made by the POP3 password code
// (pop3/passwords.ts), API tokens as SHA-256 (they are 256 random bits, so a
// slow hash adds nothing).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ResolvedConfig } from '../config/load.js';
import { hashPassword, verifyPassword } from '../pop3/passwords.js';
import { writeFileAtomic } from '../util/atomic-file.js';

export type Role = 'staff' | 'customer';

export interface User {
  name: string;
  role: Role;
  /** Customer: the domains it may see (lower case). Staff: ignored. */
  domains: string[];
  hash: string;
  /** SHA-256 (hex) of the API bearer token, if one was issued. */
  token_sha256?: string | null;
}

export const USER_NAME = /^[A-Za-z0-9._@-]{1,64}$/;

export function usersFile(cfg: ResolvedConfig): string {
  return path.resolve(cfg.data_dir, cfg.web.users_file ?? 'web-users.json');
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export class UserStore {
  constructor(readonly file: string) {}

  /** All accounts; a missing file is none. Read on every login, so `mailproof user` needs no restart. */
  list(): User[] {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const parsed = JSON.parse(text) as { users?: unknown };
    if (!Array.isArray(parsed.users)) return [];
    return (parsed.users as User[]).filter((u) => typeof u?.name === 'string' && (u.role === 'staff' || u.role === 'customer') && typeof u.hash === 'string')
      .map((u) => ({ ...u, name: u.name.toLowerCase(), domains: Array.isArray(u.domains) ? u.domains.map((d) => String(d).toLowerCase()) : [] }));
  }

  get(name: string): User | null {
    const n = name.toLowerCase();
    return this.list().find((u) => u.name === n) ?? null;
  }

  private write(users: User[]): void {
    writeFileAtomic(this.file, JSON.stringify({ users: [...users].sort((a, b) => a.name.localeCompare(b.name)) }, null, 2) + '\n');
  }

  async add(name: string, role: Role, domains: string[], password: string): Promise<void> {
    const n = name.toLowerCase();
    const users = this.list();
    if (users.some((u) => u.name === n)) throw new Error(`account ${n} exists already; use "mailproof user passwd" or remove it first`);
    users.push({ name: n, role, domains: role === 'customer' ? [...new Set(domains.map((d) => d.toLowerCase()))] : [], hash: await hashPassword(password), token_sha256: null });
    this.write(users);
  }

  async passwd(name: string, password: string): Promise<boolean> {
    const users = this.list();
    const u = users.find((x) => x.name === name.toLowerCase());
    if (!u) return false;
    u.hash = await hashPassword(password);
    this.write(users);
    return true;
  }

  remove(name: string): boolean {
    const users = this.list();
    const rest = users.filter((u) => u.name !== name.toLowerCase());
    if (rest.length === users.length) return false;
    this.write(rest);
    return true;
  }

  /** A new API token for the account (the old one stops working); null if there is no such account. */
  newToken(name: string): string | null {
    const users = this.list();
    const u = users.find((x) => x.name === name.toLowerCase());
    if (!u) return null;
    const token = `mp_${randomBytes(32).toString('base64url')}`;
    u.token_sha256 = sha256(token).toString('hex');
    this.write(users);
    return token;
  }

  /**
   * The account if name and password match. Unknown names cost one scrypt
   * like known ones (verifyPassword hashes against a dummy), so timing does
   * not tell which accounts exist.
   */
  async verify(name: string, password: string): Promise<User | null> {
    const u = this.get(name);
    const ok = await verifyPassword(password, u?.hash ?? null);
    return ok && u ? u : null;
  }

  /** The account a bearer token belongs to (constant-time compare of the hashes). */
  byToken(token: string): User | null {
    if (!/^mp_[A-Za-z0-9_-]{20,100}$/.test(token)) return null;
    const want = sha256(token);
    let found: User | null = null;
    for (const u of this.list()) {
      if (!u.token_sha256 || !/^[0-9a-f]{64}$/.test(u.token_sha256)) continue;
      if (timingSafeEqual(Buffer.from(u.token_sha256, 'hex'), want)) found = u;
    }
    return found;
  }
}
