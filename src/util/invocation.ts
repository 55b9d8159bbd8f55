// How this process was started, for the commands it prints to the user
// ("create a login with: mailproof user add NAME --role staff --config
// /etc/mailproof.yaml"). A hint without the instance's --config/--data-dir
// runs against the defaults, that is another instance, and a newcomer does
// not notice: the account lands in a file this server never reads.
import path from 'node:path';

export interface Invocation {
  /** --config FILE (or $MAILPROOF_CONFIG). */
  config?: string | undefined;
  /** --data-dir DIR. */
  dataDir?: string | undefined;
  /** -o KEY=VALUE, in order. */
  overrides?: string[] | undefined;
}

let current: Invocation = {};

/** Set once the command line is parsed (cli/common.ts configFrom). */
export function setInvocation(i: Invocation): void {
  current = { ...i };
}

/**
 * A word for a POSIX shell: left as it is when it holds only characters no
 * shell treats specially, else in single quotes (a single quote inside
 * written as '\''; POSIX.1-2017 XCU section 2.2.2).
 */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** How this program was started, so a printed command can be pasted as it is (`node bin/mailproof.js` in a checkout). */
export function selfCommand(): string {
  const script = process.argv[1] ?? '';
  if (path.basename(script) !== 'mailproof.js') return 'mailproof';
  const rel = path.relative(process.cwd(), script);
  return `node ${shellQuote(rel && !rel.startsWith('..') ? rel : script)}`;
}

/**
 * -o keys that say where an instance keeps its files (or whose journals are
 * its own): another command needs them to find the same accounts, ledger and
 * store. Settings such as smtp.max_recipients do not matter there.
 */
const PLACE_KEYS = /^(data_dir|node|ledger(\..*)?|delivery\.maildir_root|web\.users_file|pop3\.passwords_file)$/;

/** The options that name this instance, as words for a shell ("" when it runs on the defaults). */
export function instanceArgs(): string {
  const words: string[] = [];
  // Absolute: the hint may be pasted in another directory than serve was started in.
  if (current.config) words.push('--config', shellQuote(path.resolve(current.config)));
  if (current.dataDir) words.push('--data-dir', shellQuote(path.resolve(current.dataDir)));
  for (const o of current.overrides ?? []) {
    const eq = o.indexOf('=');
    if (eq > 0 && PLACE_KEYS.test(o.slice(0, eq).trim())) words.push('-o', shellQuote(o));
  }
  return words.join(' ');
}

/** A command line for the user, for this instance: `mailproof user add NAME --role staff --config /etc/mailproof.yaml`. */
export function commandHint(args: string): string {
  const inst = instanceArgs();
  return `${selfCommand()} ${args}${inst ? ` ${inst}` : ''}`;
}

/** The configuration file this instance was started with (absolute), if any. */
export function configFile(): string | undefined {
  return current.config ? path.resolve(current.config) : undefined;
}
