/**
 * The in-memory Store: no persistence, no other writers. Used by unit tests and as the reference the
 * contract suite holds the SQLite adapter to.
 */
import type { Store } from '../../ports/store.js';
import { createIdGenerator } from '../ids.js';
import { createMemoryAccounts, createMemoryDomains, createMemoryTokens } from './directory.js';
import { createMemoryMessages } from './messages.js';
import { createMemoryBlocks, createMemoryProfiles } from './profiles.js';
import { createMemoryRooms } from './rooms.js';
import { createMemorySecrets } from './secrets.js';
import { createMemoryRosters, createMemorySharedGroups } from './social.js';
import { createMemoryState } from './state.js';

/** Creates an empty in-memory store. */
export function createMemoryStore(): Store {
  const s = createMemoryState();
  let closed = false;
  return {
    domains: createMemoryDomains(s),
    accounts: createMemoryAccounts(s),
    tokens: createMemoryTokens(s),
    rosters: createMemoryRosters(s),
    sharedGroups: createMemorySharedGroups(s),
    messages: createMemoryMessages(s, createIdGenerator(), () => closed),
    rooms: createMemoryRooms(s),
    blocks: createMemoryBlocks(s),
    profiles: createMemoryProfiles(s),
    secrets: createMemorySecrets(),
    // Nobody else can change this store, so the version never moves.
    async dataVersion() {
      return 0;
    },
    async close() {
      closed = true;
    },
  };
}
