/** Installation secrets in memory (SecretStore): they last as long as the memory store itself. */
import type { SecretStore } from '../../ports/store.js';

/** Creates the in-memory SecretStore. */
export function createMemorySecrets(): SecretStore {
  const secrets = new Map<string, string>();
  return {
    async ensure(name, value) {
      const stored = secrets.get(name);
      if (stored !== undefined) return stored;
      secrets.set(name, value);
      return value;
    },
  };
}
