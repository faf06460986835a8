/**
 * The SQLite store on a worker thread. The server thread sends each store call as a message and gets results
 * back (replies of one turn travel together); inserts, commits and fsyncs run on the other core. Measured: with the database on the
 * server thread, group commit took about 41 % of that thread at full message load (docs/PERFORMANCE.md).
 */
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ParleyError } from '../../core/errors.js';
import type { Store } from '../../ports/store.js';
import type { SqliteStoreOptions } from './index.js';
import { compiledUrl } from './module-areas.js';
import type { WorkerInit } from './worker-host.js';
import { fromWire, MODULE_AREA, type Call, type Hello, type Reply } from './worker-protocol.js';

const AREAS = ['domains', 'accounts', 'tokens', 'rosters', 'sharedGroups', 'messages', 'rooms', 'blocks', 'profiles', 'secrets', 'positions', 'settings'] as const;

/** Options of createSqliteWorkerStore. */
export interface SqliteWorkerStoreOptions extends Omit<SqliteStoreOptions, 'now' | 'checkpoint' | 'modules'> {
  /**
   * Modules' SQLite areas by the URL of the file exporting `area` (ModuleStorageSpec.sqlite): the worker thread
   * imports them itself, before it opens the store. A TypeScript URL under src/ is loaded from the build.
   */
  modules?: readonly { name: string; url: string }[];
}

/** The compiled worker entry. Under the test runner this module is TypeScript source, so use the build. */
function entry(): string {
  return fileURLToPath(new URL('./worker-host.js', compiledUrl(import.meta.url)));
}

/** Starts one worker and waits until it reports ready (or why it could not open the database). */
async function start(init: WorkerInit): Promise<Worker> {
  // A small young generation: the store thread allocates briefly per call, and a large nursery would only add
  // resident memory (measured in docs/PERFORMANCE.md, idle connections).
  const worker = new Worker(entry(), { workerData: init, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
  try {
    await new Promise<void>((resolve, reject) => {
      worker.once('message', (h: Hello) => (h.ready ? resolve() : reject(fromWire(h.error))));
      worker.once('error', reject);
    });
  } catch (e) {
    await worker.terminate();
    throw e;
  }
  return worker;
}

/** Opens the SQLite store on a worker thread; resolves once the database is open and migrated. */
export async function createSqliteWorkerStore(
  opts: SqliteWorkerStoreOptions,
  onFatal: (e: Error) => void = () => undefined,
): Promise<Store> {
  const modules = (opts.modules ?? []).map((m) => ({ name: m.name, url: compiledUrl(m.url) }));
  const worker = await start({ path: opts.path, synchronous: opts.synchronous, modules, role: 'store' });
  // Started after the store, which creates and migrates the file.
  let checkpointer: Worker;
  try {
    checkpointer = await start({ path: opts.path, synchronous: opts.synchronous, role: 'checkpointer' });
  } catch (e) {
    await worker.terminate();
    throw e;
  }
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  let nextId = 1;
  let dead: Error | null = null;
  let closed = false;
  const fail = (e: Error): void => {
    if (dead) return;
    dead = e;
    // A storage thread that dies unasked leaves the server unable to accept anything: tell the owner.
    if (!closed) onFatal(e);
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  worker.on('message', (replies: Reply[]) => {
    for (const [id, ok, value] of replies) {
      const p = pending.get(id);
      if (!p) continue;
      pending.delete(id);
      if (ok) p.resolve(value);
      else p.reject(fromWire(value));
    }
  });
  worker.on('error', (e) => fail(new ParleyError('service-unavailable', `the storage thread failed: ${e.message}`)));
  // The checkpointer copies the WAL into the database file; losing it only lets the WAL grow, so it is not
  // fatal (and an unheard 'error' event would end the process).
  checkpointer.on('error', () => undefined);
  worker.on('exit', () => fail(new ParleyError('service-unavailable', 'the storage thread has stopped')));

  const call = (area: string, method: string, args: unknown[]): Promise<unknown> => {
    if (dead) return Promise.reject(dead);
    const id = nextId++;
    // Posted at once: postMessage copies the arguments now, so the caller may reuse its objects. The worker
    // still groups the appends of one turn into one commit.
    worker.postMessage([id, area, method, args] satisfies Call);
    return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
  };

  // Each area is a proxy whose methods become calls; the method functions are made once, not per access.
  const area = (name: string): unknown => {
    const methods = new Map<string, (...args: unknown[]) => Promise<unknown>>();
    return new Proxy(
      {},
      {
        get: (_t, method) => {
          // No `then`: an area returned from an async function must not look like a promise to await.
          if (typeof method !== 'string' || method === 'then') return undefined;
          let fn = methods.get(method);
          if (!fn) methods.set(method, (fn = (...args: unknown[]) => call(name, method, args)));
          return fn;
        },
      },
    );
  };
  const store = Object.fromEntries(AREAS.map((a) => [a, area(a)])) as Record<(typeof AREAS)[number], unknown>;
  // Known here, so an unknown name fails at once, as with the in-process store.
  const moduleAreas = new Map(modules.map((m) => [m.name, area(`${MODULE_AREA}${m.name}`)]));
  return {
    ...(store as Pick<Store, (typeof AREAS)[number]>),
    area<A>(name: string): A {
      if (!moduleAreas.has(name)) throw new ParleyError('item-not-found', `no storage area "${name}": the store was not opened with that module`);
      // The caller names the area's type; across the thread it is a proxy of async calls.
      return moduleAreas.get(name) as A;
    },
    dataVersion: () => call('', 'dataVersion', []) as Promise<number>,
    async close() {
      if (closed) return;
      closed = true;
      try {
        if (!dead) await call('', 'close', []);
      } finally {
        await Promise.all([worker.terminate(), checkpointer.terminate()]);
      }
    },
  };
}
