/**
 * The audit log (docs/admin-data.md): the operator's readable trail of every change made to the server, kept
 * whether or not the compliance archive runs. It hears each change once it is made, through the notification
 * that follows it (engine/events.ts CHANGES: a change the gate refused did not happen and is not recorded), and
 * the `parley` CLI's changes through operatorChange: recorded at the check and taken back if the change failed.
 * Entries older than `retentionDays` are pruned hourly.
 */
import { CHANGES, type Change, type ChangeName, type EngineEvents } from '../../engine/events.js';
import { defineModule, type ModuleApi } from '../api.js';
import { openSqliteAreaInMemory } from '../sqlite-memory.js';
import { auditCommands } from './commands.js';
import { entryOf } from './entry.js';
import { auditOptions, type AuditOptions } from './options.js';
import { auditRoutes } from './routes.js';
import { area, type AuditArea } from './sqlite.js';

/** How often old entries are pruned. */
const PRUNE_EVERY_MS = 3_600_000;
/** Entries one prune transaction deletes at most, so the store's thread is never held for long. */
const PRUNE_BATCH = 5000;
const DAY_MS = 86_400_000;

/** The CLI's entries of changes not yet known to be made (the same Change object comes back if it failed). */
const pending = new WeakMap<Change, number>();

/** Hooks the notification of one kind of change: the entry is written before the notification goes on. */
function hook<E extends ChangeName>(api: ModuleApi<AuditOptions>, store: AuditArea, name: E): void {
  api.on(name, async (payload: EngineEvents[E]) => {
    const change = { ...payload, type: name } as Change;
    await store.record([entryOf(change, Date.now(), api.engine.nodeId)]);
  });
}

/** Deletes entries older than the retention, a batch at a time. */
async function prune(store: AuditArea, days: number, now: number): Promise<number> {
  if (days === 0) return 0;
  let total = 0;
  for (;;) {
    const n = await store.prune(now - days * DAY_MS, PRUNE_BATCH);
    total += n;
    if (n < PRUNE_BATCH) return total;
  }
}

/** The audit module. */
export const audit = defineModule({
  name: 'audit',
  summary: 'The audit log: every change made to the server, who made it and when (docs/admin-data.md)',
  options: auditOptions,
  commands: auditCommands(),
  // Under the test runner this file is TypeScript: naming the .ts source lets the store map it to the build
  // (storage/sqlite/module-areas.ts compiledUrl), which its worker thread can load.
  storage: { sqlite: new URL(import.meta.url.endsWith('.ts') ? './sqlite.ts' : './sqlite.js', import.meta.url).href, memory: (ctx) => openSqliteAreaInMemory(area, ctx) },
  // Changes made with the CLI, in a process without an engine: recorded before they are stored, taken back if
  // the store (or a module after this one) refused them.
  async operatorChange(e, { store }) {
    const a = store.area<AuditArea>('audit');
    if (e.phase === 'check') {
      pending.set(e.change, await a.recordOne(entryOf(e.change, Date.now(), null)));
      return;
    }
    const id = pending.get(e.change);
    if (id !== undefined) await a.remove(id);
    pending.delete(e.change);
  },
  async setup(api) {
    const store = api.storage<AuditArea>();
    // Every change type, including those added later: the list is the engine's.
    for (const name of CHANGES) hook(api, store, name);
    const run = (): void => {
      prune(store, api.options.retentionDays, Date.now()).catch((e: unknown) => api.log.error({ err: e }, 'pruning the audit log failed'));
    };
    const first = setTimeout(run, 0);
    const timer = setInterval(run, PRUNE_EVERY_MS);
    first.unref();
    timer.unref();
    api.onClose(() => {
      clearTimeout(first);
      clearInterval(timer);
    });
    api.http((app, ctx) => auditRoutes(app, ctx, store));
  },
});

export { prune as pruneAudit };
