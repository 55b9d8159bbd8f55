// Prints the functions with the most self time in a V8 .cpuprofile, or with
// --by-file the self time summed per source file (mailproof's src/ files by
// path, npm packages by package, Node's own code as node:*), which says which
// part of the program the time goes to.
//   node cpuprofile-top.js FILE.cpuprofile [N] [--by-file]
import fs from 'node:fs';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[] }

const argv = process.argv.slice(2);
const byFile = argv.includes('--by-file');
const [file, nArg] = argv.filter((x) => x !== '--by-file');
if (!file) {
  process.stderr.write('usage: cpuprofile-top.js FILE.cpuprofile [N] [--by-file]\n');
  process.exit(64);
}

/** Where a frame's code lives: src/..., an npm package, node:..., or V8's pseudo-frames ((garbage collector), (program)). */
function fileOf(f: Node['callFrame']): string {
  const u = f.url;
  if (!u) return f.functionName.startsWith('(') ? f.functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u);
  if (pkg) return `npm:${pkg[1]}`;
  const src = /\/((?:src|bench|test)\/.*)$/.exec(u);
  if (src) return src[1]!;
  return u.startsWith('node:') ? u : u.split('/').slice(-2).join('/');
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
  const key = byFile ? (f.functionName === '(idle)' ? '(idle)' : fileOf(f)) : `${f.functionName || '(anonymous)'} ${where}`.trim();
  self.set(key, (self.get(key) ?? 0) + dt);
});
const idle = self.get('(idle)') ?? 0;
process.stdout.write(`  total ${(total / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms\n`);
for (const [k, t] of [...self].filter(([k]) => k !== '(idle)').sort((x, y) => y[1] - x[1]).slice(0, Number(nArg ?? 25))) {
  process.stdout.write(`  ${(t / 1000).toFixed(1).padStart(9)} ms ${((100 * t) / Math.max(1, total - idle)).toFixed(1).padStart(5)}% of busy  ${k}\n`);
}
