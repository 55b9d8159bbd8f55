// Where the ledger part of an ingest goes: the rows of an existing ledger
// (one that `mailproof ingest` wrote) are written again into a fresh ledger
// the way IngestLedger writes them (indexes dropped, 64-row INSERT
// statements, two transactions, index build at the end), with each phase
// timed. Parsing is not part of it: this is the floor that the ledger alone
// sets, whatever the parser costs.
//
//   node dist/bench/ingest/phases.js --ledger DATA/ledger.sqlite [--work DIR] [--runs 2]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { applySchema, COLUMNS, openPragmas } from '../../src/ledger/sqlite/schema.js';

const { values } = parseArgs({ options: { ledger: { type: 'string' }, work: { type: 'string' }, runs: { type: 'string' } } });
if (!values.ledger || !fs.existsSync(values.ledger)) {
  process.stderr.write('usage: phases.js --ledger LEDGER.sqlite [--work DIR] [--runs N] (a ledger written by mailproof ingest)\n');
  process.exit(2);
}
const runs = Number(values.runs ?? 2);
const work = fs.mkdtempSync(path.join(values.work ?? os.tmpdir(), 'mp-phases-'));
const ROWS = 64;

const src = new Database(values.ledger, { readonly: true });
const rows = src.prepare(`SELECT ${COLUMNS.join(',')} FROM events ORDER BY id`).raw().all() as unknown[][];
src.close();
process.stdout.write(`${rows.length} rows from ${values.ledger}\n`);

const ms = (t0: number): string => (performance.now() - t0).toFixed(0);
for (let r = 1; r <= runs; r++) {
  const file = path.join(work, `run${r}.sqlite`);
  const db = new Database(file);
  openPragmas(db);
  applySchema(db);
  db.pragma('cache_size = -262144'); // as IngestLedger
  const names = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL").pluck().all() as string[];
  for (const n of names) db.exec(`DROP INDEX ${n}`);
  const one = `(${COLUMNS.map(() => '?').join(',')})`;
  const head = `INSERT INTO events (${COLUMNS.join(',')}) VALUES `;
  const many = db.prepare(head + Array(ROWS).fill(one).join(','));
  const single = db.prepare(head + one);
  const half = rows.length >> 1;
  const parts: string[] = [];
  for (const [a, b] of [[0, half], [half, rows.length]] as const) {
    let t0 = performance.now();
    db.exec('BEGIN IMMEDIATE');
    let i = a;
    for (; i + ROWS <= b; i += ROWS) many.run(rows.slice(i, i + ROWS).flat());
    for (; i < b; i++) single.run(rows[i]);
    parts.push(`insert ${ms(t0)} ms`);
    t0 = performance.now();
    db.exec('COMMIT');
    parts.push(`commit ${ms(t0)} ms`);
  }
  const t0 = performance.now();
  applySchema(db);
  parts.push(`${names.length} indexes ${ms(t0)} ms`);
  db.close();
  process.stdout.write(`run ${r}: ${parts.join(', ')}\n`);
}
fs.rmSync(work, { recursive: true, force: true });
