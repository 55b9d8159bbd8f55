// Prints the functions with the most self time in a V8 .cpuprofile.
//   node cpuprofile-top.js FILE.cpuprofile [N]
import fs from 'node:fs';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[] }

const [file, nArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: cpuprofile-top.js FILE.cpuprofile [N]\n');
  process.exit(64);
}
const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const self = new Map<string, number>();
let total = 0;
p.samples.forEach((id, i) => {
  const dt = p.timeDeltas[i] ?? 0;
  total += dt;
  const n = byId.get(id);
  if (!n) return;
  const f = n.callFrame;
  const where = f.url ? `${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}` : '';
  const key = `${f.functionName || '(anonymous)'} ${where}`.trim();
  self.set(key, (self.get(key) ?? 0) + dt);
});
const idle = self.get('(idle)') ?? 0;
process.stdout.write(`  total ${(total / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms\n`);
for (const [k, t] of [...self].sort((x, y) => y[1] - x[1]).slice(0, Number(nArg ?? 25))) {
  process.stdout.write(`  ${(t / 1000).toFixed(1).padStart(9)} ms ${((100 * t) / Math.max(1, total - idle)).toFixed(1).padStart(5)}% of busy  ${k}\n`);
}
