/**
 * The SQLite worker threads. Role 'store' owns the database connection and runs every store call it is sent:
 * appends that arrive together still share one group commit, and the server thread never waits on a commit
 * or an fsync. Role 'checkpointer' copies WAL pages into the database file on its own thread, so the store
 * thread's commits never wait for a checkpoint either.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { Store } from '../../ports/store.js';
import { checkpointWal } from './checkpoint.js';
import type { SqliteStoreOptions } from './index.js';
import { toWire, type Call, type Hello, type Reply } from './worker-protocol.js';

/** What the server thread starts a worker with. */
export type WorkerInit = Omit<SqliteStoreOptions, 'now' | 'checkpoint'> & { role: 'store' | 'checkpointer' };

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
  port.on('message', ([id, area, method, args]: Call) => {
    const target = (area === '' ? store : store[area as keyof Store]) as unknown as Record<string, (...a: unknown[]) => unknown>;
    let result: Promise<unknown>;
    try {
      result = Promise.resolve(target[method]!(...args));
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
    const store = createSqliteStore({ path: init.path, synchronous: init.synchronous, checkpoint: 'external' });
    port.postMessage({ ready: true } satisfies Hello);
    serve(port, store);
  } catch (e) {
    port.postMessage({ ready: false, error: toWire(e) } satisfies Hello);
    process.exit(1);
  }
}

void main();
