import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { JournalWriter } from './writer.js';
import { readStream } from './reader.js';
import { START } from './position.js';
import { journalEvent, range, readAll, segmentFiles, tempJournalDir } from '../../../test/helpers/journal.js';
import { rng } from '../../../test/helpers/rng.js';

const CHILD = fileURLToPath(new URL('../../../test/helpers/journal-crash-child.js', import.meta.url));

interface Run { child: ChildProcess; acked: number[]; opened: Promise<void>; exited: Promise<NodeJS.Signals | null> }

function start(dir: string, env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, [CHILD, dir], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const acked: number[] = [];
  let buf = '';
  let onOpen!: () => void;
  const opened = new Promise<void>((r) => { onOpen = r; });
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    buf += s;
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) {
      if (l.startsWith('open ')) onOpen();
      if (l.startsWith('ack ')) acked.push(Number(l.slice(4)));
    }
  });
  const exited = new Promise<NodeJS.Signals | null>((r) => child.on('close', (_code, sig) => r(sig)));
  return { child, acked, opened, exited };
}

/** After a crash: every acknowledged event is there, seqs contiguous, no damage; a new writer goes on. */
async function verify(dir: string, acked: number[], what: string): Promise<void> {
  const r = readAll(dir);
  assert.deepEqual(r.damage, [], what);
  assert.deepEqual(r.seqs, range(1, r.seqs.length), what);
  const present = new Set(r.ids);
  for (const id of acked) assert.ok(present.has(id), `${what}: acknowledged ${id} missing`);
  assert.equal(present.size, r.ids.length, `${what}: an event twice`);
  const w = await JournalWriter.open(dir, 'n1', 'gw', { segmentBytes: 2000 });
  assert.equal(w.recovery.lastSeq, r.seqs.length, what);
  await w.append([journalEvent(1_000_000)]);
  await w.close();
  const after = readAll(dir);
  assert.deepEqual(after.seqs, range(1, r.seqs.length + 1), what);
  assert.equal(after.ids.at(-1), 1_000_000);
}

for (const stage of ['before-write', 'after-write', 'after-sync', 'roll-after-close', 'roll-after-create']) {
  test(`kill -9 ${stage}: acknowledged events survive, the stream continues`, async (t) => {
    const dir = tempJournalDir(t);
    const run = start(dir, { JOURNAL_CRASH: stage, JOURNAL_CRASH_AT: '3' });
    assert.equal(await run.exited, 'SIGKILL', stage);
    assert.ok(run.acked.length > 0 || stage === 'before-write' || stage === 'after-write', stage);
    await verify(dir, run.acked, stage);
    if (stage.startsWith('roll')) assert.ok(segmentFiles(dir).length >= 2, stage);
  });
}

test('kill -9 at random moments, several times over the same journal', async (t) => {
  const dir = tempJournalDir(t);
  const rand = rng(18);
  const acked: number[] = [];
  for (let round = 0; round < 4; round++) {
    const run = start(dir, { JOURNAL_FIRST_ID: String(round * 1_000_000 + 1) });
    await run.opened;
    await new Promise((r) => setTimeout(r, 30 + rand() * 200));
    run.child.kill('SIGKILL');
    assert.equal(await run.exited, 'SIGKILL');
    acked.push(...run.acked);
    const r = readAll(dir);
    assert.deepEqual(r.damage, [], `round ${round}`);
    assert.deepEqual(r.seqs, range(1, r.seqs.length), `round ${round}`);
    const present = new Set(r.ids);
    for (const id of acked) assert.ok(present.has(id), `round ${round}: acknowledged ${id} missing`);
  }
  assert.ok(acked.length > 0);
  await verify(dir, acked, 'random');
});

test('a torn last record (the file cut at any byte inside it) is cut at reopen; the rest is intact', async (t) => {
  const dir = tempJournalDir(t);
  const run = start(dir, { JOURNAL_CRASH: 'after-sync', JOURNAL_CRASH_AT: '20' });
  await run.exited;
  const files = segmentFiles(dir);
  const file = files[files.length - 1]!;
  const recs = readStream(dir, 'n1', 'gw', START).records.filter((x) => file.endsWith(`${String(x.segment).padStart(20, '0')}.seg`));
  const last = recs[recs.length - 1]!;
  const copy = fs.readFileSync(file);
  for (const cut of [last.offset - last.size + 1, last.offset - last.size + 20, last.offset - 1]) {
    fs.writeFileSync(file, copy.subarray(0, cut));
    const before = readAll(dir);
    assert.deepEqual(before.damage, []);
    assert.equal(before.seqs.at(-1), last.seq - 1);
    const w = await JournalWriter.open(dir, 'n1', 'gw');
    assert.deepEqual(w.recovery, { truncatedBytes: cut - (last.offset - last.size), lastSeq: last.seq - 1 });
    await w.close();
    assert.equal(fs.statSync(file).size, last.offset - last.size);
  }
});

test('lock: a second writer fails while the first lives (same process or another), and takes over once the holder died', async (t) => {
  const dir = tempJournalDir(t);
  const w = await JournalWriter.open(dir, 'n1', 'gw');
  await assert.rejects(JournalWriter.open(dir, 'n1', 'gw'), new RegExp(`journal stream gw is locked by process ${process.pid}`));
  await w.close();
  const run = start(dir);
  await run.opened;
  await assert.rejects(JournalWriter.open(dir, 'n1', 'gw'), new RegExp(`journal stream gw is locked by process ${run.child.pid}`));
  run.child.kill('SIGKILL');
  await run.exited;
  const w2 = await JournalWriter.open(dir, 'n1', 'gw');
  await w2.append([journalEvent(1)]);
  await w2.close();
  assert.deepEqual(readAll(dir).damage, []);
});
