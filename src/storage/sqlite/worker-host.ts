/**
 * The SQLite worker threads. Role 'store' owns the database connection and runs every store call it is sent:
 * appends that arrive together still share one group commit, and the server thread never waits on a commit
 * or an fsync. Role 'checkpointer' copies WAL pages into the database file on its own thread, so the store
 * thread's commits never wait for a checkpoint either.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { ParleyError } from '../../core/errors.js';
import type { Store } from '../../ports/store.js';
import { checkpointWal } from './checkpoint.js';
import { importSqliteArea, type SqliteModule } from './module-areas.js';
import type { SqliteWorkerStoreOptions } from './worker.js';
import { MODULE_AREA, toWire, type Call, type Hello, type Reply } from './worker-protocol.js';

/** What the server thread starts a worker with (module URLs already point at loadable JavaScript). */
export type WorkerInit = SqliteWorkerStoreOptions & { role: 'store' | 'checkpointer' };

const CHECKPOINT_EVERY_MS = 250;

/** Answers store calls from the server thread, batching the replies of one turn into one message. */
function serve(port: MessagePort, store: Store): void {
  let out: Reply[] = [];
  let scheduled = false;
  const reply = (r: Reply): void => {
    out.push(r);
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      const batch = out;
      out = [];
      port.postMessage(batch);
    });
  };
  // '' is the store itself, MODULE_AREA + name a module's area (which throws item-not-found when unknown).
  const targetOf = (area: string): Record<string, (...a: unknown[]) => unknown> => {
    if (area === '') return store as unknown as Record<string, (...a: unknown[]) => unknown>;
    if (area.startsWith(MODULE_AREA)) return store.area(area.slice(MODULE_AREA.length));
    return store[area as keyof Store] as unknown as Record<string, (...a: unknown[]) => unknown>;
  };
  port.on('message', ([id, area, method, args]: Call) => {
    let result: Promise<unknown>;
    try {
      const target = targetOf(area);
      const fn = target[method];
      if (typeof fn !== 'function') throw new ParleyError('feature-not-implemented', `the storage area "${area}" has no method "${method}"`);
      result = Promise.resolve(fn.apply(target, args));
    } catch (e) {
      result = Promise.reject(e);
    }
    result.then(
      (value) => reply([id, true, value]),
      (e: unknown) => reply([id, false, toWire(e)]),
    );
  });
}

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('worker-host.js runs only as a worker thread');
  const init = workerData as WorkerInit;
  try {
    if (init.role === 'checkpointer') {
      checkpointWal(init.path, CHECKPOINT_EVERY_MS);
      port.postMessage({ ready: true } satisfies Hello);
      return;
    }
    // Imported here, not above: the checkpointer thread needs none of the store's modules.
    const { createSqliteStore } = await import('./index.js');
    // Modules first: an area that fails to load stops the start with its own error, before the file is touched.
    const modules: SqliteModule[] = [];
    for (const m of init.modules ?? []) modules.push({ name: m.name, area: await importSqliteArea(m.name, m.url) });
    const store = createSqliteStore({ path: init.path, synchronous: init.synchronous, checkpoint: 'external', modules });
    port.postMessage({ ready: true } satisfies Hello);
    serve(port, store);
  } catch (e) {
    port.postMessage({ ready: false, error: toWire(e) } satisfies Hello);
    process.exit(1);
  }
}

void main();
