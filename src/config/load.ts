import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { configSchema, type Config } from './schema.js';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  file?: string;
  dataDir?: string;
  /** -o KEY=VALUE, applied in order after the file. */
  overrides?: string[];
  /** serve's shortcuts. */
  smtpListen?: string[];
  domains?: string[];
  mailboxes?: string[];
}

/** Config with every derived path filled in. */
export interface ResolvedConfig extends Config {
  paths: {
    journal: string;
    /** A SQLite file, or a PostgreSQL URL (postgres://USER@HOST:PORT/DATABASE, no password in it). */
    store: string;
    /** With a PostgreSQL store: the file holding its password (null: PGPASSWORD or none). */
    storePasswordFile: string | null;
    legacyLedger: string;
    maildirRoot: string;
    tlsDir: string;
  };
}

type Json = Record<string, unknown>;

/**
 * The parts of a -o key: split at dots, except inside double quotes, so a
 * name with dots (a domain) can be one part: domains."c.test".delivery.type.
 */
export function keyParts(key: string): string[] {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  let wasQuoted = false;
  for (const ch of key) {
    if (ch === '"') { quoted = !quoted; wasQuoted = true; continue; }
    if (ch === '.' && !quoted) { parts.push(cur); cur = ''; wasQuoted = false; continue; }
    cur += ch;
  }
  if (quoted) throw new ConfigError([`-o ${key}: a quote is not closed; write a name with dots in double quotes, e.g. -o 'domains."c.test".delivery.type=smtp'`]);
  parts.push(cur);
  if (parts.some((p) => p === '') && !wasQuoted) throw new ConfigError([`-o ${key}: an empty part in the key; keys are separated by single dots, e.g. -o smtp.max_recipients=50`]);
  return parts;
}

function setPath(obj: Json, key: string, value: unknown): void {
  const parts = keyParts(key);
  let cur: Json = obj;
  for (let i = 0; i < parts.length - 1; i++) {
    const p = parts[i]!;
    const next = cur[p];
    if (next === undefined) cur[p] = {};
    else if (typeof next !== 'object' || next === null || Array.isArray(next)) {
      throw new ConfigError([`-o ${key}: "${parts.slice(0, i + 1).join('.')}" is not a section (a name with dots, such as a domain, goes in double quotes: domains."c.test".delivery.type)`]);
    }
    cur = cur[p] as Json;
  }
  cur[parts[parts.length - 1]!] = value;
}

/** A value given on the command line: YAML scalar/flow syntax, so 25, true, null and [a, b] work. */
function parseValue(raw: string): unknown {
  try {
    return YAML.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const key = issue.path.length ? issue.path.join('.') : '(top level)';
  if (issue.code === 'unrecognized_keys') {
    const names = issue.keys.map((k) => (key === '(top level)' ? k : `${key}.${k}`));
    return `${names.join(', ')}: unknown key; remove it or check its spelling (see README "Configuration")`;
  }
  return `${key}: ${issue.message}`;
}

export function loadConfig(opts: LoadOptions = {}): ResolvedConfig {
  let raw: Json = {};
  if (opts.file) {
    let text: string;
    try {
      text = fs.readFileSync(opts.file, 'utf8');
    } catch (err) {
      throw new ConfigError([`--config ${opts.file}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`]);
    }
    try {
      const parsed = YAML.parse(text) as unknown;
      if (parsed !== null && parsed !== undefined) {
        if (typeof parsed !== 'object' || Array.isArray(parsed)) {
          throw new ConfigError([`--config ${opts.file}: the file must hold a mapping of keys (YAML or JSON)`]);
        }
        raw = parsed as Json;
      }
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError([`--config ${opts.file}: not valid YAML/JSON: ${(err as Error).message.split('\n')[0]}`]);
    }
  }
  if (opts.dataDir) raw.data_dir = opts.dataDir;
  for (const o of opts.overrides ?? []) {
    const eq = o.indexOf('=');
    if (eq <= 0) throw new ConfigError([`-o ${o}: expected KEY=VALUE, e.g. -o smtp.max_recipients=50`]);
    setPath(raw, o.slice(0, eq).trim(), parseValue(o.slice(eq + 1)));
  }
  if (opts.smtpListen?.length) setPath(raw, 'smtp.listen', opts.smtpListen);
  if (opts.domains?.length || opts.mailboxes?.length) {
    const domains: Json = (raw.domains as Json | undefined) ?? {};
    for (const d of opts.domains ?? []) domains[d.toLowerCase()] ??= { mailboxes: [] };
    for (const m of opts.mailboxes ?? []) {
      const at = m.lastIndexOf('@');
      if (at <= 0) throw new ConfigError([`--mailbox ${m}: expected an address such as info@example.com`]);
      const dom = m.slice(at + 1).toLowerCase();
      const d = (domains[dom] ??= { mailboxes: [] }) as { mailboxes?: string[] };
      (d.mailboxes ??= []).push(m.slice(0, at));
    }
    raw.domains = domains;
  }

  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map(describeIssue);
    // An override that named a domain without quotes was split at the domain's dots.
    const unquoted = (opts.overrides ?? []).map((o) => o.slice(0, Math.max(0, o.indexOf('=')))).filter((k) => k.startsWith('domains.') && !k.includes('"'));
    if (unquoted.length) problems.push(`-o ${unquoted[0]}: a -o key is split at every dot; write the domain in double quotes, e.g. -o 'domains."c.test".delivery.type=smtp'`);
    throw new ConfigError(problems);
  }
  const cfg = result.data;
  const problems = crossCheck(cfg);
  if (problems.length) throw new ConfigError(problems);

  const dataDir = path.resolve(cfg.data_dir);
  return {
    ...cfg,
    data_dir: dataDir,
    paths: {
      journal: path.resolve(dataDir, cfg.ledger.journal_dir ?? 'journal'),
      store: isPostgresUrl(cfg.ledger.store) ? cfg.ledger.store! : path.resolve(dataDir, cfg.ledger.store ?? 'store.sqlite'),
      storePasswordFile: cfg.ledger.store_password_file === null ? null : path.resolve(dataDir, cfg.ledger.store_password_file),
      legacyLedger: path.resolve(dataDir, cfg.ledger.path ?? 'ledger.sqlite'),
      maildirRoot: path.resolve(dataDir, cfg.delivery.maildir_root ?? 'maildir'),
      tlsDir: path.join(dataDir, 'tls'),
    },
  };
}

/** A PostgreSQL connection string (the cluster store) rather than a file path. */
export function isPostgresUrl(s: string | null | undefined): boolean {
  return typeof s === 'string' && /^postgres(ql)?:\/\//i.test(s);
}

/** What is wrong with a PostgreSQL store URL, for people (null: nothing). */
function postgresUrlProblem(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'ledger.store: not a valid URL; write postgres://USER@HOST:PORT/DATABASE';
  }
  // A password in the URL ends up in process lists, shell histories and logs.
  if (u.password) return 'ledger.store: the URL must not hold the password; put it in the file named by ledger.store_password_file, or in the environment variable PGPASSWORD';
  if (!u.hostname) return 'ledger.store: the URL names no host; write postgres://USER@HOST:PORT/DATABASE';
  if (!u.username) return 'ledger.store: the URL names no user; write postgres://USER@HOST:PORT/DATABASE';
  if (u.pathname.length <= 1) return 'ledger.store: the URL names no database; write postgres://USER@HOST:PORT/DATABASE';
  return null;
}

/** Rules that span keys, which the schema cannot say. */
function crossCheck(cfg: Config): string[] {
  const out: string[] = [];
  if (isPostgresUrl(cfg.ledger.store)) {
    const p = postgresUrlProblem(cfg.ledger.store!);
    if (p) out.push(p);
  } else if (cfg.ledger.store_password_file !== null) {
    out.push('ledger.store_password_file: only a PostgreSQL store (ledger.store = postgres://...) has a password; remove the key');
  }
  if (cfg.checks.rate.scope === 'cluster' && !isPostgresUrl(cfg.ledger.store)) {
    out.push('checks.rate.scope: cluster counts in the cluster\'s PostgreSQL, and ledger.store is not one; set ledger.store to postgres://USER@HOST:PORT/DATABASE, or checks.rate.scope to node');
  }
  for (const [domain, d] of Object.entries(cfg.domains)) {
    const boxes = new Set(d.mailboxes);
    for (const [alias, target] of Object.entries(d.aliases)) {
      if (boxes.has(alias)) out.push(`domains.${domain}.aliases.${alias}: is also a mailbox; remove one of them`);
      for (const t of Array.isArray(target) ? target : [target]) {
        const [local, dom] = t.includes('@') ? [t.slice(0, t.lastIndexOf('@')).toLowerCase(), t.slice(t.lastIndexOf('@') + 1).toLowerCase()] : [t.toLowerCase(), domain];
        const td = cfg.domains[dom];
        if (!td) out.push(`domains.${domain}.aliases.${alias}: target ${t} is not in a local domain; aliases deliver locally only`);
        // A domain whose target verifies recipients itself (empty mailboxes list) accepts any target there.
        else if (!td.mailboxes.includes(local) && !(td.delivery.type !== 'maildir' && td.mailboxes.length === 0)) out.push(`domains.${domain}.aliases.${alias}: target ${t} is not a mailbox; add it to domains.${dom}.mailboxes`);
      }
    }
  }
  for (const [domain, d] of Object.entries(cfg.domains)) {
    const a = d.delivery.address;
    if (d.delivery.type === 'maildir' || a === null) continue;
    const hostPort = /^(?:\[[0-9a-fA-F:.]+\]|[^\s:[\]/]+):(\d{1,5})$/.exec(a);
    const okPort = hostPort && Number(hostPort[1]) >= 1 && Number(hostPort[1]) <= 65535;
    if (d.delivery.type === 'smtp' && !okPort) out.push(`domains.${domain}.delivery.address: "${a}" is not HOST:PORT (e.g. 127.0.0.1:25)`);
    if (d.delivery.type === 'lmtp' && !okPort && !a.startsWith('/')) {
      out.push(`domains.${domain}.delivery.address: "${a}" is neither HOST:PORT (127.0.0.1:24) nor a unix socket path (/var/run/dovecot/lmtp)`);
    }
  }
  if ((cfg.smtp.tls_cert === null) !== (cfg.smtp.tls_key === null)) {
    out.push('smtp.tls_cert / smtp.tls_key: set both or neither');
  }
  if ((cfg.smtp.proxy_protocol || cfg.smtp.xclient) && cfg.smtp.trusted_networks.length === 0) {
    out.push('smtp.trusted_networks: must list the proxy hosts when smtp.proxy_protocol or smtp.xclient is on');
  }
  return out;
}
