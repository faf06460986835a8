/**
 * Usage figures per UTC day for the admin console's charts (docs/admin-data.md): one-to-one and room messages
 * (counted by a log consumer, off the delivery path), people and bots who opened a session, sessions opened per
 * protocol, the most sessions open at once on each node, and new accounts. Events add to counts in memory; a
 * timer writes them every `flushSeconds` (and at shutdown) in one transaction, so no event costs a store write.
 */
import { hostname } from 'node:os';
import { defineModule, type ModuleApi } from '../api.js';
import { sqliteBeside } from '../sqlite-memory.js';
import { usageCommands } from './commands.js';
import { dayOf, daysBefore, noSessions } from './model.js';
import { usageOptions, type UsageOptions } from './options.js';
import { usageRoutes } from './routes.js';
import { area, type UsageArea } from './sqlite.js';
import { Tally } from './tally.js';

/** How often past days are folded and old ones pruned. */
const COMPACT_EVERY_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Per-user rows of the active users are kept for today and yesterday (a late flush still finds them), then folded. */
const ACTIVE_ROWS_DAYS = 2;

/**
 * This node's name in the peaks: its host and HTTP port, so a restart keeps its own peak for the day (its sessions
 * did not survive the restart, so the larger of the two is the peak); before the server listens, its cluster id.
 */
function nodeName(api: ModuleApi<UsageOptions>): string {
  const url = api.httpUrl();
  return url === null ? api.engine.nodeId : `${hostname()}:${new URL(url).port}`;
}

/** The usage module. */
export const usage = defineModule({
  name: 'usage',
  summary: 'Daily usage figures: messages, active users, sessions per protocol, peak connections (docs/admin-data.md)',
  options: usageOptions,
  commands: usageCommands(),
  storage: sqliteBeside(import.meta.url, area),
  // Accounts the CLI creates (no engine there to tell): counted straight into the store, and taken back if the
  // account was not made after all.
  async operatorChange(e, { store }) {
    if (e.change.type !== 'account.created') return;
    const n = e.phase === 'check' ? 1 : -1;
    await store.area<UsageArea>('usage').flush({ counts: [{ day: dayOf(Date.now()), messages: 0, roomMessages: 0, newAccounts: n, sessions: noSessions() }], active: [], peaks: [], messages: null });
  },
  async setup(api) {
    const store = api.storage<UsageArea>();
    const { flushSeconds, retentionDays } = api.options;
    const tally = new Tally();
    tally.counted = await store.position();
    const since = (): number => (retentionDays === 0 ? 0 : Date.now() - retentionDays * DAY_MS);

    api.consume('messages', async (records) => tally.records(records, since()), { batch: 256, yieldToTraffic: true });
    api.on('session.opened', (e) => {
      const now = Date.now();
      if (!tally.opened(e.id, e.user, e.protocol, now)) return;
      // Once per user and day on this node: whether it is a bot decides which count it joins. Not awaited, so a
      // login never waits for the read; the user joins the flush after it.
      const day = dayOf(now);
      api.engine.admin.kindOf(e.user).then(
        (kind) => tally.activeUser(day, e.user, kind === 'bot'),
        () => tally.activeUser(day, e.user, false),
      );
    });
    api.on('session.closed', (e) => tally.closed(e.id));
    api.on('account.created', () => tally.accountCreated(Date.now()));

    // One flush at a time: a request's flush waits for the timer's, then writes what came since.
    let flushing: Promise<void> = Promise.resolve();
    const flush = (): Promise<void> => {
      // After the one before, whether it failed or not (a failed flush put its figures back).
      flushing = flushing.catch(() => undefined).then(async () => {
        const f = tally.take(nodeName(api), Date.now());
        if (f === null) return;
        try {
          tally.counted = Math.max(tally.counted, await store.flush(f));
        } catch (e) {
          tally.restore(f);
          throw e;
        }
      });
      return flushing;
    };
    const compact = async (): Promise<void> => {
      const today = dayOf(Date.now());
      await store.compact(daysBefore(today, ACTIVE_ROWS_DAYS - 1), retentionDays === 0 ? null : daysBefore(today, retentionDays - 1));
    };
    const failed = (what: string) => (e: unknown) => api.log.error({ err: e }, what);
    const flushTimer = setInterval(() => flush().catch(failed('writing the usage figures failed; they are kept for the next try')), flushSeconds * 1000);
    const compactTimer = setInterval(() => compact().catch(failed('compacting the usage figures failed')), COMPACT_EVERY_MS);
    const first = setTimeout(() => compact().catch(failed('compacting the usage figures failed')), 0);
    for (const t of [flushTimer, compactTimer, first]) t.unref();
    api.onClose(async () => {
      clearInterval(flushTimer);
      clearInterval(compactTimer);
      clearTimeout(first);
      await flush();
    });
    api.http((app, ctx) => usageRoutes(app, ctx, api.engine, store, flush));
  },
});
