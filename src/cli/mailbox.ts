// `mailproof mailbox`: the POP3 passwords of the configured mailboxes.
import fs from 'node:fs';
import { mailboxResolver, passwordsFile } from '../pop3/server.js';
import { PasswordStore } from '../pop3/passwords.js';
import { LocalDomains } from '../domains/index.js';
import { configFrom, parse, UsageError } from './common.js';

export const MAILBOX_HELP = `mailproof mailbox set-password ADDR [--password-file FILE]
  Sets the POP3 password of a configured mailbox; the password is read from the
  first line of FILE, or of standard input (never from the command line, where
  other users could see it in the process list). Stored as a scrypt hash.
mailproof mailbox remove-password ADDR
mailproof mailbox list [--json]
  The configured mailboxes and whether each has a POP3 password.`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of process.stdin) {
    chunks.push(c as Buffer);
    total += (c as Buffer).length;
    if (total > 64 * 1024) throw new UsageError('the password input is larger than 64 KiB');
  }
  return Buffer.concat(chunks).toString('utf8');
}

function firstLine(s: string): string {
  const nl = s.search(/\r?\n/);
  return nl >= 0 ? s.slice(0, nl) : s;
}

/** A password from the first line of a file or of standard input (never argv, which other users can see in the process list); also used by `mailproof user`. */
export async function readPasswordInput(file: string | undefined): Promise<string> {
  const input = file ? fs.readFileSync(file, 'utf8') : await readStdin();
  const password = firstLine(input);
  if (password === '') throw new UsageError('empty password; give it on the first line of standard input or --password-file');
  if (password.length > 1024) throw new UsageError('password longer than 1024 characters');
  return password;
}

export async function mailboxCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { 'password-file': { type: 'string' }, json: { type: 'boolean' } }, true);
  const [sub, addrRaw, ...extra] = positionals;
  if (values.help || sub === undefined) { process.stdout.write(MAILBOX_HELP + '\n'); return sub === undefined && !values.help ? 64 : 0; }
  const cfg = configFrom(values);
  const store = new PasswordStore(passwordsFile(cfg));
  if (sub === 'list') {
    const hashes = store.read();
    const rows = new LocalDomains(cfg.domains).allMailboxes().map((m) => `${m.local}@${m.domain}`).sort()
      .map((address) => ({ address, password: hashes.has(address) }));
    if (values.json) process.stdout.write(JSON.stringify({ mailboxes: rows }, null, 2) + '\n');
    else for (const r of rows) process.stdout.write(`${r.address}\t${r.password ? 'password set' : 'no password'}\n`);
    return 0;
  }
  if (sub !== 'set-password' && sub !== 'remove-password') throw new UsageError(`unknown mailbox command "${sub}"; see mailproof mailbox --help`);
  if (!addrRaw || extra.length) throw new UsageError(`mailbox ${sub} needs exactly one address`);
  const addr = addrRaw.toLowerCase();
  if (mailboxResolver(cfg)(addr) === null) throw new UsageError(`${addrRaw} is not a configured mailbox (domains.<domain>.mailboxes); aliases have no password`);
  if (sub === 'remove-password') {
    const had = store.remove(addr);
    process.stdout.write(had ? `removed the password of ${addr}\n` : `${addr} had no password\n`);
    return 0;
  }
  const password = await readPasswordInput(values['password-file']);
  await store.set(addr, password);
  process.stdout.write(`password set for ${addr} (scrypt) in ${store.file}\n`);
  return 0;
}
