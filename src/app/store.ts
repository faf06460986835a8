/**
 * Opening the configured store. Kept apart from build.ts so the operator CLI, which needs only the store,
 * does not load the HTTP server, WebSocket and metrics stacks on every invocation.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Store } from '../ports/store.js';
import { createMemoryStore } from '../storage/memory/index.js';
import { createSqliteStore } from '../storage/sqlite/index.js';
import { createSqliteWorkerStore } from '../storage/sqlite/worker.js';
import { addDomain } from '../engine/admin-service.js';
import type { Config } from './config.js';

/** Opens the configured store (creating the data directory for SQLite). */
export function openStore(config: Config): Store {
  if (config.storage.adapter === 'memory') return createMemoryStore();
  const path = config.storage.sqlite.path;
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  return createSqliteStore({ path, synchronous: config.storage.sqlite.synchronous });
}

/**
 * Opens the store and, when it hosts no domain yet (a fresh install), creates `server.defaultDomain`. The server
 * and the CLI both open the store this way, so `parley user add admin@localhost` works before the first start.
 * With `thread`, SQLite runs on a worker thread as configured (the server); the CLI stays on one thread.
 */
export async function openStoreReady(config: Config, opts: { thread?: boolean; onFatal?: (e: Error) => void } = {}): Promise<Store> {
  const { sqlite } = config.storage;
  const store =
    opts.thread && config.storage.adapter === 'sqlite' && sqlite.worker && sqlite.path !== ':memory:'
      ? await createSqliteWorkerStore({ path: sqlite.path, synchronous: sqlite.synchronous }, opts.onFatal)
      : openStore(config);
  if ((await store.domains.list()).length === 0) await addDomain(store, config.server.defaultDomain, Date.now());
  return store;
}
