// `mailproof user`: the accounts of the web UI (web/users.ts).
import { readPasswordInput } from './mailbox.js';
import { configFrom, parse, UsageError } from './common.js';
import { USER_NAME, UserStore, usersFile, type Role } from '../web/users.js';
import { commandHint } from '../util/invocation.js';

export const USER_HELP = `mailproof user add NAME --role staff|customer [--domain D]... [--password-file FILE]
  A web UI account. Staff see all mail; a customer sees only mail for its
  domains (--domain, one or more). The password is read from the first line
  of FILE or of standard input (never from the command line).
mailproof user passwd NAME [--password-file FILE]
mailproof user remove NAME
mailproof user token NAME
  A new API bearer token for the account (printed once; the old one stops working).
mailproof user list [--json]`;

const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export async function userCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    role: { type: 'string' }, domain: { type: 'string', multiple: true },
    'password-file': { type: 'string' }, json: { type: 'boolean' },
  }, true);
  const [sub, nameRaw, ...extra] = positionals;
  if (values.help || sub === undefined) { process.stdout.write(USER_HELP + '\n'); return sub === undefined && !values.help ? 64 : 0; }
  const cfg = configFrom(values);
  const store = new UserStore(usersFile(cfg));
  if (sub === 'list') {
    const rows = store.list().map((u) => ({ name: u.name, role: u.role, domains: u.domains, token: !!u.token_sha256 }));
    if (values.json) process.stdout.write(JSON.stringify({ users: rows }, null, 2) + '\n');
    else if (rows.length === 0) process.stdout.write(`no web accounts; create one with: ${commandHint('user add NAME --role staff')}\n`);
    else for (const r of rows) process.stdout.write(`${r.name}\t${r.role}${r.role === 'customer' ? `\t${r.domains.join(',')}` : ''}\n`);
    return 0;
  }
  if (!['add', 'passwd', 'remove', 'token'].includes(sub)) throw new UsageError(`unknown user command "${sub}"; see mailproof user --help`);
  if (!nameRaw || extra.length) throw new UsageError(`user ${sub} needs exactly one account name`);
  if (!USER_NAME.test(nameRaw)) throw new UsageError('an account name is 1 to 64 letters, digits, ".", "_", "-" or "@"');
  const name = nameRaw.toLowerCase();
  if (sub === 'remove') {
    const had = store.remove(name);
    process.stdout.write(had ? `removed the account ${name}\n` : `there is no account ${name}\n`);
    return had ? 0 : 1;
  }
  if (sub === 'token') {
    const token = store.newToken(name);
    if (!token) { process.stderr.write(`mailproof: there is no account ${name}\n`); return 1; }
    process.stdout.write(`${token}\n`);
    return 0;
  }
  let role: Role | null = null;
  const domains = (values.domain ?? []).map((d) => d.toLowerCase());
  if (sub === 'add') {
    if (values.role !== 'staff' && values.role !== 'customer') throw new UsageError('user add needs --role staff or --role customer');
    role = values.role;
    if (role === 'customer' && domains.length === 0) throw new UsageError('a customer account needs at least one --domain');
    if (role === 'staff' && domains.length) throw new UsageError('staff accounts see every domain; --domain is for customers');
    for (const d of domains) if (!DOMAIN.test(d)) throw new UsageError(`--domain ${d}: expected a domain name such as example.com`);
    if (store.get(name)) throw new UsageError(`account ${name} exists already; use "${commandHint(`user passwd ${name}`)}" or remove it first`);
  } else if (!store.get(name)) {
    process.stderr.write(`mailproof: there is no account ${name}\n`);
    return 1;
  }
  const password = await readPasswordInput(values['password-file']);
  if (sub === 'add') {
    await store.add(name, role!, domains, password);
    process.stdout.write(`account ${name} (${role}${role === 'customer' ? ` of ${domains.join(', ')}` : ''}) added in ${store.file}\n`);
  } else {
    await store.passwd(name, password);
    process.stdout.write(`password changed for ${name}\n`);
  }
  return 0;
}
