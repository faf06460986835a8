/**
 * The closed facade: front doors (src/protocols) only translate. They call engine methods, never the store,
 * never the Router (only the engine delivers), and never the application layer (src/app) that builds them nor
 * the modules (src/modules) that plug into them.
 * A source scan of the shipped files (not the tests beside them), so a shortcut fails here before review has to
 * find it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const PROTOCOLS = join(ROOT, 'src', 'protocols');
const MODULES = join(ROOT, 'src', 'modules');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    // Tests beside the code may look into the store to check what a front door did; only shipped code is held to it.
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** What a front door must not contain, with why. */
const FORBIDDEN: Array<{ pattern: RegExp; why: string }> = [
  { pattern: /\bctx\.store\b/, why: 'reaches the store; add an engine method' },
  { pattern: /\{[^}]*\b(?:store|router)\b[^}]*\}\s*=\s*[\w.]*\bctx\b/, why: 'takes the store or the router out of the engine context' },
  { pattern: /\bctx\.router\b/, why: 'delivers by itself; only the engine routes' },
  { pattern: /\bfrom\s+['"][./]*app\//, why: 'imports the application layer' },
  { pattern: /\bimport\(\s*['"][./]*app\//, why: 'imports the application layer' },
  { pattern: /\bfrom\s+['"][./]*modules\//, why: 'imports a module; modules plug into the front doors through ModuleHost' },
  { pattern: /\bimport\(\s*['"][./]*modules\//, why: 'imports a module; modules plug into the front doors through ModuleHost' },
];

describe('front doors only translate', () => {
  const files = sources(PROTOCOLS);

  it('finds the front doors', () => {
    expect(files.length).toBeGreaterThan(10);
  });

  it('no file under src/protocols uses the store, the router, src/app or src/modules', () => {
    const found: string[] = [];
    for (const file of files) {
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, i) => {
        for (const { pattern, why } of FORBIDDEN) {
          if (pattern.test(line)) found.push(`${relative(ROOT, file)}:${i + 1}: ${why}: ${line.trim()}`);
        }
      });
    }
    expect(found).toEqual([]);
  });

  it('the scan catches what it looks for', () => {
    const hits = (line: string): boolean => FORBIDDEN.some(({ pattern }) => pattern.test(line));
    expect(hits('await engine.ctx.store.accounts.get(u)')).toBe(true);
    expect(hits('const { store, now } = this.engine.ctx;')).toBe(true);
    expect(hits('const { router } = engine.ctx; router.toUsers(a, b);')).toBe(true);
    expect(hits("import { addUser } from '../../app/admin.js';")).toBe(true);
    expect(hits("import { mamQuery } from '../../../modules/mam/mam.js';")).toBe(true);
    expect(hits("import { ParleyError } from '../../core/errors.js';")).toBe(false);
    expect(hits('engine.ctx.directory.isRoomDomain(d)')).toBe(false);
  });
});

/** Modules plug in through the ModuleApi: the engine's facade, never its context (store, router, options, clock). */
const MODULE_FORBIDDEN = /\bengine\.ctx\b/;

describe('modules use the engine facade', () => {
  it('no shipped file under src/modules reaches engine.ctx', () => {
    const found: string[] = [];
    for (const file of sources(MODULES)) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (MODULE_FORBIDDEN.test(line)) found.push(`${relative(ROOT, file)}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(found).toEqual([]);
    expect(MODULE_FORBIDDEN.test('reviewCandidates(records, lexicons, api.engine.ctx.store)')).toBe(true);
    expect(MODULE_FORBIDDEN.test('api.engine.admin.groupsOf(user)')).toBe(false);
  });
});
