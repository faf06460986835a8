/**
 * Loading modules' SQLite areas (ports/module-storage.ts) from the URLs the composition root names. Kept free
 * of the store's own modules: the worker thread loads it before it opens the store.
 */
import type { SqliteArea } from '../../ports/module-storage.js';

/** A module's SQLite area as the store opens it in-process. */
export interface SqliteModule {
  name: string;
  area: SqliteArea;
}

/**
 * The URL of the JavaScript a worker thread can load for `url`. Under the test runner, modules are TypeScript
 * sources in src/, which a worker thread cannot load; the build holds them under dist/src/ as .js (the tests
 * that start workers run after `npm run build`). A module names its area file `./sqlite.js` relative to its
 * own URL, which under the test runner is the source's, so a `.js` URL in src/ (not dist/src/) maps there too.
 * Any other URL is returned unchanged.
 */
export function compiledUrl(url: string): string {
  if (!url.startsWith('file:') || !(url.endsWith('.ts') || url.endsWith('.js'))) return url;
  // The last /src/ is the project's: the directories above it may be called src too.
  const at = url.lastIndexOf('/src/');
  if (at < 0 || url.slice(0, at).endsWith('/dist')) return url;
  return `${url.slice(0, at)}/dist/src/${url.slice(at + '/src/'.length, -'.ts'.length)}.js`;
}

/** True when `v` has the shape of a SqliteArea (it comes from a dynamic import, so nothing is checked at build time). */
function isSqliteArea(v: unknown): v is SqliteArea {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return Array.isArray(o['migrations']) && typeof o['open'] === 'function';
}

/** Imports the file `url` names and returns its export `area`; throws naming the module when it has none. */
export async function importSqliteArea(name: string, url: string): Promise<SqliteArea> {
  const mod = (await import(url)) as Record<string, unknown>;
  const area = mod['area'];
  if (!isSqliteArea(area)) throw new Error(`module "${name}": ${url} does not export a SQLite storage area as \`area\``);
  return area;
}
