// What one accepted message costs the ledger's write thread, without the
// gateway around it: the events of one message (as the gateway writes them,
// bench/profile.sh counts 13), committed K messages per transaction with
// synchronous=FULL, on the disk under DIR. Prints CPU per message, WAL frames
// per message and commits per second. Variants are set by environment, so one
// build can compare them in the same minutes:
//   node dist/bench/ledger-write.js DIR [MESSAGES=3000] [K=1] [PREFILL=0]
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { applySchema, COLUMNS, openPragmas } from '../src/ledger/sqlite/schema.js';
import { toRow } from '../src/ledger/sqlite/row.js';
import type { LedgerEvent } from '../src/ledger/types.js';

const [dir, mArg, kArg, pArg] = process.argv.slice(2);
if (!dir) { process.stderr.write('usage: ledger-write.js DIR [MESSAGES] [K] [PREFILL]\n'); process.exit(64); }
const M = Number(mArg ?? 3000), K = Number(kArg ?? 1), PREFILL = Number(pArg ?? 0);
fs.rmSync(dir, { recursive: true, force: true });
fs.mkdirSync(dir, { recursive: true });
const file = path.join(dir, 'ledger.sqlite');
const db = new Database(file);
if (process.env.PAGE_SIZE) db.pragma(`page_size = ${process.env.PAGE_SIZE}`);
openPragmas(db);
applySchema(db);
if (process.env.DROP) for (const i of process.env.DROP.split(',')) db.exec(`DROP INDEX ${i}`);
const insert = db.prepare(`INSERT INTO events (${COLUMNS.join(',')}) VALUES (${COLUMNS.map((c) => '@' + c).join(',')})`);
const one = `(${COLUMNS.map(() => '?').join(',')})`;
const head = `INSERT INTO events (${COLUMNS.join(',')}) VALUES `;
const stmts = new Map<number, Database.Statement>();
const many = (n: number) => { let s = stmts.get(n); if (!s) { s = db.prepare(head + Array(n).fill(one).join(',')); stmts.set(n, s); } return s; };
const flat = process.env.VARIANT === 'flat';
const tx = db.transaction((evs: LedgerEvent[]) => {
  if (!flat) { for (const e of evs) insert.run(toRow(e)); return; }
  for (let i = 0; i < evs.length; i += 64) {
    const part = evs.slice(i, i + 64);
    const params: unknown[] = [];
    for (const e of part) { const r = toRow(e); for (const c of COLUMNS) params.push(r[c]); }
    many(part.length).run(params);
  }
});

const id = (n: number) => randomBytes(n).toString('base64url');
let ts = Date.now() * 1000;
function message(): LedgerEvent[] {
  const session = id(10), ref = id(8).slice(0, 12).toUpperCase();
  const base = { node: 'mx1', source: 'gateway' as const, session, client_ip: '127.0.0.1', client_ptr: 'localhost', helo: 'client.example.org' };
  const evs: LedgerEvent[] = [];
  const add = (kind: string, extra: Partial<LedgerEvent> = {}) => evs.push({ ...base, ts: ts++, kind: kind as LedgerEvent['kind'], ...extra });
  add('session.connect', { ref, details: { local: '127.0.0.1:2525', port: 40000 } });
  add('session.helo', { ref, details: { command: 'EHLO' } });
  const tx = { ref, mail_from: 'sender@example.org' };
  for (const c of ['relay', 'recipient', 'size', 'helo_syntax', 'attachments', 'allowlist']) add('check.result', { ...tx, rcpt: 'demo@demo.test', check_name: c, verdict: 'pass', details: { stage: 'rcpt', ms: 0.01 } });
  add('mail.from', { ...tx, size: 4096, details: { params: {} } });
  add('rcpt.accepted', { ...tx, rcpt: 'demo@demo.test' });
  const message_id = `<${id(12)}@example.org>`;
  add('data.received', { ...tx, message_id, size: 4200, details: { subject: 'test', rcpts: 1 } });
  add('message.delivered', { ...tx, rcpt: 'demo@demo.test', message_id, size: 4200, smtp_code: 250, enhanced_code: '2.0.0', reply: `250 2.0.0 Accepted (ref ${ref})`, details: { target: 'maildir', mailbox: 'demo@demo.test' } });
  add('session.close', { ref, details: { messages: 1 } });
  return evs;
}

if (PREFILL) {
  db.pragma('synchronous = OFF');
  for (let i = 0; i < PREFILL; i += 1000) tx(Array.from({ length: 1000 }, message).flat());
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.pragma('synchronous = FULL');
}
if (process.env.SYNC) db.pragma(`synchronous = ${process.env.SYNC}`);
db.pragma('wal_autocheckpoint = 0');
db.pragma('wal_checkpoint(TRUNCATE)');
const batches = Array.from({ length: Math.ceil(M / K) }, () => Array.from({ length: K }, message).flat());
const c0 = process.cpuUsage(), t0 = process.hrtime.bigint();
for (const b of batches) tx(b);
const t1 = process.hrtime.bigint(), c1 = process.cpuUsage(c0);
const wal = fs.statSync(file + '-wal').size;
const pageSize = Number(db.pragma('page_size', { simple: true }));
const frames = (wal - 32) / (pageSize + 24);
const ms = Number(t1 - t0) / 1e6;
process.stdout.write(JSON.stringify({
  variant: process.env.VARIANT ?? 'base', page_size: pageSize, k: K, prefill: PREFILL, messages: M,
  cpu_us_per_msg: +(((c1.user + c1.system) / M)).toFixed(1), wall_us_per_msg: +((ms * 1000) / M).toFixed(1),
  frames_per_msg: +(frames / M).toFixed(2), wal_kib_per_msg: +(wal / 1024 / M).toFixed(1),
}) + '\n');
db.close();
