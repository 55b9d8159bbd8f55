// A PostgreSQL of its own for a benchmark target with a cluster store:
// scripts/postgres-local.sh (Debian's server binaries, its defaults: fsync
// on), on 127.0.0.1, in a directory below /var/tmp/mailproof-bench (the
// same disk as the benchmark's other data), removed when stopped. Listed in
// the registry first, so bench/lib/common.sh's trap stops it (by the
// postmaster's PID) even when the orchestrator dies.
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { cpuSeconds } from './proc.js';
import { freePort, register, run } from './proc.js';

export interface BenchPostgres {
  /** postgres://mailproof@127.0.0.1:PORT/mailproof (the password is in passwordFile). */
  url: string;
  passwordFile: string;
  dir: string;
  port: number;
  /** The postmaster's PID. */
  pid: number;
  /** CPU seconds of every server process so far (those that exited included: the postmaster reaps them). */
  cpu(): number;
  /** Drops everything mailproof made in the database: the next user migrates a fresh store. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

const script = (): string => path.join(process.env.MAILPROOF_ROOT ?? process.cwd(), 'scripts/postgres-local.sh');

export async function startBenchPostgres(name: string, base = process.env.BENCH_PG_DIR ?? '/var/tmp/mailproof-bench'): Promise<BenchPostgres> {
  fs.mkdirSync(base, { recursive: true });
  const dir = fs.mkdtempSync(path.join(base, `pg-${name}-`));
  // The server runs as the postgres user (the script's rule under root): it must reach its directory.
  fs.chmodSync(dir, 0o755);
  const port = await freePort();
  register(`postgres ${dir}`);
  const r = await run('bash', [script(), 'start', dir, String(port)], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`PostgreSQL for ${name} did not start: ${r.out}`);
  const pid = Number(fs.readFileSync(path.join(dir, 'data/postmaster.pid'), 'utf8').split('\n')[0]);
  const url = `postgres://mailproof@127.0.0.1:${port}/mailproof`;
  const passwordFile = path.join(dir, 'password');
  return {
    url, passwordFile, dir, port, pid,
    cpu: () => cpuSeconds(pid),
    async reset() {
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'mailproof', database: 'mailproof', password: fs.readFileSync(passwordFile, 'utf8').trim() });
      await c.connect();
      try {
        await c.query('DROP SCHEMA public CASCADE');
        await c.query('CREATE SCHEMA public');
      } finally {
        await c.end();
      }
    },
    async stop() {
      const s = await run('bash', [script(), 'stop', dir], { timeoutMs: 90_000 });
      if (s.code !== 0) throw new Error(`PostgreSQL for ${name} did not stop: ${s.out}`);
      register(`done ${dir}`);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
