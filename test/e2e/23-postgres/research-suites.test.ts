// The research tests again, on a cluster's PostgreSQL store: the same test
// files, in a child `node --test` whose environment makes the test helpers
// (test/helpers/test-store.ts) build every ledger in a fresh PostgreSQL
// database instead of a SQLite file. Same tests, same expectations; only the
// store differs. Every test must pass: none skipped, none missing (the
// tests each file declares are listed first by a run on SQLite).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startPostgres } from '../../helpers/postgres.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

/**
 * The test files whose assertions go through a store built by the test
 * helpers (tempLedger, testStore: test/helpers/temp-ledger.ts,
 * event-table.ts): every test file under src/ that calls one of them (the
 * first test below checks that none is missing here). Research tests that
 * reason over events in memory (diagnosis, explain, filters, mask,
 * attachment, blocklists) read no store. Not here, since they build their store
 * themselves: research-pool.test.ts and metrics.test.ts (a SqliteStoreWriter;
 * research-pool also asserts that inline research on SQLite holds its
 * thread), ingest/ledger.test.ts (the SQLite store of IngestLedger).
 */
const SUITES = [
  'src/research/evidence.test.ts',
  'src/research/journeys.test.ts',
  'src/research/overview.test.ts',
  'src/research/public-view.test.ts',
  'src/research/verdict.test.ts',
  'src/research/visibility.test.ts',
  'src/research/near-misses.test.ts',
  'src/research/search.test.ts',
  'src/research/sessions.test.ts',
  'src/report/report.test.ts',
  'src/web/customer-scope.test.ts',
  'src/web/overview-view.test.ts',
  'src/web/server.test.ts',
  'src/ingest/policy.test.ts',
];

/** A child's run longer than this is killed (the whole list takes well under a minute). */
const CHILD_TIMEOUT_MS = 10 * 60_000;

const compiled = (src: string): string => path.join(ROOT, 'dist', src.replace(/\.ts$/, '.js'));

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

function runTests(args: string[], env: Record<string, string>): Promise<Run> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  // Set by the runner around this file: it would make the child's runner report to us in its own protocol, not TAP.
  delete childEnv.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=tap', ...args, ...SUITES.map(compiled)], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}

interface Tap {
  counts: Record<'tests' | 'pass' | 'fail' | 'cancelled' | 'skipped' | 'todo', number>;
  /** Top-level tests in the order reported: name, and the directive (SKIP, TODO) if any. */
  top: { ok: boolean; name: string; directive: string | null }[];
  /** Each failed test's block (its line and YAML: error, location, stack), nested ones included. */
  failures: string[];
}

function parseTap(out: string): Tap {
  const counts = { tests: -1, pass: -1, fail: -1, cancelled: -1, skipped: -1, todo: -1 };
  const top: Tap['top'] = [];
  const failures: string[] = [];
  const lines = out.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const c = /^# (tests|pass|fail|cancelled|skipped|todo) (\d+)$/.exec(line);
    if (c) counts[c[1] as keyof typeof counts] = Number(c[2]);
    const t = /^(not )?ok \d+ - (.*?)(?: # (SKIP|TODO)\b.*)?$/.exec(line);
    if (t) top.push({ ok: !t[1], name: t[2]!, directive: t[3] ?? null });
    const f = /^(\s*)not ok \d+ - /.exec(line);
    if (f) {
      // The block: this line and what is indented deeper (its YAML), up to the YAML's end marker.
      const block = [line];
      for (let j = i + 1; j < lines.length && (lines[j]!.startsWith(f[1]! + ' ') || lines[j] === ''); j++) {
        block.push(lines[j]!);
        if (lines[j]!.trim() === '...') break;
      }
      failures.push(block.join('\n'));
    }
  }
  for (const [k, v] of Object.entries(counts)) if (v < 0) throw new Error(`no "# ${k}" line in the child's TAP output:\n${out.slice(-4000)}`);
  return { counts, top, failures };
}

const tail = (s: string, n = 60): string => s.trimEnd().split('\n').slice(-n).join('\n');

test('the list of research test files holds every test file that builds a ledger through the helpers', () => {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = path.join(dir, e.name);
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.test.ts') && /\b(tempLedger|testStore)\(/.test(fs.readFileSync(path.join(ROOT, rel), 'utf8'))) found.push(rel);
    }
  };
  walk('src');
  assert.deepEqual([...SUITES].sort(), found.sort(), 'SUITES in this file: add the new test file (or say there why it is left out)');
  for (const f of SUITES) assert.ok(fs.existsSync(compiled(f)), `${compiled(f)} (build first)`);
});

test('the research tests pass on a PostgreSQL store, every one of them', async (t) => {
  // DDL in the server's log: proof that the tests' ledgers were made (and dropped) here.
  // No autovacuum: a worker that happens to be in a test database when the test drops it
  // (DROP DATABASE ... WITH (FORCE)) is no process of the test role's, which may not end
  // it, and the drop fails (seen under load). The test databases live for seconds anyway.
  const db = await startPostgres(t, { settings: { log_statement: 'ddl', autovacuum: 'off' } });
  if (!db) return;
  // Each ledger of the tests is a database of its own, made by the role.
  await db.query(`ALTER ROLE ${pg.escapeIdentifier(db.user)} CREATEDB`);

  // The tests the files declare: those a run on the embedded SQLite store reports. Not a
  // --test-only run: from Node 22 on it leaves the filtered tests out of the report (and
  // runs a file's after hooks without its before hooks), so only a run lists them on every
  // supported Node.
  const listing = await runTests(['--test-timeout=600000'], { MAILPROOF_TEST_STORE: 'sqlite' });
  const declared = parseTap(listing.stdout);
  assert.equal(listing.code, 0, `the research tests on SQLite (the listing) failed:\n${tail(listing.stdout)}\n${tail(listing.stderr)}`);
  assert.ok(declared.top.length >= SUITES.length, `only ${declared.top.length} tests declared in ${SUITES.length} files`);

  const started = Date.now();
  const run = await runTests(['--test-timeout=600000'], {
    MAILPROOF_TEST_STORE: 'postgres',
    MAILPROOF_TEST_PG_URL: db.url,
    MAILPROOF_TEST_PG_PASSWORD_FILE: db.passwordFile,
  });
  const tap = parseTap(run.stdout);
  t.diagnostic(`${SUITES.length} files, ${declared.top.length} tests declared; on PostgreSQL: ${JSON.stringify(tap.counts)} in ${Math.round((Date.now() - started) / 1000)} s`);
  const failed = (): string => `${tap.failures.join('\n\n')}\n--- stderr of the child (tail) ---\n${tail(run.stderr)}`;
  assert.equal(run.code, 0, `the research tests on PostgreSQL exited with ${run.code ?? run.signal}:\n${failed()}`);
  const skipped = tap.top.filter((x) => x.directive).map((x) => `${x.name} # ${x.directive}`);
  assert.deepEqual({ fail: tap.counts.fail, cancelled: tap.counts.cancelled, skipped: tap.counts.skipped, todo: tap.counts.todo },
    { fail: 0, cancelled: 0, skipped: 0, todo: 0 }, `${skipped.length ? `skipped:\n${skipped.join('\n')}\n` : ''}${failed()}`);
  assert.equal(tap.counts.pass, tap.counts.tests, 'every test reported passed');
  // The ledgers were PostgreSQL databases (not a SQLite file the environment failed to redirect), and each was dropped.
  const made = db.log().match(/statement: CREATE DATABASE "mp_test_/g)?.length ?? 0;
  const dropped = db.log().match(/statement: DROP DATABASE IF EXISTS "mp_test_/g)?.length ?? 0;
  t.diagnostic(`test databases made: ${made}, dropped: ${dropped}`);
  assert.ok(made >= SUITES.length, `only ${made} test databases made`);
  assert.equal(dropped, made, 'every test database dropped');
  assert.deepEqual((await db.query("SELECT datname FROM pg_database WHERE datname LIKE 'mp\\_test\\_%'")).rows, []);
  // The same tests as declared, in the same order, each passed without a directive: none skipped, none missing.
  assert.deepEqual(tap.top.map((x) => `${x.ok ? 'ok' : 'not ok'} ${x.name}${x.directive ? ` # ${x.directive}` : ''}`), declared.top.map((x) => `ok ${x.name}`));
});
