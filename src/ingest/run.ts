// The ingest loop: files -> lines -> parser -> events -> ledger, in big
// transactions that also hold each file's position and the parser's open
// sessions and transactions.
import path from 'node:path';
import fs from 'node:fs';
import type { LedgerEvent } from '../ledger/types.js';
import type { StoreSpec } from '../ledger/open.js';
import { clean, type StatefulParser } from './common.js';
import { DovecotParser } from './dovecot.js';
import { IngestLedger } from './ledger.js';
import { ThreadedIngestLedger } from './threaded-ledger.js';
import type { Progress } from '../util/progress.js';
import { PostfixParser } from './postfix.js';
import { LogFile, type FilePosition } from './reader/follow.js';
import { parseSyslog, YearInference } from './syslog.js';

export type LogKind = 'postfix' | 'dovecot';

export interface IngestOptions {
  /** Lines read, for a progress display on a terminal (util/progress.ts). */
  progress?: Progress;
  kind: LogKind;
  files: string[];
  /** The store: a SQLite file, or a store spec (a cluster's PostgreSQL). */
  ledgerPath: string | StoreSpec;
  /** Node name for every event; default the line's host field, else fallbackNode. */
  node?: string;
  fallbackNode: string;
  year?: number;
  follow?: boolean;
  /** Ignore saved positions and read every file from its start. */
  fromStart?: boolean;
  /** Lines per transaction. */
  batchLines?: number;
  pollMs?: number;
  /** Follow mode ends when this is aborted. */
  signal?: AbortSignal;
  onNote?: (s: string) => void;
  /** Follow mode: called after each commit (tests, progress). */
  onCommit?: (s: IngestSummary) => void;
}

export interface IngestSummary {
  files: number;
  lines: number;
  events: number;
  /** Lines not understood, by program ("(no syslog header)" when not even the frame parsed). */
  unknown: Record<string, number>;
  unknown_total: number;
  /** Of the lines not understood, those refused on purpose, by reason (e.g. "ambiguous trailer": a client-chosen value made the line read more than one way). */
  refused: Record<string, number>;
  oversized: number;
  by_kind: Record<string, number>;
}

const MAX_UNKNOWN_KEYS = 100;
const EXPIRE_MS = 7 * 86400e3;

export async function ingest(o: IngestOptions): Promise<IngestSummary> {
  // A one-shot ingest parses here and stores in a thread of its own (threaded-ledger.ts);
  // follow mode commits small batches as lines come and keeps it simple.
  const ledger: IngestLedger | ThreadedIngestLedger = o.follow ? new IngestLedger(o.ledgerPath) : new ThreadedIngestLedger(o.ledgerPath);
  const parser: StatefulParser = o.kind === 'postfix' ? new PostfixParser() : new DovecotParser();
  const parserKey = `parser:${o.kind}`;
  const summary: IngestSummary = { files: o.files.length, lines: 0, events: 0, unknown: {}, unknown_total: 0, refused: {}, oversized: 0, by_kind: {} };
  const batchLines = o.batchLines ?? 100000;
  const note = o.onNote ?? (() => undefined);

  interface Open { file: LogFile; key: string; years: YearInference }
  const open: Open[] = [];
  try {
    if (!o.fromStart) parser.load(await ledger.state(parserKey));
    for (const f of o.files) {
      const abs = path.resolve(f);
      const key = `file:${abs}`;
      const saved = o.fromStart ? null : await ledger.state<FilePosition>(key);
      const file = new LogFile(abs, o.follow ? 5000 : 0);
      file.open(saved);
      for (const n of file.notes.splice(0)) note(n);
      let ref = Date.now();
      try { ref = fs.statSync(abs).mtimeMs; } catch { /* opened above */ }
      const years = new YearInference(ref, o.year ?? null);
      if (saved?.lastTs != null && !o.fromStart) years.lastTs = saved.lastTs;
      open.push({ file, key, years });
    }

    let pendingLines = 0;
    let maxTs = 0;
    // Events go straight to the ledger's queue (rows, not objects kept until
    // the commit); the ledger inserts them as the batch goes on.
    const sink = {
      emit: (e: LedgerEvent): void => {
        ledger.add(e);
        summary.events++;
        summary.by_kind[e.kind] = (summary.by_kind[e.kind] ?? 0) + 1;
      },
    };
    const unknown = (prog: string): void => {
      summary.unknown_total++;
      const k = prog in summary.unknown || Object.keys(summary.unknown).length < MAX_UNKNOWN_KEYS ? prog : '(other)';
      summary.unknown[k] = (summary.unknown[k] ?? 0) + 1;
    };
    const commit = async (): Promise<void> => {
      if (maxTs > 0) parser.expire(maxTs - EXPIRE_MS);
      const state: Array<[string, unknown]> = open.map((x) => [x.key, x.file.position(x.years.lastTs)]);
      state.push([parserKey, parser.save()]);
      const committed = ledger.commit(state);
      pendingLines = 0;
      // Threaded: the batch is on its way; its errors surface at the next drain().
      // Follow mode: written here; an error (disk full) stops the ingest with its message.
      if (ledger instanceof ThreadedIngestLedger) void committed.catch(() => undefined);
      else await committed;
    };
    let lastHost: string | null = null;
    let lastNode = o.fallbackNode;
    const consume = async (x: Open): Promise<boolean> => {
      const chunk = x.file.read();
      if (!chunk) return false;
      summary.oversized += chunk.oversized;
      for (let i = 0; i < chunk.oversized; i++) unknown('(line over 64 KiB)');
      for (const line of chunk.lines) {
        if (line.length === 0) continue;
        summary.lines++;
        const l = parseSyslog(line, x.years);
        if (!l) { unknown('(no syslog header)'); continue; }
        if (l.ts > maxTs) maxTs = l.ts;
        // The host field is the same on nearly every line: clean it once per change.
        if (l.host !== lastHost) { lastHost = l.host; lastNode = l.host ? clean(l.host, 64)! : o.fallbackNode; }
        const node = o.node ?? lastNode;
        let ok = false;
        try {
          ok = parser.handle(l, node, sink);
        } catch {
          // A parser bug on one odd line must not stop the ingest: count it.
          ok = false;
        }
        if (!ok) {
          unknown(clean(l.program, 40) ?? '?');
          // Reasons are the parsers' own fixed strings: a bounded set of keys.
          const why = parser.takeRefusal?.() ?? null;
          if (why) summary.refused[why] = (summary.refused[why] ?? 0) + 1;
        }
        // Outside the parser's try: a database error (disk full) stops the
        // ingest with its message instead of counting as a line not understood.
        ledger.flush();
      }
      pendingLines += chunk.lines.length + chunk.oversized;
      o.progress?.add(chunk.lines.length + chunk.oversized);
      if (pendingLines >= batchLines) await commit();
      return true;
    };

    const drain = async (max?: number): Promise<void> => { if (ledger instanceof ThreadedIngestLedger) await ledger.drain(max); };
    for (const x of open) while (await consume(x)) await drain();
    await commit();
    if (!o.follow) {
      await drain(0);
      ledger.finish();
      return summary;
    }

    const poll = o.pollMs ?? 500;
    while (!o.signal?.aborted) {
      let any = false;
      for (const x of open) {
        while (await consume(x)) any = true;
        if (x.file.checkRotation()) {
          for (const n of x.file.notes.splice(0)) note(n);
          while (await consume(x)) any = true;
        }
      }
      if (any || pendingLines > 0) { await commit(); o.onCommit?.(summary); }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, poll);
        o.signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
      });
    }
    for (const x of open) while (await consume(x)) { /* last lines */ }
    await commit();
    return summary;
  } finally {
    for (const x of open) x.file.close();
    await ledger.close();
  }
}
