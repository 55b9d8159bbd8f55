import fs from 'node:fs';

/**
 * Writes a report's generated block into bench/RESULTS.md: between its two
 * markers when they are there (the hand-written text around them stays), or
 * placed by `place` in a file that has none yet.
 */
export function writeGenerated(file: string, begin: string, end: string, lines: string[], place: (doc: string, block: string) => string): void {
  const block = `${begin}\n${lines.join('\n')}\n${end}`;
  let doc = '';
  try { doc = fs.readFileSync(file, 'utf8'); } catch { /* a new file */ }
  fs.writeFileSync(file, doc.includes(begin) && doc.includes(end)
    ? doc.slice(0, doc.indexOf(begin)) + block + doc.slice(doc.indexOf(end) + end.length)
    : place(doc, block));
}
