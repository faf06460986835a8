/**
 * The files of c2s/ form a one-way chain: handlers depend on the shared types (types.ts), never on the
 * connection class, and no file reaches itself through its imports. Type-only imports count too: a circle of
 * types still ties the files together. The import lines are read as text, so this needs no build.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dir = dirname(fileURLToPath(import.meta.url));

/** Sibling files each c2s file imports or re-exports from (`./x.js` -> `x.ts`). */
function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.ts') || file.endsWith('.test.ts')) continue;
    const text = readFileSync(join(dir, file), 'utf8');
    const deps = new Set<string>();
    for (const m of text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+'\.\/([^'/]+)\.js'/gms)) deps.add(`${m[1]}.ts`);
    g.set(file, [...deps]);
  }
  return g;
}

/** The first cycle found (as a path that ends where it starts), or null. */
function findCycle(g: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): string[] | null => {
    if (state.get(f) === 'done') return null;
    if (state.get(f) === 'open') return [...stack.slice(stack.indexOf(f)), f];
    state.set(f, 'open');
    stack.push(f);
    for (const d of g.get(f) ?? []) {
      const c = visit(d);
      if (c) return c;
    }
    stack.pop();
    state.set(f, 'done');
    return null;
  };
  for (const f of g.keys()) {
    const c = visit(f);
    if (c) return c;
  }
  return null;
}

describe('c2s import graph', () => {
  it('reads the imports of every file', () => {
    const g = graph();
    expect(g.get('connection.ts')).toContain('stanzas.ts');
    expect(g.get('stanzas.ts')).toContain('types.ts');
  });

  it('has no cycle', () => {
    expect(findCycle(graph())).toBeNull();
  });

  it('finds a cycle when there is one', () => {
    const g = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
    ]);
    expect(findCycle(g)).toEqual(['a.ts', 'b.ts', 'c.ts', 'a.ts']);
  });

  it('keeps types.ts a leaf and the connection class out of the handlers', () => {
    const g = graph();
    expect(g.get('types.ts')).toEqual([]);
    for (const [file, deps] of g) {
      if (file === 'listener.ts' || file === 'websocket.ts') continue; // they create connections
      expect({ file, importsConnection: deps.includes('connection.ts') }).toEqual({ file, importsConnection: false });
    }
  });
});
