/**
 * Opening the configured store. Kept apart from build.ts so the operator CLI, which needs only the store,
 * does not load the HTTP server, WebSocket and metrics stacks on every invocation.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ModuleStorageSpec } from '../ports/module-storage.js';
import type { Store } from '../ports/store.js';
import { createMemoryStore, type MemoryModule } from '../storage/memory/index.js';
import { createSqliteStore } from '../storage/sqlite/index.js';
import { importSqliteArea, type SqliteModule } from '../storage/sqlite/module-areas.js';
import { createSqliteWorkerStore } from '../storage/sqlite/worker.js';
import { addDomain } from '../engine/admin-service.js';
import type { Config } from './config.js';

/** A module that cannot work on the configured adapter must stop the start, not fail on its first call. */
function missing(spec: ModuleStorageSpec, adapter: string): Error {
  return new Error(`module "${spec.name}" brings no storage for the ${adapter} store`);
}

/** The memory halves of the modules' storage. */
function memoryModules(modules: readonly ModuleStorageSpec[]): MemoryModule[] {
  return modules.map((m) => {
    if (m.memory === undefined) throw missing(m, 'memory');
    return { name: m.name, memory: m.memory };
  });
}

/** The URLs of the modules' SQLite areas. */
function sqliteUrls(modules: readonly ModuleStorageSpec[]): Array<{ name: string; url: string }> {
  return modules.map((m) => {
    if (m.sqlite === undefined) throw missing(m, 'SQLite');
    return { name: m.name, url: m.sqlite };
  });
}

/**
 * Opens the configured store (creating the data directory for SQLite) with the storage areas of `modules`.
 * Asynchronous because a module's SQLite area is named by URL and imported here, on this thread.
 */
export async function openStore(config: Config, modules: readonly ModuleStorageSpec[] = []): Promise<Store> {
  if (config.storage.adapter === 'memory') return createMemoryStore({ modules: memoryModules(modules) });
  const areas: SqliteModule[] = [];
  for (const { name, url } of sqliteUrls(modules)) areas.push({ name, area: await importSqliteArea(name, url) });
  const path = config.storage.sqlite.path;
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  return createSqliteStore({ path, synchronous: config.storage.sqlite.synchronous, modules: areas });
}

/**
 * Opens the store and, when it hosts no domain yet (a fresh install), creates `server.defaultDomain`. The server
 * and the CLI both open the store this way, so `parley user add admin@localhost` works before the first start.
 * With `thread`, SQLite runs on a worker thread as configured (the server), which imports the modules' areas
 * there; the CLI stays on one thread.
 */
export async function openStoreReady(
  config: Config,
  opts: { thread?: boolean; onFatal?: (e: Error) => void; modules?: readonly ModuleStorageSpec[] } = {},
): Promise<Store> {
  const { sqlite } = config.storage;
  const modules = opts.modules ?? [];
  const store =
    opts.thread && config.storage.adapter === 'sqlite' && sqlite.worker && sqlite.path !== ':memory:'
      ? await createSqliteWorkerStore({ path: sqlite.path, synchronous: sqlite.synchronous, modules: sqliteUrls(modules) }, opts.onFatal)
      : await openStore(config, modules);
  if ((await store.domains.list()).length === 0) await addDomain(store, config.server.defaultDomain, Date.now());
  return store;
}
