// Where a stream's files live: <dir>/<node>/<stream>/<first seq>.seg. The
// names become path components, so they are checked before any path is
// built: a node or stream name must never climb out of the journal directory.
import fs from 'node:fs';
import path from 'node:path';

const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const SEGMENT = /^(\d{20})\.seg$/;

export function validateName(what: 'node' | 'stream', name: string): void {
  if (!NAME.test(name) || name === '.' || name === '..') {
    throw new Error(`journal: invalid ${what} name ${JSON.stringify(name)} (allowed: 1-64 of A-Z a-z 0-9 . _ -, not "." or "..")`);
  }
}

export function streamDir(dir: string, node: string, stream: string): string {
  validateName('node', node);
  validateName('stream', stream);
  return path.join(dir, node, stream);
}

/** File name of the segment whose first record has this seq. */
export function segmentName(firstSeq: number): string {
  return `${String(firstSeq).padStart(20, '0')}.seg`;
}

export function segmentPath(sdir: string, firstSeq: number): string {
  return path.join(sdir, segmentName(firstSeq));
}

/** First seqs of the stream's segments, oldest first; none if the stream does not exist. */
export function listSegments(sdir: string): number[] {
  let names: string[];
  try {
    names = fs.readdirSync(sdir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const seqs: number[] = [];
  for (const n of names) {
    const m = SEGMENT.exec(n);
    if (m?.[1]) seqs.push(Number(m[1]));
  }
  return seqs.sort((a, b) => a - b);
}

/** Every stream under the journal directory, by node then stream name. */
export function listStreams(dir: string): { node: string; stream: string }[] {
  const out: { node: string; stream: string }[] = [];
  for (const node of subdirs(dir)) {
    for (const stream of subdirs(path.join(dir, node))) out.push({ node, stream });
  }
  return out;
}

function subdirs(dir: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return entries
    .filter((e) => e.isDirectory() && NAME.test(e.name) && e.name !== '.' && e.name !== '..')
    .map((e) => e.name)
    .sort();
}
