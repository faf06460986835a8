/**
 * Compares two V8 heap snapshots (.heapsnapshot, e.g. from `node --heapsnapshot-signal=SIGUSR2`): live objects
 * grouped by kind and constructor/function name, after − before, optionally divided by a count (connections).
 *
 *   node dist/bench/heap-summary.js <before.heapsnapshot> <after.heapsnapshot> [--per 10000] [--top 40]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { per: { type: 'string' }, top: { type: 'string' } } });
if (positionals.length !== 2) {
  process.stderr.write('usage: node dist/bench/heap-summary.js <before.heapsnapshot> <after.heapsnapshot> [--per N] [--top N]\n');
  process.exit(2);
}
process.stdout.on('error', () => process.exit(0));
const per = Number(values.per ?? 1);
const top = Number(values.top ?? 40);

/** (kind:name) → [count, self bytes] */
function groups(file: string): Map<string, [number, number]> {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const f = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const stride = f.length;
  const iType = f.indexOf('type');
  const iName = f.indexOf('name');
  const iSize = f.indexOf('self_size');
  const out = new Map<string, [number, number]>();
  for (let i = 0; i < s.nodes.length; i += stride) {
    const type = types[s.nodes[i + iType]!]!;
    let name = s.strings[s.nodes[i + iName]!] ?? '';
    // Strings and numbers are grouped by kind only; objects by constructor, closures by function name.
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number' || type === 'heap number') name = '';
    if (type === 'code') name = '';
    if (name.length > 60) name = `${name.slice(0, 57)}...`;
    const key = `${type}:${name}`;
    const g = out.get(key) ?? [0, 0];
    g[0]++;
    g[1] += s.nodes[i + iSize]!;
    out.set(key, g);
  }
  return out;
}

const a = groups(positionals[0]!);
const b = groups(positionals[1]!);
const rows: Array<[string, number, number]> = [];
let totalBytes = 0;
for (const [k, [cnt, size]] of b) {
  const [c0, s0] = a.get(k) ?? [0, 0];
  rows.push([k, cnt - c0, size - s0]);
  totalBytes += size - s0;
}
for (const [k, [c0, s0]] of a) if (!b.has(k)) rows.push([k, -c0, -s0]), (totalBytes -= s0);
rows.sort((x, y) => y[2] - x[2]);
process.stdout.write(`live heap growth: ${(totalBytes / 1024).toFixed(0)} KiB total, ${(totalBytes / per).toFixed(0)} bytes per unit (÷${per})\n\n`);
process.stdout.write(`${'bytes/unit'.padStart(10)} ${'objs/unit'.padStart(9)}  kind:name\n`);
for (const [k, cnt, size] of rows.slice(0, top)) {
  process.stdout.write(`${(size / per).toFixed(0).padStart(10)} ${(cnt / per).toFixed(2).padStart(9)}  ${k}\n`);
}
