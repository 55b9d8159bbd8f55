// A journal writer in a process of its own, for the crash tests: appends
// durably in a loop from several concurrent appenders, prints each
// acknowledged event id ("ack <id>") on stdout, and with JOURNAL_CRASH set
// kills itself with SIGKILL at that step of the Nth occurrence
// (JOURNAL_CRASH_AT, default 5):
//   before-write       before a write reaches the file
//   after-write        written, before the fdatasync
//   after-sync         synced, before the appends are acknowledged
//   roll-after-close   the old segment closed, the new one not yet created
//   roll-after-create  the new segment created, its directory entry not yet synced
// Without it, it runs until killed. Usage: node journal-crash-child.js DIR
import fs from 'node:fs';
import { JournalWriter } from '../../src/ledger/journal/writer.js';
import { fsIo, type JournalIo } from '../../src/ledger/journal/io.js';
import { journalEvent } from './journal.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: journal-crash-child.js DIR');
const stage = process.env.JOURNAL_CRASH ?? '';
let countdown = Number(process.env.JOURNAL_CRASH_AT ?? 5);
let armed = false; // not during open: its creates and directory syncs are not a roll

function at(s: string): void {
  if (armed && s === stage && --countdown <= 0) process.kill(process.pid, 'SIGKILL');
}

const io: Partial<JournalIo> = {
  writev: (fd, bufs, pos) => { at('before-write'); return fsIo.writev(fd, bufs, pos); },
  fdatasync: async (fd) => { at('after-write'); await fsIo.fdatasync(fd); at('after-sync'); },
  create: (file) => { at('roll-after-close'); return fsIo.create(file); },
  fsyncDir: (d) => { at('roll-after-create'); return fsIo.fsyncDir(d); },
};

const w = await JournalWriter.open(dir, 'n1', 'gw', { segmentBytes: 2000, io });
fs.writeSync(1, `open ${w.nextSequence}\n`);
armed = true;
let next = Number(process.env.JOURNAL_FIRST_ID ?? 0);
async function appender(): Promise<void> {
  for (;;) {
    const id = next++;
    await w.append([journalEvent(id)]);
    // Synchronous: what is printed is on the pipe before a kill can come.
    fs.writeSync(1, `ack ${id}\n`);
  }
}
await Promise.all([appender(), appender(), appender(), appender()]);
