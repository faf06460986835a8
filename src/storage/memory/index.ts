/**
 * The in-memory Store: no persistence, no other writers. Used by unit tests and as the reference the
 * contract suite holds the SQLite adapter to.
 */
import { ParleyError } from '../../core/errors.js';
import type { AppendParticipant, AreaContext } from '../../ports/module-storage.js';
import type { PositionStore, Store } from '../../ports/store.js';
import { createIdGenerator } from '../ids.js';
import { checkPosition } from '../rules.js';
import { createMemoryAccounts, createMemoryDomains, createMemoryTokens } from './directory.js';
import { createMemoryMessages } from './messages.js';
import { createMemoryBlocks, createMemoryProfiles } from './profiles.js';
import { createMemoryRooms } from './rooms.js';
import { createMemorySecrets } from './secrets.js';
import { createMemorySettings } from './settings.js';
import { createMemoryRosters, createMemorySharedGroups } from './social.js';
import { createMemoryState } from './state.js';

/** A module's area for the memory store (ModuleStorageSpec.memory under the module's name). */
export interface MemoryModule {
  name: string;
  memory: (ctx: AreaContext) => unknown;
}

/** Options of createMemoryStore. */
export interface MemoryStoreOptions {
  /** Modules' areas, opened with the store in this order; store.area(name) returns them. */
  modules?: readonly MemoryModule[];
}

/** Positions of log consumers, in memory. */
function createMemoryPositions(): PositionStore {
  const positions = new Map<string, number>();
  return {
    async get(consumer) {
      return positions.get(consumer) ?? 0;
    },
    async set(consumer, seq) {
      checkPosition(consumer, seq);
      positions.set(consumer, seq);
    },
  };
}

/**
 * Creates an empty in-memory store with its modules' areas. Participants an area registers run before an append
 * stores anything; a throw leaves the log unchanged. A participant should throw before changing its own state:
 * with several participants, those called before the one that throws are not undone.
 */
export function createMemoryStore(opts: MemoryStoreOptions = {}): Store {
  const s = createMemoryState();
  let closed = false;
  const participants: AppendParticipant[] = [];
  const ctx: AreaContext = {
    onAppend: (participant) => {
      participants.push(participant);
    },
    logRecord: (seq) => {
      const r = Number.isSafeInteger(seq) && seq > 0 ? s.log[seq - 1] : undefined;
      return r === undefined ? undefined : { ...r };
    },
    logRecords: (from, to) => s.log.slice(Math.max(from, 1) - 1, Math.max(to, 0)).map((r) => ({ ...r })),
    now: Date.now,
  };
  const areas = new Map<string, unknown>();
  for (const m of opts.modules ?? []) {
    if (areas.has(m.name)) throw new Error(`two modules have storage areas named "${m.name}"`);
    areas.set(m.name, m.memory(ctx));
  }
  return {
    domains: createMemoryDomains(s),
    accounts: createMemoryAccounts(s),
    tokens: createMemoryTokens(s),
    rosters: createMemoryRosters(s),
    sharedGroups: createMemorySharedGroups(s),
    messages: createMemoryMessages(s, createIdGenerator(), () => closed, participants),
    rooms: createMemoryRooms(s),
    blocks: createMemoryBlocks(s),
    profiles: createMemoryProfiles(s),
    secrets: createMemorySecrets(),
    positions: createMemoryPositions(),
    settings: createMemorySettings(),
    area<A>(name: string): A {
      if (!areas.has(name)) throw new ParleyError('item-not-found', `no storage area "${name}": the store was not opened with that module`);
      // The caller names the area's type; the store only knows it by name.
      return areas.get(name) as A;
    },
    // Nobody else can change this store, so the version never moves.
    async dataVersion() {
      return 0;
    },
    async close() {
      closed = true;
    },
  };
}
