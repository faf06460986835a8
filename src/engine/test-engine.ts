/**
 * An engine for unit tests: the memory store with domain example.com and the given users (all with one
 * password), default options, no metrics, a silent log. Shared by the engine's and the front doors' unit tests.
 */
import { deriveCredentials } from '../auth/scram.js';
import type { SessionPresence } from '../core/types.js';
import type { Bus } from '../ports/bus.js';
import type { Store } from '../ports/store.js';
import { createMemoryStore } from '../storage/memory/index.js';
import { noMetrics, type Logger } from './context.js';
import { Engine } from './engine.js';

/** An available session's presence with nothing set, as tests open sessions with. */
export const testPresence: SessionPresence = { availability: 'available', activity: null, status: null, priority: 0, idleSince: null, explicit: false, updatedAt: 0 };

/** A logger that drops everything. */
export const silentLog: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * Builds and starts an engine over a fresh memory store (or the empty `store` given: a SQLite one, one opened
 * with modules' areas) holding `users` (password `password`, default "x"); `now`: the engine's clock; it
 * watches the store for other processes' writes every `watchMs` (default a minute).
 */
export async function testEngine(
  users: string[],
  opts: { password?: string; store?: Store; bus?: Bus; now?: () => number; watchMs?: number } = {},
): Promise<{ engine: Engine; store: Store }> {
  const store = opts.store ?? createMemoryStore();
  // A store given again (a restart in a test) already holds them.
  if (!(await store.domains.list()).includes('example.com')) await store.domains.add('example.com', 0);
  const credentials = await deriveCredentials(opts.password ?? 'x', 4096);
  for (const u of users) {
    if (!(await store.accounts.get(u))) await store.accounts.create({ address: u, credentials, admin: false, createdAt: 0, lastSeen: null, lastStatus: null });
  }
  const engine = new Engine({
    store,
    log: silentLog,
    ...(opts.bus ? { bus: opts.bus } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    metrics: noMetrics,
    options: { maxBodyBytes: 1000, maxSessionsPerUser: 5, historyPageMax: 100, roomSubdomain: 'conference', roomMaxMembers: 100, scramIterations: 4096, tokenTtlMs: 60_000 },
    auth: { freeFailures: 3, lockAfter: 10, ipLockAfter: 50, lockMs: 60_000 },
  });
  await engine.start(opts.watchMs ?? 60_000);
  return { engine, store };
}
