// Where an ingest's time goes, phase by phase, in one process on one log:
//  1. parse: framing, syslog header, the Postfix parser and its correlation
//     (the code `mailproof ingest` runs), events collected per batch of
//     100,000 lines as the CLI commits them;
//  2. store: the same batches written into a fresh store through
//     SqliteStoreWriter, one transaction each, as IngestLedger does;
//  3. of the store, the chunk encoding (normalize, JSON, deflate) and the
//     terms of the same session groups, measured apart without SQLite; the
//     rest of (2) is SQLite (sessions, chunks, terms, mailboxes, commit).
// The CLI's own wall time also has process start and file reading.
//
//   node dist/bench/ingest/phases.js --log FILE [--work DIR] [--runs 2]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PostfixParser } from '../../src/ingest/postfix.js';
import { parseSyslog, YearInference } from '../../src/ingest/syslog.js';
import { encodeChunk, normalizeEvent } from '../../src/ledger/store/codec.js';
import { SqliteStoreWriter, sessionKey } from '../../src/ledger/store/sqlite/writer.js';
import { termsOf } from '../../src/ledger/store/terms.js';
import type { LedgerEvent } from '../../src/ledger/types.js';

/** Lines per commit of `mailproof ingest` (src/ingest/run.ts, batchLines). */
const BATCH_LINES = 100_000;

export interface Phases { lines: number; events: number; parse_ms: number; store_ms: number; encode_ms: number; sqlite_ms: number; store_bytes: number }

function parse(log: string, year: number): { ms: number; lines: number; batches: LedgerEvent[][] } {
  const t0 = performance.now();
  const p = new PostfixParser();
  const years = new YearInference(fs.statSync(log).mtimeMs, year);
  const batches: LedgerEvent[][] = [];
  let batch: LedgerEvent[] = [];
  let lines = 0;
  let inBatch = 0;
  const sink = { emit: (e: LedgerEvent): void => { batch.push(e); } };
  const fd = fs.openSync(log, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  let carry = '';
  for (;;) {
    const got = fs.readSync(fd, buf, 0, buf.length, null);
    if (got === 0) break;
    const text = carry + buf.toString('utf8', 0, got);
    const nl = text.lastIndexOf('\n');
    carry = text.slice(nl + 1);
    for (const line of text.slice(0, nl).split('\n')) {
      if (!line) continue;
      lines++;
      inBatch++;
      const l = parseSyslog(line, years);
      if (l) p.handle(l, l.host ?? 'x', sink);
    }
    if (inBatch >= BATCH_LINES) { batches.push(batch); batch = []; inBatch = 0; }
  }
  fs.closeSync(fd);
  if (batch.length) batches.push(batch);
  return { ms: performance.now() - t0, lines, batches };
}

/** What the store writer computes besides SQLite: per batch, the session groups' chunks and terms. */
function encodeOnly(batches: LedgerEvent[][]): number {
  const t0 = performance.now();
  let id = 1;
  const terms = new Set<string>();
  for (const b of batches) {
    const groups = new Map<string, ReturnType<typeof normalizeEvent>[]>();
    for (const e of b) {
      const k = sessionKey(e);
      let g = groups.get(k);
      if (!g) groups.set(k, (g = []));
      g.push(normalizeEvent(e, id++));
    }
    for (const g of groups.values()) {
      encodeChunk(g);
      for (const e of g) { terms.clear(); termsOf(e, terms); }
    }
  }
  return performance.now() - t0;
}

export async function measurePhases(log: string, work: string, year = 2026): Promise<Phases> {
  const dir = fs.mkdtempSync(path.join(work, 'mp-phases-'));
  try {
    const p = parse(log, year);
    const file = path.join(dir, 'store.sqlite');
    const store = new SqliteStoreWriter(file);
    const t0 = performance.now();
    for (const b of p.batches) await store.transaction((tx) => tx.add(b.map((event) => ({ event }))));
    const storeMs = performance.now() - t0;
    await store.close();
    let bytes = 0;
    for (const f of fs.readdirSync(dir)) bytes += fs.statSync(path.join(dir, f)).size;
    const encodeMs = encodeOnly(p.batches);
    return {
      lines: p.lines, events: p.batches.reduce((a, b) => a + b.length, 0),
      parse_ms: Math.round(p.ms), store_ms: Math.round(storeMs), encode_ms: Math.round(encodeMs),
      sqlite_ms: Math.max(0, Math.round(storeMs - encodeMs)), store_bytes: bytes,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/.*\//, '/'))) {
  const { values } = parseArgs({ options: { log: { type: 'string' }, work: { type: 'string' }, runs: { type: 'string' } } });
  if (!values.log || !fs.existsSync(values.log)) {
    process.stderr.write('usage: phases.js --log POSTFIX.log [--work DIR] [--runs N]\n');
    process.exit(2);
  }
  for (let r = 1; r <= Number(values.runs ?? 2); r++) {
    const x = await measurePhases(values.log, values.work ?? os.tmpdir());
    const total = x.parse_ms + x.store_ms;
    process.stdout.write(`run ${r}: ${x.lines} lines, ${x.events} events; parse ${x.parse_ms} ms (${Math.round((100 * x.parse_ms) / total)}%), store ${x.store_ms} ms (${Math.round((100 * x.store_ms) / total)}%:` +
      ` encoding ${x.encode_ms} ms, SQLite ${x.sqlite_ms} ms); ${Math.round(x.lines / (total / 1000))} lines/s in process; store ${(x.store_bytes / 1048576).toFixed(1)} MiB\n`);
  }
}
