/**
 * The SQLite worker thread: owns the database connection and runs every store call it is sent. Appends that
 * arrive together still share one group commit here, and the server thread never waits on a commit or fsync.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Store } from '../../ports/store.js';
import { createSqliteStore, type SqliteStoreOptions } from './index.js';
import { toWire, type Call, type Hello, type Reply } from './worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('worker-host.js runs only as a worker thread');

let store: Store;
try {
  store = createSqliteStore(workerData as SqliteStoreOptions);
  port.postMessage({ ready: true } satisfies Hello);
} catch (e) {
  port.postMessage({ ready: false, error: toWire(e) } satisfies Hello);
  process.exit(1);
}

let out: Reply[] = [];
let scheduled = false;
const reply = (r: Reply): void => {
  out.push(r);
  if (scheduled) return;
  scheduled = true;
  // Replies settled in the same turn (a whole group commit) go back in one message.
  setImmediate(() => {
    scheduled = false;
    const batch = out;
    out = [];
    port.postMessage(batch);
  });
};

port.on('message', (calls: Call[]) => {
  for (const [id, area, method, args] of calls) {
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
  }
});
