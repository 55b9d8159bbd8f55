import { isPostgresUrl } from '../config/load.js';
import { openPool, storeError } from '../ledger/store/pg/connect.js';
import { LATEST, migrate } from '../ledger/store/pg/migrations.js';
import { configFrom, parse } from './common.js';

export const MIGRATE_HELP = `mailproof migrate
  Brings a cluster's PostgreSQL store (ledger.store = postgres://...) to the
  schema this mailproof needs. \`serve\` does the same at start; the nodes of
  a cluster take turns, so it is safe to run while they run.`;

export async function migrateCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {});
  if (values.help) { process.stdout.write(`${MIGRATE_HELP}\n`); return 0; }
  const cfg = configFrom(values);
  if (!isPostgresUrl(cfg.paths.store)) {
    process.stdout.write(`the store is the SQLite file ${cfg.paths.store}: it has no migrations (it is made as it is needed)\n`);
    return 0;
  }
  const pool = openPool({ url: cfg.paths.store, passwordFile: cfg.paths.storePasswordFile }, { max: 1, application: 'mailproof migrate' });
  try {
    const r = await migrate(pool).catch((err: unknown) => { throw storeError(cfg.paths.store, err); });
    if (r.applied.length === 0) process.stdout.write(`the store is at schema version ${LATEST}: nothing to do\n`);
    else process.stdout.write(`schema version ${r.from} -> ${r.to}:\n${r.applied.map((a) => `  applied ${a}\n`).join('')}`);
  } finally {
    await pool.end();
  }
  return 0;
}
