import type { Config } from '../config/schema.js';
import { splitAddress, type Mailbox } from '../mail/address.js';

export type Lookup =
  | { kind: 'mailbox'; mailboxes: Mailbox[] }
  | { kind: 'unknown_user'; domain: string }
  /**
   * A domain whose delivery target knows its users (LMTP/SMTP with an empty
   * mailboxes list): only the target can say whether the address exists, so
   * the recipient check asks it (CheckDeps.verify).
   */
  | { kind: 'verify'; mailbox: Mailbox }
  | { kind: 'not_local' };

export type { Mailbox };

/**
 * The local domains with their mailboxes and aliases. Addresses are compared
 * case-insensitively: RFC 5321 section 2.4 lets local parts be case-sensitive,
 * but no hosting customer wants Info@ and info@ to be two people.
 */
export class LocalDomains {
  private readonly domains: Map<string, { boxes: Set<string>; aliases: Map<string, Mailbox[]>; verify: boolean }>;

  /** The parsed config's domains; `delivery` may be left out (tests): Maildir. */
  constructor(cfg: Record<string, Omit<Config['domains'][string], 'delivery'> & { delivery?: { type: string } }>) {
    this.domains = new Map();
    for (const [name, d] of Object.entries(cfg)) {
      const aliases = new Map<string, Mailbox[]>();
      for (const [alias, target] of Object.entries(d.aliases)) {
        aliases.set(alias, (Array.isArray(target) ? target : [target]).map((t) => {
          return splitAddress(t) ?? { local: t.toLowerCase(), domain: name };
        }));
      }
      const verify = (d.delivery?.type ?? 'maildir') !== 'maildir' && d.mailboxes.length === 0;
      this.domains.set(name, { boxes: new Set(d.mailboxes), aliases, verify });
    }
  }

  isLocalDomain(domain: string): boolean {
    return this.domains.has(domain.toLowerCase());
  }

  names(): string[] {
    return [...this.domains.keys()];
  }

  /** Every mailbox, for the maildir layout and research (typo hints). */
  allMailboxes(): Mailbox[] {
    const out: Mailbox[] = [];
    for (const [domain, d] of this.domains) for (const local of d.boxes) out.push({ domain, local });
    return out;
  }

  /** `address` must already be checked by the relay rules (see checks/relay). */
  lookup(address: string): Lookup {
    // An empty local part ("@domain") is nobody's mailbox.
    const parts = address.lastIndexOf('@') > 0 ? splitAddress(address) : null;
    if (!parts) return { kind: 'not_local' };
    const { local, domain } = parts;
    const d = this.domains.get(domain);
    if (!d) return { kind: 'not_local' };
    if (d.boxes.has(local)) return { kind: 'mailbox', mailboxes: [{ domain, local }] };
    const alias = d.aliases.get(local);
    if (alias) return { kind: 'mailbox', mailboxes: alias };
    if (d.verify) return { kind: 'verify', mailbox: { domain, local } };
    return { kind: 'unknown_user', domain };
  }
}
