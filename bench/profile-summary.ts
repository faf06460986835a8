/**
 * Summarises a V8 CPU profile (.cpuprofile, as written by `node --cpu-prof`): self time per function, self time
 * per source file / package, and total (inclusive) time of selected frames.
 *
 *   node dist/bench/profile-summary.js <file.cpuprofile> [--top 30] [--total name1,name2] [--window FROM,TO]
 *
 * --window FROM,TO counts only the samples taken between FROM and TO seconds before the profile's end: the
 * measured part of a benchmark whose server spent its first half setting up (e.g. --window 13,2 for the rounds
 * of bench:presentities, which end about 2 s before the server stops).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface Node {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string' }, total: { type: 'string' }, window: { type: 'string' } },
});
const file = positionals[0];
if (!file) {
  process.stderr.write('usage: node dist/bench/profile-summary.js <file.cpuprofile> [--top N] [--total fn1,fn2]\n');
  process.exit(2);
}
const top = Number(values.top ?? 30);
process.stdout.on('error', () => process.exit(0)); // e.g. piped into head
const prof = JSON.parse(readFileSync(file, 'utf8')) as Profile;

const byId = new Map<number, Node>();
const parent = new Map<number, number>();
for (const n of prof.nodes) byId.set(n.id, n);
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// The window, in µs on the profile's clock (everything when not given).
const [fromEnd, toEnd] = values.window === undefined ? [] : values.window.split(',').map(Number);
const lo = fromEnd !== undefined && Number.isFinite(fromEnd) ? prof.endTime - fromEnd * 1e6 : -Infinity;
const hi = toEnd !== undefined && Number.isFinite(toEnd) ? prof.endTime - toEnd * 1e6 : Infinity;

// Self time per node from samples × time deltas (µs).
const self = new Map<number, number>();
let at = prof.startTime;
for (let i = 0; i < prof.samples.length; i++) {
  const id = prof.samples[i]!;
  at += prof.timeDeltas[i] ?? 0;
  if (at < lo || at > hi) continue;
  const dt = prof.timeDeltas[i + 1] ?? 0;
  self.set(id, (self.get(id) ?? 0) + dt);
}
const total = [...self.values()].reduce((a, b) => a + b, 0);

const shortUrl = (url: string): string => {
  if (!url) return '';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const d = url.indexOf('/dist/');
  if (d >= 0) return url.slice(d + 1);
  return url.replace(/^file:\/\//, '');
};
const label = (f: CallFrame): string => `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
const area = (f: CallFrame): string => {
  if (!f.url) return f.functionName.startsWith('(') ? f.functionName : '(native/builtin)';
  const u = shortUrl(f.url);
  if (u.startsWith('node:')) return u.split('/')[0]!;
  if (u.startsWith('dist/')) return u;
  return u.split('/')[0]!.startsWith('@') ? u.split('/').slice(0, 2).join('/') : u.split('/')[0]!;
};

const pct = (us: number): string => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
const print = (title: string, m: Map<string, number>, n: number): void => {
  process.stdout.write(`\n${title}\n`);
  for (const [k, v] of [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n)) process.stdout.write(`${pct(v)} ${(v / 1000).toFixed(0).padStart(7)} ms  ${k}\n`);
};

const fnSelf = new Map<string, number>();
const areaSelf = new Map<string, number>();
for (const [id, us] of self) {
  const f = byId.get(id)!.callFrame;
  fnSelf.set(label(f), (fnSelf.get(label(f)) ?? 0) + us);
  areaSelf.set(area(f), (areaSelf.get(area(f)) ?? 0) + us);
}
process.stdout.write(`${file}\nsampled ${(total / 1e6).toFixed(2)} s (wall ${((prof.endTime - prof.startTime) / 1e6).toFixed(2)} s${values.window ? `; window ${values.window} s before the end` : ''})\n`);
print('self time by file / package', areaSelf, top);
print('self time by function', fnSelf, top);

// Inclusive time: a sample counts once for every distinct frame label on its stack.
const incl = new Map<string, number>();
for (const [id, us] of self) {
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur)!.callFrame);
    if (seen.has(l)) continue;
    seen.add(l);
    incl.set(l, (incl.get(l) ?? 0) + us);
  }
}
const wanted = values.total?.split(',').map((s) => s.trim()).filter(Boolean);
const inclShown = wanted ? new Map([...incl].filter(([k]) => wanted.some((w) => k.startsWith(`${w} `) || k.includes(w)))) : new Map([...incl].filter(([k]) => k.includes('dist/src/')));
print(wanted ? 'total (inclusive) time of selected frames' : 'total (inclusive) time of Parley frames', inclShown, top);
